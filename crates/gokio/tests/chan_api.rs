//! The channel API's static promises (auto traits, error traits and texts)
//! and Tokio's cooperative budget, which stands in for Go's preemption.

use std::cell::Cell;
use std::error::Error;
use std::fmt::Debug;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use gokio::{
    chan, go, Chan, Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
    TrySendError,
};

fn assert_handle<H: Send + Sync + Clone + Debug>() {}

fn assert_send<T: Send>(_: &T) {}

fn assert_error<E: Error + Send + Sync + 'static>() {}

/// Debugging this type panics: an error whose `Debug` printed its payload
/// would fail the test.
struct NoDebug;

impl Debug for NoDebug {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("an error's Debug must not print the value")
    }
}

/// A type with no traits at all: channels need no bound on `T`.
struct Opaque(u32);

#[test]
fn handles_are_send_sync_clone_debug_for_send_values() {
    assert_handle::<Chan<u32>>();
    assert_handle::<Sender<u32>>();
    assert_handle::<Receiver<u32>>();
    // `Cell` is `Send` but not `Sync`: API.md promises `Send + Sync` for
    // `T: Send` alone.
    assert_handle::<Chan<Cell<u32>>>();
    assert_handle::<Receiver<Cell<u32>>>();
    assert_handle::<Sender<Cell<u32>>>();
}

#[tokio::test]
async fn futures_are_send_for_send_values() {
    let ch = chan::<Cell<u32>>(1);
    let (tx, rx) = (ch.sender(), ch.receiver());
    let d = Duration::from_millis(1);

    assert_send(&ch.send(Cell::new(1)));
    assert_send(&ch.recv());
    assert_send(&ch.recv_ok());
    assert_send(&ch.send_timeout(Cell::new(1), d));
    assert_send(&ch.recv_timeout(d));

    assert_send(&tx.send(Cell::new(1)));
    assert_send(&tx.send_timeout(Cell::new(1), d));

    assert_send(&rx.recv());
    assert_send(&rx.recv_ok());
    assert_send(&rx.recv_timeout(d));

    let timer = gokio::after(d);
    assert_send(&timer.recv());
    assert_send(&timer.recv_timeout(d));

    // The real use: the futures run inside `go`.
    let g = go(async move {
        ch.send(Cell::new(7)).await.unwrap();
        let (v, ok) = rx.recv_ok().await;
        tx.send_timeout(Cell::new(8), d).await.unwrap();
        let w = ch.recv_timeout(d).await.unwrap();
        (v.get(), ok, w.get())
    });
    assert_eq!(g.await.unwrap(), (7, true, 8));
}

#[test]
fn error_types_implement_error() {
    assert_error::<SendError<String>>();
    assert_error::<TrySendError<String>>();
    assert_error::<SendTimeoutError<String>>();
    assert_error::<TryRecvError>();
    assert_error::<RecvTimeoutError>();

    // `?` converts them into the usual boxed error.
    fn boxed() -> Result<(), Box<dyn Error + Send + Sync>> {
        Err(SendError(1u8))?
    }
    assert_eq!(boxed().unwrap_err().to_string(), "send on closed channel");
}

#[test]
fn display_texts_follow_go() {
    assert_eq!(SendError(1).to_string(), "send on closed channel");
    assert_eq!(
        TrySendError::Closed(1).to_string(),
        "send on closed channel"
    );
    assert_eq!(
        SendTimeoutError::Closed(1).to_string(),
        "send on closed channel"
    );
    // Go has no text for these; they are lowercase, like Go's errors.
    for text in [
        TrySendError::Full(1).to_string(),
        SendTimeoutError::Timeout(1).to_string(),
        TryRecvError::Empty.to_string(),
        TryRecvError::Closed.to_string(),
        RecvTimeoutError::Timeout.to_string(),
        RecvTimeoutError::Closed.to_string(),
    ] {
        assert!(!text.is_empty());
        assert_eq!(text, text.to_lowercase(), "{text:?}");
        assert!(!text.ends_with('.'), "{text:?}");
    }
}

#[test]
fn error_debug_never_prints_the_value() {
    // A payload whose Debug panics.
    let _ = format!("{:?}", SendError(NoDebug));
    let _ = format!("{:?}", TrySendError::Full(NoDebug));
    let _ = format!("{:?}", TrySendError::Closed(NoDebug));
    let _ = format!("{:?}", SendTimeoutError::Timeout(NoDebug));
    let _ = format!("{:?}", SendTimeoutError::Closed(NoDebug));

    let secret = || "hunter2".to_string();
    for debug in [
        format!("{:?}", SendError(secret())),
        format!("{:?}", TrySendError::Full(secret())),
        format!("{:?}", TrySendError::Closed(secret())),
        format!("{:?}", SendTimeoutError::Timeout(secret())),
        format!("{:?}", SendTimeoutError::Closed(secret())),
        format!("{:#?}", SendError(secret())),
    ] {
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.is_empty());
    }
    // The variant is still visible.
    assert!(format!("{:?}", TrySendError::Full(1)).contains("Full"));
    assert!(format!("{:?}", TrySendError::Closed(1)).contains("Closed"));
    assert!(format!("{:?}", SendTimeoutError::Timeout(1)).contains("Timeout"));
}

