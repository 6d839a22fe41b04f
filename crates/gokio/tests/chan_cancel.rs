//! Cancel safety at capacities 0, 1 and 16: a dropped `recv` never consumes
//! a value, a dropped `send` never delivers its value afterwards, so both
//! can sit in `tokio::select!` and `tokio::time::timeout`.
//!
//! The tests run on one thread with Tokio's clock paused, so time moves only
//! when every task waits; a lost wake-up then fails a guarding timeout
//! instead of hanging the test.

use std::sync::Arc;
use std::time::Duration;

use futures::poll;
use gokio::{chan, go, Goroutine, TryRecvError};
use tokio::time::timeout;

const CAPS: [usize; 3] = [0, 1, 16];
const TEN_MS: Duration = Duration::from_millis(10);

/// Lets every other task of this one-thread runtime run until it waits.
async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

/// Awaits a goroutine, failing (after an hour of paused time, that is at
/// once) if it never finishes: a lost wake-up.
async fn join<T>(g: Goroutine<T>, what: &str) -> T {
    match timeout(Duration::from_secs(3600), g).await {
        Ok(res) => res.unwrap(),
        Err(_) => panic!("{what}: the goroutine was never woken"),
    }
}

#[tokio::test(start_paused = true)]
async fn recv_dropped_by_timeout_consumes_nothing() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        assert!(timeout(TEN_MS, ch.recv()).await.is_err(), "cap {cap}");
        if cap == 0 {
            assert!(
                ch.try_send(1).unwrap_err().is_full(),
                "cap 0: the timed-out receive must not still be parked"
            );
        } else {
            ch.try_send(1).unwrap();
            assert_eq!(ch.len(), 1);
            assert_eq!(ch.try_recv(), Ok(1), "cap {cap}");
        }

        // The receive times out while a value waits to be received by
        // someone else (cap 0: a parked sender; it is not polled meanwhile).
        if cap == 0 {
            let mut send = Box::pin(ch.send(9));
            assert!(poll!(&mut send).is_pending());
            assert!(timeout(TEN_MS, ch.recv()).await.is_err());
            assert_eq!(ch.try_recv(), Ok(9), "the parked sender's value is intact");
            assert_eq!(poll!(&mut send), std::task::Poll::Ready(Ok(())));
        }

        // Woken by a send, then dropped before it could return the value.
        let mut recv = Box::pin(timeout(TEN_MS, ch.recv()));
        assert!(poll!(&mut recv).is_pending());
        ch.try_send(2).unwrap();
        tokio::time::advance(TEN_MS).await;
        drop(recv);
        assert_eq!(ch.try_recv(), Ok(2), "cap {cap}: the value must remain");
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
    }
}

#[tokio::test(start_paused = true)]
async fn woken_recv_dropped_passes_the_wake_on() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        let mut first = Box::pin(ch.recv());
        assert!(poll!(&mut first).is_pending());
        let rx = ch.receiver();
        let second = go(async move { rx.recv().await });
        settle().await; // `second` waits behind `first`
        ch.try_send(1).unwrap(); // wakes `first` (cap 0: hands it the value)
        drop(first);
        assert_eq!(join(second, &format!("cap {cap}")).await, Some(1));
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
    }
}

