//! Closing: Go's `close(ch)`, plus gokio's close on drop of the last sender
//! and failing sends once no receiver is left. Every test runs at
//! capacities 0, 1 and 8.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt, StreamExt};
use gokio::{chan, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};

const CAPS: [usize; 3] = [0, 1, 8];
const HOUR: Duration = Duration::from_secs(3600);

mod common;
use common::{poll_with, WakeFlag};

/// A set of futures, each polled with its own wake flag.
struct Pending<'a, T> {
    futs: Vec<(BoxFuture<'a, T>, Arc<WakeFlag>)>,
}

impl<'a, T> Pending<'a, T> {
    fn new() -> Self {
        Pending { futs: Vec::new() }
    }

    /// Adds `fut`, asserting that it waits.
    fn push(&mut self, fut: BoxFuture<'a, T>, what: &str) {
        let flag = WakeFlag::new();
        let mut fut = fut;
        assert!(poll_with(&mut fut, &flag).is_pending(), "{what} must wait");
        self.futs.push((fut, flag));
    }

    /// Asserts every future was woken, then returns their outputs.
    fn woken_outputs(self, what: &str) -> Vec<T> {
        self.futs
            .into_iter()
            .enumerate()
            .map(|(i, (mut fut, flag))| {
                assert!(flag.take(), "{what}: waiter {i} was not woken");
                match poll_with(&mut fut, &flag) {
                    Poll::Ready(v) => v,
                    Poll::Pending => panic!("{what}: waiter {i} still pending"),
                }
            })
            .collect()
    }

    fn none_woken(&self, what: &str) {
        for (i, (_, flag)) in self.futs.iter().enumerate() {
            assert!(!flag.take(), "{what}: waiter {i} woken too early");
        }
    }
}

#[tokio::test]
async fn buffered_values_stay_receivable_after_close() {
    for cap in CAPS {
        let mut ch = chan::<String>(cap);
        let rx = ch.receiver();
        for i in 0..cap {
            ch.try_send(i.to_string()).unwrap();
        }
        ch.close();
        assert!(ch.is_closed(), "cap {cap}");
        assert_eq!(ch.len(), cap, "cap {cap}: close keeps buffered values");
        for i in 0..cap {
            let want = i.to_string();
            let got = match i % 4 {
                0 => ch.recv().await.unwrap(),
                1 => rx.try_recv().unwrap(),
                2 => {
                    let (v, ok) = rx.recv_ok().await;
                    assert!(ok);
                    v
                }
                _ => ch.next().await.unwrap(),
            };
            assert_eq!(got, want, "cap {cap}");
        }
        // Closed and drained: every receive reports it, every time.
        for _ in 0..2 {
            assert_eq!(ch.recv().await, None, "cap {cap}");
            assert_eq!(rx.recv().await, None, "cap {cap}");
            assert_eq!(ch.recv_ok().await, (String::new(), false), "cap {cap}");
            assert_eq!(rx.recv_ok().await, (String::new(), false), "cap {cap}");
            assert_eq!(ch.try_recv(), Err(TryRecvError::Closed), "cap {cap}");
            assert_eq!(
                rx.recv_timeout(HOUR).await,
                Err(RecvTimeoutError::Closed),
                "cap {cap}"
            );
            assert_eq!(ch.recv_blocking(), None, "cap {cap}");
            assert_eq!(ch.next().await, None, "cap {cap}");
        }
        assert_eq!(chan::<i32>(cap).recv_ok().now_or_never(), None);
        let zero = chan::<i32>(cap);
        zero.close();
        assert_eq!(zero.recv_ok().await, (0, false), "Go's zero value");
    }
}

#[tokio::test]
async fn close_wakes_every_pending_receiver() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let (rx, mut rx2) = (ch.receiver(), ch.receiver());
        let mut ch_stream = ch.clone();
        let mut waiters = Pending::<Option<u32>>::new();
        waiters.push(ch.recv().boxed(), "recv");
        waiters.push(ch.recv().boxed(), "second recv");
        waiters.push(rx.recv().boxed(), "Receiver::recv");
        waiters.push(
            ch.recv_ok().map(|(v, ok)| ok.then_some(v)).boxed(),
            "recv_ok",
        );
        waiters.push(rx2.next().boxed(), "Receiver stream");
        waiters.push(ch_stream.next().boxed(), "Chan stream");
        waiters.push(
            ch.recv_timeout(HOUR)
                .map(|r| {
                    assert_eq!(r, Err(RecvTimeoutError::Closed));
                    None
                })
                .boxed(),
            "recv_timeout",
        );
        waiters.none_woken(&format!("cap {cap}"));
        ch.close();
        let outputs = waiters.woken_outputs(&format!("cap {cap}"));
        assert!(outputs.iter().all(Option::is_none), "cap {cap}");
        drop(rx);
    }
}

