//! Tests for `gokio::WaitGroup`: counting, waking, `go`, `wait_blocking`.
//!
//! Outcomes never depend on sleeps: `futures::poll!` and `now_or_never`
//! prove a future is still pending, channels and barriers order events, and
//! timeouts only turn a hang into a failure.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use futures::{poll, FutureExt};
use gokio::WaitGroup;
use tokio::sync::{oneshot, Barrier};

/// Fails the test instead of hanging if `fut` does not finish in time. The
/// limit is generous: it only catches lost wake-ups, it never decides a pass.
async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(30), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within 30s (lost wake-up?)"),
    }
}

/// How many rounds the stress tests run: `GOKIO_STRESS=<n>` multiplies them.
fn stress_factor() -> usize {
    std::env::var("GOKIO_STRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

#[test]
fn wait_is_ready_at_once_when_zero() {
    let wg = WaitGroup::new();
    assert_eq!(wg.wait().now_or_never(), Some(()));
    wg.add(1);
    wg.done();
    assert_eq!(wg.wait().now_or_never(), Some(()));
}

#[tokio::test]
async fn wait_stays_pending_while_count_positive() {
    let wg = WaitGroup::new();
    wg.add(2);
    let mut wait = pin!(wg.wait());
    assert!(poll!(wait.as_mut()).is_pending());
    wg.done();
    assert!(poll!(wait.as_mut()).is_pending());
    assert_eq!(wg.count(), 1);
    wg.done();
    assert!(poll!(wait.as_mut()).is_ready());
}

#[test]
fn wait_is_pending_without_a_runtime_too() {
    let wg = WaitGroup::new();
    wg.add(1);
    assert_eq!(wg.wait().now_or_never(), None);
}

#[tokio::test]
async fn every_pending_waiter_is_released_at_zero() {
    let wg = WaitGroup::new();
    wg.add(3);
    let mut waiters: Vec<_> = (0..16).map(|_| Box::pin(wg.wait())).collect();
    for w in &mut waiters {
        assert!(poll!(w.as_mut()).is_pending());
    }
    wg.add(-3);
    for w in &mut waiters {
        assert!(poll!(w.as_mut()).is_ready());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_waiting_goroutines_are_released() {
    const WAITERS: usize = 32;
    let wg = WaitGroup::new();
    wg.add(1);
    let parked = Arc::new(Barrier::new(WAITERS + 1));
    let released = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..WAITERS {
        let wg = wg.clone();
        let parked = parked.clone();
        let released = released.clone();
        handles.push(gokio::go(async move {
            let mut wait = pin!(wg.wait());
            // Register before meeting at the barrier, so `done` below happens
            // while every waiter is really pending.
            assert!(poll!(wait.as_mut()).is_pending());
            parked.wait().await;
            wait.await;
            released.fetch_add(1, Ordering::Relaxed);
        }));
    }
    parked.wait().await;
    assert_eq!(released.load(Ordering::Relaxed), 0);
    wg.done();
    for h in handles {
        within("waiter", h).await.unwrap();
    }
    assert_eq!(released.load(Ordering::Relaxed), WAITERS);
}

#[tokio::test]
async fn waiter_is_released_even_if_count_rises_again() {
    // The zero transition releases a pending waiter even when the counter has
    // gone back up before the waiter is polled again.
    let wg = WaitGroup::new();
    wg.add(1);
    let mut wait = pin!(wg.wait());
    assert!(poll!(wait.as_mut()).is_pending());
    wg.done();
    wg.add(1);
    assert!(poll!(wait.as_mut()).is_ready());
    // A new wait sees the new count.
    let mut again = pin!(wg.wait());
    assert!(poll!(again.as_mut()).is_pending());
    wg.done();
    assert!(poll!(again.as_mut()).is_ready());
}

#[tokio::test]
async fn wait_future_is_static_and_send() {
    fn assert_send_static<T: Send + 'static>(t: T) -> T {
        t
    }
    let wg = WaitGroup::new();
    wg.add(1);
    // The future outlives `wg` itself: it owns a clone.
    let wait = assert_send_static(wg.wait());
    let waiter = gokio::go(wait);
    wg.done();
    drop(wg);
    within("waiter", waiter).await.unwrap();
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn done_at_zero_panics() {
    WaitGroup::new().done();
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn add_below_zero_panics() {
    let wg = WaitGroup::new();
    wg.add(2);
    wg.add(-3);
}

thread_local! {
    /// Where the last panic on this thread happened, recorded by the hook.
    static PANIC_AT: std::cell::Cell<Option<(&'static str, u32)>> =
        const { std::cell::Cell::new(None) };
}

/// Runs `f`, which must panic, and returns the file and line the panic
/// reports. The hook is installed once for the whole binary and hands every
/// panic on to the previous hook, so other tests' output is unchanged.
fn panic_location(f: impl FnOnce()) -> (&'static str, u32) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(loc) = info.location() {
                // `file()` borrows from `info`; the files we care about are
                // string literals baked into the binary, so leaking a copy of
                // the name is cheap and bounded by the number of panics.
                let file: &'static str = Box::leak(loc.file().to_owned().into_boxed_str());
                PANIC_AT.with(|p| p.set(Some((file, loc.line()))));
            }
            prev(info);
        }));
    });
    PANIC_AT.with(|p| p.set(None));
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "expected a panic"
    );
    PANIC_AT
        .with(|p| p.get())
        .expect("the panic hook saw no location")
}