#[tokio::test(start_paused = true)]
async fn send_dropped_never_delivers() {
    for cap in CAPS {
        let ch = chan::<Arc<u32>>(cap);
        for i in 0..cap as u32 {
            ch.try_send(Arc::new(i)).unwrap();
        }
        let v = Arc::new(100);
        let mut send = Box::pin(ch.send(Arc::clone(&v)));
        assert!(poll!(&mut send).is_pending(), "cap {cap}");
        drop(send);
        assert_eq!(Arc::strong_count(&v), 1, "cap {cap}: the value went away");
        for i in 0..cap as u32 {
            assert_eq!(*ch.try_recv().unwrap(), i);
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
        assert!(timeout(TEN_MS, ch.recv()).await.is_err(), "cap {cap}");

        // Through a timeout.
        for i in 0..cap as u32 {
            ch.try_send(Arc::new(i)).unwrap();
        }
        assert!(timeout(TEN_MS, ch.send(Arc::clone(&v))).await.is_err());
        assert_eq!(Arc::strong_count(&v), 1, "cap {cap}");
        assert_eq!(ch.len(), cap);
        while ch.try_recv().is_ok() {}
    }
}

#[tokio::test(start_paused = true)]
async fn send_woken_then_dropped_never_delivers() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        for i in 0..cap as u32 {
            ch.try_send(i).unwrap();
        }
        let mut send = Box::pin(ch.send(100));
        assert!(poll!(&mut send).is_pending());
        // Make the send able to proceed, but drop it before it is polled.
        let mut recv = Box::pin(ch.recv());
        if cap == 0 {
            // A receiver parks and hands the baton to the parked sender.
            assert!(poll!(&mut recv).is_pending());
        } else {
            assert_eq!(poll!(&mut recv), std::task::Poll::Ready(Some(0)));
        }
        drop(send);
        if cap == 0 {
            assert!(
                poll!(&mut recv).is_pending(),
                "the dropped send never delivers"
            );
            ch.try_send(7).unwrap();
            assert_eq!(recv.await, Some(7));
        } else {
            drop(recv);
            assert_eq!(ch.len(), cap - 1, "cap {cap}");
            for i in 1..cap as u32 {
                assert_eq!(ch.try_recv(), Ok(i));
            }
            assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn woken_send_dropped_passes_the_wake_on() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        for i in 0..cap as u32 {
            ch.try_send(i).unwrap();
        }
        let mut first = Box::pin(ch.send(100));
        assert!(poll!(&mut first).is_pending());
        let tx = ch.sender();
        let second = go(async move { tx.send(101).await });
        settle().await; // `second` waits behind `first`
        let receiver = if cap == 0 {
            // A waiting receive wakes the front sender (`first`) to deliver.
            let rx = ch.receiver();
            let r = go(async move { rx.recv().await });
            settle().await;
            Some(r)
        } else {
            // Room for one: wakes `first`.
            assert_eq!(ch.try_recv(), Ok(0));
            None
        };
        drop(first);
        join(second, &format!("cap {cap}")).await.unwrap();
        if let Some(r) = receiver {
            assert_eq!(join(r, "cap 0 receiver").await, Some(101));
        } else {
            for i in 1..cap as u32 {
                assert_eq!(ch.try_recv(), Ok(i));
            }
            assert_eq!(ch.try_recv(), Ok(101), "cap {cap}");
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
    }
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_cancel_safe() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        // A dropped recv_timeout consumes nothing.
        let mut recv = Box::pin(ch.recv_timeout(Duration::from_secs(3600)));
        assert!(poll!(&mut recv).is_pending());
        ch.try_send(1).unwrap();
        drop(recv);
        assert_eq!(ch.try_recv(), Ok(1), "cap {cap}");

        // A dropped send_timeout never delivers.
        for i in 0..cap as u32 {
            ch.try_send(i).unwrap();
        }
        let mut send = Box::pin(ch.send_timeout(100, Duration::from_secs(3600)));
        assert!(poll!(&mut send).is_pending());
        drop(send);
        for i in 0..cap as u32 {
            assert_eq!(ch.try_recv(), Ok(i));
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
        assert!(timeout(TEN_MS, ch.recv()).await.is_err(), "cap {cap}");
    }
}

#[tokio::test(start_paused = true)]
async fn select_with_a_losing_recv_branch_consumes_nothing() {
    for cap in CAPS {
        let ch = chan::<u32>(cap);
        // Cap 0: a parked sender whose value the losing receive must not take.
        let mut send = Box::pin(ch.send(1));
        let parked = poll!(&mut send).is_pending();
        assert_eq!(parked, cap == 0, "cap {cap}");
        if cap > 0 {
            drop(send);
            // Empty again, so the receive below waits and loses.
            assert_eq!(ch.try_recv(), Ok(1));
            send = Box::pin(ch.send(1));
        }
        tokio::select! {
            biased;
            v = ch.recv() => panic!("cap {cap}: the receive had nothing to take, got {v:?}"),
            () = std::future::ready(()) => {}
        }
        if cap == 0 {
            assert_eq!(ch.try_recv(), Ok(1), "the parked sender's value is intact");
            assert_eq!(poll!(&mut send), std::task::Poll::Ready(Ok(())));
        } else {
            assert_eq!(ch.len(), 0);
            send.await.unwrap();
            assert_eq!(ch.try_recv(), Ok(1), "cap {cap}");
        }

        // A receive that loses to a timer.
        tokio::select! {
            v = ch.recv() => panic!("cap {cap}: got {v:?}"),
            () = tokio::time::sleep(TEN_MS) => {}
        }
        if cap == 0 {
            assert!(ch.try_send(2).unwrap_err().is_full(), "nothing parked");
        } else {
            ch.try_send(2).unwrap();
            assert_eq!(ch.try_recv(), Ok(2));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn select_over_two_ready_channels_takes_exactly_one() {
    for cap in CAPS {
        let (a, b) = (chan::<u32>(cap), chan::<u32>(cap));
        let mut got = Vec::new();
        for round in 0..50u32 {
            let (ta, tb) = (a.sender(), b.sender());
            let sa = go(async move { ta.send(2 * round).await });
            let sb = go(async move { tb.send(2 * round + 1).await });
            settle().await;
            let (won, loser) = tokio::select! {
                v = a.recv() => (v, &b),
                v = b.recv() => (v, &a),
            };
            got.push(won.unwrap());
            // The losing branch consumed nothing: its value is still there
            // (cap 0: given back if it had been handed over already).
            let other = timeout(Duration::from_secs(3600), loser.recv()).await;
            got.push(other.expect("the loser's value was lost").unwrap());
            join(sa, "sender a").await.unwrap();
            join(sb, "sender b").await.unwrap();
            assert_eq!(a.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
            assert_eq!(b.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
        }
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>(), "cap {cap}");
    }
}

#[tokio::test(start_paused = true)]
async fn cap0_value_handed_to_a_dropped_receive_goes_to_the_next_receiver() {
    let ch = chan::<u32>(0);

    // Dropped by its timeout's owner; the next receiver comes later.
    let mut recv = Box::pin(timeout(TEN_MS, ch.recv()));
    assert!(poll!(&mut recv).is_pending());
    ch.try_send(7).expect("a receiver is parked");
    drop(recv);
    assert_eq!(ch.recv().await, Some(7));

    // The next receiver is already parked (behind the dropped one).
    let mut recv = Box::pin(timeout(TEN_MS, ch.recv()));
    assert!(poll!(&mut recv).is_pending());
    let rx = ch.receiver();
    let next = go(async move { rx.recv().await });
    settle().await;
    ch.try_send(8).unwrap(); // to the front receiver: `recv`
    drop(recv);
    assert_eq!(join(next, "next receiver").await, Some(8));

    // Inside a `select!` whose other branch wins after the handoff.
    let (gate_tx, mut gate_rx) = tokio::sync::oneshot::channel::<()>();
    let mut sel = Box::pin(async {
        tokio::select! {
            biased;
            _ = &mut gate_rx => None,
            v = ch.recv() => v,
        }
    });
    assert!(poll!(&mut sel).is_pending());
    ch.try_send(9).unwrap(); // handed to the select's receive
    gate_tx.send(()).unwrap();
    assert_eq!(sel.await, None, "the gate branch wins");
    assert_eq!(ch.try_recv(), Ok(9), "the value went back to the channel");
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

/// A timeout that has already run out still takes what is ready now, as
/// `try_recv`/`try_send` would (cap >= 1: a buffered value or room; cap 0: a
/// parked counterpart). A zero timeout is Go's `select` with `default`.
#[tokio::test(start_paused = true)]
async fn zero_timeouts_take_what_is_ready_now() {
    // Cap 0 last, so the buffered flavors are checked too when it fails.
    for cap in [1, 16, 0] {
        let ch = chan::<u32>(cap);
        // A receive with a value ready: buffered, or a parked sender's.
        let tx = ch.sender();
        let sender = go(async move { tx.send(1).await });
        settle().await; // cap 0: the sender is parked; else: 1 is buffered
        assert_eq!(
            ch.recv_timeout(Duration::ZERO).await,
            Ok(1),
            "cap {cap}: a value was ready"
        );
        join(sender, "sender").await.unwrap();

        // A send with room ready: buffer room, or a parked receiver.
        let mut recv = Box::pin(ch.recv());
        assert!(poll!(&mut recv).is_pending());
        assert_eq!(
            ch.send_timeout(2, Duration::ZERO).await,
            Ok(()),
            "cap {cap}: a receiver was ready"
        );
        assert_eq!(recv.await, Some(2));
    }
}
