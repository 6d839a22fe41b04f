//! Worker pools: every job exactly once, back-pressure, input order and the
//! reorder window, early stops without leaked goroutines, panicking jobs,
//! and the progress counters.
//!
//! Deterministic: outcomes never depend on a sleep. Waits poll a condition
//! with `gokio::gosched()` in between (a wall-clock deadline only turns a
//! hang into a failure with a goroutine dump), and "nothing more happens"
//! is checked after letting every goroutine run many more turns.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gokio::{chan, Receiver};
use gokio_patterns::{worker_pool, worker_pool_ordered, WorkerPool};
use tokio_util::sync::CancellationToken;

/// How long a wait may take before the test fails with a dump. Generous:
/// it only guards against hangs, it decides nothing.
const HANG: Duration = Duration::from_secs(20);

/// Polls `cond` until it holds, yielding to the other goroutines in
/// between; fails with a goroutine dump after [`HANG`].
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < HANG,
            "timed out waiting for {what}\n{}",
            gokio::dump()
        );
        gokio::gosched().await;
    }
}

/// Waits until only `baseline` goroutines are left: every pool goroutine
/// (and helper) has ended.
async fn wait_for_goroutines(baseline: usize) {
    wait_for("the pool's goroutines to end", || {
        gokio::num_goroutine() == baseline
    })
    .await;
}

/// Gives every goroutine many turns, so that a pool that would overshoot a
/// bound has every chance to do so before the test checks it.
async fn settle() {
    for _ in 0..2_000 {
        gokio::gosched().await;
    }
}

/// Receives until the channel closes.
async fn collect<T>(rx: &Receiver<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(v) = rx.recv().await {
        out.push(v);
    }
    out
}

/// A buffered, closed jobs channel holding `0..n`.
fn closed_jobs(n: usize) -> Receiver<usize> {
    let jobs = chan(n.max(1));
    for i in 0..n {
        jobs.try_send(i).unwrap();
    }
    jobs.close();
    jobs.receiver()
}

/// An unbuffered jobs channel fed `0, 1, 2, ..` by a goroutine that counts
/// every job handed over in `taken`. The producer holds only a `Sender`, so
/// it returns once the pool has dropped the last receiver.
fn counting_producer(taken: Arc<AtomicUsize>) -> Receiver<usize> {
    let jobs = chan(0);
    let tx = jobs.sender();
    gokio::go_named("producer", async move {
        let mut i = 0;
        while tx.send(i).await.is_ok() {
            // Relaxed: a statistic read by the test's polling loop.
            taken.fetch_add(1, Ordering::Relaxed);
            i += 1;
        }
    });
    jobs.receiver()
}

/// Marsaglia's xorshift64, for reproducible "random" job durations.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

// ---------------------------------------------------------------------------
// Exactly once, progress
// ---------------------------------------------------------------------------

#[gokio::test]
async fn every_job_processed_exactly_once() {
    const JOBS: usize = 10_000;
    let baseline = gokio::num_goroutine();
    let jobs = chan::<usize>(16);
    let tx = jobs.sender();
    gokio::go(async move {
        for i in 0..JOBS {
            tx.send(i).await.unwrap();
        }
    });
    let results = worker_pool(8, jobs.receiver(), |i| async move {
        if i % 7 == 0 {
            gokio::gosched().await;
        }
        i
    });
    drop(jobs);

    let mut seen = vec![0u32; JOBS];
    let mut received = 0;
    while let Some(i) = results.recv().await {
        seen[i] += 1;
        received += 1;
    }
    assert_eq!(received, JOBS);
    assert!(seen.iter().all(|&n| n == 1), "a job was lost or duplicated");
    assert_eq!(results.recv().await, None, "results stays closed");
    wait_for_goroutines(baseline).await;
}

#[gokio::test]
async fn ordered_every_job_processed_exactly_once() {
    const JOBS: usize = 10_000;
    let results = worker_pool_ordered(8, closed_jobs(JOBS), |i| async move {
        if i % 7 == 0 {
            gokio::gosched().await;
        }
        i
    });
    let out = collect(&results).await;
    assert_eq!(out, (0..JOBS).collect::<Vec<_>>());
}