#[tokio::test]
async fn close_wakes_every_pending_sender_and_hands_values_back() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let mut tx = ch.sender();
        let tx2 = ch.sender();
        for i in 0..cap as u32 {
            ch.try_send(i).unwrap();
        }
        let mut waiters = Pending::<Result<(), u32>>::new();
        waiters.push(ch.send(100).map(|r| r.map_err(|e| e.0)).boxed(), "send");
        waiters.push(
            tx2.send(101).map(|r| r.map_err(|e| e.0)).boxed(),
            "Sender::send",
        );
        waiters.push(
            ch.send_timeout(102, HOUR)
                .map(|r| match r {
                    Err(SendTimeoutError::Closed(v)) => Err(v),
                    other => panic!("expected Closed(102), got {other:?}"),
                })
                .boxed(),
            "send_timeout",
        );
        waiters.push(
            SinkExt::send(&mut tx, 103)
                .map(|r| r.map_err(|e| e.0))
                .boxed(),
            "Sink::send",
        );
        waiters.none_woken(&format!("cap {cap}"));
        ch.close();
        let outputs = waiters.woken_outputs(&format!("cap {cap}"));
        assert_eq!(
            outputs,
            vec![Err(100), Err(101), Err(102), Err(103)],
            "cap {cap}: each sender gets its own value back"
        );
        // The buffered values are still there, and nothing else.
        for i in 0..cap as u32 {
            assert_eq!(ch.try_recv(), Ok(i), "cap {cap}");
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed), "cap {cap}");
    }
}

#[tokio::test]
async fn send_on_a_closed_channel_hands_the_value_back() {
    for cap in CAPS {
        let ch = chan::<String>(cap);
        let mut tx = ch.sender();
        ch.close();
        let err = ch.send("a".into()).await.unwrap_err();
        assert_eq!(err.to_string(), "send on closed channel");
        assert_eq!(err, SendError("a".to_string()));
        assert_eq!(tx.send("b".into()).await, Err(SendError("b".into())));
        assert!(matches!(tx.try_send("c".into()), Err(TrySendError::Closed(v)) if v == "c"));
        assert!(
            matches!(ch.send_timeout("d".into(), HOUR).await, Err(SendTimeoutError::Closed(v)) if v == "d")
        );
        assert_eq!(tx.send_blocking("e".into()), Err(SendError("e".into())));
        assert_eq!(
            SinkExt::send(&mut tx, "f".to_string()).await,
            Err(SendError("f".into()))
        );
        assert_eq!(ch.len(), 0, "cap {cap}");
    }
}

#[test]
#[should_panic(expected = "close of closed channel")]
fn second_close_panics_unbuffered() {
    let ch = chan::<i32>(0);
    ch.close();
    ch.close();
}

#[test]
#[should_panic(expected = "close of closed channel")]
fn second_close_panics_buffered() {
    let ch = chan::<i32>(8);
    ch.try_send(1).unwrap();
    ch.close();
    ch.clone().close();
}

#[test]
#[should_panic(expected = "close of closed channel")]
fn second_close_through_a_sender_panics() {
    let ch = chan::<i32>(1);
    let tx = ch.sender();
    ch.close();
    tx.close();
}

#[test]
#[should_panic(expected = "close of closed channel")]
fn close_after_sink_close_panics() {
    let ch = chan::<i32>(1);
    let mut tx = ch.sender();
    futures::executor::block_on(SinkExt::close(&mut tx)).unwrap();
    ch.close();
}

#[test]
fn last_sender_drop_closes_and_not_before() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let ch2 = ch.clone();
        let tx = ch.sender();
        let tx2 = tx.clone();
        let rx = ch.receiver();
        let rx2 = rx.clone();

        let mut waiters = Pending::<Option<u32>>::new();
        waiters.push(rx.recv().boxed(), "recv");
        waiters.push(rx2.recv().boxed(), "recv on a clone");

        drop(ch);
        assert!(!rx.is_closed(), "cap {cap}: ch2, tx, tx2 can still send");
        drop(tx);
        assert!(!rx.is_closed(), "cap {cap}: ch2, tx2 can still send");
        drop(ch2);
        assert!(!rx.is_closed(), "cap {cap}: tx2 can still send");
        waiters.none_woken(&format!("cap {cap}"));
        if cap > 0 {
            // Still open: a send works (and is received by a waiter).
            tx2.try_send(7).unwrap();
            let flag = WakeFlag::new();
            let mut fut = rx.recv().boxed();
            assert_eq!(poll_with(&mut fut, &flag), Poll::Ready(Some(7)));
        }
        drop(tx2);
        assert!(rx.is_closed(), "cap {cap}: the last sender is gone");
        assert!(rx2.is_closed());
        let outputs = waiters.woken_outputs(&format!("cap {cap}"));
        assert_eq!(outputs, vec![None, None], "cap {cap}");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }
}

#[tokio::test]
async fn last_sender_drop_keeps_buffered_values() {
    let ch = chan::<u32>(8);
    let rx = ch.receiver();
    let tx = ch.sender();
    ch.try_send(1).unwrap();
    drop(ch);
    tx.try_send(2).unwrap();
    drop(tx);
    assert!(rx.is_closed());
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, Some(2));
    assert_eq!(rx.recv().await, None);
}

