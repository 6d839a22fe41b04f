//! The selection token: one operation's (or one `select!` attempt's) claim
//! word, and the waker of the goroutine that waits on it.
//!
//! A parked operation publishes its token in the queues of the channels it
//! waits on. A counterpart completes the operation only by winning the CAS
//! `WAITING -> DONE(case)`; the owner withdraws only by winning
//! `WAITING -> ABORTED`. Exactly one of them wins, which is what makes every
//! operation (and later every `select!`) commit at most one case.
//!
//! # Invariants
//!
//! 1. The state leaves `WAITING` exactly once, to `ABORTED` (by the owner) or
//!    to `DONE(case)` (by a counterpart or by `close`), and never changes
//!    again.
//! 2. Whoever moves a parked waiter's token to `DONE` holds that waiter's
//!    slot lock across the CAS and the slot update, so the owner, which locks
//!    the slot only after it has seen `DONE`, always sees the final slot.
//! 3. An owner never commits an operation of its own while its token is
//!    `WAITING` and published in a queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;

use futures::task::AtomicWaker;

const WAITING: usize = 0;
const ABORTED: usize = 1;
const DONE: usize = 2;

/// A claim word plus the waker of its owner. See the module docs.
#[derive(Debug)]
pub(crate) struct Token {
    state: AtomicUsize,
    waker: AtomicWaker,
}

impl Token {
    /// A fresh shared token in the `WAITING` state whose owner waits with `waker`.
    pub(crate) fn new(waker: &Waker) -> Arc<Self> {
        Arc::new(Token::inline(waker))
    }

    /// A fresh token to embed in a single waiter (one allocation per parked
    /// operation instead of two).
    pub(crate) fn inline(waker: &Waker) -> Self {
        let token = Token {
            state: AtomicUsize::new(WAITING),
            waker: AtomicWaker::new(),
        };
        token.waker.register(waker);
        token
    }

    /// A counterpart's claim: `WAITING -> DONE(case)`. Returns whether it won.
    pub(crate) fn try_complete(&self, case: usize) -> bool {
        // AcqRel on success: Release publishes the counterpart's earlier
        // writes (the slot is additionally guarded by its lock, invariant 2);
        // Acquire pairs with the owner's writes before it published the token.
        // Acquire on failure: the caller only drops a stale waiter.
        self.state
            .compare_exchange(WAITING, DONE + case, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The owner's withdrawal: `WAITING -> ABORTED`.
    ///
    /// Returns `Err(case)` when a counterpart completed `case` first; the
    /// owner must then finish that case instead of discarding it. Aborting
    /// an aborted token is a no-op (each `select!` case withdraws on its own).
    pub(crate) fn abort(&self) -> Result<(), usize> {
        // AcqRel/Acquire: on failure we must see the counterpart's DONE write
        // and everything it published before it (pairs with try_complete).
        match self
            .state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) | Err(ABORTED) => Ok(()),
            Err(state) => Err(state - DONE),
        }
    }

    /// The completed case, if a counterpart has claimed the token.
    pub(crate) fn completed(&self) -> Option<usize> {
        // Acquire: pairs with the AcqRel CAS in try_complete.
        let state = self.state.load(Ordering::Acquire);
        (state >= DONE).then(|| state - DONE)
    }

    /// Whether the token can still be claimed (it is neither done nor aborted).
    pub(crate) fn is_waiting(&self) -> bool {
        // Acquire: pairs with the CASes; under the channel lock this is exact
        // for counterparts, a hint otherwise (the owner may abort at any time).
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Records the waker to use for the owner's next wake-up.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Wakes the owner.
    pub(crate) fn wake(&self) {
        self.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    #[test]
    fn exactly_one_of_complete_and_abort_wins() {
        let token = Token::new(&noop_waker());
        assert!(token.try_complete(3));
        assert_eq!(token.abort(), Err(3));
        assert!(!token.try_complete(1));
        assert_eq!(token.completed(), Some(3));

        let token = Token::new(&noop_waker());
        assert_eq!(token.abort(), Ok(()));
        assert!(!token.try_complete(0));
        assert_eq!(token.completed(), None);
    }
}