#[gokio::test]
async fn progress_counters_add_up() {
    const JOBS: usize = 1_000;
    for ordered in [false, true] {
        let mut builder = WorkerPool::new(4);
        builder.name("progress");
        let f = |i: usize| async move {
            gokio::gosched().await;
            i
        };
        let pool = if ordered {
            builder.run_ordered(closed_jobs(JOBS), f)
        } else {
            builder.run(closed_jobs(JOBS), f)
        };
        let mut received = 0;
        while pool.results().recv().await.is_some() {
            received += 1;
            let p = pool.progress();
            // Jobs still in the channel, running, or finished: each at most
            // once, and at least the ones received are done.
            assert!(p.done + p.in_flight + p.queued <= JOBS, "{p:?}");
            assert!(p.done >= received, "{p:?}");
        }
        let p = pool.progress();
        assert_eq!(received, JOBS);
        assert_eq!(
            (p.done, p.in_flight, p.queued, p.panicked, p.cancelled),
            (JOBS, 0, 0, 0, 0),
            "ordered: {ordered}"
        );
    }
}

// ---------------------------------------------------------------------------
// Back-pressure
// ---------------------------------------------------------------------------

/// With a consumer that never reads, a completion-order pool takes exactly
/// `2 * workers` jobs: `workers` results fill the results channel (capacity
/// `workers`) and each worker holds one more result, blocked in its send.
#[gokio::test]
async fn back_pressure_bounds_jobs_taken() {
    const WORKERS: usize = 4;
    let baseline = gokio::num_goroutine();
    let taken = Arc::new(AtomicUsize::new(0));
    let pool = WorkerPool::new(WORKERS).run(counting_producer(taken.clone()), |i| async move { i });

    wait_for("the pool to stall", || {
        taken.load(Ordering::Relaxed) == 2 * WORKERS
            && pool.results().len() == WORKERS
            && pool.progress().done == 2 * WORKERS
    })
    .await;
    settle().await;
    assert_eq!(taken.load(Ordering::Relaxed), 2 * WORKERS);
    assert_eq!(pool.progress().done, 2 * WORKERS);
    assert_eq!(pool.results().len(), WORKERS);

    // Dropping the pool stops it; the producer's send then fails.
    drop(pool);
    wait_for_goroutines(baseline).await;
}

/// An ordered pool with a consumer that never reads takes exactly
/// `workers + W` jobs: `workers` results in the results channel and `W`
/// jobs in the window (the collector holds the window's oldest, blocked in
/// its send).
#[gokio::test]
async fn ordered_back_pressure_bound_is_workers_plus_window() {
    const WORKERS: usize = 3;
    for window in [None, Some(1), Some(5), Some(20)] {
        let baseline = gokio::num_goroutine();
        let taken = Arc::new(AtomicUsize::new(0));
        let mut builder = WorkerPool::new(WORKERS);
        if let Some(w) = window {
            builder.window(w);
        }
        let w = window.unwrap_or(2 * WORKERS);
        let pool = builder.run_ordered(counting_producer(taken.clone()), |i| async move { i });

        let bound = WORKERS + w;
        wait_for("the ordered pool to stall", || {
            taken.load(Ordering::Relaxed) == bound
                && pool.results().len() == WORKERS
                && pool.progress().done == bound
        })
        .await;
        settle().await;
        assert_eq!(taken.load(Ordering::Relaxed), bound, "window {w}");
        assert_eq!(pool.progress().in_flight, 0, "window {w}");

        // The results so far are the first ones, in order.
        let results = pool.into_results();
        for expected in 0..bound {
            assert_eq!(results.recv().await, Some(expected));
        }
        drop(results);
        wait_for_goroutines(baseline).await;
    }
}

// ---------------------------------------------------------------------------
// Ordered pools
// ---------------------------------------------------------------------------