#[test]
fn negative_panic_points_at_the_callers_line() {
    let wg = WaitGroup::new();
    let line = line!() + 1;
    let (file, at) = panic_location(|| wg.done());
    assert!(file.ends_with("sync_wait_group.rs"), "{file}");
    assert_eq!(at, line);
    let line = line!() + 1;
    let (file, at) = panic_location(|| wg.add(-1));
    assert!(file.ends_with("sync_wait_group.rs"), "{file}");
    assert_eq!(at, line);
}

#[tokio::test]
async fn go_calls_done_when_the_future_completes() {
    let wg = WaitGroup::new();
    let (tx, rx) = oneshot::channel::<u32>();
    let g = wg.go(async move { rx.await.unwrap() * 2 });
    assert_eq!(wg.count(), 1);
    let mut wait = pin!(wg.wait());
    assert!(poll!(wait.as_mut()).is_pending());
    tx.send(21).unwrap();
    within("wg.wait", wait).await;
    assert_eq!(wg.count(), 0);
    assert_eq!(g.await.unwrap(), 42);
}

#[tokio::test]
async fn go_calls_done_when_the_goroutine_panics() {
    let wg = WaitGroup::new();
    let g = wg.go(async {
        panic!("boom");
    });
    within("wg.wait", wg.wait()).await;
    assert_eq!(wg.count(), 0);
    assert!(g.await.unwrap_err().is_panic());
}

#[tokio::test]
async fn go_calls_done_when_the_goroutine_is_aborted() {
    let wg = WaitGroup::new();
    let (parked_tx, parked_rx) = oneshot::channel::<()>();
    let g = wg.go(async move {
        parked_tx.send(()).unwrap();
        // Parked forever: only abort can end it.
        std::future::pending::<()>().await;
    });
    parked_rx.await.unwrap();
    assert_eq!(wg.count(), 1);
    let mut wait = pin!(wg.wait());
    assert!(poll!(wait.as_mut()).is_pending());
    g.abort();
    within("wg.wait", wait).await;
    assert_eq!(wg.count(), 0);
    assert!(g.await.unwrap_err().is_cancelled());
}

#[tokio::test]
async fn go_calls_done_when_aborted_before_it_first_runs() {
    let wg = WaitGroup::new();
    let g = wg.go(std::future::pending::<()>());
    g.abort();
    within("wg.wait", wg.wait()).await;
    assert_eq!(wg.count(), 0);
}

#[test]
fn go_calls_done_at_runtime_shutdown() {
    let wg = WaitGroup::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        wg.go(std::future::pending::<()>());
    });
    assert_eq!(wg.count(), 1);
    drop(rt);
    assert_eq!(wg.count(), 0);
}

#[test]
fn go_outside_a_runtime_panics_and_restores_the_count() {
    let wg = WaitGroup::new();
    let err = catch_unwind(AssertUnwindSafe(|| wg.go(async {}))).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(msg.contains("gokio::run"), "{msg}");
    assert_eq!(wg.count(), 0);
}

