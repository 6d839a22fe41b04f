//! Go's `time.After`, `time.Tick`, `time.Sleep` and the nil channel, under
//! Tokio's paused clock: time moves only through `advance` (or when every
//! task waits), so every deadline is exact.

use std::time::{Duration, Instant};

use futures::{poll, FutureExt, StreamExt};
use gokio::{after, never, sleep, tick, TryRecvError};

const MS: Duration = Duration::from_millis(1);
const D: Duration = Duration::from_millis(100);

/// Now, on Tokio's (paused) clock, as the `std` instant timer channels send.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn advance(d: Duration) {
    tokio::time::advance(d).await;
}

#[tokio::test(start_paused = true)]
async fn after_fires_once_exactly_at_its_deadline() {
    let start = now();
    let rx = after(D);
    let mut recv = Box::pin(rx.recv());
    assert!(poll!(&mut recv).is_pending());
    advance(D - MS).await;
    assert!(poll!(&mut recv).is_pending(), "not before d");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    advance(MS).await;
    assert_eq!(poll!(&mut recv), std::task::Poll::Ready(Some(start + D)));
    drop(recv);

    // It never delivers again, and never closes.
    let mut again = Box::pin(rx.recv());
    assert!(poll!(&mut again).is_pending());
    advance(Duration::from_secs(3600)).await;
    assert!(
        poll!(&mut again).is_pending(),
        "after delivers one value only"
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.is_closed());
    assert!(rx
        .recv_timeout(Duration::from_secs(3600))
        .await
        .unwrap_err()
        .is_timeout());
}

#[tokio::test(start_paused = true)]
async fn after_value_is_the_instant_it_was_due() {
    let start = now();
    let rx = after(D);
    advance(D * 3).await;
    assert_eq!(rx.recv().await, Some(start + D), "not the instant received");

    // try_recv works the same way.
    let start = now();
    let rx = after(D);
    advance(D * 2).await;
    assert_eq!(rx.try_recv(), Ok(start + D));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test(start_paused = true)]
async fn after_wakes_a_waiting_receiver_by_itself() {
    let start = now();
    // No `advance`: the runtime moves the paused clock to the timer.
    assert_eq!(after(D).recv().await, Some(start + D));
    assert_eq!(now(), start + D);
}

#[tokio::test(start_paused = true)]
async fn clones_of_after_deliver_exactly_once() {
    let start = now();
    let a = after(D);
    let (b, mut c) = (a.clone(), a.clone());
    let mut ra = Box::pin(a.recv());
    let mut rb = Box::pin(b.recv());
    let mut rc = c.next();
    assert!(poll!(&mut ra).is_pending());
    assert!(poll!(&mut rb).is_pending());
    assert!(poll!(&mut rc).is_pending());
    advance(D).await;
    let results = [poll!(&mut ra), poll!(&mut rb), poll!(&mut rc)];
    let ready: Vec<_> = results.iter().filter(|p| p.is_ready()).collect();
    assert_eq!(ready.len(), 1, "exactly one clone gets the value");
    assert_eq!(*ready[0], std::task::Poll::Ready(Some(start + D)));
    advance(Duration::from_secs(3600)).await;
    // The others never complete (a completed future is not polled again).
    if results[0].is_pending() {
        assert!(poll!(&mut ra).is_pending());
    }
    if results[1].is_pending() {
        assert!(poll!(&mut rb).is_pending());
    }
    if results[2].is_pending() {
        assert!(poll!(&mut rc).is_pending());
    }
    drop((ra, rb, rc));
    for rx in [&a, &b, &c] {
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    // try_recv on clones: exactly one succeeds.
    let a = after(D);
    let b = a.clone();
    advance(D).await;
    let got = [a.try_recv(), b.try_recv(), a.try_recv()];
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 1);
}

#[tokio::test(start_paused = true)]
async fn tick_delivers_every_period() {
    let start = now();
    let rx = tick(D);
    for k in 1..=5u32 {
        let mut recv = Box::pin(rx.recv());
        assert!(poll!(&mut recv).is_pending(), "tick {k}");
        advance(D - MS).await;
        assert!(poll!(&mut recv).is_pending(), "tick {k} not early");
        advance(MS).await;
        assert_eq!(
            poll!(&mut recv),
            std::task::Poll::Ready(Some(start + D * k)),
            "tick {k}"
        );
    }
    assert!(!rx.is_closed());
    assert_eq!(rx.cap(), 0);
}

