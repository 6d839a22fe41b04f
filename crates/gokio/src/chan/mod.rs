//! Channels: Go's `chan T`, `chan<- T` and `<-chan T`.
//!
//! [`chan`]`(cap)` is `make(chan T, cap)`. It returns a [`Chan`], the
//! bidirectional channel; [`Chan::sender`] and [`Chan::receiver`] give the
//! directional views [`Sender`] (`chan<- T`) and [`Receiver`] (`<-chan T`).
//! Every handle is `Clone`: a clone is one more reference to the same
//! channel, as copying a channel value is in Go.
//!
//! # Capacity
//!
//! - `cap == 0` is unbuffered: a send completes only once a receiver has
//!   taken the value (a rendezvous). This flavor is gokio's own (Go's `hchan`
//!   design: a lock, a queue of parked senders, one of parked receivers).
//! - `cap >= 1` is buffered: a send waits only while the buffer is full. The
//!   buffer is an [async-channel](https://docs.rs/async-channel) bounded
//!   queue.
//!
//! # Closing
//!
//! [`close`](Chan::close) wakes every waiter: waiting senders get their
//! values back in [`SendError`], receivers drain what is buffered and then
//! get `None` (`v, ok := <-ch` with `ok == false`; [`recv_ok`](Chan::recv_ok)
//! gives Go's zero value). Closing twice panics, as in Go. A channel also
//! closes when its last sending handle ([`Chan`] or [`Sender`]) is dropped,
//! and once every receiving handle ([`Chan`] or [`Receiver`]) is dropped,
//! sends fail with [`SendError`] instead of blocking forever.
//!
//! # Nil channels
//!
//! Go's nil channel (never ready) is [`never`](crate::never)`::<T>()` as a
//! value, and `None` where a `select!` case takes an `Option<&_>`.
//!
//! # Cancel safety
//!
//! Every future returned here may be dropped while it waits (the losing
//! branch of `tokio::select!`, an elapsed `tokio::time::timeout`) with no
//! effect on the channel: a dropped `recv` never consumes a value, and a
//! dropped `send` has not delivered its value and never will (one corner
//! case at capacity 0 is spelled out on [`Chan::send`]). No value is ever
//! lost or duplicated: each value handed to a send reaches exactly one
//! receiver or comes back to the caller in an error.
//!
//! At capacity 0 this shapes the handoff: a waiting receive never takes the
//! value of a waiting send; it wakes the sender, which completes the
//! handoff in its own poll (see the `rendezvous` module's design notes).
//!
//! # Cooperative scheduling
//!
//! Every operation takes part in Tokio's cooperative budget, as Tokio's own
//! channels do, so a goroutine looping on always-ready channel operations
//! still yields to the others. On Tokio this budget stands in for Go's
//! preemption.
//!
//! # Differences from Go
//!
//! - A send on a closed channel returns `Err(SendError(v))` with the value,
//!   where Go panics.
//! - Receiving gives `Option<T>`; the zero value is only produced by
//!   [`recv_ok`](Chan::recv_ok), which needs `T: Default`.
//! - Channels close when the last sender is dropped, and sends fail when no
//!   receiver can ever take the value (Go leaks the blocked goroutine).
//! - At capacity 0, if a receive is dropped after a sender handed it a
//!   value but before it returned, the value is given back to the channel
//!   and goes to the next receiver; that sender's send had already
//!   completed. Go cannot cancel a receive, so it has no such case.

mod buffered;
pub(crate) mod case;
mod error;
mod event;
mod rendezvous;
mod timer;
pub(crate) mod token;

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures::future::Either;
use futures::{Sink, Stream};
use tokio::task::coop::{cooperative, poll_proceed};
use tokio::time::Sleep;

pub use error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};

pub(crate) use timer::Timer;

use buffered::Buffered;
use rendezvous::Rendezvous;

use crate::runtime::registry::{poll_op, track, Op, OpKind};

/// A waiting operation called at the caller's location (for `dump`).
#[track_caller]
fn op(kind: OpKind) -> Op {
    Op::new(kind, std::panic::Location::caller())
}

/// A receive through `Stream::poll_next`, which has no call site.
const STREAM_NEXT: Op = Op::untracked(OpKind::StreamNext);

/// `send_blocking`: a plain thread's, never a goroutine's wait.
const BLOCKING_SEND: Op = Op::untracked(OpKind::SendBlocking);

/// `recv_blocking`: a plain thread's, never a goroutine's wait.
const BLOCKING_RECV: Op = Op::untracked(OpKind::RecvBlocking);

/// A send through `Sink`, which has no call site.
const SINK_SEND: Op = Op::untracked(OpKind::SinkSend);

/// Makes a channel: Go's `make(chan T, cap)`.
///
/// `cap == 0` makes an unbuffered channel, whose sends complete only when a
/// receiver takes the value; `cap >= 1` a buffered one with room for `cap`
/// values.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// let unbuffered = gokio::chan::<i32>(0);
/// let buffered = gokio::chan::<i32>(5);
/// assert_eq!((unbuffered.cap(), buffered.cap()), (0, 5));
///
/// buffered.send(1).await.unwrap(); // does not wait: there is room
/// assert_eq!(buffered.len(), 1);
///
/// let tx = unbuffered.sender();
/// gokio::go(async move { tx.send(2).await.unwrap() }); // waits for a receiver
/// assert_eq!(unbuffered.recv().await, Some(2));
/// # }
/// ```
pub fn chan<T>(cap: usize) -> Chan<T> {
    let flavor = if cap == 0 {
        Flavor::Rendezvous(Rendezvous::new())
    } else {
        Flavor::Buffered(Buffered::new(cap))
    };
    Chan::from_shared(Arc::new(Shared {
        flavor,
        cap,
        senders: AtomicUsize::new(0),
        receivers: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
        no_receivers: tokio::sync::Notify::new(),
    }))
}