#[test]
fn wait_blocking_without_any_runtime() {
    let wg = WaitGroup::new();
    wg.wait_blocking(); // Zero: returns at once.
    wg.add(1);
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = {
        let wg = wg.clone();
        std::thread::spawn(move || {
            wg.wait_blocking();
            done_tx.send(()).unwrap();
        })
    };
    // The waiter cannot have finished: the count is still 1.
    assert_eq!(done_rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    wg.done();
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("wait_blocking did not return (lost wake-up?)");
    waiter.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_blocking_on_threads_released_by_goroutines() {
    const THREADS: usize = 4;
    const GOROUTINES: usize = 8;
    let wg = WaitGroup::new();
    let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
    for _ in 0..GOROUTINES {
        let mut gate = gate_rx.clone();
        wg.go(async move {
            gate.wait_for(|open| *open).await.unwrap();
        });
    }
    let (done_tx, done_rx) = mpsc::channel();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let wg = wg.clone();
            let done_tx = done_tx.clone();
            std::thread::spawn(move || {
                wg.wait_blocking();
                done_tx.send(()).unwrap();
            })
        })
        .collect();
    assert_eq!(done_rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    gate_tx.send(true).unwrap();
    tokio::task::spawn_blocking(move || {
        for _ in 0..THREADS {
            done_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("wait_blocking did not return (lost wake-up?)");
        }
        for t in threads {
            t.join().unwrap();
        }
    })
    .await
    .unwrap();
    assert_eq!(wg.count(), 0);
}

#[test]
fn clones_share_the_counter() {
    let a = WaitGroup::new();
    let b = a.clone();
    a.add(2);
    assert_eq!(b.count(), 2);
    b.done();
    assert_eq!(a.count(), 1);
    let mut wait = pin!(b.wait());
    assert!(futures::executor::block_on(async { poll!(wait.as_mut()) }).is_pending());
    a.done();
    assert!(futures::executor::block_on(async { poll!(wait.as_mut()) }).is_ready());
}

#[test]
fn default_debug_and_count() {
    let wg = WaitGroup::default();
    assert_eq!(wg.count(), 0);
    wg.add(5);
    assert_eq!(wg.count(), 5);
    assert_eq!(format!("{wg:?}"), "WaitGroup { count: 5 }");
}

#[tokio::test]
async fn work_before_done_is_visible_after_wait() {
    let wg = WaitGroup::new();
    let slots: Arc<Vec<AtomicUsize>> = Arc::new((0..64).map(|_| AtomicUsize::new(0)).collect());
    for i in 0..64 {
        let slots = slots.clone();
        wg.go(async move {
            // Relaxed on purpose: the WaitGroup is what must publish it.
            slots[i].store(i + 1, Ordering::Relaxed);
        });
    }
    within("wg.wait", wg.wait()).await;
    for (i, s) in slots.iter().enumerate() {
        assert_eq!(s.load(Ordering::Relaxed), i + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_last_done_races_with_wait() {
    // The narrowest window: the only `done` runs on another worker while the
    // waiter registers and loads. A lost wake-up hangs, and `within` fails.
    let rounds = 5_000 * stress_factor();
    within("stress", async {
        for _ in 0..rounds {
            let wg = WaitGroup::new();
            wg.add(1);
            let doer = wg.clone();
            let g = gokio::go(async move { doer.done() });
            wg.wait().await;
            assert_eq!(wg.count(), 0);
            g.await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_many_add_done_wait_cycles() {
    const WORKERS: usize = 16;
    const WAITERS: usize = 4;
    let rounds = 300 * stress_factor();
    let wg = WaitGroup::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let released = Arc::new(AtomicUsize::new(0));
    within("stress", async {
        for round in 0..rounds {
            let waiters: Vec<_> = (0..WAITERS)
                .map(|_| {
                    let wait = wg.wait();
                    let released = released.clone();
                    gokio::go(async move {
                        wait.await;
                        released.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            for w in 0..WORKERS {
                let ran = ran.clone();
                let nested = wg.clone();
                wg.go(async move {
                    if w % 4 == 0 {
                        tokio::task::yield_now().await;
                    }
                    // Nested add/done pairs while the group is non-zero.
                    nested.add(2);
                    nested.done();
                    tokio::task::yield_now().await;
                    nested.done();
                    ran.fetch_add(1, Ordering::Relaxed);
                });
            }
            wg.wait().await;
            assert_eq!(ran.load(Ordering::Relaxed), (round + 1) * WORKERS);
            for w in waiters {
                w.await.unwrap();
            }
            assert_eq!(released.load(Ordering::Relaxed), (round + 1) * WAITERS);
            assert_eq!(wg.count(), 0);
        }
    })
    .await;
}
