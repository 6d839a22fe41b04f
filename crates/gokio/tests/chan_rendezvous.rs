//! Capacity 0: Go's unbuffered channel is a rendezvous.

use std::sync::{Arc, Mutex};

use futures::{poll, FutureExt};
use gokio::{chan, go, SendError, TryRecvError, TrySendError};

#[tokio::test]
async fn send_waits_until_a_receiver_takes_the_value() {
    let ch = chan::<i32>(0);
    let mut send = Box::pin(ch.send(1));
    assert!(
        poll!(&mut send).is_pending(),
        "no receiver: the send must wait"
    );
    assert!(poll!(&mut send).is_pending());
    assert_eq!(ch.len(), 0);
    assert_eq!(
        ch.try_recv(),
        Ok(1),
        "the parked sender pairs with a receiver"
    );
    assert_eq!(poll!(&mut send), std::task::Poll::Ready(Ok(())));
}

#[tokio::test]
async fn recv_waits_until_a_sender_comes() {
    let ch = chan::<&str>(0);
    let mut recv = Box::pin(ch.recv());
    assert!(poll!(&mut recv).is_pending());
    ch.try_send("hi")
        .expect("a receiver is parked, so try_send pairs");
    assert_eq!(recv.await, Some("hi"));
}

#[tokio::test]
async fn try_ops_need_a_parked_counterpart() {
    let ch = chan::<i32>(0);
    assert!(matches!(ch.try_send(1), Err(TrySendError::Full(1))));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

/// The seed's handoff: the receiver prints "ready to read" before the
/// sender's "written", because the send completes only at the rendezvous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_handoff_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let ch = chan::<i32>(0);
    let (tx, lg) = (ch.sender(), log.clone());
    let sender = go(async move {
        tx.send(42).await.unwrap();
        lg.lock().unwrap().push("written".to_string());
    });
    // Wait until the sender is parked, without a sleep: the rendezvous
    // itself orders the log.
    log.lock().unwrap().push("ready to read".to_string());
    let v = ch.recv().await.unwrap();
    sender.await.unwrap();
    log.lock().unwrap().push(format!("read {v}"));
    let log = log.lock().unwrap().clone();
    assert_eq!(log[0], "ready to read");
    assert!(log.contains(&"written".to_string()));
    assert_eq!(log.last().unwrap(), "read 42");
}

#[tokio::test]
async fn dropped_send_never_delivers() {
    let ch = chan::<i32>(0);
    let mut send = Box::pin(ch.send(7));
    assert!(poll!(&mut send).is_pending());
    drop(send);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test]
async fn dropped_recv_gives_a_handed_over_value_back() {
    let ch = chan::<i32>(0);
    let mut recv = Box::pin(ch.recv());
    assert!(poll!(&mut recv).is_pending());
    // The sender completes by handing 5 to the parked receive ...
    ch.try_send(5).unwrap();
    // ... which is dropped before it returns the value.
    drop(recv);
    assert_eq!(
        ch.try_recv(),
        Ok(5),
        "the value must go to the next receiver"
    );
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test]
async fn given_back_value_goes_to_a_parked_receiver() {
    let ch = chan::<i32>(0);
    let mut first = Box::pin(ch.recv());
    assert!(poll!(&mut first).is_pending());
    ch.try_send(1).unwrap(); // handed to `first`
    let mut second = Box::pin(ch.recv());
    assert!(poll!(&mut second).is_pending());
    drop(first);
    assert_eq!(second.await, Some(1));
}

#[tokio::test]
async fn close_hands_parked_senders_their_values_back() {
    let ch = chan::<String>(0);
    let mut send = Box::pin(ch.send("v".to_string()));
    assert!(poll!(&mut send).is_pending());
    ch.close();
    assert_eq!(send.await, Err(SendError("v".to_string())));
}

#[tokio::test]
async fn close_wakes_parked_receivers_with_none() {
    let ch = chan::<i32>(0);
    let mut a = Box::pin(ch.recv());
    let mut b = Box::pin(ch.recv_ok());
    assert!(poll!(&mut a).is_pending());
    assert!(poll!(&mut b).is_pending());
    ch.close();
    assert_eq!(a.await, None);
    assert_eq!(b.await, (0, false));
    assert!(ch.try_send(1).unwrap_err().is_closed());
}

#[tokio::test]
async fn closed_value_given_back_is_still_drained() {
    let ch = chan::<i32>(0);
    let mut recv = Box::pin(ch.recv());
    assert!(poll!(&mut recv).is_pending());
    ch.try_send(3).unwrap();
    drop(recv);
    ch.close();
    assert_eq!(
        ch.recv().await,
        Some(3),
        "a value given back is drained before None"
    );
    assert_eq!(ch.recv().await, None);
}