/// What every handle of one channel shares.
struct Shared<T> {
    flavor: Flavor<T>,
    cap: usize,
    /// Live handles that can send (`Chan`, `Sender`).
    senders: AtomicUsize,
    /// Live handles that can receive (`Chan`, `Receiver`).
    receivers: AtomicUsize,
    /// Set once, by `close` or by the last sending handle's drop.
    closed: AtomicBool,
    /// Notified when the last receiving handle is dropped (`Sender::closed`).
    no_receivers: tokio::sync::Notify,
}

enum Flavor<T> {
    Buffered(Buffered<T>),
    Rendezvous(Rendezvous<T>),
}

impl<T> Shared<T> {
    fn add_sender(&self) {
        // Relaxed: a new handle is made from a live one, so the count cannot
        // be zero here; the decrement below orders the teardown.
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    fn add_receiver(&self) {
        // Relaxed: as in add_sender.
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    fn drop_sender(&self) {
        // AcqRel: the last decrement must see every other handle's uses
        // (Acquire) before it closes the channel.
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 && !self.mark_closed() {
            self.close_flavor();
        }
    }

    fn drop_receiver(&self) {
        // AcqRel: as in drop_sender.
        if self.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            match &self.flavor {
                Flavor::Buffered(b) => b.disconnect(),
                Flavor::Rendezvous(r) => r.disconnect(),
            }
            // Wakes every `Sender::closed` registered before this point;
            // later ones see the count at zero.
            self.no_receivers.notify_waiters();
        }
    }

    /// Sets the closed flag; returns whether it was already set.
    fn mark_closed(&self) -> bool {
        // AcqRel: exactly one caller sees `false` and performs the close.
        self.closed.swap(true, Ordering::AcqRel)
    }

    fn close_flavor(&self) {
        tracing::trace!(target: "gokio::chan", cap = self.cap, "close");
        match &self.flavor {
            Flavor::Buffered(b) => b.close(),
            Flavor::Rendezvous(r) => r.close(),
        }
    }

    #[track_caller]
    fn close(&self) {
        if self.mark_closed() {
            panic!("close of closed channel");
        }
        self.close_flavor();
    }

    fn is_closed(&self) -> bool {
        // Acquire: pairs with mark_closed.
        self.closed.load(Ordering::Acquire)
    }

    fn len(&self) -> usize {
        match &self.flavor {
            Flavor::Buffered(b) => b.len(),
            Flavor::Rendezvous(_) => 0,
        }
    }

    fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match &self.flavor {
            Flavor::Buffered(b) => b.try_send(value),
            Flavor::Rendezvous(r) => r.try_send(value),
        }
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Buffered(b) => b.try_recv(),
            Flavor::Rendezvous(r) => r.try_recv(),
        }
    }

    /// `ch <- v`. `op` says where the user called it (for `dump`).
    fn send(&self, value: T, op: Op) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        cooperative(async move {
            let mut parked = false;
            match &self.flavor {
                Flavor::Buffered(b) => {
                    // Fast path without bookkeeping: room in the buffer.
                    let value = match b.try_send(value) {
                        Ok(()) => return Ok(()),
                        Err(TrySendError::Closed(v)) => return Err(SendError(v)),
                        Err(TrySendError::Full(v)) => v,
                    };
                    let mut send = std::pin::pin!(b.send(value));
                    poll_fn(|cx| poll_op(cx, &op, &mut parked, |park, _| send.as_mut().poll(park)))
                        .await
                }
                Flavor::Rendezvous(r) => {
                    let mut send = Bound::new(r, rendezvous::SendOp::new(value));
                    poll_fn(|cx| {
                        // Woken by the receiver that took the value: done,
                        // no bookkeeping.
                        if let Some(result) = send.op.poll_done() {
                            return Poll::Ready(result);
                        }
                        poll_op(cx, &op, &mut parked, |park, _| {
                            send.op.poll(send.chan, park)
                        })
                    })
                    .await
                }
            }
        })
    }

    /// `<-ch` on a handle: first the handle's own parked stream receive
    /// (`stream`), then the channel. `op` says where the user called it
    /// (for `dump`).
    fn recv<'a>(
        &'a self,
        stream: Option<&'a StreamSlot<T>>,
        op: Op,
    ) -> impl Future<Output = Option<T>> + 'a {
        cooperative(async move {
            if let Some(result) = stream.and_then(|stream| stream.reclaim(self)) {
                return result;
            }
            let mut parked = false;
            match &self.flavor {
                Flavor::Buffered(b) => {
                    // Fast path without bookkeeping: a value is buffered.
                    match b.try_recv() {
                        Ok(v) => return Some(v),
                        Err(TryRecvError::Closed) => return None,
                        Err(TryRecvError::Empty) => {}
                    }
                    let mut recv = std::pin::pin!(b.recv());
                    poll_fn(|cx| poll_op(cx, &op, &mut parked, |park, _| recv.as_mut().poll(park)))
                        .await
                }
                Flavor::Rendezvous(r) => {
                    let mut recv = Bound::new(r, rendezvous::RecvOp::default());
                    poll_fn(|cx| {
                        // Woken by the sender that delivered: done, no
                        // bookkeeping.
                        if let Some(value) = recv.op.poll_done(recv.chan) {
                            return Poll::Ready(value);
                        }
                        poll_op(cx, &op, &mut parked, |park, _| {
                            recv.op.poll(recv.chan, park)
                        })
                    })
                    .await
                }
            }
        })
    }

    /// The channel operation waits with the goroutine's park waker, the
    /// timer with the caller's: a goroutine waiting here never counts as
    /// blocked, since the timer will wake it.
    fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
        op: Op,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + '_ {
        cooperative(async move {
            let mut sleep = std::pin::pin!(tokio::time::sleep(timeout));
            let mut parked = false;
            match &self.flavor {
                Flavor::Buffered(b) => {
                    let mut send = Bound::new(b, buffered::SendOp::new(value));
                    poll_fn(|cx| {
                        poll_op(cx, &op, &mut parked, |park, user| {
                            if let Poll::Ready(res) = send.op.poll(send.chan, park) {
                                return Poll::Ready(res.map_err(SendTimeoutError::from));
                            }
                            ready!(sleep.as_mut().poll(user));
                            let value = send
                                .op
                                .withdraw(send.chan)
                                .expect("a pending send holds its value");
                            Poll::Ready(Err(SendTimeoutError::Timeout(value)))
                        })
                    })
                    .await
                }
                Flavor::Rendezvous(r) => {
                    let mut send = Bound::new(r, rendezvous::SendOp::new(value));
                    poll_fn(|cx| {
                        poll_op(cx, &op, &mut parked, |park, user| {
                            if let Poll::Ready(res) = send.op.poll(send.chan, park) {
                                return Poll::Ready(res.map_err(SendTimeoutError::from));
                            }
                            ready!(sleep.as_mut().poll(user));
                            Poll::Ready(match send.op.withdraw(send.chan) {
                                Ok(value) => Err(SendTimeoutError::Timeout(value)),
                                Err(res) => res.map_err(SendTimeoutError::from),
                            })
                        })
                    })
                    .await
                }
            }
        })
    }

    /// As [`send_timeout`](Shared::send_timeout), for a receive on a handle
    /// (see [`recv`](Shared::recv)).
    fn recv_timeout<'a>(
        &'a self,
        stream: &'a StreamSlot<T>,
        timeout: Duration,
        op: Op,
    ) -> impl Future<Output = Result<T, RecvTimeoutError>> + 'a {
        cooperative(async move {
            if let Some(result) = stream.reclaim(self) {
                return result.ok_or(RecvTimeoutError::Closed);
            }
            let mut sleep = std::pin::pin!(tokio::time::sleep(timeout));
            let mut parked = false;
            match &self.flavor {
                Flavor::Buffered(b) => {
                    let mut recv = std::pin::pin!(b.recv());
                    poll_fn(|cx| {
                        poll_op(cx, &op, &mut parked, |park, user| {
                            if let Poll::Ready(res) = recv.as_mut().poll(park) {
                                return Poll::Ready(res.ok_or(RecvTimeoutError::Closed));
                            }
                            ready!(sleep.as_mut().poll(user));
                            Poll::Ready(Err(RecvTimeoutError::Timeout))
                        })
                    })
                    .await
                }
                Flavor::Rendezvous(r) => {
                    let mut recv = Bound::new(r, rendezvous::RecvOp::default());
                    poll_fn(|cx| {
                        poll_op(cx, &op, &mut parked, |park, user| {
                            if let Poll::Ready(res) = recv.op.poll(recv.chan, park) {
                                return Poll::Ready(res.ok_or(RecvTimeoutError::Closed));
                            }
                            ready!(sleep.as_mut().poll(user));
                            Poll::Ready(match recv.op.withdraw(recv.chan) {
                                // A sender that holds the baton may not have run
                                // yet: take what is ready now, as Go's select
                                // with a timeout would.
                                None => match recv.chan.try_recv() {
                                    Ok(v) => Ok(v),
                                    Err(TryRecvError::Closed) => Err(RecvTimeoutError::Closed),
                                    Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
                                },
                                Some(res) => res.ok_or(RecvTimeoutError::Closed),
                            })
                        })
                    })
                    .await
                }
            }
        })
    }

    fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        match &self.flavor {
            Flavor::Buffered(b) => b.send_blocking(value),
            Flavor::Rendezvous(_) => futures::executor::block_on(self.send(value, BLOCKING_SEND)),
        }
    }

    fn recv_blocking(&self) -> Option<T> {
        match &self.flavor {
            Flavor::Buffered(b) => b.recv_blocking(),
            Flavor::Rendezvous(_) => futures::executor::block_on(self.recv(None, BLOCKING_RECV)),
        }
    }
}