#[tokio::test(start_paused = true)]
async fn slow_tick_receiver_misses_ticks_instead_of_queueing_them() {
    let start = now();
    let rx = tick(D);
    // Nobody receives for 5.5 periods: ticks 1 to 5 are due.
    advance(D * 5 + D / 2).await;
    assert_eq!(rx.recv().await, Some(start + D * 5), "the latest due tick");
    // The missed ticks are gone: the next value comes at 6d, not at once.
    let mut recv = Box::pin(rx.recv());
    assert!(poll!(&mut recv).is_pending(), "ticks are not queued");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    advance(D / 2 - MS).await;
    assert!(poll!(&mut recv).is_pending());
    advance(MS).await;
    assert_eq!(
        poll!(&mut recv),
        std::task::Poll::Ready(Some(start + D * 6))
    );

    // Exactly 5 periods late: the same.
    let start = now();
    let rx = tick(D);
    advance(D * 5).await;
    assert_eq!(rx.recv().await, Some(start + D * 5));
    assert_eq!(rx.recv().now_or_never(), None);
    assert_eq!(rx.recv().await, Some(start + D * 6));
    assert_eq!(now(), start + D * 6);
}

#[tokio::test(start_paused = true)]
async fn tick_as_a_stream() {
    let start = now();
    let got: Vec<Instant> = tick(D).take(3).collect().await;
    assert_eq!(got, vec![start + D, start + D * 2, start + D * 3]);
}

#[tokio::test(start_paused = true)]
async fn tick_clones_share_one_schedule() {
    let start = now();
    let a = tick(D);
    let b = a.clone();
    advance(D).await;
    let got = [a.try_recv(), b.try_recv()];
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 1, "{got:?}");
    advance(D).await;
    assert_eq!(b.recv().await, Some(start + D * 2));
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test(start_paused = true)]
async fn tick_zero_never_fires() {
    let rx = tick(Duration::ZERO);
    let mut recv = Box::pin(rx.recv());
    assert!(poll!(&mut recv).is_pending());
    advance(Duration::from_secs(3600)).await;
    assert!(poll!(&mut recv).is_pending(), "Go's Tick(0) is nil");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.is_closed());
    assert_eq!((rx.cap(), rx.len()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn never_never_fires() {
    let mut rx = never::<String>();
    let mut recv = Box::pin(rx.recv());
    assert!(poll!(&mut recv).is_pending());
    advance(Duration::from_secs(3600 * 24)).await;
    assert!(poll!(&mut recv).is_pending());
    drop(recv);
    assert!(poll!(rx.next()).is_pending());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.is_closed());
    assert_eq!((rx.cap(), rx.len()), (0, 0));
    assert!(rx.is_empty());
    assert!(rx.clone().recv_timeout(D).await.unwrap_err().is_timeout());
}

#[tokio::test(start_paused = true)]
async fn timer_channels_have_cap_0_and_never_close() {
    let a = after(D);
    let t = tick(D);
    assert_eq!((a.cap(), a.len(), t.cap(), t.len()), (0, 0, 0, 0));
    advance(D * 2).await;
    assert_eq!((a.len(), t.len()), (0, 0), "due values are not buffered");
    a.recv().await.unwrap();
    t.recv().await.unwrap();
    assert!(!a.is_closed() && !t.is_closed());
}

#[tokio::test(start_paused = true)]
async fn sleep_waits_exactly() {
    let start = now();
    let mut s = Box::pin(sleep(D));
    assert!(poll!(&mut s).is_pending());
    advance(D - MS).await;
    assert!(poll!(&mut s).is_pending());
    advance(MS).await;
    assert!(poll!(&mut s).is_ready());

    // On its own, the paused clock jumps to the deadline.
    sleep(D).await;
    assert_eq!(now(), start + D * 2);
}