#[gokio::test]
async fn ordered_output_follows_input_order() {
    const JOBS: usize = 1_000;
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let durations: Arc<Vec<Duration>> = Arc::new(
        (0..JOBS)
            .map(|_| Duration::from_micros(xorshift(&mut seed) % 2_000))
            .collect(),
    );
    let results = worker_pool_ordered(8, closed_jobs(JOBS), move |i| {
        let d = durations[i];
        async move {
            gokio::sleep(d).await;
            i * 3
        }
    });
    let out = collect(&results).await;
    assert_eq!(out, (0..JOBS).map(|i| i * 3).collect::<Vec<_>>());
}

/// While the first job blocks, exactly `W` jobs start (never more); once it
/// is released, every result comes out in order.
#[gokio::test]
async fn ordered_window_bounds_jobs_started_while_front_blocks() {
    const WORKERS: usize = 4;
    const JOBS: usize = 100;
    for window in [None, Some(1), Some(3), Some(13)] {
        let baseline = gokio::num_goroutine();
        let gate = chan::<()>(0);
        let started = Arc::new(AtomicUsize::new(0));
        let mut builder = WorkerPool::new(WORKERS);
        if let Some(w) = window {
            builder.window(w);
        }
        let w = window.unwrap_or(2 * WORKERS);

        let (gate_rx, counter) = (gate.receiver(), started.clone());
        let pool = builder.run_ordered(closed_jobs(JOBS), move |i| {
            let (gate, started) = (gate_rx.clone(), counter.clone());
            async move {
                // Relaxed: a statistic read by the test's polling loop.
                started.fetch_add(1, Ordering::Relaxed);
                if i == 0 {
                    gate.recv().await;
                }
                i
            }
        });

        wait_for("the window to fill", || {
            started.load(Ordering::Relaxed) == w
        })
        .await;
        settle().await;
        assert_eq!(started.load(Ordering::Relaxed), w, "window {w}");
        assert_eq!(pool.results().len(), 0, "nothing overtakes job 0");
        let p = pool.progress();
        assert_eq!((p.done, p.in_flight), (w - 1, 1), "window {w}");

        gate.send(()).await.unwrap();
        let out = collect(pool.results()).await;
        assert_eq!(out, (0..JOBS).collect::<Vec<_>>(), "window {w}");
        drop(pool);
        wait_for_goroutines(baseline).await;
    }
}

// ---------------------------------------------------------------------------
// Early stop
// ---------------------------------------------------------------------------

#[gokio::test]
async fn dropping_results_mid_stream_ends_every_goroutine() {
    for ordered in [false, true] {
        let baseline = gokio::num_goroutine();
        let taken = Arc::new(AtomicUsize::new(0));
        let jobs = counting_producer(taken);
        let f = |i: usize| async move { i };
        let results = if ordered {
            worker_pool_ordered(4, jobs, f)
        } else {
            worker_pool(4, jobs, f)
        };
        for _ in 0..10 {
            assert!(results.recv().await.is_some());
        }
        drop(results);
        // Workers, dispatcher, collector and the producer all end.
        wait_for_goroutines(baseline).await;
    }
}

#[gokio::test]
async fn dropping_the_pool_stops_idle_workers() {
    const WORKERS: usize = 4;
    for ordered in [false, true] {
        let baseline = gokio::num_goroutine();
        // Open and empty: the workers wait for a job that never comes. The
        // test keeps only a sender.
        let jobs = chan::<usize>(1);
        let (tx, rx) = (jobs.sender(), jobs.receiver());
        drop(jobs);
        let builder = WorkerPool::new(WORKERS);
        let f = |i: usize| async move { i };
        let pool = if ordered {
            builder.run_ordered(rx, f)
        } else {
            builder.run(rx, f)
        };
        let goroutines = baseline + WORKERS + if ordered { 2 } else { 0 };
        assert_eq!(gokio::num_goroutine(), goroutines);
        drop(pool);
        wait_for_goroutines(baseline).await;
        // The pool's receivers are gone, so a send fails instead of hanging.
        assert!(tx.send(1).await.is_err());
    }
}