#[test]
fn receiver_handles_do_not_keep_a_channel_open() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let rx = ch.receiver();
        let _rx2 = rx.clone();
        drop(ch);
        assert!(rx.is_closed(), "cap {cap}");
    }
}

#[tokio::test]
async fn sends_fail_once_every_receiver_is_gone() {
    for cap in CAPS {
        let ch = chan::<String>(cap);
        let ch2 = ch.clone();
        let mut tx = ch.sender();
        let rx = ch.receiver();
        let rx2 = rx.clone();

        // A sender waiting (cap 0: for a receiver; else: for room).
        for i in 0..cap {
            ch.try_send(i.to_string()).unwrap();
        }
        let mut waiters = Pending::<Result<(), SendError<String>>>::new();
        waiters.push(tx.send("pending".into()).boxed(), "send");

        drop(ch);
        drop(rx);
        drop(ch2);
        waiters.none_woken(&format!("cap {cap}: rx2 can still receive"));
        if cap > 0 {
            // rx2 makes room; the channel still works.
            assert_eq!(rx2.try_recv(), Ok("0".to_string()));
            let out = waiters.woken_outputs(&format!("cap {cap}"));
            assert_eq!(out, vec![Ok(())]);
            waiters = Pending::new();
            waiters.push(tx.send("pending".into()).boxed(), "send");
        }
        drop(rx2);
        let out = waiters.woken_outputs(&format!("cap {cap}: no receiver left"));
        assert_eq!(
            out,
            vec![Err(SendError("pending".to_string()))],
            "cap {cap}"
        );

        // Even where the buffer has room now, no send can succeed.
        assert!(
            matches!(tx.try_send("a".into()), Err(TrySendError::Closed(v)) if v == "a"),
            "cap {cap}"
        );
        assert_eq!(
            tx.send("b".into()).await,
            Err(SendError("b".into())),
            "cap {cap}"
        );
        assert!(
            matches!(tx.send_timeout("c".into(), HOUR).await, Err(SendTimeoutError::Closed(v)) if v == "c"),
            "cap {cap}"
        );
        assert_eq!(tx.send_blocking("d".into()), Err(SendError("d".into())));
        assert_eq!(
            SinkExt::send(&mut tx, "e".to_string()).await,
            Err(SendError("e".into())),
            "cap {cap}"
        );
    }
}

#[test]
fn sends_fail_with_room_when_receivers_are_gone() {
    let ch = chan::<u32>(8);
    let tx = ch.sender();
    drop(ch);
    assert_eq!(tx.len(), 0);
    assert!(tx.try_send(1).unwrap_err().is_closed());
}

#[test]
fn is_closed_on_every_handle() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let (tx, rx) = (ch.sender(), ch.receiver());
        assert!(!ch.is_closed() && !tx.is_closed() && !rx.is_closed());
        tx.close();
        assert!(ch.is_closed() && tx.is_closed() && rx.is_closed());
        assert!(ch.clone().is_closed() && tx.clone().is_closed() && rx.clone().is_closed());
    }
}

#[tokio::test]
async fn sink_close_closes_and_tolerates_a_closed_channel() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let mut tx = ch.sender();
        let mut waiters = Pending::<Option<u32>>::new();
        waiters.push(ch.recv().boxed(), "recv");
        SinkExt::close(&mut tx).await.unwrap();
        assert!(ch.is_closed(), "cap {cap}");
        assert_eq!(waiters.woken_outputs(&format!("cap {cap}")), vec![None]);
        // Closing again through the sink does not panic.
        SinkExt::close(&mut tx).await.unwrap();

        let ch = chan::<u32>(cap);
        let mut tx = ch.sender();
        ch.close();
        SinkExt::close(&mut tx).await.unwrap();
        assert!(tx.is_closed());
    }
}

#[test]
fn debug_shows_len_cap_closed() {
    let ch = chan::<u32>(8);
    let (tx, rx) = (ch.sender(), ch.receiver());
    ch.try_send(1).unwrap();
    ch.try_send(2).unwrap();
    for debug in [format!("{ch:?}"), format!("{tx:?}"), format!("{rx:?}")] {
        assert!(debug.contains("len: 2"), "{debug}");
        assert!(debug.contains("cap: 8"), "{debug}");
        assert!(debug.contains("closed: false"), "{debug}");
    }
    assert_eq!(format!("{ch:?}"), "Chan { len: 2, cap: 8, closed: false }");
    ch.close();
    for debug in [format!("{ch:?}"), format!("{tx:?}"), format!("{rx:?}")] {
        assert!(debug.contains("len: 2"), "{debug}");
        assert!(debug.contains("closed: true"), "{debug}");
    }
    let unbuffered = chan::<u32>(0);
    assert_eq!(
        format!("{unbuffered:?}"),
        "Chan { len: 0, cap: 0, closed: false }"
    );
}
