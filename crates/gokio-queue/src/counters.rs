//! Counters of what a consumer did with its deliveries.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Live counters shared by a consumer and every job it delivered; clone it
/// (it is a handle) and read a [`Stats`] snapshot at any time, for a
/// progress line or a metrics endpoint.
///
/// Every delivery ends in one of `acked`, `nacked`, `terminated` or
/// `dead_lettered` (or is still in flight); a settle that could not be sent
/// (the connection was gone) is not counted, and the job comes back. So
/// when a consumer is idle and nothing failed, `delivered == acked +
/// nacked + terminated + dead_lettered`. The counts are of settles sent: a
/// late settle of a delivery the queue had already redelivered elsewhere
/// (its ack wait expired) counts too, though it may change nothing.
#[derive(Clone, Default)]
pub struct Counters {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    delivered: AtomicU64,
    redelivered: AtomicU64,
    acked: AtomicU64,
    nacked: AtomicU64,
    terminated: AtomicU64,
    dead_lettered: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Deliveries handed to the consumer, first ones and redeliveries.
    pub delivered: u64,
    /// Deliveries whose delivery count was above 1.
    pub redelivered: u64,
    /// Jobs acknowledged (done, removed from the queue).
    pub acked: u64,
    /// Deliveries given back for redelivery (`nak`, or dropped unsettled).
    pub nacked: u64,
    /// Jobs terminated with `term` (removed, not dead-lettered).
    pub terminated: u64,
    /// Jobs moved to the dead-letter queue by this consumer (failed on the
    /// last allowed delivery, or undecodable).
    pub dead_lettered: u64,
}

#[derive(Clone, Copy)]
pub(crate) enum Count {
    Delivered,
    Redelivered,
    Acked,
    Nacked,
    Terminated,
    DeadLettered,
}

impl Counters {
    /// New counters, all zero.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> Stats {
        // Relaxed: the counts are statistics; no other memory is published
        // through them.
        let i = &self.inner;
        Stats {
            delivered: i.delivered.load(Ordering::Relaxed),
            redelivered: i.redelivered.load(Ordering::Relaxed),
            acked: i.acked.load(Ordering::Relaxed),
            nacked: i.nacked.load(Ordering::Relaxed),
            terminated: i.terminated.load(Ordering::Relaxed),
            dead_lettered: i.dead_lettered.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(&self, what: Count) {
        let i = &self.inner;
        let counter = match what {
            Count::Delivered => &i.delivered,
            Count::Redelivered => &i.redelivered,
            Count::Acked => &i.acked,
            Count::Nacked => &i.nacked,
            Count::Terminated => &i.terminated,
            Count::DeadLettered => &i.dead_lettered,
        };
        // Relaxed: see `stats`.
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.stats(), f)
    }
}

/// How many jobs a queue holds, as its backend sees them now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backlog {
    /// Stored and not delivered to any consumer yet. The memory backend
    /// counts jobs waiting out a retry delay here; JetStream counts them as
    /// in flight (see [`nats::backlog`](crate::nats::backlog)).
    pub waiting: u64,
    /// Delivered to a consumer and not settled yet.
    pub in_flight: u64,
}