/// A withdrawable operation bound to its channel; dropping it withdraws the
/// operation, which is what makes every wait cancel-safe.
struct Bound<'a, C, O: Cancel<C>> {
    chan: &'a C,
    op: O,
}

impl<'a, C, O: Cancel<C>> Bound<'a, C, O> {
    fn new(chan: &'a C, op: O) -> Self {
        Bound { chan, op }
    }
}

impl<C, O: Cancel<C>> Drop for Bound<'_, C, O> {
    fn drop(&mut self) {
        self.op.cancel(self.chan);
    }
}

/// Withdrawal on drop: no effect on the channel, and a value already handed
/// to a receive is given back to the channel.
trait Cancel<C> {
    fn cancel(&mut self, chan: &C);
}

impl<T> Cancel<Rendezvous<T>> for rendezvous::RecvOp<T> {
    fn cancel(&mut self, chan: &Rendezvous<T>) {
        rendezvous::RecvOp::cancel(self, chan);
    }
}

impl<T> Cancel<Rendezvous<T>> for rendezvous::SendOp<T> {
    fn cancel(&mut self, chan: &Rendezvous<T>) {
        // Either the value was delivered, or it is dropped with the future.
        let _ = self.withdraw(chan);
    }
}

impl<T> Cancel<Buffered<T>> for buffered::RecvOp {
    fn cancel(&mut self, chan: &Buffered<T>) {
        buffered::RecvOp::cancel(self, chan);
    }
}

impl<T> Cancel<Buffered<T>> for buffered::SendOp<T> {
    fn cancel(&mut self, chan: &Buffered<T>) {
        let _ = self.withdraw(chan);
    }
}

/// The pending receive of a handle used as a `Stream`.
enum StreamOp<T> {
    Idle,
    Buffered(buffered::RecvOp),
    Rendezvous(rendezvous::RecvOp<T>),
    Timer(Option<Pin<Box<Sleep>>>),
}

impl<T> StreamOp<T> {
    /// `cx` registers in the channel; `user`, the caller's own context,
    /// takes part in the cooperative budget (whose deferred wake-up must
    /// count as a way to be woken).
    fn poll_shared(
        &mut self,
        shared: &Shared<T>,
        cx: &mut Context<'_>,
        user: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        let coop = ready!(poll_proceed(user));
        let poll = match &shared.flavor {
            Flavor::Buffered(b) => {
                if !matches!(self, StreamOp::Buffered(_)) {
                    *self = StreamOp::Buffered(buffered::RecvOp::default());
                }
                let StreamOp::Buffered(op) = self else {
                    unreachable!()
                };
                op.poll(b, cx)
            }
            Flavor::Rendezvous(r) => {
                if !matches!(self, StreamOp::Rendezvous(_)) {
                    *self = StreamOp::Rendezvous(rendezvous::RecvOp::default());
                }
                let StreamOp::Rendezvous(op) = self else {
                    unreachable!()
                };
                op.poll(r, cx)
            }
        };
        if poll.is_ready() {
            coop.made_progress();
        }
        poll
    }

