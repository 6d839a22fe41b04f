//! Channel operations as `select!` cases: how each flavor tries, publishes
//! and withdraws one case of a select (the engine is `crate::select`).
//!
//! # Invariants
//!
//! 1. A case commits only in `try_now` (while the select is not published)
//!    or, once published, only through a counterpart winning the select's
//!    token for this case; `withdraw(won)` then reads the outcome.
//! 2. A published case is withdrawn exactly once: by the engine, or by the
//!    case's `Drop` (a select dropped while it waits). Dropping gives back a
//!    value already handed to a won receive, so a dropped select consumes
//!    nothing.
//! 3. At capacity 0 a waiting select never takes a parked sender's value
//!    (see "Who commits" in `rendezvous.rs`); only a `default` select does,
//!    as `try_recv` does.

use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;
use std::time::Instant;

use tokio::time::Sleep;

use super::buffered::Buffered;
use super::event::{Event, ListenKey};
use super::rendezvous::Waiter;
use super::token::Token;
use super::{Chan, Flavor, Receiver, SendError, Sender, Shared, Source, Timer, TryRecvError};
use super::{Future, TrySendError};

/// A published case's registration: the select's token and the case index.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Reg {
    pub(crate) token: Arc<Token>,
    pub(crate) index: usize,
}

/// One case of a select, type-erased for the engine.
#[doc(hidden)]
pub trait Case {
    /// Completes now if the case is ready; the outcome stays in the case.
    fn try_now(&mut self, nonblocking: bool) -> bool;
    /// Publishes interest under `reg`; returns whether the case looks ready
    /// (the engine then withdraws everything and tries again).
    fn publish(&mut self, reg: &Reg, cx: &mut Context<'_>) -> bool;
    /// Withdraws a published case; `won` if the token completed this case.
    fn withdraw(&mut self, won: bool);
    /// `default` form, between two tries: starts noticing any change that
    /// could make this case ready (buffered: a listener under `reg`'s token, whose
    /// wake-up says so; capacity 0: the channel's change counter).
    fn watch(&mut self, reg: &Reg);
    /// Whether a change was noticed that the token's wake-up cannot report,
    /// then stops watching.
    fn unwatch(&mut self) -> bool;
    /// Whether the case waits on a timer (which can wake a select that no
    /// goroutine will complete): the deadlock watchdog must see it.
    fn uses_timer(&self) -> bool {
        false
    }
}

/// A case's channel: borrowed from the caller's handle (no reference-count
/// traffic per select), or owned when the select owns the handle.
enum ChanRef<'a, T> {
    Borrowed(&'a Shared<T>),
    Owned(Arc<Shared<T>>),
}

impl<T> std::ops::Deref for ChanRef<'_, T> {
    type Target = Shared<T>;

    fn deref(&self) -> &Shared<T> {
        match self {
            ChanRef::Borrowed(shared) => shared,
            ChanRef::Owned(shared) => shared,
        }
    }
}

/// Where a receive case receives from.
enum RecvSrc<'a, T> {
    Chan(ChanRef<'a, T>),
    Timer(Arc<Timer>, fn(Instant) -> T),
    Never,
}

/// Which side of its channel a case is on.
#[derive(Clone, Copy)]
enum Side {
    Recv,
    Send,
}

/// A case's registration on its channel (both case kinds share it).
enum Wait<T> {
    Idle,
    /// Published on a buffered channel: a listener on the side's event.
    Listen(ListenKey),
    /// Published on an unbuffered channel: a parked waiter.
    Parked(Arc<Waiter<T>>),
    /// Watched by a `default` select on an unbuffered channel: the channel's
    /// change counter when the watch began.
    Watched(u64),
}

impl<T> Wait<T> {
    fn event(b: &Buffered<T>, side: Side) -> &Event {
        match side {
            Side::Recv => b.readable(),
            Side::Send => b.writable(),
        }
    }

    /// Starts watching for a change that could make the case ready.
    fn watch(shared: &Shared<T>, side: Side, token: &Arc<Token>) -> Self {
        match &shared.flavor {
            Flavor::Buffered(b) => Wait::Listen(Self::event(b, side).listen(token)),
            Flavor::Rendezvous(r) => Wait::Watched(r.version()),
        }
    }

    /// Ends a watch; whether an unbuffered channel changed meanwhile (a
    /// buffered one reports through the listener's token instead).
    fn unwatch(self, shared: &Shared<T>, side: Side) -> bool {
        match (self, &shared.flavor) {
            (Wait::Watched(v), Flavor::Rendezvous(r)) => r.version() != v,
            (wait, _) => {
                wait.release(shared, side);
                false
            }
        }
    }

