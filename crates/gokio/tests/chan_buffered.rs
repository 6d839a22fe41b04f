//! Capacity >= 1: Go's buffered channel. A send waits only while the buffer
//! is full; values from one sender arrive in order.

use std::task::Poll;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{poll, FutureExt, SinkExt, StreamExt};
use gokio::{chan, go, Chan, Receiver, SendTimeoutError, Sender, TryRecvError, TrySendError};

mod common;
use common::{poll_with, WakeFlag};

#[tokio::test]
async fn fifo_from_one_sender() {
    let ch = chan::<u32>(4);
    for i in 0..4 {
        ch.try_send(i).unwrap();
    }
    for i in 0..4 {
        assert_eq!(ch.recv().await, Some(i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_from_one_sender_across_goroutines() {
    for cap in [1, 3] {
        let ch = chan::<u32>(cap);
        let tx = ch.sender();
        let producer = go(async move {
            for i in 0..500 {
                tx.send(i).await.unwrap();
            }
        });
        let rx = ch.receiver();
        drop(ch);
        for i in 0..500 {
            assert_eq!(rx.recv().await, Some(i), "cap {cap}");
        }
        producer.await.unwrap();
        assert_eq!(rx.recv().await, None, "the last sender is gone");
    }
}

#[test]
fn len_and_cap_are_exact() {
    let ch = chan::<u32>(3);
    let (tx, rx) = (ch.sender(), ch.receiver());
    let lens = |want: usize| {
        assert_eq!((ch.len(), tx.len(), rx.len()), (want, want, want));
        assert_eq!(ch.is_empty(), want == 0);
        assert_eq!(tx.is_empty(), want == 0);
        assert_eq!(rx.is_empty(), want == 0);
        assert_eq!((ch.cap(), tx.cap(), rx.cap()), (3, 3, 3));
    };
    lens(0);
    ch.try_send(1).unwrap();
    lens(1);
    tx.try_send(2).unwrap();
    lens(2);
    assert_eq!(rx.try_recv(), Ok(1));
    lens(1);
    tx.try_send(3).unwrap();
    tx.try_send(4).unwrap();
    lens(3);
    assert!(ch.try_send(5).unwrap_err().is_full());
    lens(3);
    assert_eq!(ch.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    lens(1);
    assert_eq!(ch.try_recv(), Ok(4));
    lens(0);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    lens(0);
}

#[tokio::test]
async fn full_channel_try_send_hands_the_value_back() {
    let ch = chan::<String>(1);
    ch.try_send("in".to_string()).unwrap();
    match ch.sender().try_send("out".to_string()) {
        Err(TrySendError::Full(v)) => assert_eq!(v, "out"),
        other => panic!("expected Full(\"out\"), got {other:?}"),
    }
    assert_eq!(ch.len(), 1);
    assert_eq!(ch.recv().await.as_deref(), Some("in"));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test]
async fn full_channel_send_waits_until_a_receive_makes_room() {
    let ch = chan::<u32>(2);
    ch.send(1).await.unwrap();
    ch.send(2).await.unwrap();
    let flag = WakeFlag::new();
    let mut send = Box::pin(ch.send(3));
    assert!(
        poll_with(&mut send, &flag).is_pending(),
        "the buffer is full"
    );
    assert!(poll_with(&mut send, &flag).is_pending());
    assert_eq!(ch.len(), 2);
    assert!(!flag.take(), "nothing happened yet");

    assert_eq!(ch.recv().await, Some(1));
    assert!(flag.take(), "the receive made room: the send must wake");
    assert_eq!(poll_with(&mut send, &flag), Poll::Ready(Ok(())));
    assert_eq!(ch.len(), 2);
    assert_eq!(ch.try_recv(), Ok(2));
    assert_eq!(ch.try_recv(), Ok(3));
}

/// The pending-side futures of every kind of send on a full channel.
fn pending_send<'a>(kind: usize, ch: &'a Chan<u32>, tx: &'a mut Sender<u32>) -> BoxFuture<'a, ()> {
    let hour = Duration::from_secs(3600);
    match kind {
        0 => ch.send(10).map(|r| r.unwrap()).boxed(),
        1 => tx.send(10).map(|r| r.unwrap()).boxed(),
        2 => ch.send_timeout(10, hour).map(|r| r.unwrap()).boxed(),
        3 => tx.send_timeout(10, hour).map(|r| r.unwrap()).boxed(),
        4 => SinkExt::send(tx, 10).map(|r| r.unwrap()).boxed(),
        _ => unreachable!(),
    }
}

/// Every kind of receive that finds a value at once; returns it.
fn ready_recv(kind: usize, ch: &mut Chan<u32>, rx: &mut Receiver<u32>) -> u32 {
    let hour = Duration::from_secs(3600);
    match kind {
        0 => ch.try_recv().unwrap(),
        1 => rx.try_recv().unwrap(),
        2 => ch.recv().now_or_never().unwrap().unwrap(),
        3 => rx.recv().now_or_never().unwrap().unwrap(),
        4 => rx.recv_ok().now_or_never().unwrap().0,
        5 => ch.recv_timeout(hour).now_or_never().unwrap().unwrap(),
        6 => rx.recv_timeout(hour).now_or_never().unwrap().unwrap(),
        7 => ch.recv_blocking().unwrap(),
        8 => rx.next().now_or_never().unwrap().unwrap(),
        9 => ch.next().now_or_never().unwrap().unwrap(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn every_kind_of_pending_send_is_woken_by_every_kind_of_receive() {
    for send_kind in 0..5 {
        for recv_kind in 0..10 {
            let case = format!("send kind {send_kind}, receive kind {recv_kind}");
            let ch = chan::<u32>(1);
            let (mut tx, mut rx) = (ch.sender(), ch.receiver());
            let mut rx_chan = ch.clone();
            ch.try_send(1).unwrap();
            let flag = WakeFlag::new();
            let mut send = pending_send(send_kind, &ch, &mut tx);
            assert!(poll_with(&mut send, &flag).is_pending(), "{case}");
            assert!(!flag.take(), "{case}");

            assert_eq!(ready_recv(recv_kind, &mut rx_chan, &mut rx), 1, "{case}");
            assert!(flag.take(), "{case}: the pending send was not woken");
            assert_eq!(poll_with(&mut send, &flag), Poll::Ready(()), "{case}");
            drop(send);
            assert_eq!(ch.try_recv(), Ok(10), "{case}");
        }
    }
}

/// The pending-side futures of every kind of receive on an empty channel.
fn pending_recv<'a>(
    kind: usize,
    ch: &'a Chan<u32>,
    rx: &'a mut Receiver<u32>,
    ch_stream: &'a mut Chan<u32>,
) -> BoxFuture<'a, u32> {
    let hour = Duration::from_secs(3600);
    match kind {
        0 => ch.recv().map(Option::unwrap).boxed(),
        1 => ch
            .recv_ok()
            .map(|(v, ok)| if ok { v } else { panic!("closed") })
            .boxed(),
        2 => ch.recv_timeout(hour).map(Result::unwrap).boxed(),
        3 => rx.recv_timeout(hour).map(Result::unwrap).boxed(),
        4 => rx.next().map(Option::unwrap).boxed(),
        5 => ch_stream.next().map(Option::unwrap).boxed(),
        _ => unreachable!(),
    }
}

/// Every kind of send that finds room at once.
fn ready_send(kind: usize, ch: &Chan<u32>, tx: &mut Sender<u32>, v: u32) {
    let hour = Duration::from_secs(3600);
    match kind {
        0 => ch.try_send(v).unwrap(),
        1 => tx.try_send(v).unwrap(),
        2 => ch.send(v).now_or_never().unwrap().unwrap(),
        3 => tx.send(v).now_or_never().unwrap().unwrap(),
        4 => ch.send_timeout(v, hour).now_or_never().unwrap().unwrap(),
        5 => tx.send_blocking(v).unwrap(),
        6 => SinkExt::send(tx, v).now_or_never().unwrap().unwrap(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn every_kind_of_pending_recv_is_woken_by_every_kind_of_send() {
    for recv_kind in 0..6 {
        for send_kind in 0..7 {
            let case = format!("receive kind {recv_kind}, send kind {send_kind}");
            let ch = chan::<u32>(1);
            let (mut tx, mut rx) = (ch.sender(), ch.receiver());
            let mut ch_stream = ch.clone();
            let flag = WakeFlag::new();
            let mut recv = pending_recv(recv_kind, &ch, &mut rx, &mut ch_stream);
            assert!(poll_with(&mut recv, &flag).is_pending(), "{case}");
            assert!(!flag.take(), "{case}");

            ready_send(send_kind, &ch, &mut tx, 7);
            assert!(flag.take(), "{case}: the pending receive was not woken");
            assert_eq!(poll_with(&mut recv, &flag), Poll::Ready(7), "{case}");
            drop(recv);
            assert_eq!(ch.len(), 0, "{case}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn send_timeout_hands_the_value_back_at_the_deadline() {
    let ch = chan::<String>(1);
    ch.try_send("old".to_string()).unwrap();
    let tx = ch.sender();
    let mut send = Box::pin(tx.send_timeout("new".to_string(), Duration::from_millis(10)));
    assert!(poll!(&mut send).is_pending());
    tokio::time::advance(Duration::from_millis(9)).await;
    assert!(poll!(&mut send).is_pending(), "not before the deadline");
    tokio::time::advance(Duration::from_millis(1)).await;
    match poll!(&mut send) {
        Poll::Ready(Err(SendTimeoutError::Timeout(v))) => assert_eq!(v, "new"),
        other => panic!("expected Timeout(\"new\"), got {other:?}"),
    }
    assert_eq!(ch.len(), 1, "the timed-out value is not in the channel");
    assert_eq!(ch.try_recv().as_deref(), Ok("old"));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test(start_paused = true)]
async fn send_timeout_succeeds_before_the_deadline() {
    let ch = chan::<u32>(1);
    ch.try_send(1).unwrap();
    let flag = WakeFlag::new();
    let mut send = Box::pin(ch.send_timeout(2, Duration::from_millis(10)));
    assert!(poll_with(&mut send, &flag).is_pending());
    tokio::time::advance(Duration::from_millis(5)).await;
    assert!(poll_with(&mut send, &flag).is_pending());
    assert_eq!(ch.recv().await, Some(1));
    assert!(flag.take(), "room made: the send must wake");
    assert_eq!(poll_with(&mut send, &flag), Poll::Ready(Ok(())));
    drop(send);
    tokio::time::advance(Duration::from_millis(10)).await;
    assert_eq!(ch.try_recv(), Ok(2));
}

#[tokio::test(start_paused = true)]
async fn send_timeout_with_room_does_not_wait() {
    let ch = chan::<u32>(1);
    assert_eq!(
        ch.send_timeout(1, Duration::ZERO).now_or_never(),
        Some(Ok(()))
    );
    let err = ch.send_timeout(2, Duration::ZERO).await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(err.into_inner(), 2);
}

#[tokio::test(start_paused = true)]
async fn recv_timeout_gives_up_at_the_deadline() {
    let ch = chan::<u32>(1);
    let rx = ch.receiver();
    let mut recv = Box::pin(rx.recv_timeout(Duration::from_millis(10)));
    assert!(poll!(&mut recv).is_pending());
    tokio::time::advance(Duration::from_millis(9)).await;
    assert!(poll!(&mut recv).is_pending(), "not before the deadline");
    tokio::time::advance(Duration::from_millis(1)).await;
    let err = poll!(&mut recv);
    assert!(matches!(err, Poll::Ready(Err(e)) if e.is_timeout()));
    drop(recv);
    // Nothing was consumed, and the channel still works.
    ch.try_send(5).unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(rx.try_recv(), Ok(5));
}

#[tokio::test(start_paused = true)]
async fn recv_timeout_succeeds_before_the_deadline() {
    let ch = chan::<u32>(1);
    let flag = WakeFlag::new();
    let mut recv = Box::pin(ch.recv_timeout(Duration::from_millis(10)));
    assert!(poll_with(&mut recv, &flag).is_pending());
    tokio::time::advance(Duration::from_millis(5)).await;
    assert!(poll_with(&mut recv, &flag).is_pending());
    ch.send(3).await.unwrap();
    assert!(flag.take());
    assert_eq!(poll_with(&mut recv, &flag), Poll::Ready(Ok(3)));
    // A value already there is taken at once, even with a zero timeout.
    ch.try_send(4).unwrap();
    assert_eq!(ch.recv_timeout(Duration::ZERO).await, Ok(4));
}

#[test]
fn blocking_ops_between_std_threads() {
    let ch = chan::<u32>(2);
    let (tx, rx) = (ch.sender(), ch.receiver());
    drop(ch);
    let producer = std::thread::spawn(move || {
        for i in 0..200 {
            tx.send_blocking(i).unwrap();
            assert!(tx.len() <= 2);
        }
        // `tx` is the last sender: dropping it closes the channel.
    });
    let consumer = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Some(v) = rx.recv_blocking() {
            assert!(rx.len() <= 2);
            got.push(v);
        }
        got
    });
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), (0..200).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_threads_with_async_peers() {
    // A plain thread sends, a goroutine receives.
    let ch = chan::<u32>(1);
    let tx = ch.sender();
    let t = std::thread::spawn(move || {
        for i in 0..100 {
            tx.send_blocking(i).unwrap();
        }
    });
    for i in 0..100 {
        assert_eq!(ch.recv().await, Some(i));
    }
    t.join().unwrap();

    // A goroutine sends, a plain thread receives.
    let rx = ch.receiver();
    let t = std::thread::spawn(move || {
        (0..100)
            .map(|_| rx.recv_blocking().unwrap())
            .collect::<Vec<u32>>()
    });
    for i in 0..100 {
        ch.send(i).await.unwrap();
    }
    assert_eq!(t.join().unwrap(), (0..100).collect::<Vec<_>>());
    ch.close();
    assert_eq!(ch.recv_blocking(), None);
}

#[test]
fn send_blocking_on_a_closed_channel_hands_the_value_back() {
    let ch = chan::<String>(1);
    ch.close();
    assert_eq!(ch.send_blocking("v".into()).unwrap_err().into_inner(), "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multiple_producers_and_consumers_exactly_once() {
    const PRODUCERS: u32 = 4;
    const PER_PRODUCER: u32 = 250;
    for cap in [1, 2, 16] {
        let ch = chan::<u32>(cap);
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let tx = ch.sender();
            producers.push(go(async move {
                for i in 0..PER_PRODUCER {
                    tx.send(p * PER_PRODUCER + i).await.unwrap();
                }
            }));
        }
        let mut consumers = Vec::new();
        for _ in 0..3 {
            let rx = ch.receiver();
            consumers.push(go(async move {
                let mut got = Vec::new();
                while let Some(v) = rx.recv().await {
                    got.push(v);
                }
                got
            }));
        }
        drop(ch);
        for p in producers {
            p.await.unwrap();
        }
        let mut all = Vec::new();
        for c in consumers {
            all.extend(c.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(
            all,
            (0..PRODUCERS * PER_PRODUCER).collect::<Vec<_>>(),
            "cap {cap}"
        );
    }
}
