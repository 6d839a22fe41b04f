//! `select!` and `Select`: Go's select semantics.

use std::time::Duration;

use futures::{poll, FutureExt};
use gokio::{after, chan, go, never, select, Chan, Select, Selected, SendError};

#[tokio::test]
async fn recv_ready_case_proceeds() {
    let a = chan::<i32>(1);
    let b = chan::<i32>(1);
    b.send(2).await.unwrap();
    let got = select! {
        recv(&a) -> v => ("a", v),
        recv(&b) -> v => ("b", v),
    };
    assert_eq!(got, ("b", Some(2)));
    assert_eq!(a.len() + b.len(), 0);
}

#[tokio::test]
async fn default_never_waits_and_has_no_effect() {
    let a = chan::<i32>(0);
    let hit = select! {
        recv(&a) -> _ => "recv",
        send(&a, 1) -> _ => "send",
        default => "default",
    };
    assert_eq!(hit, "default");
    assert!(a.try_recv().is_err());
}

#[tokio::test]
async fn default_only_and_empty_default_position() {
    let x = select! { default => 5 };
    assert_eq!(x, 5);
    let a = chan::<i32>(1);
    a.try_send(1).unwrap();
    let v = select! {
        default => None,
        recv(&a) -> v => v,
    };
    assert_eq!(v, Some(1));
}

#[tokio::test]
async fn closed_recv_case_is_ready_with_none() {
    for cap in [0, 1] {
        let a = chan::<i32>(cap);
        a.close();
        let v = select! { recv(&a) -> v => v };
        assert_eq!(v, None, "cap {cap}");
    }
}

#[tokio::test]
async fn closed_send_case_hands_the_value_back() {
    for cap in [0, 1] {
        let a = chan::<String>(cap);
        a.close();
        let r = select! { send(&a, "v".to_string()) -> r => r };
        assert_eq!(r, Err(SendError("v".to_string())), "cap {cap}");
    }
}

#[tokio::test]
async fn nil_cases_are_never_ready() {
    let none: Option<&Chan<i32>> = None;
    let r = select! {
        recv(none) -> _ => "nil recv",
        send(none, 1) -> _ => "nil send",
        recv(never::<i32>()) -> _ => "never",
        default => "default",
    };
    assert_eq!(r, "default");
    let mut waiting = Box::pin(async {
        select! { recv(none) -> _ => () }
    });
    assert!(poll!(&mut waiting).is_pending());
}

#[tokio::test]
async fn empty_select_waits_forever() {
    let mut f = Box::pin(async {
        select! {}
    });
    let r: std::task::Poll<std::convert::Infallible> = poll!(&mut f);
    assert!(r.is_pending());
}