    /// Unregisters a case that did not win; returns its waiter, if it was
    /// parked (a send case takes its value back from it).
    fn release(self, shared: &Shared<T>, side: Side) -> Option<Arc<Waiter<T>>> {
        match (self, &shared.flavor) {
            (Wait::Listen(key), Flavor::Buffered(b)) => {
                Self::event(b, side).unlisten(key);
                None
            }
            (Wait::Parked(waiter), Flavor::Rendezvous(r)) => {
                r.unpark(&waiter, matches!(side, Side::Send));
                Some(waiter)
            }
            _ => None,
        }
    }
}

/// A receive case: `recv(rx) -> v`.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    src: RecvSrc<'a, T>,
    /// An owned receiver (`recv(gokio::after(d))`) kept alive for the
    /// select; boxed because cases are moved around and a handle is large.
    _held: Option<Box<Receiver<T>>>,
    reg: Option<Reg>,
    wait: Wait<T>,
    sleep: Option<Pin<Box<Sleep>>>,
    result: Option<Option<T>>,
}

impl<T> std::fmt::Debug for RecvCase<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvCase").finish_non_exhaustive()
    }
}

impl<'a, T> RecvCase<'a, T> {
    fn new(src: RecvSrc<'a, T>, held: Option<Receiver<T>>) -> Self {
        RecvCase {
            src,
            _held: held.map(Box::new),
            reg: None,
            wait: Wait::Idle,
            sleep: None,
            result: None,
        }
    }

    fn of_receiver(rx: &'a Receiver<T>) -> RecvSrc<'a, T> {
        match &rx.source {
            Source::Chan(shared) => RecvSrc::Chan(ChanRef::Borrowed(shared)),
            Source::Timer(timer, into) => RecvSrc::Timer(Arc::clone(timer), *into),
            Source::Never => RecvSrc::Never,
        }
    }

    /// The outcome, if this case was chosen.
    pub fn take_result(&mut self) -> Option<Option<T>> {
        self.result.take()
    }

    fn set(&mut self, result: Option<T>) -> bool {
        self.result = Some(result);
        true
    }
}

impl<T> Case for RecvCase<'_, T> {
    fn uses_timer(&self) -> bool {
        matches!(self.src, RecvSrc::Timer(..))
    }

    fn watch(&mut self, reg: &Reg) {
        if let RecvSrc::Chan(shared) = &self.src {
            self.wait = Wait::watch(shared, Side::Recv, &reg.token);
        }
    }

    fn unwatch(&mut self) -> bool {
        let wait = std::mem::replace(&mut self.wait, Wait::Idle);
        match &self.src {
            RecvSrc::Chan(shared) => wait.unwatch(shared, Side::Recv),
            _ => false,
        }
    }

    fn try_now(&mut self, nonblocking: bool) -> bool {
        match &self.src {
            RecvSrc::Chan(shared) => match &shared.flavor {
                Flavor::Buffered(b) => match b.try_recv() {
                    Ok(v) => self.set(Some(v)),
                    Err(TryRecvError::Closed) => self.set(None),
                    Err(TryRecvError::Empty) => false,
                },
                Flavor::Rendezvous(r) => match r.select_try_recv(nonblocking) {
                    Some(result) => self.set(result),
                    None => false,
                },
            },
            RecvSrc::Timer(timer, into) => {
                let into = *into;
                match timer.try_fire(tokio::time::Instant::now()) {
                    Some(at) => self.set(Some(into(at))),
                    None => false,
                }
            }
            RecvSrc::Never => false,
        }
    }

    fn publish(&mut self, reg: &Reg, cx: &mut Context<'_>) -> bool {
        self.reg = Some(reg.clone());
        match &self.src {
            RecvSrc::Chan(shared) => match &shared.flavor {
                Flavor::Buffered(b) => {
                    self.wait = Wait::Listen(b.readable().listen(&reg.token));
                    b.looks_readable()
                }
                Flavor::Rendezvous(r) => {
                    let waiter = Waiter::shared(&reg.token, reg.index, None);
                    r.park(&waiter, false);
                    self.wait = Wait::Parked(waiter);
                    false
                }
            },
            RecvSrc::Timer(timer, _) => {
                let Some(deadline) = timer.next_deadline() else {
                    return false;
                };
                let sleep = match &mut self.sleep {
                    Some(s) => {
                        if s.deadline() != deadline {
                            s.as_mut().reset(deadline);
                        }
                        s
                    }
                    None => self
                        .sleep
                        .insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                sleep.as_mut().poll(cx).is_ready()
            }
            RecvSrc::Never => false,
        }
    }

    fn withdraw(&mut self, won: bool) {
        self.reg = None;
        let RecvSrc::Chan(shared) = &self.src else {
            return;
        };
        match (
            std::mem::replace(&mut self.wait, Wait::Idle),
            &shared.flavor,
        ) {
            (Wait::Parked(waiter), Flavor::Rendezvous(r)) if won => {
                self.result = Some(r.take_received(&waiter));
            }
            (wait, _) => {
                wait.release(shared, Side::Recv);
            }
        }
    }
}

impl<T> Drop for RecvCase<'_, T> {
    fn drop(&mut self) {
        let Some(reg) = self.reg.take() else {
            return;
        };
        // The select was dropped while published (invariant 2).
        let won = reg.token.abort().err() == Some(reg.index);
        let RecvSrc::Chan(shared) = &self.src else {
            return;
        };
        match (
            std::mem::replace(&mut self.wait, Wait::Idle),
            &shared.flavor,
        ) {
            (Wait::Parked(waiter), Flavor::Rendezvous(r)) if won => r.give_back_from(&waiter),
            (wait, _) => {
                wait.release(shared, Side::Recv);
            }
        }
    }
}

