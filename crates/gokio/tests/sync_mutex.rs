//! Tests for `gokio::sync::{Mutex, RwMutex, Once}`: Go's `sync` locks and
//! `Once` as gokio re-exports them. Outcomes never depend on sleeps.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::poll;
use gokio::sync::{Mutex, Once, RwMutex};
use gokio::WaitGroup;
use tokio::sync::Barrier;

/// Fails the test instead of hanging; never decides a pass.
async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(30), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within 30s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutex_counter_reaches_5000() {
    // The seed program: 50 goroutines x 100 increments under `mu.Lock()`.
    let counter = Arc::new(Mutex::new(0u64));
    let wg = WaitGroup::new();
    for _ in 0..50 {
        let counter = counter.clone();
        wg.go(async move {
            for _ in 0..100 {
                let mut n = counter.lock().await; // mu.Lock(); defer mu.Unlock()
                let v = *n;
                // Yield while holding the lock: a broken lock would let another
                // goroutine read the same `v` and lose an increment.
                tokio::task::yield_now().await;
                *n = v + 1;
            }
        });
    }
    within("wg.wait", wg.wait()).await;
    assert_eq!(*counter.lock().await, 5000);
}

#[tokio::test]
async fn mutex_excludes_until_the_guard_is_dropped() {
    let mu = Mutex::new(1);
    let g = mu.lock().await;
    assert!(mu.try_lock().is_err());
    let mut second = pin!(mu.lock());
    assert!(poll!(second.as_mut()).is_pending());
    drop(g); // mu.Unlock()
    match poll!(second.as_mut()) {
        std::task::Poll::Ready(g2) => assert_eq!(*g2, 1),
        std::task::Poll::Pending => panic!("lock still pending after unlock"),
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rwmutex_admits_many_readers_at_once() {
    const READERS: usize = 8;
    let rw = Arc::new(RwMutex::new(7));
    // Every reader holds its read guard while it meets the others at the
    // barrier: if readers excluded each other the barrier would never open.
    let all_inside = Arc::new(Barrier::new(READERS));
    let wg = WaitGroup::new();
    for _ in 0..READERS {
        let rw = rw.clone();
        let all_inside = all_inside.clone();
        wg.go(async move {
            let g = rw.read().await; // rw.RLock()
            all_inside.wait().await;
            assert_eq!(*g, 7);
        });
    }
    within("readers", wg.wait()).await;
}

#[tokio::test]
async fn rwmutex_writer_is_exclusive() {
    let rw = RwMutex::new(0);
    let r1 = rw.read().await;
    let r2 = rw.read().await;
    assert!(rw.try_write().is_err());
    let mut writer = pin!(rw.write());
    assert!(poll!(writer.as_mut()).is_pending());
    // A writer is waiting: new readers queue behind it, as in Go.
    assert!(rw.try_read().is_err());
    drop(r1);
    assert!(poll!(writer.as_mut()).is_pending());
    drop(r2);
    let mut w = match poll!(writer.as_mut()) {
        std::task::Poll::Ready(w) => w,
        std::task::Poll::Pending => panic!("writer still pending with no readers"),
    };
    *w = 1;
    assert!(rw.try_read().is_err());
    assert!(rw.try_write().is_err());
    drop(w);
    assert_eq!(*rw.try_read().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_runs_the_initializer_exactly_once() {
    const CALLERS: usize = 64;
    let once: Arc<Once<usize>> = Arc::new(Once::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(CALLERS));
    let mut handles = Vec::new();
    for i in 0..CALLERS {
        let once = once.clone();
        let runs = runs.clone();
        let start = start.clone();
        handles.push(gokio::go(async move {
            start.wait().await;
            *once
                .get_or_init(|| async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    // Stay inside the initializer across an await, so other
                    // callers arrive while it is running.
                    tokio::task::yield_now().await;
                    i
                })
                .await
        }));
    }
    let mut seen = Vec::new();
    for h in handles {
        seen.push(within("once caller", h).await.unwrap());
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let winner = *once.get().unwrap();
    assert!(seen.iter().all(|&v| v == winner));
}

#[tokio::test]
async fn once_retries_after_a_panicking_initializer() {
    // Documented difference from Go: a panicking `f` leaves the cell empty.
    let once: Arc<Once<()>> = Arc::new(Once::new());
    let o = once.clone();
    let first = gokio::go(async move {
        o.get_or_init(|| async { panic!("setup failed") }).await;
    });
    assert!(first.await.unwrap_err().is_panic());
    assert!(!once.initialized());
    let runs = AtomicUsize::new(0);
    once.get_or_init(|| async {
        runs.fetch_add(1, Ordering::Relaxed);
    })
    .await;
    assert_eq!(runs.load(Ordering::Relaxed), 1);
    assert!(once.initialized());
}
