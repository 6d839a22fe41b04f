//! Timer channels: the flavor behind [`after`](crate::after) and
//! [`tick`](crate::tick).
//!
//! A timer channel is a shared schedule, not a task: `after` has one due
//! instant, `tick` one every period. A receive claims a due value with a CAS
//! on the `next` counter, so with several clones each value still goes to
//! exactly one receiver; a waiting receive sleeps on its own Tokio timer
//! until the next due instant (so `tokio::time::pause()` applies).
//!
//! # Differences from Go
//!
//! Go's ticker drops ticks while its one-slot buffer is full. Here a receive
//! that comes late gets the most recent due tick (stamped with the instant
//! it was due) and the ticks before it are dropped; the next tick is one
//! period after that one. Values are `std::time::Instant`s read from Tokio's
//! clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The schedule of one timer channel. See the module docs.
#[derive(Debug)]
pub(crate) struct Timer {
    start: Instant,
    first: Duration,
    period: Option<Duration>,
    /// `after`: 0 until the value is claimed, then 1. `tick`: the index of
    /// the next tick that may be claimed (tick `k` is due at `start + k * period`).
    next: AtomicU64,
}

impl Timer {
    pub(crate) fn after(d: Duration) -> Self {
        Timer {
            start: Instant::now(),
            first: d,
            period: None,
            next: AtomicU64::new(0),
        }
    }

    /// `period` must be non-zero.
    pub(crate) fn tick(period: Duration) -> Self {
        debug_assert!(!period.is_zero());
        Timer {
            start: Instant::now(),
            first: period,
            period: Some(period),
            next: AtomicU64::new(1),
        }
    }

    /// When value `k` is due; `None` if that is beyond the clock's range
    /// (a huge duration: the value never comes, as in Go).
    fn due(&self, k: u64) -> Option<Instant> {
        let offset = match self.period {
            Some(p) => p.checked_mul(u32::try_from(k).ok()?)?,
            None => self.first,
        };
        self.start.checked_add(offset)
    }

    /// When the next value is due; `None` if no value will ever come.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        // Relaxed: a hint for how long to sleep; the claim below is the CAS.
        let next = self.next.load(Ordering::Relaxed);
        match self.period {
            Some(_) => self.due(next),
            None => self.due(0).filter(|_| next == 0),
        }
    }

    /// Claims the value due at `now`, if any.
    pub(crate) fn try_fire(&self, now: Instant) -> Option<std::time::Instant> {
        // Relaxed throughout: the counter publishes no other memory; the CAS
        // alone makes each value go to exactly one receiver.
        match self.period {
            None => {
                let due = self.due(0)?;
                (now >= due
                    && self
                        .next
                        .compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok())
                .then(|| due.into_std())
            }
            Some(period) => loop {
                let next = self.next.load(Ordering::Relaxed);
                let elapsed = now.saturating_duration_since(self.start).as_nanos();
                let latest = u64::try_from(elapsed / period.as_nanos()).unwrap_or(u64::MAX);
                if latest < next {
                    return None;
                }
                if self
                    .next
                    .compare_exchange(next, latest + 1, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    // Tick `latest` is due at or before `now`, so it exists.
                    return Some(self.due(latest).unwrap_or(now).into_std());
                }
            },
        }
    }

    /// Waits for the next value, sleeping on `sleep` (created on first use).
    pub(crate) fn poll_recv(
        &self,
        sleep: &mut Option<Pin<Box<Sleep>>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::time::Instant> {
        loop {
            if let Some(at) = self.try_fire(Instant::now()) {
                return Poll::Ready(at);
            }
            // `after` already fired through another clone: never again.
            let Some(deadline) = self.next_deadline() else {
                return Poll::Pending;
            };
            let sleep = match sleep {
                Some(s) => {
                    if s.deadline() != deadline {
                        s.as_mut().reset(deadline);
                    }
                    s
                }
                None => sleep.insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Waits on a plain thread (no runtime needed).
    pub(crate) fn recv_blocking(&self) -> std::time::Instant {
        loop {
            if let Some(at) = self.try_fire(Instant::now()) {
                return at;
            }
            match self.next_deadline() {
                Some(deadline) => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()))
                }
                None => std::thread::park(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tick_claims_the_latest_due_tick_once() {
        let t = Timer::tick(Duration::from_millis(10));
        assert_eq!(t.try_fire(Instant::now()), None);
        tokio::time::advance(Duration::from_millis(35)).await;
        let start = t.start;
        assert_eq!(
            t.try_fire(Instant::now()),
            Some((start + Duration::from_millis(30)).into_std())
        );
        assert_eq!(t.try_fire(Instant::now()), None);
        assert_eq!(t.next_deadline(), Some(start + Duration::from_millis(40)));
    }

    #[tokio::test(start_paused = true)]
    async fn after_fires_once() {
        let t = Timer::after(Duration::from_millis(10));
        assert_eq!(t.try_fire(Instant::now()), None);
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(t.try_fire(Instant::now()).is_some());
        assert_eq!(t.try_fire(Instant::now()), None);
        assert_eq!(t.next_deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn huge_durations_never_fire_and_do_not_panic() {
        for t in [Timer::after(Duration::MAX), Timer::tick(Duration::MAX)] {
            assert_eq!(t.next_deadline(), None);
            tokio::time::advance(Duration::from_secs(1 << 40)).await;
            assert_eq!(t.try_fire(Instant::now()), None);
        }
    }
}