    fn cancel(&mut self, shared: &Shared<T>) {
        match (std::mem::replace(self, StreamOp::Idle), &shared.flavor) {
            (StreamOp::Buffered(mut op), Flavor::Buffered(b)) => op.cancel(b),
            (StreamOp::Rendezvous(mut op), Flavor::Rendezvous(r)) => op.cancel(r),
            _ => {}
        }
    }
}

/// A handle's stream state. At capacity 0 a pending `poll_next` parks a
/// receive that lives in the handle (a `Stream` keeps its registration
/// between polls), and a sender may complete it while nobody polls. Every
/// other receive on the same handle first reclaims that parked receive, so
/// the handle sees values in order and a value handed to the stream is
/// never stranded.
struct StreamSlot<T> {
    /// Whether `op` holds a parked rendezvous receive. Only the owner of
    /// the handle touches it: `poll_next` (`&mut`) sets it, receives (`&`)
    /// clear it, and `&mut`/`&` exclusion orders them.
    parked: AtomicBool,
    op: std::sync::Mutex<StreamOp<T>>,
}

impl<T> StreamSlot<T> {
    fn new() -> Self {
        StreamSlot {
            parked: AtomicBool::new(false),
            op: std::sync::Mutex::new(StreamOp::Idle),
        }
    }

    fn op(&mut self) -> &mut StreamOp<T> {
        self.op.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    fn poll_shared(
        &mut self,
        shared: &Shared<T>,
        cx: &mut Context<'_>,
        user: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        let poll = self.op().poll_shared(shared, cx, user);
        let parked = poll.is_pending() && matches!(shared.flavor, Flavor::Rendezvous(_));
        // Relaxed: see the field docs.
        self.parked.store(parked, Ordering::Relaxed);
        poll
    }

    /// Withdraws a parked stream receive; `Some(result)` if it had completed.
    ///
    /// Inlined: every receive on a handle calls it, and almost always no
    /// stream receive is parked, so the call is one load.
    #[inline]
    fn reclaim(&self, shared: &Shared<T>) -> Option<Option<T>> {
        // Relaxed: see the field docs. A plain load keeps the common case
        // (no parked stream receive) free of read-modify-writes.
        if !self.parked.load(Ordering::Relaxed) {
            return None;
        }
        self.reclaim_parked(shared)
    }

    #[cold]
    fn reclaim_parked(&self, shared: &Shared<T>) -> Option<Option<T>> {
        let mut op = self.op.lock().unwrap_or_else(|e| e.into_inner());
        self.parked.store(false, Ordering::Relaxed);
        match (std::mem::replace(&mut *op, StreamOp::Idle), &shared.flavor) {
            (StreamOp::Rendezvous(mut op), Flavor::Rendezvous(r)) => op.withdraw(r),
            _ => None,
        }
    }

    fn cancel(&mut self, shared: &Shared<T>) {
        self.op().cancel(shared);
    }
}

fn try_recv_on<T>(shared: &Shared<T>, stream: &StreamSlot<T>) -> Result<T, TryRecvError> {
    match stream.reclaim(shared) {
        Some(Some(v)) => Ok(v),
        Some(None) => Err(TryRecvError::Closed),
        None => shared.try_recv(),
    }
}

fn recv_blocking_on<T>(shared: &Shared<T>, stream: &StreamSlot<T>) -> Option<T> {
    match stream.reclaim(shared) {
        Some(result) => result,
        None => shared.recv_blocking(),
    }
}

/// The pending send of a [`Sender`] used as a `Sink`.
enum SinkOp<T> {
    Idle,
    Buffered(buffered::SendOp<T>),
    Rendezvous(rendezvous::SendOp<T>),
}

impl<T> SinkOp<T> {
    fn start(&mut self, shared: &Shared<T>, value: T) {
        debug_assert!(
            matches!(self, SinkOp::Idle),
            "start_send without poll_ready"
        );
        *self = match &shared.flavor {
            Flavor::Buffered(_) => SinkOp::Buffered(buffered::SendOp::new(value)),
            Flavor::Rendezvous(_) => SinkOp::Rendezvous(rendezvous::SendOp::new(value)),
        };
    }

    /// `cx` registers in the channel, `user` takes part in the budget (see
    /// `StreamOp::poll_shared`).
    fn poll_flush(
        &mut self,
        shared: &Shared<T>,
        cx: &mut Context<'_>,
        user: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        let coop = ready!(poll_proceed(user));
        let poll = match (&mut *self, &shared.flavor) {
            (SinkOp::Idle, _) => return Poll::Ready(Ok(())),
            (SinkOp::Buffered(op), Flavor::Buffered(b)) => op.poll(b, cx),
            (SinkOp::Rendezvous(op), Flavor::Rendezvous(r)) => op.poll(r, cx),
            _ => unreachable!("a sink op matches its channel's flavor"),
        };
        if poll.is_ready() {
            coop.made_progress();
            *self = SinkOp::Idle;
        }
        poll
    }

