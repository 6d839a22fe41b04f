//! The unbuffered (capacity 0) flavor: a rendezvous modelled on Go's `hchan`.
//!
//! A small lock guards two queues of parked waiters (senders, each with its
//! value in its slot; receivers, each with an empty slot). Every waiter
//! carries the [`Token`] of its operation. A sender pairs with the first
//! parked receiver whose token it can claim, puts the value in that
//! receiver's slot and wakes it; a non-blocking receive takes the value out
//! of the first parked sender whose token it can claim (a waiting receive
//! hands the baton to that sender instead, see below). A waiter whose token cannot be
//! claimed is stale (withdrawn, or completed through another case of the same
//! `select!`) and is dropped from the queue.
//!
//! # Who commits a handoff
//!
//! A handoff must complete inside a poll of the operation that reports it,
//! so that a dropped future has had no effect. A parked receiver can be
//! completed from outside safely (see "Returned values"), but a parked
//! sender cannot: a receiver that took its value and returned could not undo
//! that if the sender's future were then dropped. So a *waiting* receive
//! never takes the value of a parked sender. It parks too and wakes the
//! first parked sender (the "baton"), which delivers in its own poll, or, if
//! it is dropped instead, passes the baton on. Non-blocking receives
//! (`try_recv`) cannot wait, so they take a parked sender's value directly,
//! as Go does; that is the one case where a send future dropped in the same
//! instant may already have delivered its value (it is never duplicated).
//!
//! # Returned values
//!
//! A receive that has been handed a value but is dropped before it returns it
//! (for instance the losing branch of a `tokio::select!`) must not lose the
//! value. Its withdrawal gives the value back to the channel: to the next
//! parked receiver if there is one, else to the `returned` queue, which
//! receivers drain before pairing with senders. The sender's `send` has
//! already completed, just as a Go send completes once a receiver has taken
//! the value.
//!
//! # Invariants
//!
//! 1. A waiter is in at most one queue of one channel; only holders of that
//!    channel's lock push, pop or claim it.
//! 2. Whoever claims a waiter's token (`try_complete`) holds the waiter's
//!    slot lock across the claim and the slot update (see `token.rs`).
//! 3. After `close`, the sender queue is empty and stays empty: parked
//!    senders are completed with their value still in their slot (the owner
//!    hands it back in `SendError`). Receivers are completed with an empty
//!    slot (`None`) once the channel is *drained*: closed, `returned` empty,
//!    and no value in flight (handed to a parked receiver whose owner has
//!    not yet returned it or given it back). Until then a receive parks, so
//!    a value given back after `close` still reaches a receiver.
//! 4. `returned` is non-empty only while no live receiver is parked: a value
//!    given back goes to a parked receiver first, and a receiver drains
//!    `returned` before it parks.
//! 5. Whenever a live receiver and a live sender are both parked, the front
//!    live sender has been woken since that became true: every change that
//!    can make it true (a receiver parks, a sender delivers or withdraws)
//!    passes the baton under the lock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use super::error::{SendError, TryRecvError, TrySendError};
use super::token::Token;

/// One parked operation (or one `select!` case) on a rendezvous channel.
#[derive(Debug)]
pub(crate) struct Waiter<T> {
    token: TokenRef,
    case: usize,
    slot: Mutex<Option<T>>,
}

/// A plain operation's waiter embeds its token (one allocation); the waiters
/// a `select!` publishes share one.
#[derive(Debug)]
enum TokenRef {
    Own(Token),
    Shared(Arc<Token>),
}

impl std::ops::Deref for TokenRef {
    type Target = Token;

    fn deref(&self) -> &Token {
        match self {
            TokenRef::Own(token) => token,
            TokenRef::Shared(token) => token,
        }
    }
}

impl<T> Waiter<T> {
    fn new(token: Token, case: usize, value: Option<T>) -> Arc<Self> {
        Arc::new(Waiter {
            token: TokenRef::Own(token),
            case,
            slot: Mutex::new(value),
        })
    }

    /// A waiter for case `case` of a `select!` whose token is `token`.
    pub(crate) fn shared(token: &Arc<Token>, case: usize, value: Option<T>) -> Arc<Self> {
        Arc::new(Waiter {
            token: TokenRef::Shared(Arc::clone(token)),
            case,
            slot: Mutex::new(value),
        })
    }

    /// Whether two waiters belong to the same operation (one `select!`).
    fn same_op(&self, other: &Waiter<T>) -> bool {
        std::ptr::eq::<Token>(&*self.token, &*other.token)
    }

