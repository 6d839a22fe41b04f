//! `ErrGroup`: Go's errgroup semantics, the limit, the token, the panic
//! policy and goroutine hygiene. Ordering comes from gate channels and the
//! group's own token, never from sleeps.

use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use futures::{poll, FutureExt};
use gokio::{chan, TryRecvError};
use gokio_patterns::ErrGroup;

/// The text of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        panic!("unexpected panic payload")
    }
}

#[gokio::test]
async fn first_error_wins() {
    let (g, token) = ErrGroup::with_cancel();
    let gates: Vec<_> = (0..3).map(|_| chan::<()>(0)).collect();
    for (name, gate) in ["a", "b", "c"].into_iter().zip(&gates) {
        let gate = gate.clone();
        g.go(async move {
            gate.recv().await;
            Err(name)
        })
        .await;
    }
    // "b" fails first: its failure is recorded once the token is cancelled.
    gates[1].send(()).await.unwrap();
    token.cancelled().await;
    gates[0].send(()).await.unwrap();
    gates[2].send(()).await.unwrap();
    assert_eq!(g.wait().await, Err("b"));
}

#[gokio::test]
async fn only_the_first_error_is_kept_and_handed_out_once() {
    let (g, token) = ErrGroup::with_cancel();
    g.go(async { Err(1) }).await;
    token.cancelled().await;
    let t = token.clone();
    g.go(async move {
        t.cancelled().await;
        Err(2)
    })
    .await;
    assert_eq!(g.wait().await, Err(1));
    // Go would return the same error again; here it was moved out, and the
    // second error was never recorded.
    assert_eq!(g.wait().await, Ok(()));
}