/// Cancelling the token: finished results stay receivable, the jobs in
/// flight are dropped, `results` closes and every goroutine ends, although
/// `jobs` stays open.
#[gokio::test]
async fn cancel_closes_results_and_ends_goroutines() {
    const WORKERS: usize = 4;
    for ordered in [false, true] {
        let baseline = gokio::num_goroutine();
        // `jobs` stays open: the test keeps a sender.
        let jobs = chan::<usize>(16);
        let (tx, rx) = (jobs.sender(), jobs.receiver());
        drop(jobs);
        for i in 0..10 {
            tx.send(i).await.unwrap();
        }
        let token = CancellationToken::new();
        let mut builder = WorkerPool::new(WORKERS);
        builder.cancel(token.clone());
        // Jobs 0 and 1 finish; every later one waits forever.
        let f = |i: usize| async move {
            if i >= 2 {
                std::future::pending::<()>().await;
            }
            i
        };
        let pool = if ordered {
            builder.run_ordered(rx, f)
        } else {
            builder.run(rx, f)
        };

        // An ordered pool's dispatcher also holds one job, waiting for an
        // idle worker.
        let held = usize::from(ordered);
        wait_for("every worker to hold a stuck job", || {
            let p = pool.progress();
            p.done == 2 && p.in_flight == WORKERS + held
        })
        .await;
        settle().await;
        assert_eq!(pool.progress().in_flight, WORKERS + held);
        assert_eq!(pool.progress().queued, 10 - 2 - WORKERS - held);
        token.cancel();

        let mut out = collect(pool.results()).await;
        out.sort_unstable();
        assert_eq!(out, [0, 1], "ordered: {ordered}");
        wait_for_goroutines(baseline).await;
        let p = pool.progress();
        assert_eq!(
            (p.done, p.in_flight, p.cancelled, p.panicked),
            (2, 0, WORKERS + held, 0),
            "ordered: {ordered}"
        );
        // The pool no longer receives from `jobs`, although the `Pool` is
        // alive: a send fails instead of waiting for a receiver.
        assert_eq!(p.queued, 0);
        assert!(tx.send(99).await.is_err());
    }
}

#[gokio::test]
async fn cancelled_before_start_takes_no_job() {
    let token = CancellationToken::new();
    token.cancel();
    let jobs = chan::<usize>(4);
    jobs.send(1).await.unwrap();
    let pool = WorkerPool::new(2)
        .cancel(token)
        .run(jobs.receiver(), |i| async move { i });
    assert_eq!(pool.results().recv().await, None);
    assert_eq!(jobs.len(), 1);
}

