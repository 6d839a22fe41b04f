//! The buffered (capacity >= 1) flavor: async-channel's bounded queue, plus
//! the two "maybe ready" [`Event`]s that operations which must withdraw
//! cleanly (streams, `send_timeout`, `select!`) wait on.
//!
//! Plain `send`/`recv` use async-channel's own futures (its fair waiter
//! queues), then signal the matching event. The withdrawable operations
//! here use only `try_send`/`try_recv`, so a withdrawn operation has had no
//! effect on the channel by construction.
//!
//! # Invariants
//!
//! 1. Every successful send signals `readable`; every successful receive
//!    signals `writable`; close and disconnect signal both.
//! 2. A withdrawable operation registers its listener before its last
//!    `try_*` attempt of a poll (see `event.rs`), so no signal is missed.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::error::{SendError, TryRecvError, TrySendError};
use super::event::{Event, ListenKey};
use super::token::Token;

/// A buffered channel. See the module docs.
#[derive(Debug)]
pub(crate) struct Buffered<T> {
    tx: async_channel::Sender<T>,
    rx: async_channel::Receiver<T>,
    readable: Event,
    writable: Event,
}

impl<T> Buffered<T> {
    pub(crate) fn new(cap: usize) -> Self {
        let (tx, rx) = async_channel::bounded(cap);
        Buffered {
            tx,
            rx,
            readable: Event::default(),
            writable: Event::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rx.len()
    }

    /// `select!`: the event signalled when a receive may succeed.
    pub(crate) fn readable(&self) -> &Event {
        &self.readable
    }

    /// `select!`: the event signalled when a send may succeed.
    pub(crate) fn writable(&self) -> &Event {
        &self.writable
    }

    /// Whether a receive would not wait now (a hint; the try decides).
    pub(crate) fn looks_readable(&self) -> bool {
        !self.rx.is_empty() || self.rx.is_closed()
    }

    /// Whether a send would not wait now (a hint; the try decides).
    pub(crate) fn looks_writable(&self) -> bool {
        !self.tx.is_full() || self.tx.is_closed()
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.tx.try_send(value) {
            Ok(()) => {
                self.readable.notify();
                Ok(())
            }
            Err(async_channel::TrySendError::Full(v)) => Err(TrySendError::Full(v)),
            Err(async_channel::TrySendError::Closed(v)) => Err(TrySendError::Closed(v)),
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.rx.try_recv() {
            Ok(v) => {
                self.writable.notify();
                Ok(v)
            }
            Err(async_channel::TryRecvError::Empty) => Err(TryRecvError::Empty),
            Err(async_channel::TryRecvError::Closed) => Err(TryRecvError::Closed),
        }
    }

    pub(crate) async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.tx.send(value).await {
            Ok(()) => {
                self.readable.notify();
                Ok(())
            }
            Err(e) => Err(SendError(e.into_inner())),
        }
    }

    pub(crate) async fn recv(&self) -> Option<T> {
        let value = self.rx.recv().await.ok()?;
        self.writable.notify();
        Some(value)
    }

    pub(crate) fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        match self.tx.send_blocking(value) {
            Ok(()) => {
                self.readable.notify();
                Ok(())
            }
            Err(e) => Err(SendError(e.into_inner())),
        }
    }

    pub(crate) fn recv_blocking(&self) -> Option<T> {
        let value = self.rx.recv_blocking().ok()?;
        self.writable.notify();
        Some(value)
    }

    /// Closes the channel (by `close` or by the last sender's drop): waiting
    /// senders fail, receivers drain what is buffered and then see `None`.
    pub(crate) fn close(&self) {
        self.tx.close();
        self.readable.notify();
        self.writable.notify();
    }

    /// Every receiving handle is gone: pending and future sends fail.
    pub(crate) fn disconnect(&self) {
        self.close();
        // Nobody can receive them any more; drop them now rather than with
        // the last sender.
        while self.rx.try_recv().is_ok() {}
    }
}

/// A listener registration kept across polls by a withdrawable operation.
#[derive(Debug, Default)]
pub(crate) struct Listening {
    reg: Option<(Arc<Token>, ListenKey)>,
}

impl Listening {
    /// Registers the current waker; returns `false` if the caller must
    /// register in `event` and try again (first poll).
    fn refresh(&mut self, cx: &Context<'_>) -> bool {
        match &self.reg {
            Some((token, _)) => {
                token.register(cx.waker());
                true
            }
            None => false,
        }
    }

    fn listen(&mut self, event: &Event, cx: &Context<'_>) {
        let token = Token::new(cx.waker());
        let key = event.listen(&token);
        self.reg = Some((token, key));
    }

    fn stop(&mut self, event: &Event) {
        if let Some((_, key)) = self.reg.take() {
            event.unlisten(key);
        }
    }
}

/// A receive that waits on the `readable` event and withdraws without effect.
#[derive(Debug, Default)]
pub(crate) struct RecvOp {
    listening: Listening,
}

impl RecvOp {
    pub(crate) fn poll<T>(&mut self, chan: &Buffered<T>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut registered = self.listening.refresh(cx);
        loop {
            match chan.try_recv() {
                Ok(v) => {
                    self.cancel(chan);
                    return Poll::Ready(Some(v));
                }
                Err(TryRecvError::Closed) => {
                    self.cancel(chan);
                    return Poll::Ready(None);
                }
                Err(TryRecvError::Empty) if registered => return Poll::Pending,
                Err(TryRecvError::Empty) => {
                    self.listening.listen(&chan.readable, cx);
                    registered = true;
                }
            }
        }
    }

    pub(crate) fn cancel<T>(&mut self, chan: &Buffered<T>) {
        self.listening.stop(&chan.readable);
    }
}

/// A send that waits on the `writable` event and withdraws without effect,
/// handing its value back.
#[derive(Debug)]
pub(crate) struct SendOp<T> {
    value: Option<T>,
    listening: Listening,
}

impl<T> SendOp<T> {
    pub(crate) fn new(value: T) -> Self {
        SendOp {
            value: Some(value),
            listening: Listening::default(),
        }
    }

    pub(crate) fn poll(
        &mut self,
        chan: &Buffered<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        let mut registered = self.listening.refresh(cx);
        loop {
            let value = self.value.take().expect("SendOp polled after completion");
            match chan.try_send(value) {
                Ok(()) => {
                    self.listening.stop(&chan.writable);
                    return Poll::Ready(Ok(()));
                }
                Err(TrySendError::Closed(v)) => {
                    self.listening.stop(&chan.writable);
                    return Poll::Ready(Err(SendError(v)));
                }
                Err(TrySendError::Full(v)) => {
                    self.value = Some(v);
                    if registered {
                        return Poll::Pending;
                    }
                    self.listening.listen(&chan.writable, cx);
                    registered = true;
                }
            }
        }
    }

    /// Withdraws; hands the value back (a pending buffered send has had no
    /// effect on the channel).
    pub(crate) fn withdraw(&mut self, chan: &Buffered<T>) -> Option<T> {
        self.listening.stop(&chan.writable);
        self.value.take()
    }
}