#[tokio::test]
async fn last_receiver_gone_fails_parked_and_new_sends() {
    let ch = chan::<i32>(0);
    let tx = ch.sender();
    let mut send = Box::pin(tx.send(1));
    assert!(poll!(&mut send).is_pending());
    drop(ch); // the only receive-capable handle
    assert_eq!(send.await, Err(SendError(1)));
    assert_eq!(tx.send(2).now_or_never(), Some(Err(SendError(2))));
    assert!(
        !tx.is_closed(),
        "nobody closed it; sends fail because nobody can receive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_threads_rendezvous() {
    let ch = chan::<u32>(0);
    let rx = ch.receiver();
    let t = std::thread::spawn(move || (0..100).map(|_| rx.recv_blocking().unwrap()).sum::<u32>());
    for i in 0..100 {
        ch.send(i).await.unwrap();
    }
    assert_eq!(t.join().unwrap(), (0..100).sum());
}

mod regressions {
    //! Found by the model checker (`chan_rendezvous_model.rs`) and the review.

    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use futures::task::{waker, ArcWake};
    use futures::FutureExt;

    /// A waker that counts its wake-ups.
    struct Probe(Arc<Count>, Waker);
    struct Count(AtomicUsize);
    impl ArcWake for Count {
        fn wake_by_ref(c: &Arc<Self>) {
            c.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    impl Probe {
        fn new() -> Self {
            let count = Arc::new(Count(AtomicUsize::new(0)));
            Probe(count.clone(), waker(count))
        }
        fn woken(&self) -> usize {
            self.0 .0.load(Ordering::SeqCst)
        }
        fn poll<F: Future + ?Sized>(&self, f: Pin<&mut F>) -> Poll<F::Output> {
            f.poll(&mut Context::from_waker(&self.1))
        }
    }

    /// A non-blocking receive that takes the baton holder's value must pass
    /// the baton on, or a parked receiver and the next parked sender hang.
    #[tokio::test]
    async fn try_recv_passes_the_baton_on() {
        let ch = gokio::chan::<i32>(0);
        let (p0, p1, pr) = (Probe::new(), Probe::new(), Probe::new());
        let mut s0 = Box::pin(ch.send(0));
        let mut s1 = Box::pin(ch.send(1));
        let mut r = Box::pin(ch.recv());
        assert!(p0.poll(s0.as_mut()).is_pending());
        assert!(p1.poll(s1.as_mut()).is_pending());
        assert!(pr.poll(r.as_mut()).is_pending()); // the baton goes to s0
        assert_eq!(p0.woken(), 1);
        assert_eq!(ch.try_recv(), Ok(0)); // takes s0's value directly
        assert!(matches!(p0.poll(s0.as_mut()), Poll::Ready(Ok(()))));
        assert_eq!(p1.woken(), 1, "s1 must now hold the baton");
        assert!(p1.poll(s1.as_mut()).is_ready());
        assert_eq!(r.await, Some(1));
    }

    /// The same through `recv_timeout`, which takes what is ready at its
    /// deadline.
    #[tokio::test(start_paused = true)]
    async fn recv_timeout_passes_the_baton_on() {
        let ch = gokio::chan::<i32>(0);
        let (p0, p1, pr, pt) = (Probe::new(), Probe::new(), Probe::new(), Probe::new());
        let mut s0 = Box::pin(ch.send(0));
        let mut s1 = Box::pin(ch.send(1));
        assert!(p0.poll(s0.as_mut()).is_pending());
        assert!(p1.poll(s1.as_mut()).is_pending());
        let mut r = Box::pin(ch.recv());
        assert!(pr.poll(r.as_mut()).is_pending());
        let mut rt = Box::pin(ch.recv_timeout(Duration::from_millis(10)));
        assert!(pt.poll(rt.as_mut()).is_pending());
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(pt.poll(rt.as_mut()), Poll::Ready(Ok(0)));
        assert!(matches!(p0.poll(s0.as_mut()), Poll::Ready(Ok(()))));
        assert_eq!(p1.woken(), 1, "s1 must now hold the baton");
        assert!(p1.poll(s1.as_mut()).is_ready());
        assert_eq!(r.await, Some(1));
    }

    /// A value handed to a receive that is dropped after `close` still
    /// reaches a receiver: the channel is not drained while it is in flight.
    #[tokio::test]
    async fn close_waits_for_a_value_in_flight() {
        let ch = gokio::chan::<i32>(0);
        let p = Probe::new();
        let mut r1 = Box::pin(ch.recv());
        assert!(p.poll(r1.as_mut()).is_pending());
        ch.try_send(7).expect("r1 is parked");
        ch.close();
        assert_eq!(
            ch.try_recv(),
            Err(gokio::TryRecvError::Empty),
            "7 is in flight"
        );
        let mut r2 = Box::pin(ch.recv());
        assert!(
            r2.as_mut().now_or_never().is_none(),
            "not drained yet: r2 waits"
        );
        drop(r1); // e.g. the losing branch of a select!: 7 comes back
        assert_eq!(r2.await, Some(7));
        assert_eq!(ch.recv().await, None);
    }

    /// Once the value in flight is returned by its receive, waiting
    /// receivers learn that the channel is closed and drained.
    #[tokio::test]
    async fn close_completes_waiting_receivers_once_drained() {
        let ch = gokio::chan::<i32>(0);
        let p = Probe::new();
        let mut r1 = Box::pin(ch.recv());
        assert!(p.poll(r1.as_mut()).is_pending());
        ch.try_send(7).unwrap();
        ch.close();
        let mut r2 = Box::pin(ch.recv());
        assert!(r2.as_mut().now_or_never().is_none());
        assert_eq!(r1.await, Some(7));
        assert_eq!(r2.await, None);
    }
}