/// A send case: `send(tx, value) -> res`.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    dst: Option<ChanRef<'a, T>>,
    value: Option<T>,
    reg: Option<Reg>,
    wait: Wait<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<T> std::fmt::Debug for SendCase<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendCase").finish_non_exhaustive()
    }
}

impl<'a, T> SendCase<'a, T> {
    fn new(dst: Option<ChanRef<'a, T>>, value: T) -> Self {
        SendCase {
            dst,
            value: Some(value),
            reg: None,
            wait: Wait::Idle,
            result: None,
        }
    }

    /// The outcome, if this case was chosen.
    pub fn take_result(&mut self) -> Option<Result<(), SendError<T>>> {
        self.result.take()
    }
}

impl<T> Case for SendCase<'_, T> {
    fn watch(&mut self, reg: &Reg) {
        if let Some(shared) = &self.dst {
            self.wait = Wait::watch(shared, Side::Send, &reg.token);
        }
    }

    fn unwatch(&mut self) -> bool {
        let wait = std::mem::replace(&mut self.wait, Wait::Idle);
        match &self.dst {
            Some(shared) => wait.unwatch(shared, Side::Send),
            None => false,
        }
    }

    fn try_now(&mut self, _nonblocking: bool) -> bool {
        let Some(shared) = &self.dst else {
            return false;
        };
        let value = self
            .value
            .take()
            .expect("a send case holds its value until it completes");
        let result = match &shared.flavor {
            Flavor::Buffered(b) => match b.try_send(value) {
                Ok(()) => Ok(Ok(())),
                Err(TrySendError::Closed(v)) => Ok(Err(SendError(v))),
                Err(TrySendError::Full(v)) => Err(v),
            },
            Flavor::Rendezvous(r) => r.select_try_send(value),
        };
        match result {
            Ok(result) => {
                self.result = Some(result);
                true
            }
            Err(value) => {
                self.value = Some(value);
                false
            }
        }
    }

    fn publish(&mut self, reg: &Reg, _cx: &mut Context<'_>) -> bool {
        let Some(shared) = &self.dst else {
            return false;
        };
        self.reg = Some(reg.clone());
        match &shared.flavor {
            Flavor::Buffered(b) => {
                self.wait = Wait::Listen(b.writable().listen(&reg.token));
                b.looks_writable()
            }
            Flavor::Rendezvous(r) => {
                let waiter = Waiter::shared(&reg.token, reg.index, self.value.take());
                r.park(&waiter, true);
                self.wait = Wait::Parked(waiter);
                false
            }
        }
    }

    fn withdraw(&mut self, won: bool) {
        self.reg = None;
        let Some(shared) = &self.dst else {
            return;
        };
        match (
            std::mem::replace(&mut self.wait, Wait::Idle),
            &shared.flavor,
        ) {
            (Wait::Parked(waiter), Flavor::Rendezvous(_)) if won => {
                // A value still in the slot was handed back by close.
                self.result = Some(match waiter.take() {
                    Some(v) => Err(SendError(v)),
                    None => Ok(()),
                });
            }
            (wait, _) => {
                if let Some(waiter) = wait.release(shared, Side::Send) {
                    self.value = waiter.take();
                }
            }
        }
    }
}

impl<T> Drop for SendCase<'_, T> {
    fn drop(&mut self) {
        let Some(reg) = self.reg.take() else {
            return;
        };
        let won = reg.token.abort().err() == Some(reg.index);
        let Some(shared) = &self.dst else {
            return;
        };
        let wait = std::mem::replace(&mut self.wait, Wait::Idle);
        // Won: delivered (only a non-blocking receive completes a parked
        // sender) or handed back by close and dropped with the select.
        if !won {
            wait.release(shared, Side::Send);
        }
    }
}

