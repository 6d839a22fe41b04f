//! Go's `time.After`, `time.Tick`, `time.Sleep`, and the nil channel.
//!
//! Timer channels are [`Receiver<Instant>`]s of their own flavor (a shared
//! schedule, not a task per timer), so they can sit anywhere a receiver can.
//! They read Tokio's clock, so `tokio::time::pause()` and `advance` apply.
//!
//! # Differences from Go
//!
//! - Values are `std::time::Instant`s (Go sends a `time.Time`).
//! - [`tick`] gives a late receiver the most recent due tick and drops the
//!   ones it missed (Go keeps one stale tick in a one-slot buffer).
//! - Like Go 1.23's timers, the channels have capacity 0 and never close.

use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::chan::{Receiver, Timer};
use crate::runtime::registry::{track, Op, OpKind};

/// A channel that delivers one value, the instant it fired, after `d`: Go's
/// `time.After(d)`. After that value it never delivers again and never
/// closes.
///
/// # Panics
///
/// Receiving from it asynchronously needs a Tokio runtime with time enabled
/// (gokio's `run` and `#[tokio::main]` have one).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// let start = std::time::Instant::now();
/// let fired = gokio::after(Duration::from_millis(20)).recv().await.unwrap();
/// assert!(fired >= start + Duration::from_millis(20));
/// # }
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    Receiver::timer(Timer::after(d))
}

/// A channel that delivers a value every `d`, the first after `d`: Go's
/// `time.Tick(d)`. A slow receiver misses ticks rather than queueing them.
/// `tick(Duration::ZERO)` never delivers, as Go's `Tick` returns nil.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// let ticks = gokio::tick(Duration::from_millis(5));
/// let a = ticks.recv().await.unwrap();
/// let b = ticks.recv().await.unwrap();
/// assert!(b >= a + Duration::from_millis(5));
/// # }
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    if d.is_zero() {
        Receiver::never()
    } else {
        Receiver::timer(Timer::tick(d))
    }
}

/// A receiver that is never ready: Go's nil channel (`var ch chan T`).
///
/// Receiving from it waits forever; [`try_recv`](Receiver::try_recv) always
/// reports `Empty`. In `select!`, a `None` case does the same job.
///
/// # Examples
///
/// ```
/// let nil = gokio::never::<i32>();
/// assert!(nil.try_recv().unwrap_err().is_empty());
/// assert!(!nil.is_closed());
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver::never()
}

/// Waits for `d`: Go's `time.Sleep(d)`. Tokio's sleep, so
/// `tokio::time::pause()` applies.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// gokio::sleep(std::time::Duration::from_millis(1)).await;
/// # }
/// ```
#[track_caller]
pub fn sleep(d: Duration) -> impl Future<Output = ()> {
    let op = Op::new(OpKind::Sleep, Location::caller());
    // Not gokio-only: the timer wakes it.
    track(op, false, tokio::time::sleep(d))
}