#[test]
fn into_inner_hands_every_value_back() {
    assert_eq!(SendError("a").into_inner(), "a");
    assert_eq!(SendError("a").0, "a");
    assert_eq!(TrySendError::Full("b").into_inner(), "b");
    assert_eq!(TrySendError::Closed("c").into_inner(), "c");
    assert_eq!(SendTimeoutError::Timeout("d").into_inner(), "d");
    assert_eq!(SendTimeoutError::Closed("e").into_inner(), "e");

    assert!(TrySendError::Full(()).is_full() && !TrySendError::Full(()).is_closed());
    assert!(TrySendError::Closed(()).is_closed() && !TrySendError::Closed(()).is_full());
    assert!(SendTimeoutError::Timeout(()).is_timeout());
    assert!(SendTimeoutError::Closed(()).is_closed());
    assert!(TryRecvError::Empty.is_empty() && TryRecvError::Closed.is_closed());
    assert!(RecvTimeoutError::Timeout.is_timeout() && RecvTimeoutError::Closed.is_closed());
}

#[test]
fn channels_need_no_bound_on_the_value_type() {
    // No trait at all: make, send, receive, debug the handles.
    let ch = chan::<Opaque>(1);
    let (tx, rx) = (ch.sender(), ch.receiver());
    tx.try_send(Opaque(1)).ok().unwrap();
    assert_eq!(rx.try_recv().ok().unwrap().0, 1);
    assert!(format!("{ch:?} {tx:?} {rx:?}").contains("cap: 1"));
    let err = tx.try_send(Opaque(2)).and_then(|()| tx.try_send(Opaque(3)));
    assert_eq!(err.err().unwrap().into_inner().0, 3);

    // Not `Send`: fine on one thread.
    futures::executor::block_on(async {
        for cap in [0, 1] {
            let ch = chan::<Rc<u32>>(cap);
            let rx = ch.receiver();
            let (sent, got) = futures::join!(ch.send(Rc::new(5)), rx.recv());
            sent.unwrap();
            assert_eq!(*got.unwrap(), 5);
        }
    });
}

// ---------------------------------------------------------------------------
// Cooperative budget
// ---------------------------------------------------------------------------

/// Runs `spin` (a goroutine that loops forever on an always-ready operation)
/// on a one-thread runtime beside a task spawned after it, and fails if that
/// task never gets to run. A watchdog thread turns a regression into a
/// failure instead of a hang.
fn assert_does_not_starve<F, Fut>(name: &str, spin: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let _spinner = go(spin());
            let (tx, rx) = tokio::sync::oneshot::channel();
            // Queued behind the spinner: it runs only if the spinner yields.
            tokio::spawn(async move { tx.send(()).unwrap() });
            rx.await.unwrap();
        });
        // Dropping the runtime drops the spinner.
        drop(rt);
        done_tx.send(()).unwrap();
    });
    if done_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        panic!("{name}: a goroutine looping on an always-ready operation starved another task");
    }
}

#[test]
fn budget_buffered_recv() {
    assert_does_not_starve("Chan::recv", || async move {
        let ch = chan::<u32>(1);
        loop {
            ch.try_send(1).ok();
            ch.recv().await;
        }
    });
}

#[test]
fn budget_buffered_receiver_recv_ok() {
    assert_does_not_starve("Receiver::recv_ok", || async move {
        let ch = chan::<u32>(1);
        let rx = ch.receiver();
        loop {
            ch.try_send(1).ok();
            rx.recv_ok().await;
        }
    });
}

#[test]
fn budget_buffered_send() {
    assert_does_not_starve("Sender::send", || async move {
        let ch = chan::<u32>(1);
        let tx = ch.sender();
        loop {
            tx.send(1).await.unwrap();
            ch.try_recv().ok();
        }
    });
}

#[test]
fn budget_timeouts() {
    assert_does_not_starve("send_timeout/recv_timeout", || async move {
        let ch = chan::<u32>(1);
        let d = Duration::from_secs(3600);
        loop {
            ch.send_timeout(1, d).await.unwrap();
            ch.recv_timeout(d).await.unwrap();
        }
    });
}

#[test]
fn budget_stream_and_sink() {
    assert_does_not_starve("Stream/Sink", || async move {
        let ch = chan::<u32>(1);
        let (mut tx, mut rx) = (ch.sender(), ch.receiver());
        loop {
            // `SinkExt::send`, not the inherent `Sender::send`.
            SinkExt::send(&mut tx, 1).await.unwrap();
            rx.next().await;
        }
    });
}

#[test]
fn budget_recv_on_closed_channels() {
    for cap in [0, 8] {
        assert_does_not_starve("recv on a closed channel", move || async move {
            let ch = chan::<u32>(cap);
            ch.close();
            loop {
                assert_eq!(ch.recv().await, None);
            }
        });
    }
}

#[test]
fn budget_send_on_closed_channels() {
    for cap in [0, 8] {
        assert_does_not_starve("send on a closed channel", move || async move {
            let ch = chan::<u32>(cap);
            ch.close();
            loop {
                assert!(ch.send(1).await.is_err());
            }
        });
    }
}

#[tokio::test]
async fn sender_closed_completes_when_the_last_receiver_is_gone() {
    use futures::FutureExt;

    let ch = gokio::chan::<i32>(2);
    let tx = ch.sender();
    let rx = ch.receiver();
    // Receivers alive: pending, and closing the channel does not change that.
    assert!(tx.closed().now_or_never().is_none());
    ch.close();
    assert!(tx.closed().now_or_never().is_none());
    let waiter = {
        let tx = tx.clone();
        tokio::spawn(async move { tx.closed().await })
    };
    drop(ch);
    assert!(tx.closed().now_or_never().is_none()); // `rx` is still there
    drop(rx);
    waiter.await.unwrap();
    // No receiver left: completes at once.
    assert!(tx.closed().now_or_never().is_some());
}

#[tokio::test]
async fn sender_closed_at_capacity_zero() {
    use futures::FutureExt;

    let ch = gokio::chan::<i32>(0);
    let tx = ch.sender();
    let mut closed = Box::pin(tx.closed());
    assert!((&mut closed).now_or_never().is_none());
    drop(ch);
    closed.await;
    assert!(tx.send(1).await.is_err());
}