/// What `recv(..)` accepts: `&Chan<T>`, `&Receiver<T>`, an owned
/// `Receiver<T>` (such as `gokio::after(d)`), or `None` (a nil channel).
pub trait RecvSource<'a, T> {
    #[doc(hidden)]
    fn into_recv_case(self) -> RecvCase<'a, T>;
}

impl<'a, T> RecvSource<'a, T> for &'a Chan<T> {
    fn into_recv_case(self) -> RecvCase<'a, T> {
        RecvCase::new(RecvSrc::Chan(ChanRef::Borrowed(&self.shared)), None)
    }
}

impl<'a, T> RecvSource<'a, T> for &'a Receiver<T> {
    fn into_recv_case(self) -> RecvCase<'a, T> {
        RecvCase::new(RecvCase::of_receiver(self), None)
    }
}

impl<'a, T> RecvSource<'a, T> for Receiver<T> {
    fn into_recv_case(self) -> RecvCase<'a, T> {
        let src = match &self.source {
            Source::Chan(shared) => RecvSrc::Chan(ChanRef::Owned(Arc::clone(shared))),
            Source::Timer(timer, into) => RecvSrc::Timer(Arc::clone(timer), *into),
            Source::Never => RecvSrc::Never,
        };
        RecvCase::new(src, Some(self))
    }
}

impl<'a, T, R: RecvSource<'a, T>> RecvSource<'a, T> for Option<R> {
    fn into_recv_case(self) -> RecvCase<'a, T> {
        match self {
            Some(r) => r.into_recv_case(),
            None => RecvCase::new(RecvSrc::Never, None),
        }
    }
}

/// What `send(..)` accepts: `&Chan<T>`, `&Sender<T>`, or `None` (a nil
/// channel).
pub trait SendTarget<'a, T> {
    #[doc(hidden)]
    fn into_send_case(self, value: T) -> SendCase<'a, T>;
}

impl<'a, T> SendTarget<'a, T> for &'a Chan<T> {
    fn into_send_case(self, value: T) -> SendCase<'a, T> {
        SendCase::new(Some(ChanRef::Borrowed(&self.shared)), value)
    }
}

impl<'a, T> SendTarget<'a, T> for &'a Sender<T> {
    fn into_send_case(self, value: T) -> SendCase<'a, T> {
        SendCase::new(Some(ChanRef::Borrowed(&self.shared)), value)
    }
}

impl<'a, T, S: SendTarget<'a, T>> SendTarget<'a, T> for Option<S> {
    fn into_send_case(self, value: T) -> SendCase<'a, T> {
        match self {
            Some(s) => s.into_send_case(value),
            None => SendCase::new(None, value),
        }
    }
}

/// Either kind of case over one element type (for the dynamic `Select`).
#[derive(Debug)]
pub(crate) enum AnyCase<'a, T> {
    Recv(RecvCase<'a, T>),
    Send(SendCase<'a, T>),
}

impl<T> Case for AnyCase<'_, T> {
    fn uses_timer(&self) -> bool {
        match self {
            AnyCase::Recv(c) => c.uses_timer(),
            AnyCase::Send(c) => c.uses_timer(),
        }
    }

    fn watch(&mut self, reg: &Reg) {
        match self {
            AnyCase::Recv(c) => c.watch(reg),
            AnyCase::Send(c) => c.watch(reg),
        }
    }

    fn unwatch(&mut self) -> bool {
        match self {
            AnyCase::Recv(c) => c.unwatch(),
            AnyCase::Send(c) => c.unwatch(),
        }
    }

    fn try_now(&mut self, nonblocking: bool) -> bool {
        match self {
            AnyCase::Recv(c) => c.try_now(nonblocking),
            AnyCase::Send(c) => c.try_now(nonblocking),
        }
    }

    fn publish(&mut self, reg: &Reg, cx: &mut Context<'_>) -> bool {
        match self {
            AnyCase::Recv(c) => c.publish(reg, cx),
            AnyCase::Send(c) => c.publish(reg, cx),
        }
    }

    fn withdraw(&mut self, won: bool) {
        match self {
            AnyCase::Recv(c) => c.withdraw(won),
            AnyCase::Send(c) => c.withdraw(won),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases are moved several times per select; keep them small (an owned
    /// receiver is boxed for this).
    #[test]
    fn cases_stay_small() {
        let recv = std::mem::size_of::<RecvCase<'static, u64>>();
        let send = std::mem::size_of::<SendCase<'static, u64>>();
        assert!(
            recv <= 112 && send <= 112,
            "RecvCase {recv} bytes, SendCase {send} bytes"
        );
    }
}