    fn cancel(&mut self, shared: &Shared<T>) {
        match (std::mem::replace(self, SinkOp::Idle), &shared.flavor) {
            (SinkOp::Buffered(mut op), Flavor::Buffered(b)) => Cancel::cancel(&mut op, b),
            (SinkOp::Rendezvous(mut op), Flavor::Rendezvous(r)) => Cancel::cancel(&mut op, r),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Chan
// ---------------------------------------------------------------------------

/// A bidirectional channel: Go's `chan T`. Made by [`chan`].
///
/// `Chan` can both send and receive; [`sender`](Chan::sender) and
/// [`receiver`](Chan::receiver) give directional views of the same channel.
/// Cloning a `Chan` makes another reference to the same channel. A `Chan`
/// counts as a sending handle (the channel closes when the last one is
/// dropped) and as a receiving handle.
///
/// `Chan<T>` is a [`Stream`] of the values received (ending when the
/// channel is closed and drained), so `for v := range ch` is
/// `while let Some(v) = ch.recv().await` or any `StreamExt` combinator.
pub struct Chan<T> {
    shared: Arc<Shared<T>>,
    stream: StreamSlot<T>,
}

impl<T> Chan<T> {
    fn from_shared(shared: Arc<Shared<T>>) -> Self {
        shared.add_sender();
        shared.add_receiver();
        Chan {
            shared,
            stream: StreamSlot::new(),
        }
    }

    /// Sends `value`, waiting while the channel is full: Go's `ch <- v`.
    ///
    /// Buffered: completes once the value is in the buffer. Capacity 0:
    /// completes only once a receiver has taken the value.
    ///
    /// # Errors
    ///
    /// `Err(SendError(value))`, handing the value back, if the channel is
    /// closed (also while this send waits) or every receiving handle is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped before it completes, the value
    /// was not sent and never will be (it is dropped with the future). The
    /// one exception is at capacity 0: a non-blocking receive
    /// ([`try_recv`](Chan::try_recv), or [`recv_timeout`](Chan::recv_timeout)
    /// at its deadline) may take the value from this send while it waits,
    /// and if the future is dropped before it is polled again, it never
    /// reports that the value was delivered. The value is still
    /// delivered exactly once. Blocking receives never complete a waiting
    /// send on their own, so with them the rule has no exception.
    ///
    /// # Differences from Go
    ///
    /// Go panics on a send to a closed channel; gokio returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan(1);
    /// ch.send("first").await.unwrap();
    /// ch.close();
    /// assert_eq!(ch.send("second").await.unwrap_err().into_inner(), "second");
    /// # }
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        self.shared.send(value, op(OpKind::ChanSend))
    }

    /// Sends without waiting: Go's `select { case ch <- v: default: }`.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the buffer is full (capacity 0: no receiver
    /// is waiting right now); [`TrySendError::Closed`] if the channel is
    /// closed or every receiving handle is gone. Both hand the value back.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(1);
    /// assert!(ch.try_send(1).is_ok());
    /// assert!(ch.try_send(2).unwrap_err().is_full());
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.shared.try_send(value)
    }

    /// Sends, giving up after `timeout`: Go's
    /// `select { case ch <- v: case <-time.After(d): }`.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] if the deadline passed first,
    /// [`SendTimeoutError::Closed`] if the channel is closed; both hand the
    /// value back.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`send`](Chan::send).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// let ch = gokio::chan(0); // nobody receives
    /// let err = ch.send_timeout(7, Duration::from_millis(10)).await.unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.into_inner(), 7);
    /// # }
    /// ```
    #[track_caller]
    pub fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + '_ {
        self.shared
            .send_timeout(value, timeout, op(OpKind::ChanSendTimeout))
    }

    /// Sends from a plain thread, blocking it while the channel is full.
    ///
    /// For threads outside the runtime; on a runtime worker it would block
    /// the worker.
    ///
    /// # Errors
    ///
    /// As [`send`](Chan::send).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(0);
    /// let rx = ch.receiver();
    /// let t = std::thread::spawn(move || rx.recv_blocking());
    /// ch.send_blocking(5).unwrap();
    /// assert_eq!(t.join().unwrap(), Some(5));
    /// ```
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        self.shared.send_blocking(value)
    }