#[tokio::test]
async fn expressions_evaluate_once_in_source_order() {
    let order = std::cell::RefCell::new(Vec::new());
    let a = chan::<i32>(1);
    let note = |tag: &'static str| order.borrow_mut().push(tag);
    let r = select! {
        recv({ note("rx1"); &a }) -> _ => 0,
        send({ note("tx2"); &a }, { note("v2"); 7 }) -> _ => 1,
        recv({ note("rx3"); &a }) -> _ => 2,
    };
    assert_eq!(r, 1, "only the send is ready");
    assert_eq!(*order.borrow(), ["rx1", "tx2", "v2", "rx3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_then_proceeds_at_cap_0() {
    for _ in 0..200 {
        let a = chan::<i32>(0);
        let b = chan::<i32>(0);
        let tx = b.clone();
        let g = go(async move { tx.send(9).await });
        let v = select! {
            recv(&a) -> v => ("a", v),
            recv(&b) -> v => ("b", v),
        };
        assert_eq!(v, ("b", Some(9)));
        assert_eq!(g.await.unwrap(), Ok(()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_case_rendezvous_with_plain_receiver() {
    for i in 0..200 {
        let a = chan::<i32>(0);
        let rx = a.receiver();
        let g = go(async move { rx.recv().await });
        let r = select! {
            send(&a, i) -> r => r,
            recv(after(Duration::from_secs(30))) -> _ => panic!("timeout"),
        };
        assert_eq!(r, Ok(()));
        assert_eq!(g.await.unwrap(), Some(i));
    }
}

#[tokio::test(start_paused = true)]
async fn after_case_times_out() {
    let a = chan::<i32>(0);
    let r = select! {
        recv(&a) -> _ => "value",
        recv(after(Duration::from_millis(50))) -> _ => "timeout",
    };
    assert_eq!(r, "timeout");
}

#[tokio::test]
async fn break_continue_return_and_question_mark_act_outside() {
    async fn f(a: &Chan<i32>) -> Result<i32, SendError<i32>> {
        let mut n = 0;
        loop {
            select! {
                recv(a) -> v => match v {
                    Some(0) => continue,
                    Some(x) => n += x,
                    None => break,
                },
                send(a, -1) -> r => r?,
            }
            if n > 100 {
                return Ok(-n);
            }
        }
        Ok(n)
    }
    let a = chan::<i32>(4);
    for v in [0, 1, 2] {
        a.send(v).await.unwrap();
    }
    a.close();
    // Closed: the send case is ready too and `?` returns its error.
    let r = f(&a).await;
    assert!(r == Ok(3) || r.is_err(), "{r:?}");
}

#[tokio::test]
async fn dropped_waiting_select_has_no_effect() {
    for cap in [0, 1] {
        let a = chan::<i32>(cap);
        let b = chan::<i32>(cap);
        if cap == 1 {
            b.try_send(0).unwrap(); // full: the send case waits
        }
        {
            let mut s = Box::pin(async {
                select! {
                    recv(&a) -> v => Some(v),
                    send(&b, 5) -> _ => None,
                }
            });
            assert!(poll!(&mut s).is_pending());
        }
        // Nothing published remains: a try_send on `a` at cap 0 finds no receiver.
        if cap == 0 {
            assert!(a.try_send(1).unwrap_err().is_full());
            assert!(
                b.try_recv().is_err(),
                "the send case's value was never delivered"
            );
        } else {
            assert_eq!(b.try_recv(), Ok(0));
            assert!(b.try_recv().is_err());
        }
    }
}

#[tokio::test]
async fn dropped_select_gives_back_a_handed_over_value() {
    let a = chan::<i32>(0);
    let mut s = Box::pin(async {
        select! { recv(&a) -> v => v }
    });
    assert!(poll!(&mut s).is_pending());
    a.try_send(3).unwrap(); // handed to the parked select
    drop(s);
    assert_eq!(a.try_recv(), Ok(3));
}

#[tokio::test]
async fn select_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let a = chan::<i32>(1);
    let f = async move {
        select! { recv(&a) -> v => v, send(&a, 1) -> _ => None }
    };
    assert_send(&f);
}

#[tokio::test]
async fn dynamic_select() {
    let chans: Vec<_> = (0..5).map(|_| chan::<u32>(1)).collect();
    chans[3].try_send(30).unwrap();
    let mut sel = Select::new();
    for c in &chans {
        sel = sel.recv(c);
    }
    let got = sel.await;
    assert_eq!(
        got,
        Selected::Recv {
            index: 3,
            value: Some(30)
        }
    );

    let sel = Select::new().recv(&chans[0]).send(&chans[1], 11);
    assert_eq!(
        sel.await,
        Selected::Send {
            index: 1,
            result: Ok(())
        }
    );
    assert_eq!(chans[1].try_recv(), Ok(11));

    assert!(Select::new().recv(&chans[0]).try_select().is_none());
    let nothing: Select<'_, u32> = Select::new();
    assert!(nothing.into_future().now_or_never().is_none());
}

use std::future::IntoFuture;

#[tokio::test]
async fn block_arms_need_no_comma() {
    let a = chan::<i32>(1);
    a.try_send(4).unwrap();
    let mut seen = 0;
    select! {
        send(&a, 1) -> _ => {}
        recv(&a) -> v => { seen = v.unwrap() }
        default => {}
    }
    assert_eq!(
        seen, 4,
        "the channel is full, so only the receive can proceed"
    );
}

#[tokio::test]
async fn block_arms_may_have_commas() {
    let a = chan::<i32>(1);
    a.try_send(4).unwrap();
    let mut seen = 0;
    select! {
        send(&a, 1) -> _ => {},
        recv(&a) -> v => { seen = v.unwrap() },
        default => {},
    }
    assert_eq!(seen, 4);
}

#[tokio::test]
async fn select_over_more_cases_than_a_u16_indexes() {
    let ready = chan::<i32>(1);
    ready.try_send(7).unwrap();
    let mut sel = Select::new();
    for _ in 0..70_000 {
        sel = sel.recv(None::<&Chan<i32>>);
    }
    let sel = sel.recv(&ready);
    assert_eq!(
        sel.try_select(),
        Some(Selected::Recv {
            index: 70_000,
            value: Some(7)
        })
    );
}

#[tokio::test]
async fn temporaries_live_through_the_select() {
    let r = select! { send(&chan::<i32>(1), 5) -> r => r };
    assert_eq!(r, Ok(()));
    let v = select! { recv(&{ let c = chan::<i32>(1); c.try_send(3).unwrap(); c }) -> v => v };
    assert_eq!(v, Some(3));
}