/// Cancels a pool at a random point while jobs really flow (an endless
/// producer, a random number of results received first, random workers,
/// `jobs` capacity, window and job lengths), `iterations` times. At the
/// moment `results` returns `None`, the snapshot must be final: nothing in
/// flight, nothing queued, every job taken from `jobs` counted exactly once
/// in `done`, `panicked` or `cancelled`, and no later change once every
/// goroutine is gone.
///
/// The jobs taken are counted from outside the pool: the test keeps the
/// `jobs` channel, closes it once the pool is done (the producer's waiting
/// send fails and hands its value back), and then the jobs taken are those
/// the producer sent minus those still in the channel (gokio's receives
/// are cancel-safe, so a job a pool goroutine stopped waiting for is still
/// there).
async fn cancel_while_jobs_flow(ordered: bool, mut rng: u64, iterations: usize) {
    for iteration in 0..iterations {
        let baseline = gokio::num_goroutine();
        let workers = 1 + (xorshift(&mut rng) % 4) as usize;
        let capacity = [0, 1, 8][(xorshift(&mut rng) % 3) as usize];
        let window = 1 + (xorshift(&mut rng) % (2 * workers as u64 + 2)) as usize;
        let k = (xorshift(&mut rng) % 16) as usize;
        let spin = xorshift(&mut rng) % 3;
        let what = format!(
            "ordered {ordered}, iteration {iteration}: {workers} workers, \
             jobs capacity {capacity}, window {window}, cancelled after {k} results"
        );

        let jobs = chan::<usize>(capacity);
        let tx = jobs.sender();
        let producer = gokio::go_named("producer", async move {
            let mut sent = 0;
            while tx.send(sent).await.is_ok() {
                sent += 1;
            }
            sent
        });
        let token = CancellationToken::new();
        let mut builder = WorkerPool::new(workers);
        builder.cancel(token.clone()).window(window);
        // Jobs of 0 to 3 turns, so that they finish out of order.
        let f = move |i: usize| async move {
            for _ in 0..(i as u64 + spin) % 4 {
                gokio::gosched().await;
            }
            i
        };
        let pool = if ordered {
            builder.run_ordered(jobs.receiver(), f)
        } else {
            builder.run(jobs.receiver(), f)
        };

        for n in 0..k {
            let r = pool.results().recv().await;
            assert!(r.is_some(), "{what}: results closed early");
            if ordered {
                assert_eq!(r, Some(n), "{what}");
            }
        }
        token.cancel();
        while pool.results().recv().await.is_some() {}
        // The moment `results` reports the end.
        let at_close = pool.progress();
        assert_eq!(at_close.in_flight, 0, "{what}: {at_close:?}");
        assert_eq!(at_close.queued, 0, "{what}: {at_close:?}");
        assert_eq!(at_close.panicked, 0, "{what}: {at_close:?}");
        assert!(at_close.done >= k, "{what}: {at_close:?}");

        jobs.close();
        let sent = producer.await.unwrap();
        let mut left = 0;
        while jobs.try_recv().is_ok() {
            left += 1;
        }
        let taken = sent - left;
        assert_eq!(
            at_close.done + at_close.panicked + at_close.cancelled,
            taken,
            "{what}: {at_close:?}, {sent} sent, {left} left in `jobs`"
        );
        wait_for_goroutines(baseline).await;
        assert_eq!(pool.progress(), at_close, "{what}: changed after the close");
    }
}

#[gokio::test(worker_threads = 1)]
async fn ordered_cancel_while_jobs_flow_one_thread() {
    cancel_while_jobs_flow(true, 0x9e37_79b9_7f4a_7c15, 300).await;
}

#[gokio::test(worker_threads = 4)]
async fn ordered_cancel_while_jobs_flow_four_threads() {
    cancel_while_jobs_flow(true, 0x2545_f491_4f6c_dd1d, 300).await;
}

#[gokio::test(worker_threads = 1)]
async fn cancel_while_jobs_flow_one_thread() {
    cancel_while_jobs_flow(false, 0x9e37_79b9_7f4a_7c15, 300).await;
}

#[gokio::test(worker_threads = 4)]
async fn cancel_while_jobs_flow_four_threads() {
    cancel_while_jobs_flow(false, 0x2545_f491_4f6c_dd1d, 300).await;
}

#[gokio::test]
async fn closing_jobs_finishes_every_queued_job() {
    const JOBS: usize = 64;
    for ordered in [false, true] {
        let baseline = gokio::num_goroutine();
        let jobs = chan::<usize>(JOBS);
        let gate = chan::<()>(0);
        let gate_rx = gate.receiver();
        // Every job waits for the gate, so all but the first `workers` are
        // still queued in `jobs` when it closes.
        let f = move |i: usize| {
            let gate = gate_rx.clone();
            async move {
                gate.recv().await;
                i
            }
        };
        let results = if ordered {
            worker_pool_ordered(2, jobs.receiver(), f)
        } else {
            worker_pool(2, jobs.receiver(), f)
        };
        for i in 0..JOBS {
            jobs.send(i).await.unwrap();
        }
        jobs.close();
        assert!(jobs.len() >= JOBS - 3, "jobs taken before the gate opened");
        drop(jobs);
        gate.close(); // opens the gate for good: every `recv` returns `None`

        let mut out = collect(&results).await;
        if !ordered {
            out.sort_unstable();
        }
        assert_eq!(out, (0..JOBS).collect::<Vec<_>>(), "ordered: {ordered}");
        wait_for_goroutines(baseline).await;
    }
}

// ---------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------