#[gokio::test]
async fn all_succeed_returns_ok() {
    let g = ErrGroup::<String>::new();
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..20 {
        let count = count.clone();
        g.go(async move {
            count.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .await;
    }
    assert_eq!(g.wait().await, Ok(()));
    assert_eq!(count.load(Ordering::Relaxed), 20);
}

#[gokio::test]
async fn wait_with_no_tasks_returns_at_once() {
    let g = ErrGroup::<()>::new();
    let wait = pin!(g.wait());
    assert_eq!(poll!(wait), std::task::Poll::Ready(Ok(())));
    let g = ErrGroup::<()>::default();
    assert_eq!(g.wait().now_or_never(), Some(Ok(())));
}

#[gokio::test]
async fn with_cancel_cancels_on_first_error_and_others_stop() {
    let (g, token) = ErrGroup::with_cancel();
    let stopped = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        let (t, stopped) = (token.clone(), stopped.clone());
        g.go(async move {
            t.cancelled().await;
            stopped.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .await;
    }
    assert!(!token.is_cancelled());
    g.go(async { Err("failed") }).await;
    assert_eq!(g.wait().await, Err("failed"));
    assert!(token.is_cancelled());
    assert_eq!(stopped.load(Ordering::Relaxed), 5);
}

#[gokio::test]
async fn with_cancel_cancels_when_wait_returns_ok() {
    let (g, token) = ErrGroup::<()>::with_cancel();
    let gate = chan::<()>(0);
    let rx = gate.clone();
    let t = token.clone();
    g.go(async move {
        rx.recv().await;
        // Success does not cancel: only failures and wait do.
        assert!(!t.is_cancelled());
        Ok(())
    })
    .await;
    gate.send(()).await.unwrap();
    assert_eq!(g.wait().await, Ok(()));
    assert!(token.is_cancelled());
}

#[gokio::test]
async fn limit_is_never_exceeded() {
    const TASKS: usize = 100;
    const LIMIT: usize = 3;
    let g = ErrGroup::<()>::new();
    g.set_limit(LIMIT);
    let active = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let started = chan::<()>(TASKS);
    let gate = chan::<()>(0);

    let producer = {
        let (g, active, max, started, gate) = (
            g.clone(),
            active.clone(),
            max.clone(),
            started.clone(),
            gate.clone(),
        );
        gokio::go(async move {
            for _ in 0..TASKS {
                let (active, max, started, gate) =
                    (active.clone(), max.clone(), started.clone(), gate.clone());
                g.go(async move {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    started.send(()).await.unwrap();
                    gate.recv().await;
                    active.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                })
                .await;
            }
        })
    };

    // The first LIMIT tasks start and block on the gate: concurrency is at
    // the limit, and nothing else can start.
    for _ in 0..LIMIT {
        started.recv().await.unwrap();
    }
    assert_eq!(active.load(Ordering::SeqCst), LIMIT);
    assert!(!g.try_go(async { Ok(()) }), "try_go must refuse when full");
    // Each release lets exactly one more task start.
    for _ in LIMIT..TASKS {
        gate.send(()).await.unwrap();
        started.recv().await.unwrap();
        assert!(active.load(Ordering::SeqCst) <= LIMIT);
    }
    assert_eq!(started.try_recv(), Err(TryRecvError::Empty));
    for _ in 0..LIMIT {
        gate.send(()).await.unwrap();
    }
    producer.await.unwrap();
    assert_eq!(g.wait().await, Ok(()));
    assert_eq!(max.load(Ordering::SeqCst), LIMIT);
    assert_eq!(active.load(Ordering::SeqCst), 0);
}

#[gokio::test]
async fn try_go_is_false_when_full_and_true_when_a_slot_is_free() {
    let g = ErrGroup::<()>::new();
    g.set_limit(1);
    let gate = chan::<()>(0);
    let rx = gate.clone();
    assert!(g.try_go(async move {
        rx.recv().await;
        Ok(())
    }));
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    assert!(!g.try_go(async move {
        r.store(true, Ordering::SeqCst);
        Ok(())
    }));
    gate.send(()).await.unwrap();
    g.wait().await.unwrap();
    // The refused future was dropped, never run.
    assert!(!ran.load(Ordering::SeqCst));
    let r = ran.clone();
    assert!(g.try_go(async move {
        r.store(true, Ordering::SeqCst);
        Ok(())
    }));
    g.wait().await.unwrap();
    assert!(ran.load(Ordering::SeqCst));
}

#[gokio::test]
async fn go_waits_for_a_free_slot() {
    let g = ErrGroup::<()>::new();
    g.set_limit(1);
    let gate = chan::<()>(0);
    let rx = gate.clone();
    g.go(async move {
        rx.recv().await;
        Ok(())
    })
    .await;
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let mut second = pin!(g.go(async move {
        r.store(true, Ordering::SeqCst);
        Ok(())
    }));
    assert!(poll!(second.as_mut()).is_pending());
    gate.send(()).await.unwrap();
    second.await;
    g.wait().await.unwrap();
    assert!(ran.load(Ordering::SeqCst));
}

#[gokio::test]
async fn limit_zero_starts_nothing_and_a_dropped_go_leaves_the_group_unchanged() {
    let g = ErrGroup::<()>::new();
    g.set_limit(0);
    assert!(!g.try_go(async { Ok(()) }));
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    {
        let mut go = pin!(g.go(async move {
            r.store(true, Ordering::SeqCst);
            Ok(())
        }));
        assert!(poll!(go.as_mut()).is_pending());
        // Dropped while waiting for a slot.
    }
    assert_eq!(g.wait().await, Ok(()));
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(
        format!("{g:?}"),
        "ErrGroup { active: 0, limit: Some(0), failed: false, cancel: false }"
    );
}

#[gokio::test]
async fn set_limit_while_tasks_are_active_panics() {
    let g = ErrGroup::<()>::new();
    let gate = chan::<()>(0);
    for _ in 0..2 {
        let rx = gate.clone();
        g.go(async move {
            rx.recv().await;
            Ok(())
        })
        .await;
    }
    let payload = std::panic::catch_unwind(AssertUnwindSafe(|| g.set_limit(4))).unwrap_err();
    assert_eq!(
        message(&*payload),
        "errgroup: modify limit while 2 goroutines in the group are still active"
    );
    let payload = std::panic::catch_unwind(AssertUnwindSafe(|| g.remove_limit())).unwrap_err();
    assert_eq!(
        message(&*payload),
        "errgroup: modify limit while 2 goroutines in the group are still active"
    );
    gate.send(()).await.unwrap();
    gate.send(()).await.unwrap();
    g.wait().await.unwrap();
    // Once no task is active the limit may change.
    g.set_limit(4);
    g.remove_limit();
}

#[test]
#[should_panic(
    expected = "errgroup: modify limit while 1 goroutines in the group are still active"
)]
fn set_limit_while_a_limited_task_is_active_panics() {
    gokio::run(async {
        let g = ErrGroup::<()>::new();
        g.set_limit(2);
        g.go(std::future::pending()).await;
        g.set_limit(3);
    });
}

#[gokio::test]
async fn a_panicking_task_is_resumed_by_wait_after_the_others_finish() {
    let baseline = gokio::num_goroutine();
    let (g, token) = ErrGroup::<&str>::with_cancel();
    g.set_limit(3);
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let (t, finished) = (token.clone(), finished.clone());
        g.go(async move {
            t.cancelled().await;
            finished.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
    }
    g.go(async { panic!("boom") }).await;
    let payload = AssertUnwindSafe(g.wait()).catch_unwind().await.unwrap_err();
    assert_eq!(message(&*payload), "boom");
    assert!(token.is_cancelled());
    assert_eq!(finished.load(Ordering::SeqCst), 2);
    assert_eq!(gokio::num_goroutine(), baseline);
    // Every slot is free again, and the limit may change.
    g.set_limit(1);
    assert!(g.try_go(async { Ok(()) }));
    assert_eq!(g.wait().await, Ok(()));
}

#[gokio::test]
async fn a_panic_after_an_error_is_logged_and_the_error_returned() {
    let (g, token) = ErrGroup::with_cancel();
    let t = token.clone();
    g.go(async move {
        t.cancelled().await;
        panic!("late panic")
    })
    .await;
    g.go(async { Err("first") }).await;
    assert_eq!(g.wait().await, Err("first"));
}

#[gokio::test]
async fn an_error_after_a_panic_is_dropped_and_the_panic_resumed() {
    let (g, token) = ErrGroup::with_cancel();
    let t = token.clone();
    g.go(async move {
        t.cancelled().await;
        Err("late error")
    })
    .await;
    g.go(async { panic!("first panic") }).await;
    let payload = AssertUnwindSafe(g.wait()).catch_unwind().await.unwrap_err();
    assert_eq!(message(&*payload), "first panic");
    assert_eq!(g.wait().await, Ok(()));
}

#[gokio::test]
async fn clones_share_the_group() {
    let g = ErrGroup::<&str>::new();
    let count = Arc::new(AtomicUsize::new(0));
    let clone = g.clone();
    let c = count.clone();
    clone
        .go(async move {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
    // A task starts another task through its own clone of the group.
    let inner = g.clone();
    let c = count.clone();
    g.go(async move {
        let c2 = c.clone();
        inner
            .go(async move {
                c2.fetch_add(1, Ordering::SeqCst);
                Err("nested")
            })
            .await;
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .await;
    assert_eq!(g.wait().await, Err("nested"));
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[gokio::test]
async fn no_goroutine_leaks_after_wait() {
    let baseline = gokio::num_goroutine();
    let g = ErrGroup::<usize>::new();
    g.set_limit(4);
    for i in 0..200 {
        g.go(async move {
            gokio::gosched().await;
            if i % 7 == 3 {
                Err(i)
            } else {
                Ok(())
            }
        })
        .await;
    }
    assert!(g.wait().await.is_err());
    assert_eq!(gokio::num_goroutine(), baseline);
    assert_eq!(
        format!("{g:?}"),
        "ErrGroup { active: 0, limit: Some(4), failed: true, cancel: false }"
    );
}

#[gokio::test]
async fn a_limit_set_after_making_go_futures_applies_to_them() {
    // Regression: `go` read the limit when called, not when first polled,
    // so futures made before `set_limit` ignored it.
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let g = ErrGroup::<()>::new();
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gate = gokio::chan::<()>(0);
    let futures: Vec<_> = (0..5)
        .map(|_| {
            let (active, peak, gate) = (Arc::clone(&active), Arc::clone(&peak), gate.receiver());
            g.go(async move {
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                gate.recv().await;
                active.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        })
        .collect();
    g.set_limit(1);
    let start_all = async {
        for f in futures {
            f.await;
        }
    };
    let release_all = async {
        for _ in 0..5 {
            gate.send(()).await.unwrap();
        }
    };
    futures::future::join(start_all, release_all).await;
    g.wait().await.unwrap();
    assert_eq!(peak.load(Ordering::SeqCst), 1);
}