    /// Receives a value, waiting until one is available: Go's
    /// `v, ok := <-ch`.
    ///
    /// Returns `None` if and only if the channel is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes never consumes a
    /// value (at capacity 0, a value handed over in the meantime goes back to
    /// the channel).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan(2);
    /// ch.send(1).await.unwrap();
    /// ch.close();
    /// assert_eq!(ch.recv().await, Some(1)); // buffered values stay receivable
    /// assert_eq!(ch.recv().await, None);    // closed and drained
    /// # }
    /// ```
    #[track_caller]
    pub fn recv(&self) -> impl Future<Output = Option<T>> + '_ {
        self.shared.recv(Some(&self.stream), op(OpKind::ChanRecv))
    }

    /// Receives with Go's comma-ok form: `(value, true)`, or
    /// `(T::default(), false)` — Go's zero value — once the channel is closed
    /// and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`recv`](Chan::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan::<i32>(1);
    /// ch.send(42).await.unwrap();
    /// ch.close();
    /// assert_eq!(ch.recv_ok().await, (42, true));
    /// assert_eq!(ch.recv_ok().await, (0, false));
    /// # }
    /// ```
    #[track_caller]
    pub fn recv_ok(&self) -> impl Future<Output = (T, bool)> + '_
    where
        T: Default,
    {
        comma_ok(self.recv())
    }

    /// Receives without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if no value is ready (capacity 0: no sender is
    /// waiting right now); [`TryRecvError::Closed`] if the channel is closed
    /// and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan::<i32>(1);
    /// assert_eq!(ch.try_recv(), Err(gokio::TryRecvError::Empty));
    /// ch.try_send(3).unwrap();
    /// assert_eq!(ch.try_recv(), Ok(3));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        try_recv_on(&self.shared, &self.stream)
    }

    /// Receives, giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if no value came in time,
    /// [`RecvTimeoutError::Closed`] if the channel is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`recv`](Chan::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// let ch = gokio::chan::<i32>(0);
    /// let err = ch.recv_timeout(Duration::from_millis(10)).await.unwrap_err();
    /// assert!(err.is_timeout());
    /// # }
    /// ```
    #[track_caller]
    pub fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, RecvTimeoutError>> + '_ {
        self.shared
            .recv_timeout(&self.stream, timeout, op(OpKind::ChanRecvTimeout))
    }

    /// Receives on a plain thread, blocking it until a value is available.
    /// Returns `None` once the channel is closed and drained.
    ///
    /// For threads outside the runtime; on a runtime worker it would block
    /// the worker.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(1);
    /// ch.try_send("hi").unwrap();
    /// assert_eq!(ch.recv_blocking(), Some("hi"));
    /// ```
    pub fn recv_blocking(&self) -> Option<T> {
        recv_blocking_on(&self.shared, &self.stream)
    }

    /// Closes the channel: Go's `close(ch)`.
    ///
    /// Every waiting receiver and sender wakes. Values already buffered stay
    /// receivable; after them, receives return `None`. Waiting and later
    /// sends fail with [`SendError`], handing their values back.
    ///
    /// # Panics
    ///
    /// Panics with "close of closed channel" if the channel is already
    /// closed, as Go does. (Dropping the last sending handle closes the
    /// channel too, but never panics.)
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan::<i32>(0);
    /// ch.close();
    /// assert!(ch.is_closed());
    /// assert_eq!(ch.recv().await, None);
    /// # }
    /// ```
    #[track_caller]
    pub fn close(&self) {
        self.shared.close();
    }

    /// Whether the channel has been closed (by [`close`](Chan::close) or by
    /// the drop of its last sending handle).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan::<()>(0);
    /// assert!(!ch.is_closed());
    /// ch.close();
    /// assert!(ch.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The number of values buffered now: Go's `len(ch)`. Always 0 at
    /// capacity 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(3);
    /// ch.try_send(1).unwrap();
    /// ch.try_send(2).unwrap();
    /// assert_eq!((ch.len(), ch.cap()), (2, 3));
    /// ```
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// The capacity: Go's `cap(ch)`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gokio::chan::<u8>(0).cap(), 0);
    /// assert_eq!(gokio::chan::<u8>(9).cap(), 9);
    /// ```
    pub fn cap(&self) -> usize {
        self.shared.cap
    }

    /// Whether no value is buffered (`len() == 0`).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan::<u8>(1);
    /// assert!(ch.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A send-only view of this channel: Go's `chan<- T`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// async fn produce(out: gokio::Sender<i32>) {
    ///     for i in 0..3 {
    ///         out.send(i).await.unwrap();
    ///     }
    /// } // `out` dropped here: it was the last sender, so the channel closes
    ///
    /// let ch = gokio::chan(3);
    /// let rx = ch.receiver();
    /// produce(ch.sender()).await;
    /// drop(ch);
    /// assert_eq!(rx.recv().await, Some(0));
    /// # }
    /// ```
    pub fn sender(&self) -> Sender<T> {
        Sender::from_shared(Arc::clone(&self.shared))
    }

    /// A receive-only view of this channel: Go's `<-chan T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(1);
    /// let rx: gokio::Receiver<i32> = ch.receiver();
    /// ch.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn receiver(&self) -> Receiver<T> {
        Receiver::from_shared(Arc::clone(&self.shared))
    }
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Chan::from_shared(Arc::clone(&self.shared))
    }
}

impl<T> Drop for Chan<T> {
    fn drop(&mut self) {
        self.stream.cancel(&self.shared);
        self.shared.drop_receiver();
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_chan(f, "Chan", self.len(), self.cap(), self.is_closed())
    }
}

impl<T> Stream for Chan<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        poll_op(cx, &STREAM_NEXT, &mut false, |park, user| {
            this.stream.poll_shared(&this.shared, park, user)
        })
    }
}

fn debug_chan(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    len: usize,
    cap: usize,
    closed: bool,
) -> fmt::Result {
    f.debug_struct(name)
        .field("len", &len)
        .field("cap", &cap)
        .field("closed", &closed)
        .finish()
}

async fn comma_ok<T: Default>(recv: impl Future<Output = Option<T>>) -> (T, bool) {
    match recv.await {
        Some(v) => (v, true),
        None => (T::default(), false),
    }
}

// ---------------------------------------------------------------------------
// Sender
// ---------------------------------------------------------------------------

/// The sending side of a channel: Go's `chan<- T`. Made by [`Chan::sender`].
///
/// The channel closes when the last sending handle (`Sender` or [`Chan`]) is
/// dropped. `Sender<T>` is a [`Sink<T>`](futures::Sink): `poll_ready` waits
/// for the previous value to be sent, and `poll_close` closes the channel
/// (without panicking if it is already closed; a later
/// [`close`](Sender::close) then panics), so `stream.forward(tx)` works.
///
/// A value started with `start_send` waits in the `Sender` until it is
/// flushed: dropping the `Sender` drops it unsent, and at capacity 0 a
/// parked, unflushed value sits at the front of the channel's senders, so
/// later handoffs wait until this `Sender` is flushed or dropped. Drive a
/// `Sink` to completion (`SinkExt::send`, `forward`) rather than abandoning
/// it half-way.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    /// Only reached through `&mut self` (`get_mut`, no locking); the mutex
    /// makes `Sender<T>` `Sync` for `T: Send` without `unsafe`.
    sink: std::sync::Mutex<SinkOp<T>>,
}

impl<T> Sender<T> {
    fn from_shared(shared: Arc<Shared<T>>) -> Self {
        shared.add_sender();
        Sender {
            shared,
            sink: std::sync::Mutex::new(SinkOp::Idle),
        }
    }

