//! Waiting for the next value to forward while watching the consumer: what
//! the pool workers, the ordered pool's collector and `fan_in`'s forwarders
//! all do when idle.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use gokio::{Receiver, Sender};

/// What a goroutine waiting to forward the next value gets.
pub(crate) enum Next<T> {
    /// The next value (a job, an outcome, an item).
    Job(T),
    /// The input is closed and drained.
    Exhausted,
    /// Every receiver of the output is gone: nothing forwarded can be read.
    ConsumerGone,
}

/// The next value of `input`, or why there is none. Waits on `input` and,
/// at the same time, for the receivers of `out` to go away
/// ([`Sender::closed`]), so a goroutine on a silent, open input still stops
/// as soon as its consumer does. `recv` is polled first and the `closed`
/// wait registered only if it waits.
pub(crate) async fn next_or_gone<T, U>(input: &Receiver<T>, out: &Sender<U>) -> Next<T> {
    let mut recv = pin!(input.recv());
    let mut gone = pin!(out.closed());
    poll_fn(|cx| {
        if let Poll::Ready(value) = recv.as_mut().poll(cx) {
            return Poll::Ready(value.map_or(Next::Exhausted, Next::Job));
        }
        gone.as_mut().poll(cx).map(|()| Next::ConsumerGone)
    })
    .await
}