#[gokio::test]
async fn a_panicking_job_is_counted_and_skipped() {
    const JOBS: usize = 100;
    for ordered in [false, true] {
        let baseline = gokio::num_goroutine();
        let f = |i: usize| async move {
            if i == 13 {
                panic!("job {i} failed on purpose");
            }
            i
        };
        let builder = WorkerPool::new(4);
        let pool = if ordered {
            builder.run_ordered(closed_jobs(JOBS), f)
        } else {
            builder.run(closed_jobs(JOBS), f)
        };
        let mut out = collect(pool.results()).await;
        if !ordered {
            out.sort_unstable();
        }
        let expected: Vec<_> = (0..JOBS).filter(|&i| i != 13).collect();
        assert_eq!(out, expected, "ordered: {ordered}");
        let p = pool.progress();
        assert_eq!(
            (p.done, p.panicked, p.in_flight, p.cancelled),
            (JOBS - 1, 1, 0, 0),
            "ordered: {ordered}"
        );
        drop(pool);
        wait_for_goroutines(baseline).await;
    }
}

/// A panic in the call `f(job)` itself, before any future exists, is caught
/// the same way.
#[gokio::test]
async fn a_panic_in_the_call_is_caught_too() {
    let pool = WorkerPool::new(2).run(closed_jobs(10), |i: usize| {
        assert!(i != 4, "no future for job 4");
        async move { i }
    });
    let mut out = collect(pool.results()).await;
    out.sort_unstable();
    assert_eq!(out, [0, 1, 2, 3, 5, 6, 7, 8, 9]);
    assert_eq!(pool.progress().panicked, 1);
}

#[gokio::test]
async fn every_job_panicking_still_closes_results() {
    for ordered in [false, true] {
        let f = |i: usize| async move {
            if i < usize::MAX {
                panic!("always");
            }
            i
        };
        let builder = WorkerPool::new(3);
        let pool = if ordered {
            builder.run_ordered(closed_jobs(50), f)
        } else {
            builder.run(closed_jobs(50), f)
        };
        assert_eq!(pool.results().recv().await, None);
        assert_eq!(pool.progress().panicked, 50);
    }
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "workers must be at least 1")]
fn zero_workers_panics() {
    let jobs = chan::<usize>(0);
    let _ = worker_pool(0, jobs.receiver(), |i| async move { i });
}

#[test]
#[should_panic(expected = "window must be at least 1")]
fn zero_window_panics() {
    WorkerPool::new(1).window(0);
}

#[gokio::test]
async fn goroutines_are_named_after_the_pool() {
    let jobs = chan::<usize>(1);
    let pool = WorkerPool::new(2)
        .name("resize")
        .run_ordered(jobs.receiver(), |i| async move { i });
    let dump = gokio::dump();
    for name in [
        "resize-worker-0",
        "resize-worker-1",
        "resize-dispatcher",
        "resize-collector",
    ] {
        assert!(dump.contains(&format!("\"{name}\"")), "{name} in\n{dump}");
    }
    drop(pool);
}

#[gokio::test]
async fn dropping_only_the_results_receiver_stops_idle_workers() {
    // `jobs` stays open and empty: the workers learn that nobody reads the
    // results from `Sender::closed`, not from a failed send.
    const WORKERS: usize = 4;
    for ordered in [false, true] {
        let baseline = gokio::num_goroutine();
        let jobs = chan::<usize>(1);
        let (tx, rx) = (jobs.sender(), jobs.receiver());
        drop(jobs);
        let f = |i: usize| async move { i };
        let results = if ordered {
            worker_pool_ordered(WORKERS, rx, f)
        } else {
            worker_pool(WORKERS, rx, f)
        };
        tx.send(1).await.unwrap();
        assert_eq!(results.recv().await, Some(1));
        assert_eq!(
            gokio::num_goroutine(),
            baseline + WORKERS + if ordered { 2 } else { 0 }
        );
        drop(results);
        wait_for_goroutines(baseline).await;
        // The jobs channel is still open; nobody takes from it any more.
        assert!(!tx.is_closed());
        assert!(tx.send(2).await.is_err(), "every receiver of jobs is gone");
    }
}