    /// Sends `value`, waiting while the channel is full. See [`Chan::send`].
    ///
    /// # Errors
    ///
    /// `Err(SendError(value))` if the channel is closed or every receiving
    /// handle is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped send never delivers its value afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan(1);
    /// let tx = ch.sender();
    /// tx.send(1).await.unwrap();
    /// assert_eq!(ch.recv().await, Some(1));
    /// # }
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        self.shared.send(value, op(OpKind::SenderSend))
    }

    /// Sends without waiting. See [`Chan::try_send`].
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], handing the value back.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(0);
    /// // Capacity 0 and no receiver waiting: a try_send cannot pair.
    /// assert!(ch.sender().try_send(1).unwrap_err().is_full());
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.shared.try_send(value)
    }

    /// Sends, giving up after `timeout`. See [`Chan::send_timeout`].
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], handing
    /// the value back.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`send`](Sender::send).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// let ch = gokio::chan(1);
    /// let tx = ch.sender();
    /// tx.send_timeout(1, Duration::from_millis(10)).await.unwrap();
    /// assert!(tx.send_timeout(2, Duration::from_millis(10)).await.unwrap_err().is_timeout());
    /// # }
    /// ```
    #[track_caller]
    pub fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + '_ {
        self.shared
            .send_timeout(value, timeout, op(OpKind::SenderSendTimeout))
    }

    /// Sends from a plain thread. See [`Chan::send_blocking`].
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(1);
    /// let tx = ch.sender();
    /// std::thread::spawn(move || tx.send_blocking(9).unwrap()).join().unwrap();
    /// assert_eq!(ch.try_recv(), Ok(9));
    /// ```
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        self.shared.send_blocking(value)
    }

    /// Closes the channel. See [`Chan::close`].
    ///
    /// # Panics
    ///
    /// Panics with "close of closed channel" if the channel is already closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan::<i32>(0);
    /// ch.sender().close();
    /// assert!(ch.is_closed());
    /// ```
    #[track_caller]
    pub fn close(&self) {
        self.shared.close();
    }

    /// Whether the channel has been closed. See [`Chan::is_closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan::<i32>(0);
    /// let tx = ch.sender();
    /// ch.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Waits until every handle that can receive (`Chan`, `Receiver`) is
    /// gone, after which every send fails: tokio's `Sender::closed`.
    ///
    /// A goroutine that waits for something else before its next send (a
    /// forwarder waiting on its input, a worker waiting for a job) races
    /// this against that wait to notice at once that nobody will read what
    /// it would send. Go has no equivalent: its goroutines leak instead.
    ///
    /// Completes at once if no receiving handle is left. Closing the
    /// channel does not complete it; dropping the receivers does.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan::<i32>(1);
    /// let tx = ch.sender();
    /// let watcher = gokio::go(async move {
    ///     tx.closed().await;
    ///     tx.send(1).await.is_err() // nobody can receive any more
    /// });
    /// drop(ch); // the last receiving handle
    /// assert!(watcher.await.unwrap());
    /// # }
    /// ```
    pub async fn closed(&self) {
        let mut notified = std::pin::pin!(self.shared.no_receivers.notified());
        // Register before looking at the count: the last receiver's drop
        // notifies after its decrement, so it reaches this waiter, or the
        // load below sees zero.
        notified.as_mut().enable();
        // Acquire: pairs with the AcqRel decrement in `drop_receiver`.
        if self.shared.receivers.load(Ordering::Acquire) == 0 {
            return;
        }
        notified.await;
    }

    /// The number of values buffered now. See [`Chan::len`].
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(2);
    /// let tx = ch.sender();
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// The capacity. See [`Chan::cap`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gokio::chan::<u8>(4).sender().cap(), 4);
    /// ```
    pub fn cap(&self) -> usize {
        self.shared.cap
    }

    /// Whether no value is buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gokio::chan::<u8>(4).sender().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Sender<T> {
    /// The sink state and the channel, borrowed together.
    fn sink(&mut self) -> (&mut SinkOp<T>, &Shared<T>) {
        let sink = self.sink.get_mut().unwrap_or_else(|e| e.into_inner());
        (sink, &self.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender::from_shared(Arc::clone(&self.shared))
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let (sink, shared) = self.sink();
        sink.cancel(shared);
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_chan(f, "Sender", self.len(), self.cap(), self.is_closed())
    }
}

// No field of a handle is ever pinned structurally (pending values live in
// plain `Option<T>`s that are moved, never pinned), so handles are `Unpin`
// whatever `T` is.
impl<T> Unpin for Sender<T> {}