    fn slot(&self) -> MutexGuard<'_, Option<T>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the waiter's owner.
    fn wake(&self) {
        self.token.wake();
    }

    /// The owner's read of the slot once its token is done (invariant 2),
    /// or after it withdrew.
    pub(crate) fn take(&self) -> Option<T> {
        self.slot().take()
    }
}

/// The channel state behind the lock.
#[derive(Debug)]
pub(crate) struct State<T> {
    senders: VecDeque<Arc<Waiter<T>>>,
    receivers: VecDeque<Arc<Waiter<T>>>,
    returned: VecDeque<T>,
    closed: bool,
    disconnected: bool,
    /// Values handed to parked receivers that their owners have neither
    /// returned nor given back yet. The channel is not drained while any
    /// is in flight: a withdrawn receive may still give its value back.
    in_flight: usize,
    /// Bumped whenever a case may have become ready (a waiter parks, a
    /// value is given back, the channel closes or disconnects): a
    /// non-blocking `select!` uses it to see that nothing changed while it
    /// tried its cases one by one.
    version: u64,
}

/// An unbuffered channel. See the module docs.
#[derive(Debug)]
pub(crate) struct Rendezvous<T> {
    state: Mutex<State<T>>,
}

impl<T> Rendezvous<T> {
    pub(crate) fn new() -> Self {
        Rendezvous {
            state: Mutex::new(State {
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                returned: VecDeque::new(),
                closed: false,
                disconnected: false,
                in_flight: 0,
                version: 0,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while the lock is held cannot leave the queues half-updated
        // (every update is a single push, pop or retain), so a poisoned lock
        // is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = self.lock();
        let woken = state.try_send(value)?;
        let baton = state.baton();
        drop(state);
        woken.wake();
        wake(baton);
        Ok(())
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.lock();
        let (value, woken) = state.try_recv()?;
        // The sender we took from may have held the baton (invariant 5).
        let baton = state.baton();
        drop(state);
        wake(woken);
        wake(baton);
        Ok(value)
    }

    /// Closes the channel: every parked sender completes with its value, and
    /// parked receivers complete once the channel is drained (invariant 3).
    pub(crate) fn close(&self) {
        let woken = {
            let mut state = self.lock();
            state.closed = true;
            state.version += 1;
            let mut woken = State::complete(&mut state.senders);
            if state.drained() {
                woken.extend(State::complete(&mut state.receivers));
            }
            woken
        };
        woken.iter().for_each(|waiter| waiter.wake());
    }

    /// `select!`: a receive that does not take a parked sender's value
    /// unless `nonblocking` (see "Who commits"). `Some(result)` if ready.
    pub(crate) fn select_try_recv(&self, nonblocking: bool) -> Option<Option<T>> {
        let mut state = self.lock();
        if let Some(value) = state.returned.pop_front() {
            return Some(Some(value));
        }
        if nonblocking {
            return match state.try_recv() {
                Ok((value, woken)) => {
                    let baton = state.baton();
                    drop(state);
                    wake(woken);
                    wake(baton);
                    Some(Some(value))
                }
                Err(TryRecvError::Closed) => Some(None),
                Err(TryRecvError::Empty) => None,
            };
        }
        state.drained().then_some(None)
    }

    /// `select!`: a send that does not wait. `Err(value)` if not ready.
    pub(crate) fn select_try_send(&self, value: T) -> Result<Result<(), SendError<T>>, T> {
        match self.try_send(value) {
            Ok(()) => Ok(Ok(())),
            Err(TrySendError::Closed(value)) => Ok(Err(SendError(value))),
            Err(TrySendError::Full(value)) => Err(value),
        }
    }

    /// `select!` with `default`: the change counter (see `State::version`).
    pub(crate) fn version(&self) -> u64 {
        self.lock().version
    }

    /// `select!`: publishes a waiter; a send waiter carries its value.
    pub(crate) fn park(&self, waiter: &Arc<Waiter<T>>, send: bool) {
        let mut state = self.lock();
        if send {
            state.senders.push_back(Arc::clone(waiter));
        } else {
            state.receivers.push_back(Arc::clone(waiter));
        }
        state.version += 1;
        let baton = state.baton();
        drop(state);
        wake(baton);
    }

    /// `select!`: removes a published waiter (its token is no longer
    /// waiting), passing the baton on if it may have held it.
    pub(crate) fn unpark(&self, waiter: &Arc<Waiter<T>>, send: bool) {
        let mut state = self.lock();
        let baton = if send {
            State::remove(&mut state.senders, waiter);
            state.baton()
        } else {
            State::remove(&mut state.receivers, waiter);
            None
        };
        drop(state);
        wake(baton);
    }

    /// `select!`: the value a completed receive waiter was handed; it is no
    /// longer in flight.
    pub(crate) fn take_received(&self, waiter: &Waiter<T>) -> Option<T> {
        let value = waiter.take();
        if value.is_some() {
            self.consumed();
        }
        value
    }

    /// `select!`: gives back the value of a completed receive waiter whose
    /// select was dropped before returning it.
    pub(crate) fn give_back_from(&self, waiter: &Waiter<T>) {
        if let Some(value) = waiter.take() {
            self.give_back(value);
        }
    }

    /// A parked receive returned the value it was handed.
    fn consumed(&self) {
        let woken = {
            let mut state = self.lock();
            state.in_flight -= 1;
            if state.drained() {
                State::complete(&mut state.receivers)
            } else {
                Vec::new()
            }
        };
        woken.iter().for_each(|waiter| waiter.wake());
    }

    /// Every receiving handle is gone: parked and future sends fail.
    pub(crate) fn disconnect(&self) {
        let (woken, returned) = {
            let mut state = self.lock();
            state.disconnected = true;
            state.version += 1;
            let mut woken = State::complete(&mut state.senders);
            woken.extend(State::complete(&mut state.receivers));
            (woken, std::mem::take(&mut state.returned))
        };
        // Values are dropped outside the lock: their destructors may do anything.
        drop(returned);
        woken.iter().for_each(|waiter| waiter.wake());
    }

    /// Gives back a value whose receive was withdrawn after it was handed the
    /// value (see "Returned values" in the module docs).
    fn give_back(&self, value: T) {
        let mut state = self.lock();
        state.in_flight -= 1;
        if state.disconnected {
            drop(state);
            return;
        }
        match state.deliver(value) {
            Ok(woken) => {
                drop(state);
                woken.wake();
            }
            Err(value) => {
                state.returned.push_back(value);
                state.version += 1;
            }
        }
    }
}

/// A waiter whose owner must be woken once the channel lock is released.
type Wake<T> = Arc<Waiter<T>>;

fn wake<T>(waiter: Option<Wake<T>>) {
    if let Some(waiter) = waiter {
        waiter.wake();
    }
}

impl<T> State<T> {
    /// Drops stale waiters from the front of a queue.
    fn prune(queue: &mut VecDeque<Arc<Waiter<T>>>) {
        while queue.front().is_some_and(|w| !w.token.is_waiting()) {
            queue.pop_front();
        }
    }

    fn has_live_receiver(&mut self) -> bool {
        Self::prune(&mut self.receivers);
        !self.receivers.is_empty()
    }

    /// The token of the front parked sender, to wake (after unlocking) if a
    /// live receiver is parked too (invariant 5).
    ///
    /// A `select!` may wait on both sides of one channel; its own two cases
    /// cannot pair, so the baton goes to the first live sender that has a
    /// live receiver of another operation.
    fn baton(&mut self) -> Option<Wake<T>> {
        Self::prune(&mut self.senders);
        Self::prune(&mut self.receivers);
        let live = |w: &&Arc<Waiter<T>>| w.token.is_waiting();
        self.senders
            .iter()
            .filter(live)
            .find(|s| self.receivers.iter().filter(live).any(|r| !r.same_op(s)))
            .map(Arc::clone)
    }

    /// Hands `value` to the first parked receiver whose token we can claim.
    fn deliver(&mut self, value: T) -> Result<Wake<T>, T> {
        while let Some(waiter) = self.receivers.pop_front() {
            let mut slot = waiter.slot();
            if waiter.token.try_complete(waiter.case) {
                *slot = Some(value);
                drop(slot);
                self.in_flight += 1;
                return Ok(waiter);
            }
            // Stale: its owner withdrew or another case of its select won.
        }
        Err(value)
    }

    /// A send that does not wait. On success, returns the token to wake once
    /// the lock is released.
    pub(crate) fn try_send(&mut self, value: T) -> Result<Wake<T>, TrySendError<T>> {
        if self.closed || self.disconnected {
            return Err(TrySendError::Closed(value));
        }
        self.deliver(value).map_err(TrySendError::Full)
    }

    /// A receive that does not wait. On success, also returns the token of
    /// the sender it paired with, to wake once the lock is released.
    pub(crate) fn try_recv(&mut self) -> Result<(T, Option<Wake<T>>), TryRecvError> {
        if let Some(value) = self.returned.pop_front() {
            return Ok((value, None));
        }
        while let Some(waiter) = self.senders.pop_front() {
            let mut slot = waiter.slot();
            if waiter.token.try_complete(waiter.case) {
                let value = slot.take().expect("a parked sender's slot holds its value");
                drop(slot);
                return Ok((value, Some(waiter)));
            }
        }
        if self.drained() {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closed, and no value is left to receive or still on its way back.
    fn drained(&self) -> bool {
        self.closed && self.returned.is_empty() && self.in_flight == 0
    }

    /// Completes every waiter of a queue, leaving slots as they are.
    fn complete(queue: &mut VecDeque<Arc<Waiter<T>>>) -> Vec<Wake<T>> {
        let mut woken = Vec::new();
        for waiter in queue.drain(..) {
            let slot = waiter.slot();
            let completed = waiter.token.try_complete(waiter.case);
            drop(slot);
            if completed {
                woken.push(waiter);
            }
        }
        woken
    }

    fn remove(queue: &mut VecDeque<Arc<Waiter<T>>>, waiter: &Arc<Waiter<T>>) {
        if let Some(i) = queue.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            queue.remove(i);
        }
    }
}

/// A receive on a rendezvous channel that may park. The future types in
/// `chan/mod.rs` drive it and call [`RecvOp::cancel`] when dropped.
#[derive(Debug)]
pub(crate) struct RecvOp<T> {
    waiter: Option<Arc<Waiter<T>>>,
}

impl<T> Default for RecvOp<T> {
    fn default() -> Self {
        RecvOp { waiter: None }
    }
}

impl<T> RecvOp<T> {
    /// The result, if a sender has already completed this parked receive:
    /// a poll that needs no waker (the wake-up that brought us here was
    /// that completion).
    pub(crate) fn poll_done(&mut self, chan: &Rendezvous<T>) -> Option<Option<T>> {
        let waiter = self.waiter.as_ref()?;
        waiter.token.completed()?;
        let value = Self::finish(chan, waiter);
        self.waiter = None;
        Some(value)
    }

    pub(crate) fn poll(&mut self, chan: &Rendezvous<T>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(waiter) = &self.waiter {
            // Register before checking, so a completion in between wakes us.
            waiter.token.register(cx.waker());
            if waiter.token.completed().is_none() {
                return Poll::Pending;
            }
            let value = Self::finish(chan, waiter);
            self.waiter = None;
            return Poll::Ready(value);
        }
        let mut state = chan.lock();
        if let Some(value) = state.returned.pop_front() {
            return Poll::Ready(Some(value));
        }
        if state.drained() {
            return Poll::Ready(None);
        }
        // Park even if a sender is parked: it must deliver in its own poll
        // ("Who commits"), so wake it instead of taking its value.
        let waiter = Waiter::new(Token::inline(cx.waker()), 0, None);
        state.receivers.push_back(Arc::clone(&waiter));
        state.version += 1;
        let baton = state.baton();
        drop(state);
        wake(baton);
        tracing::trace!(target: "gokio::chan", "recv parked");
        self.waiter = Some(waiter);
        Poll::Pending
    }

    /// Withdraws a parked receive. Returns `Some(result)` if it had completed
    /// (a value handed over, or `None` for closed) before it could withdraw.
    pub(crate) fn withdraw(&mut self, chan: &Rendezvous<T>) -> Option<Option<T>> {
        let waiter = self.withdraw_raw(chan)?;
        Some(Self::finish(chan, &waiter))
    }

    /// Withdraws; returns the waiter if it had completed (its slot not yet
    /// read, so the value still counts as in flight).
    fn withdraw_raw(&mut self, chan: &Rendezvous<T>) -> Option<Arc<Waiter<T>>> {
        let waiter = self.waiter.take()?;
        match waiter.token.abort() {
            Ok(()) => {
                State::remove(&mut chan.lock().receivers, &waiter);
                None
            }
            Err(_) => Some(waiter),
        }
    }

    /// Reads a completed receive's slot: a value (no longer in flight) or
    /// `None` for closed and drained.
    fn finish(chan: &Rendezvous<T>, waiter: &Waiter<T>) -> Option<T> {
        let value = waiter.take();
        if value.is_some() {
            chan.consumed();
        }
        value
    }

    /// Withdraws and gives back any value that was already handed over, so
    /// dropping a receive never consumes a value.
    pub(crate) fn cancel(&mut self, chan: &Rendezvous<T>) {
        if let Some(waiter) = self.withdraw_raw(chan) {
            if let Some(value) = waiter.take() {
                chan.give_back(value);
            }
        }
    }
}

/// A send on a rendezvous channel that may park.
#[derive(Debug)]
pub(crate) struct SendOp<T> {
    value: Option<T>,
    waiter: Option<Arc<Waiter<T>>>,
}

impl<T> SendOp<T> {
    pub(crate) fn new(value: T) -> Self {
        SendOp {
            value: Some(value),
            waiter: None,
        }
    }

    /// The result, if a receiver has already completed this parked send
    /// (see [`RecvOp::poll_done`]).
    pub(crate) fn poll_done(&mut self) -> Option<Result<(), SendError<T>>> {
        self.waiter.as_ref()?.token.completed()?;
        let waiter = self.waiter.take()?;
        Some(Self::finish(&waiter))
    }

    pub(crate) fn poll(
        &mut self,
        chan: &Rendezvous<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        if let Some(waiter) = self.waiter.take() {
            waiter.token.register(cx.waker());
            if waiter.token.completed().is_some() {
                return Poll::Ready(Self::finish(&waiter));
            }
            // Woken with the baton (or spuriously): deliver if a receiver
            // is parked. Under the lock only we can still change our token.
            let mut state = chan.lock();
            if !state.has_live_receiver() {
                drop(state);
                self.waiter = Some(waiter);
                return Poll::Pending;
            }
            if waiter.token.abort().is_err() {
                drop(state);
                return Poll::Ready(Self::finish(&waiter));
            }
            State::remove(&mut state.senders, &waiter);
            let value = waiter.take().expect("a withdrawn sender keeps its value");
            return match state.deliver(value) {
                Ok(woken) => {
                    let baton = state.baton();
                    drop(state);
                    woken.wake();
                    wake(baton);
                    Poll::Ready(Ok(()))
                }
                Err(value) => {
                    // Every parked receiver withdrew meanwhile: wait again,
                    // keeping our place at the front.
                    let waiter = Waiter::new(Token::inline(cx.waker()), 0, Some(value));
                    state.senders.push_front(Arc::clone(&waiter));
                    state.version += 1;
                    self.waiter = Some(waiter);
                    Poll::Pending
                }
            };
        }
        let value = self.value.take().expect("SendOp polled after completion");
        let mut state = chan.lock();
        match state.try_send(value) {
            Ok(woken) => {
                let baton = state.baton();
                drop(state);
                woken.wake();
                wake(baton);
                Poll::Ready(Ok(()))
            }
            Err(TrySendError::Closed(value)) => Poll::Ready(Err(SendError(value))),
            Err(TrySendError::Full(value)) => {
                let waiter = Waiter::new(Token::inline(cx.waker()), 0, Some(value));
                state.senders.push_back(Arc::clone(&waiter));
                state.version += 1;
                drop(state);
                tracing::trace!(target: "gokio::chan", "send parked");
                self.waiter = Some(waiter);
                Poll::Pending
            }
        }
    }

    /// Withdraws a pending send: `Ok(value)` if the value was not delivered
    /// (it is handed back), or `Err(result)` if the send completed first.
    pub(crate) fn withdraw(&mut self, chan: &Rendezvous<T>) -> Result<T, Result<(), SendError<T>>> {
        if let Some(value) = self.value.take() {
            return Ok(value);
        }
        let Some(waiter) = self.waiter.take() else {
            return Err(Ok(()));
        };
        match waiter.token.abort() {
            Ok(()) => {
                let mut state = chan.lock();
                State::remove(&mut state.senders, &waiter);
                // We may have held the baton: pass it on (invariant 5).
                let baton = state.baton();
                drop(state);
                wake(baton);
                Ok(waiter.take().expect("a withdrawn sender keeps its value"))
            }
            Err(_) => Err(Self::finish(&waiter)),
        }
    }

    /// The result of a send whose token is done: a value still in the slot
    /// was handed back by close or disconnect.
    fn finish(waiter: &Waiter<T>) -> Result<(), SendError<T>> {
        match waiter.take() {
            Some(value) => Err(SendError(value)),
            None => Ok(()),
        }
    }
}
