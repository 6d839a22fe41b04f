//! "Maybe ready" events for buffered channels.
//!
//! async-channel has no public way to wait for "a value may be receivable"
//! or "there may be room" without committing to a receive or a send. Each
//! buffered gokio channel therefore keeps two [`Event`]s (readable,
//! writable). Operations that must be able to withdraw without side effects
//! (streams, `send_timeout`, `select!`) register a listener, re-check the
//! channel, and wait; every successful send, receive and close signals the
//! matching event.
//!
//! Signalling is on the hot path of every message, so it costs one fence and
//! one atomic load when nobody listens.
//!
//! # Invariants
//!
//! 1. A listener increments `listeners` (SeqCst) before it re-checks the
//!    channel; a signaller changes the channel, issues a SeqCst fence, then
//!    loads `listeners`. So either the listener's re-check sees the change,
//!    or the signaller sees the listener and wakes it (no lost wake-up).
//! 2. A listener stays registered until it is removed by its owner; a signal
//!    wakes every registered listener and removes none.

use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::token::Token;

/// A set of listeners waiting for a channel state change. See module docs.
#[derive(Debug, Default)]
pub(crate) struct Event {
    listeners: AtomicUsize,
    list: Mutex<List>,
}

#[derive(Debug, Default)]
struct List {
    next_key: u64,
    entries: Vec<(u64, Arc<Token>)>,
}

/// A registration in an [`Event`]; remove it with [`Event::unlisten`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListenKey(u64);

impl Event {
    /// Registers `token` to be woken on the next signal.
    ///
    /// The caller must re-check the channel afterwards (invariant 1).
    pub(crate) fn listen(&self, token: &Arc<Token>) -> ListenKey {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let key = list.next_key;
        list.next_key += 1;
        list.entries.push((key, Arc::clone(token)));
        // SeqCst: the listener side of invariant 1; the caller's re-check of
        // the channel must not be ordered before this increment.
        self.listeners.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        ListenKey(key)
    }

    /// Removes a registration made by [`Event::listen`].
    pub(crate) fn unlisten(&self, key: ListenKey) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = list.entries.iter().position(|(k, _)| *k == key.0) {
            list.entries.swap_remove(i);
            // Relaxed: the count only gates signallers; a stale higher count
            // costs one needless lock, never a lost wake-up.
            self.listeners.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Wakes every listener. Call after the channel state changed.
    ///
    /// Inlined: every buffered send and receive calls it, and almost always
    /// nobody listens, so the call is a fence and a load.
    #[inline]
    pub(crate) fn notify(&self) {
        // SeqCst fence: the signaller side of invariant 1, ordering the
        // caller's channel update before the load of the listener count.
        fence(Ordering::SeqCst);
        if self.listeners.load(Ordering::Relaxed) != 0 {
            self.wake_listeners();
        }
    }

    #[cold]
    fn wake_listeners(&self) {
        // Wake outside the lock: a waker may run code that listens again.
        let tokens: Vec<Arc<Token>> = {
            let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
            list.entries.iter().map(|(_, t)| Arc::clone(t)).collect()
        };
        tokens.iter().for_each(|token| token.wake());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::{waker, ArcWake};
    use std::sync::atomic::AtomicUsize;

    struct Count(AtomicUsize);
    impl ArcWake for Count {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn notify_wakes_listeners_until_they_unlisten() {
        let event = Event::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let token = Token::new(&waker(count.clone()));
        event.notify();
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        let key = event.listen(&token);
        event.notify();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        token.register(&waker(count.clone()));
        event.notify();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        event.unlisten(key);
        token.register(&waker(count.clone()));
        event.notify();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }
}