impl<T> Sink<T> for Sender<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let (sink, shared) = this.sink();
        poll_op(cx, &SINK_SEND, &mut false, |park, user| {
            sink.poll_flush(shared, park, user)
        })
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        let this = self.get_mut();
        let (sink, shared) = this.sink();
        sink.start(shared, item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let (sink, shared) = this.sink();
        poll_op(cx, &SINK_SEND, &mut false, |park, user| {
            sink.poll_flush(shared, park, user)
        })
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let (sink, shared) = this.sink();
        ready!(poll_op(cx, &SINK_SEND, &mut false, |park, user| sink
            .poll_flush(shared, park, user)))?;
        if !this.shared.mark_closed() {
            this.shared.close_flavor();
        }
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------
// Receiver
// ---------------------------------------------------------------------------

/// The receiving side of a channel: Go's `<-chan T`. Made by
/// [`Chan::receiver`], and by [`after`](crate::after), [`tick`](crate::tick)
/// and [`never`](crate::never).
///
/// `Receiver<T>` is a [`Stream`] of the values received, ending when the
/// channel is closed and drained.
///
/// At capacity 0, a `poll_next` that returned `Pending` leaves a receive
/// parked in the handle (a `Stream` keeps its registration between polls).
/// A sender may hand it a value meanwhile; that value is this handle's: the
/// next `poll_next`, `recv` or `try_recv` on the same handle returns it, and
/// dropping the handle gives it back to the channel. Clones do not see it.
pub struct Receiver<T> {
    source: Source<T>,
    stream: StreamSlot<T>,
}

enum Source<T> {
    Chan(Arc<Shared<T>>),
    /// A timer channel; the function turns its `Instant` into `T` (it exists
    /// only for `T = Instant`, where it is the identity).
    Timer(Arc<Timer>, fn(Instant) -> T),
    Never,
}

impl<T> Receiver<T> {
    fn from_shared(shared: Arc<Shared<T>>) -> Self {
        shared.add_receiver();
        Receiver {
            source: Source::Chan(shared),
            stream: StreamSlot::new(),
        }
    }

    pub(crate) fn never() -> Self {
        Receiver {
            source: Source::Never,
            stream: StreamSlot::new(),
        }
    }

    /// Receives a value, waiting until one is available. See [`Chan::recv`].
    ///
    /// Returns `None` if and only if the channel is closed and drained (timer
    /// channels and [`never`](crate::never) never close).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future never consumes a value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan(1);
    /// let rx = ch.receiver();
    /// ch.send('x').await.unwrap();
    /// assert_eq!(rx.recv().await, Some('x'));
    /// # }
    /// ```
    #[track_caller]
    pub fn recv(&self) -> impl Future<Output = Option<T>> + '_ {
        let op = op(OpKind::ReceiverRecv);
        match &self.source {
            // Channel receives take part in the budget themselves.
            Source::Chan(shared) => Either::Left(shared.recv(Some(&self.stream), op)),
            // Boxed: rare, and large enough to double every receive's size.
            source => Either::Right(Box::pin(async move {
                match source {
                    // A timer receive waits on Tokio's timer, which can wake
                    // it.
                    Source::Timer(timer, into) => {
                        let mut sleep = None;
                        let recv = cooperative(poll_fn(|cx| timer.poll_recv(&mut sleep, cx)));
                        Some(into(track(op, false, recv).await))
                    }
                    _ => track(op, true, std::future::pending()).await,
                }
            })),
        }
    }

    /// Receives with Go's comma-ok form. See [`Chan::recv_ok`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let ch = gokio::chan::<String>(0);
    /// let rx = ch.receiver();
    /// drop(ch); // the last sender: the channel closes
    /// assert_eq!(rx.recv_ok().await, (String::new(), false));
    /// # }
    /// ```
    #[track_caller]
    pub fn recv_ok(&self) -> impl Future<Output = (T, bool)> + '_
    where
        T: Default,
    {
        comma_ok(self.recv())
    }

    /// Receives without waiting. See [`Chan::try_recv`].
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rx = gokio::never::<i32>();
    /// assert_eq!(rx.try_recv(), Err(gokio::TryRecvError::Empty));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.source {
            Source::Chan(shared) => try_recv_on(shared, &self.stream),
            Source::Timer(timer, into) => timer
                .try_fire(tokio::time::Instant::now())
                .map(into)
                .ok_or(TryRecvError::Empty),
            Source::Never => Err(TryRecvError::Empty),
        }
    }

    /// Receives, giving up after `timeout`. See [`Chan::recv_timeout`].
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Closed`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// let rx = gokio::never::<i32>();
    /// assert!(rx.recv_timeout(Duration::from_millis(5)).await.unwrap_err().is_timeout());
    /// # }
    /// ```
    #[track_caller]
    pub fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, RecvTimeoutError>> + '_ {
        let op = op(OpKind::ReceiverRecvTimeout);
        match &self.source {
            Source::Chan(shared) => Either::Left(shared.recv_timeout(&self.stream, timeout, op)),
            // Boxed, as in `recv`.
            _ => Either::Right(Box::pin(async move {
                match track(op, false, tokio::time::timeout(timeout, self.recv())).await {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err(RecvTimeoutError::Closed),
                    Err(_) => Err(RecvTimeoutError::Timeout),
                }
            })),
        }
    }

    /// Receives on a plain thread, blocking it. See [`Chan::recv_blocking`].
    ///
    /// On [`never`](crate::never) this blocks forever, as a receive from a
    /// nil channel does in Go.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(1);
    /// let rx = ch.receiver();
    /// ch.try_send(1).unwrap();
    /// drop(ch);
    /// assert_eq!(rx.recv_blocking(), Some(1));
    /// assert_eq!(rx.recv_blocking(), None);
    /// ```
    pub fn recv_blocking(&self) -> Option<T> {
        match &self.source {
            Source::Chan(shared) => recv_blocking_on(shared, &self.stream),
            Source::Timer(timer, into) => Some(into(timer.recv_blocking())),
            Source::Never => loop {
                std::thread::park();
            },
        }
    }

    /// Whether the channel has been closed. Timer channels and
    /// [`never`](crate::never) never close.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan::<u8>(0);
    /// let rx = ch.receiver();
    /// drop(ch);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        match &self.source {
            Source::Chan(shared) => shared.is_closed(),
            _ => false,
        }
    }

    /// The number of values buffered now. Always 0 for capacity 0, timer
    /// channels and [`never`](crate::never).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan(2);
    /// ch.try_send(1).unwrap();
    /// assert_eq!(ch.receiver().len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        match &self.source {
            Source::Chan(shared) => shared.len(),
            _ => 0,
        }
    }

    /// The capacity. Timer channels have capacity 0, like Go 1.23's.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gokio::chan::<u8>(3).receiver().cap(), 3);
    /// ```
    pub fn cap(&self) -> usize {
        match &self.source {
            Source::Chan(shared) => shared.cap,
            _ => 0,
        }
    }

    /// Whether no value is buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gokio::chan::<u8>(3).receiver().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Receiver<Instant> {
    pub(crate) fn timer(timer: Timer) -> Self {
        Receiver {
            source: Source::Timer(Arc::new(timer), std::convert::identity),
            stream: StreamSlot::new(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        let source = match &self.source {
            Source::Chan(shared) => return Receiver::from_shared(Arc::clone(shared)),
            Source::Timer(timer, into) => Source::Timer(Arc::clone(timer), *into),
            Source::Never => Source::Never,
        };
        Receiver {
            source,
            stream: StreamSlot::new(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Source::Chan(shared) = &self.source {
            self.stream.cancel(shared);
            shared.drop_receiver();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.source {
            Source::Chan(_) => "Receiver",
            Source::Timer(..) => "Receiver(timer)",
            Source::Never => "Receiver(never)",
        };
        debug_chan(f, name, self.len(), self.cap(), self.is_closed())
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        match &this.source {
            Source::Chan(shared) => poll_op(cx, &STREAM_NEXT, &mut false, |park, user| {
                this.stream.poll_shared(shared, park, user)
            }),
            Source::Timer(timer, into) => {
                let op = this.stream.op();
                if !matches!(op, StreamOp::Timer(_)) {
                    *op = StreamOp::Timer(None);
                }
                let StreamOp::Timer(sleep) = op else {
                    unreachable!()
                };
                let coop = ready!(poll_proceed(cx));
                let at = ready!(timer.poll_recv(sleep, cx));
                coop.made_progress();
                Poll::Ready(Some(into(at)))
            }
            Source::Never => poll_op(cx, &STREAM_NEXT, &mut false, |_, _| Poll::Pending),
        }
    }
}
