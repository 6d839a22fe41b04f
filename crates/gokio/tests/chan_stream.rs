//! `Receiver` and `Chan` as `futures::Stream` (Go's `for v := range ch`),
//! `Sender` as `futures::Sink`, at capacities 0 and 4.

use futures::{poll, stream, SinkExt, StreamExt};
use gokio::{chan, go, TryRecvError};

const CAPS: [usize; 2] = [0, 4];

#[tokio::test]
async fn receiver_stream_ends_when_closed_and_drained() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let (tx, rx) = (ch.sender(), ch.receiver());
        drop(ch);
        let producer = go(async move {
            for i in 0..20 {
                tx.send(i).await.unwrap();
            }
            // Dropping `tx`, the last sender, closes the channel.
        });
        let got: Vec<u32> = rx.collect().await;
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "cap {cap}");
        producer.await.unwrap();
    }
}

#[tokio::test]
async fn chan_stream_ends_when_closed_and_drained() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let tx = ch.sender();
        let producer = go(async move {
            for i in 0..20 {
                tx.send(i).await.unwrap();
            }
            // `ch` can send too, so only close ends the stream.
            tx.close();
        });
        let got: Vec<u32> = ch.collect().await;
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "cap {cap}");
        producer.await.unwrap();
    }
}

#[tokio::test]
async fn stream_after_the_end_keeps_ending() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let mut rx = ch.receiver();
        ch.close();
        assert_eq!(rx.next().await, None, "cap {cap}");
        assert_eq!(rx.next().await, None, "cap {cap}");
        let mut ch = ch;
        assert_eq!(ch.next().await, None, "cap {cap}");
    }
}

#[tokio::test]
async fn stream_combinators() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let tx = ch.sender();
        let rx = ch.receiver();
        drop(ch);
        go(async move {
            for i in 1..=10 {
                tx.send(i).await.unwrap();
            }
        });
        let evens: Vec<u32> = rx
            .filter(|v| std::future::ready(v % 2 == 0))
            .map(|v| v * 10)
            .take(3)
            .collect()
            .await;
        assert_eq!(evens, vec![20, 40, 60], "cap {cap}");
    }
}

#[tokio::test]
async fn sender_sink_forward_sends_everything_then_closes() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let tx = ch.sender();
        let rx = ch.receiver();
        let forward = go(stream::iter(0..20).map(Ok).forward(tx));
        // `ch` is still alive, so the stream ends only because the sink's
        // poll_close closed the channel.
        let got: Vec<u32> = rx.collect().await;
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "cap {cap}");
        forward.await.unwrap().unwrap();
        assert!(ch.is_closed(), "cap {cap}");
    }
}

#[tokio::test]
async fn sender_sink_feed_flush_and_send_all() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let mut tx = ch.sender();
        let rx = ch.receiver();
        let consumer = go(async move { rx.take(6).collect::<Vec<u32>>().await });
        tx.feed(0).await.unwrap();
        tx.feed(1).await.unwrap();
        tx.flush().await.unwrap();
        tx.send_all(&mut stream::iter([2, 3, 4].map(Ok)))
            .await
            .unwrap();
        SinkExt::send(&mut tx, 5).await.unwrap();
        assert_eq!(consumer.await.unwrap(), vec![0, 1, 2, 3, 4, 5], "cap {cap}");
        assert!(!ch.is_closed(), "only poll_close closes");
    }
}

#[tokio::test]
async fn sink_on_a_closed_channel_hands_the_value_back() {
    for cap in CAPS {
        let ch = chan::<String>(cap);
        let mut tx = ch.sender();
        ch.close();
        let err = SinkExt::send(&mut tx, "v".to_string()).await.unwrap_err();
        assert_eq!(err.into_inner(), "v", "cap {cap}");
    }
}

#[tokio::test]
async fn pending_receiver_stream_dropped_loses_nothing_cap0() {
    // The next receiver comes after the drop.
    let ch = chan::<u32>(0);
    let mut rx = ch.receiver();
    assert!(poll!(rx.next()).is_pending());
    ch.try_send(1)
        .expect("the stream's pending poll is a parked receiver");
    drop(rx);
    assert_eq!(ch.try_recv(), Ok(1), "the value goes to the next receiver");
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));

    // The next receiver is already parked.
    let mut rx = ch.receiver();
    assert!(poll!(rx.next()).is_pending());
    let other = ch.receiver();
    let mut recv = Box::pin(other.recv());
    assert!(poll!(&mut recv).is_pending());
    ch.try_send(2).unwrap();
    drop(rx);
    assert_eq!(recv.await, Some(2));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test]
async fn pending_chan_stream_dropped_loses_nothing_cap0() {
    let ch = chan::<u32>(0);
    let mut ch2 = ch.clone();
    assert!(poll!(ch2.next()).is_pending());
    ch.try_send(1).unwrap();
    drop(ch2);
    assert_eq!(ch.recv().await, Some(1));
}

#[tokio::test]
async fn pending_stream_dropped_after_a_parked_sender_delivered_cap0() {
    let ch = chan::<u32>(0);
    let tx = ch.sender();
    let sender = go(async move { tx.send(5).await });
    let mut rx = ch.receiver();
    // The stream's poll parks; the sender then delivers into that pending
    // receive and its send completes.
    assert!(poll!(rx.next()).is_pending());
    sender.await.unwrap().unwrap();
    drop(rx);
    assert_eq!(
        ch.try_recv(),
        Ok(5),
        "the sender's send completed: its value must not be lost"
    );
}

#[tokio::test]
async fn pending_stream_dropped_loses_nothing_cap4() {
    let ch = chan::<u32>(4);
    let mut rx = ch.receiver();
    assert!(poll!(rx.next()).is_pending());
    ch.try_send(1).unwrap();
    drop(rx);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch.try_recv(), Ok(1));

    let mut ch2 = ch.clone();
    assert!(poll!(ch2.next()).is_pending());
    ch.try_send(2).unwrap();
    drop(ch2);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch.try_recv(), Ok(2));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

/// A stream poll that loses a `select!` leaves the receiver free to use
/// `recv` afterwards; values from one sender must still arrive in order.
#[tokio::test]
async fn losing_stream_poll_then_recv_keeps_fifo() {
    for cap in [4, 0] {
        let ch = chan::<u32>(cap);
        let mut rx = ch.receiver();
        let tx = ch.sender();
        drop(ch);
        tokio::select! {
            biased;
            v = rx.next() => panic!("cap {cap}: nothing was sent, got {v:?}"),
            () = std::future::ready(()) => {}
        }
        let producer = go(async move {
            tx.send(1).await.unwrap();
            tx.send(2).await.unwrap();
        });
        let first = rx.recv().await;
        let second = rx.next().await;
        producer.await.unwrap();
        assert_eq!(
            (first, second),
            (Some(1), Some(2)),
            "cap {cap}: FIFO from one sender, observed by one receiver"
        );
    }
}
