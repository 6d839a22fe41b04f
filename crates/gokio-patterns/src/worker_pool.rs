//! Worker pools: Go's worker-pool pattern, `workers` goroutines ranging over
//! one `jobs <-chan J` and sending to one `results chan<- R`, with a
//! `sync.WaitGroup` that closes `results` once every worker is done.
//!
//! ```go
//! results := make(chan R, workers)
//! var wg sync.WaitGroup
//! for w := 0; w < workers; w++ {
//!     wg.Add(1)
//!     go func() {
//!         defer wg.Done()
//!         for job := range jobs {
//!             results <- f(job)
//!         }
//!     }()
//! }
//! go func() { wg.Wait(); close(results) }()
//! ```
//!
//! is [`worker_pool`]`(workers, jobs, f)`, which returns the results
//! [`Receiver`]. [`worker_pool_ordered`] emits the results in the order the
//! jobs came in, with bounded memory; [`WorkerPool`] adds a name for
//! `tracing`, a [`CancellationToken`] (Go's `ctx.Done()`), the reorder
//! window, and [`Progress`] counters.
//!
//! The policies users rely on (stopping early, panics, the reorder window
//! and its exact bound, differences from Go) are documented on
//! [`WorkerPool`], where rustdoc shows them; this module is private and
//! re-exported. What follows is for maintainers.
//!
//! # Design
//!
//! A completion-order pool is `workers` goroutines sharing the jobs
//! receiver and each owning a results [`Sender`]. An ordered pool puts a
//! dispatcher goroutine (numbers the jobs, takes a window token first) in
//! front of the workers and a collector goroutine (reorders, frees a token
//! per emitted job) behind them; the window is a gokio buffered channel of
//! `()` used as a counting semaphore. The goroutines of a pool race their
//! waits against one stop token: a child of the caller's token, cancelled
//! also by the drop of the [`Pool`] and by a worker whose results send
//! fails. gokio's `recv` and `send` are cancel-safe, so losing that race
//! never loses or duplicates a value; but a job is *counted* as taken when
//! the dispatcher receives it, so an ordered pool's workers do not race
//! their receive on the `work` channel (see invariant 4).
//!
//! # Observability
//!
//! Every worker is a goroutine named `{pool}-worker-{id}` (see
//! [`gokio::go_named`]; ordered pools add `{pool}-dispatcher` and
//! `{pool}-collector`), running inside a `tracing` span `worker` with the
//! fields `pool` and `id`. Each job logs `debug!` events when it starts and
//! when it finishes, with its duration; a panicking job logs an `error!`.
//!
//! # Invariants
//!
//! 1. Every job taken from `jobs` ends in exactly one of `done` (its future
//!    returned), `panicked`, or `cancelled` (dropped by a stop), and is
//!    `in_flight` until then: `taken = done + panicked + cancelled +
//!    in_flight` at every quiescent moment.
//! 2. The results channel closes only after every job has ended and every
//!    other goroutine of the pool has returned: each completion-order
//!    worker owns a results [`Sender`] and drops it last, after its counts
//!    and its handle on `jobs`; the ordered pool's collector, the only
//!    sender there, waits for its input `outcomes` to close before it
//!    returns, and the senders of `outcomes` are the workers *and the
//!    dispatcher* (which holds one only for this: it may count a job
//!    cancelled, and it holds `jobs`, until it returns). The goroutine that
//!    drops the last results sender is itself still counted by
//!    [`gokio::num_goroutine`] for a moment: gokio counts a goroutine until
//!    Tokio drops its future, after the future's last poll, which is where
//!    the sender goes.
//! 3. Ordered pools: tokens sent into the window minus tokens received is at
//!    most `W`; the dispatcher sends before it takes a job and the collector
//!    receives after it emits, so `taken - emitted <= W` (checked by a
//!    `debug_assert!` on the reorder buffer's index).
//! 4. Every wait of a pool goroutine races the pool's stop token, except
//!    two that end once the dispatcher, which does race it, has returned:
//!    - an ordered worker's receive on `work`. The dispatcher counts a job
//!      as taken before the rendezvous; had the worker's receive lost a
//!      race to the stop after the hand-over, gokio would give the job back
//!      to `work`, the dispatcher would return, and the job would be
//!      dropped uncounted. So a worker receives until `work` is closed and
//!      drained (the dispatcher's return closes it), and a job received
//!      after a stop goes through `Core::execute`, which counts it as
//!      cancelled without running it. Every job the dispatcher hands over
//!      is thus counted by a worker, and every job whose hand-over fails or
//!      loses the race (a dropped `send` has not sent) by the dispatcher.
//!    - the collector's final drain of `outcomes`, which waits for the
//!      workers and the dispatcher, all stopping too.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Instant;

use futures::FutureExt;
use gokio::{Receiver, Sender};

use crate::next::{next_or_gone as next_job, Next};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument;

/// The pool name used when [`WorkerPool::name`] is not called.
const DEFAULT_NAME: &str = "worker-pool";

/// Runs `f` on every job received from `jobs`, on `workers` goroutines, and
/// returns the results in completion order: Go's worker pool.
///
/// Each worker loops `while let Some(job) = jobs.recv().await {
/// results.send(f(job).await) }`. The results channel has capacity
/// `workers`, so a slow consumer slows the workers down (and through them
/// whoever sends on `jobs`). It closes when `jobs` is closed and drained and
/// every worker has returned. This is
/// `WorkerPool::new(workers).run(jobs, f).into_results()`; see
/// [`WorkerPool`] for stopping early and the other policies.
///
/// # Panics
///
/// Panics if `workers == 0`, and outside a Tokio runtime (like
/// [`gokio::go`]). A *job* that panics does not panic the pool: it produces
/// no result, is logged with `tracing::error!`, and its worker goes on
/// (see [`WorkerPool`], "Panics").
///
/// # Examples
///
/// ```
/// use gokio_patterns::worker_pool;
///
/// gokio::run(async {
///     let jobs = gokio::chan::<u64>(0);
///     let tx = jobs.sender();
///     gokio::go(async move {
///         for n in 1..=10 {
///             tx.send(n).await.unwrap();
///         }
///         // `tx` is dropped here, which closes `jobs`.
///     });
///
///     let results = worker_pool(3, jobs.receiver(), |n| async move { n * n });
///     drop(jobs); // the pool holds its own receiver
///
///     let mut sum = 0;
///     while let Some(square) = results.recv().await {
///         sum += square;
///     }
///     assert_eq!(sum, 385); // 1 + 4 + .. + 100, in whatever order they finished
/// });
/// ```
#[track_caller]
pub fn worker_pool<J, R, F, Fut>(workers: usize, jobs: Receiver<J>, f: F) -> Receiver<R>
where
    J: Send + 'static,
    R: Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    WorkerPool::new(workers).run(jobs, f).into_results()
}

/// As [`worker_pool`], but the results come out in the order the jobs came
/// in, with bounded memory.
///
/// Jobs still run concurrently on `workers` goroutines; a collector holds
/// back results that finished early until every earlier one is out. The
/// pool never runs more than `W = 2 * workers` jobs ahead of the oldest one
/// not yet emitted, so memory stays bounded however slow one job is
/// ([`WorkerPool`], "Ordered pools and the window", states the bound
/// exactly; [`WorkerPool::window`] changes `W`). This is
/// `WorkerPool::new(workers).run_ordered(jobs, f).into_results()`.
///
/// # Panics
///
/// Panics if `workers == 0`, and outside a Tokio runtime. A job that panics
/// produces no result and its place in the order is skipped (see
/// [`WorkerPool`], "Panics").
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gokio_patterns::worker_pool_ordered;
///
/// gokio::run(async {
///     let jobs = gokio::chan::<u64>(8);
///     for n in 0..8 {
///         jobs.send(n).await.unwrap();
///     }
///     jobs.close();
///
///     // Earlier jobs take longer, so they finish last, yet come out first.
///     let results = worker_pool_ordered(4, jobs.receiver(), |n| async move {
///         gokio::sleep(Duration::from_millis(8 - n)).await;
///         n * 10
///     });
///
///     let mut out = Vec::new();
///     while let Some(r) = results.recv().await {
///         out.push(r);
///     }
///     assert_eq!(out, [0, 10, 20, 30, 40, 50, 60, 70]);
/// });
/// ```
#[track_caller]
pub fn worker_pool_ordered<J, R, F, Fut>(workers: usize, jobs: Receiver<J>, f: F) -> Receiver<R>
where
    J: Send + 'static,
    R: Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    WorkerPool::new(workers).run_ordered(jobs, f).into_results()
}

/// A worker pool's settings: the builder behind [`worker_pool`] and
/// [`worker_pool_ordered`], adding a name, cancellation and the reorder
/// window.
///
/// The setters take and return `&mut Self`, as
/// [`gokio::runtime::Builder`] does, so a pool can be configured in one
/// expression; [`run`](Self::run) and [`run_ordered`](Self::run_ordered)
/// take `&self`, so one `WorkerPool` can start several pools.
///
/// | setting | default |
/// |---|---|
/// | [`name`](Self::name) | `"worker-pool"` |
/// | [`cancel`](Self::cancel) | none: the pool runs until `jobs` is exhausted or it is dropped |
/// | [`window`](Self::window) (ordered pools) | `2 * workers` |
/// | [`results_capacity`](Self::results_capacity) | `workers` |
///
/// # Examples
///
/// ```
/// use gokio_patterns::WorkerPool;
/// use tokio_util::sync::CancellationToken;
///
/// gokio::run(async {
///     let jobs = gokio::chan::<u32>(4);
///     for n in 1..=4 {
///         jobs.send(n).await.unwrap();
///     }
///     jobs.close();
///
///     let token = CancellationToken::new();
///     let pool = WorkerPool::new(2)
///         .name("double")
///         .cancel(token.clone())
///         .run_ordered(jobs.receiver(), |n| async move { n * 2 });
///
///     let mut out = Vec::new();
///     while let Some(r) = pool.results().recv().await {
///         out.push(r);
///     }
///     assert_eq!(out, [2, 4, 6, 8]);
///     assert_eq!(pool.progress().done, 4);
/// });
/// ```
///
/// # Differences from Go
///
/// - **No `WaitGroup` goroutine.** Each worker owns a [`Sender`] of the
///   results channel, and a gokio channel closes when its last sender is
///   dropped, so `results` closes exactly when the last worker returns
///   (see "When `results` closes").
/// - **A consumer that goes away stops the pool.** In Go, workers blocked on
///   `results <- r` after the consumer left leak forever. Here the send fails
///   (gokio hands the value back in [`SendError`](gokio::SendError)), and the
///   first worker that sees it stops the whole pool (see "Stopping early").
/// - **A panicking job does not end the program.** Go would crash; here the
///   panic is caught per job, logged, counted in [`Progress::panicked`], and
///   the worker goes on with the next job (see "Panics").
/// - **Cancellation is built in.** Go passes a `ctx` to `f` and leaves
///   stopping to it; here the pool itself watches a [`CancellationToken`]
///   and drops the jobs in flight.
///
/// # Stopping early
///
/// None of these hangs or leaks a goroutine:
///
/// | what happens | what the pool does |
/// |---|---|
/// | `jobs` is closed | the workers finish every job still buffered in `jobs`, then return; `results` closes |
/// | the results [`Receiver`] is dropped | the next worker whose send fails stops the pool as if it were cancelled |
/// | the [`Pool`] handle is dropped (not after [`Pool::into_results`]) | the pool stops at once, as if it were cancelled |
/// | the token given to [`WorkerPool::cancel`] is cancelled | workers take no new job; **jobs in flight are dropped** at their next `.await` (their results are never sent, they count in [`Progress::cancelled`]); `results` closes once every pool goroutine has returned |
///
/// Results already in the results channel when the pool stops stay
/// receivable; the channel closes after them.
///
/// # When `results` closes
///
/// However the pool ends, the results channel closes as the last pool
/// goroutine returns (a completion-order pool's last worker, an ordered
/// pool's collector): its results [`Sender`], the last one, is dropped as
/// it returns. By then every other pool goroutine has returned, every job
/// taken from `jobs` has ended and is counted, and the pool holds no
/// receiver of `jobs` any more, so a [`Pool::progress`] taken once `recv`
/// has returned `None` is final: `in_flight == 0`, `queued == 0`, and
/// `done + panicked + cancelled` is the number of jobs taken. Only
/// [`gokio::num_goroutine`] and [`gokio::dump`] may still list that last
/// goroutine for a moment after the close, because gokio counts a
/// goroutine until Tokio drops its future, just after the future's final
/// poll. A test that checks for leaked goroutines should wait for the
/// count to drop rather than read it once at the close.
///
/// Dropping the job futures in flight is Rust's cancellation: a job that must
/// finish what it started (a write, say) should hold its own clone of the
/// token and check it at safe points instead.
///
/// Dropping only the [`Receiver`] from [`worker_pool`] or
/// [`Pool::into_results`] stops the pool at once too, even while `jobs`
/// stays open and empty: idle workers (and an ordered pool's collector)
/// wait for the next job and for [`Sender::closed`](gokio::Sender::closed)
/// together.
///
/// # Panics
///
/// A job whose future (or whose call `f(job)`) panics **produces no
/// result**. The panic is caught at the job, counted in
/// [`Progress::panicked`], logged with `tracing::error!` together with its
/// message, and the worker takes the next job; the results channel still
/// closes at the end. In an ordered pool the panicked job's place is
/// skipped, so later results are not held up. The closure `f` is called
/// again after a panic, so it should not leave shared state broken (the
/// same assumption Tokio makes when it catches a task's panic). The panic
/// hook still runs first, so the usual `thread '..' panicked at ..` message
/// is printed as for any panic.
///
/// # Ordered pools and the window
///
/// [`worker_pool_ordered`] and [`WorkerPool::run_ordered`] run the same
/// workers between two more goroutines: a *dispatcher* numbers the jobs
/// (0, 1, 2, .. in the order received) and hands them to the workers, and a
/// *collector* puts the finished jobs back in order. A window of `W` slots
/// (by default `W = 2 * workers`, see [`WorkerPool::window`]) bounds how far
/// ahead of the oldest unfinished job the pool may run: a gokio buffered
/// channel of capacity `W` is a counting semaphore, into which the
/// dispatcher sends a token before it takes job `i` from `jobs`, and from
/// which the collector receives one after it has emitted job `i`'s result
/// (or skipped it because it panicked). Exactly:
///
/// - job `i` is taken from `jobs` only after job `i - W` has been emitted, so
///   at most `W` jobs are ever taken and not yet emitted, however long one
///   job takes;
/// - at most `W` jobs have started and not been emitted, and the reorder
///   buffer holds at most `W - 1` results;
/// - with a consumer that does not read, the pool stops taking jobs after
///   `workers + W` of them: `workers` results in the results channel and `W`
///   in the window.
///
/// With `W = 2 * workers` a job at the front may take roughly twice as long
/// as the average job before the other workers run out of work; a larger
/// window buys more tolerance for stragglers with memory.
#[derive(Clone, Debug)]
pub struct WorkerPool {
    workers: usize,
    name: Arc<str>,
    cancel: Option<CancellationToken>,
    window: Option<usize>,
    results_capacity: Option<usize>,
}

impl WorkerPool {
    /// Settings for a pool of `workers` goroutines, with the defaults above.
    ///
    /// # Panics
    ///
    /// Panics if `workers == 0`: such a pool would never take a job.
    ///
    /// # Examples
    ///
    /// ```
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<i32>(1);
    ///     jobs.send(20).await.unwrap();
    ///     jobs.close();
    ///     let pool = gokio_patterns::WorkerPool::new(4).run(jobs.receiver(), |n| async move { n + 1 });
    ///     assert_eq!(pool.results().recv().await, Some(21));
    ///     assert_eq!(pool.results().recv().await, None);
    /// });
    /// ```
    #[track_caller]
    pub fn new(workers: usize) -> WorkerPool {
        assert!(workers > 0, "worker pool: workers must be at least 1");
        WorkerPool {
            workers,
            name: Arc::from(DEFAULT_NAME),
            cancel: None,
            window: None,
            results_capacity: None,
        }
    }

    /// Names the pool: its goroutines are named `{name}-worker-{id}` (and
    /// `{name}-dispatcher`, `{name}-collector` for ordered pools) and its
    /// `tracing` spans carry `pool = name`.
    ///
    /// # Examples
    ///
    /// ```
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<u8>(0);
    ///     let pool = gokio_patterns::WorkerPool::new(1)
    ///         .name("resize")
    ///         .run(jobs.receiver(), |n| async move { n });
    ///     assert!(gokio::dump().contains(r#""resize-worker-0""#));
    ///     drop(jobs); // closes `jobs`: the worker returns
    ///     assert_eq!(pool.results().recv().await, None);
    /// });
    /// ```
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = Arc::from(name.into());
        self
    }

    /// Stops the pool when `token` is cancelled: Go's `ctx.Done()`.
    ///
    /// Once the token is cancelled, workers take no new job, the jobs in
    /// flight are dropped at their next `.await` (their results are never
    /// sent; they count in [`Progress::cancelled`]), and the results channel
    /// closes once every pool goroutine has returned (see [`WorkerPool`],
    /// "When `results` closes"). Results already in the results channel
    /// stay receivable. A token cancelled before [`run`](Self::run) makes a
    /// pool that takes no job at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::WorkerPool;
    /// use tokio_util::sync::CancellationToken;
    ///
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<u32>(0); // stays open: nobody closes it
    ///     let token = CancellationToken::new();
    ///     let pool = WorkerPool::new(4)
    ///         .cancel(token.clone())
    ///         .run(jobs.receiver(), |n| async move { n });
    ///     token.cancel();
    ///     assert_eq!(pool.results().recv().await, None); // closed, not hung
    /// });
    /// ```
    pub fn cancel(&mut self, token: CancellationToken) -> &mut Self {
        self.cancel = Some(token);
        self
    }

    /// Sets the reorder window `W` of ordered pools: job `i` is taken from
    /// `jobs` only after job `i - W`'s result has been emitted. The default
    /// is `2 * workers`. Pools in completion order ignore it.
    ///
    /// A window smaller than `workers` leaves workers idle (`W = 1` runs one
    /// job at a time); a larger one tolerates slower stragglers at the cost
    /// of up to `W` jobs and results held at once.
    ///
    /// # Panics
    ///
    /// Panics if `window == 0`: no job could ever start.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::WorkerPool;
    ///
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<u32>(3);
    ///     for n in [3, 1, 2] {
    ///         jobs.send(n).await.unwrap();
    ///     }
    ///     jobs.close();
    ///     let results = WorkerPool::new(8)
    ///         .window(16)
    ///         .run_ordered(jobs.receiver(), |n| async move { n })
    ///         .into_results();
    ///     assert_eq!(results.recv().await, Some(3));
    ///     assert_eq!(results.recv().await, Some(1));
    ///     assert_eq!(results.recv().await, Some(2));
    /// });
    /// ```
    #[track_caller]
    pub fn window(&mut self, window: usize) -> &mut Self {
        assert!(window > 0, "worker pool: the window must be at least 1");
        self.window = Some(window);
        self
    }

    /// Sets the capacity of the results channel (default `workers`).
    ///
    /// A larger buffer lets the workers run ahead of a bursty consumer and
    /// costs fewer hand-offs per result: for tiny jobs, 128 instead of 8 is
    /// about 25% faster per job on a 2-core machine
    /// (`benches/src/lib.rs`, `pool-patterns`). It adds as many results to
    /// what a stalled consumer leaves buffered: the back-pressure bounds in
    /// these docs that count `workers` results count this capacity instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::WorkerPool;
    ///
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<u32>(64);
    ///     let pool = WorkerPool::new(4)
    ///         .results_capacity(64)
    ///         .run(jobs.receiver(), |x| async move { x + 1 });
    ///     for i in 0..10 {
    ///         jobs.send(i).await.unwrap();
    ///     }
    ///     drop(jobs);
    ///     let mut sum = 0;
    ///     while let Some(v) = pool.results().recv().await {
    ///         sum += v;
    ///     }
    ///     assert_eq!(sum, 55);
    /// });
    /// ```
    pub fn results_capacity(&mut self, capacity: usize) -> &mut Self {
        self.results_capacity = Some(capacity);
        self
    }

    /// Starts the pool on `jobs`, with results in completion order.
    ///
    /// See [`worker_pool`] for the loop each worker runs and when the
    /// results channel (capacity `workers`) closes, and the
    /// [`WorkerPool`] docs for stopping early.
    ///
    /// # Panics
    ///
    /// Panics outside a Tokio runtime (like [`gokio::go`]).
    ///
    /// # Examples
    ///
    /// ```
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<&str>(2);
    ///     jobs.send("a").await.unwrap();
    ///     jobs.send("bb").await.unwrap();
    ///     jobs.close();
    ///     let pool = gokio_patterns::WorkerPool::new(2).run(jobs.receiver(), |s| async move { s.len() });
    ///     let mut lens = Vec::new();
    ///     while let Some(n) = pool.results().recv().await {
    ///         lens.push(n);
    ///     }
    ///     lens.sort();
    ///     assert_eq!(lens, [1, 2]);
    /// });
    /// ```
    #[track_caller]
    pub fn run<J, R, F, Fut>(&self, jobs: Receiver<J>, f: F) -> Pool<R>
    where
        J: Send + 'static,
        R: Send + 'static,
        F: Fn(J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let core = self.core(f);
        let results = gokio::chan::<R>(self.results_capacity.unwrap_or(self.workers));
        let jobs = Arc::new(jobs);
        for id in 0..self.workers {
            let worker =
                completion_worker(id, Arc::clone(&core), Arc::clone(&jobs), results.sender());
            let pool = Arc::clone(&self.name);
            go_in_span(
                format!("{}-worker-{id}", self.name),
                worker,
                move || tracing::info_span!("worker", pool = %pool, id),
            );
        }
        Pool::new(results.receiver(), &core, &jobs)
    }

    /// Starts the pool on `jobs`, with results in the order the jobs came
    /// in.
    ///
    /// See [`worker_pool_ordered`], and [`WorkerPool`] ("Ordered pools and
    /// the window") for the dispatcher, the collector and the exact memory
    /// bound. The results channel has capacity `workers`.
    ///
    /// # Panics
    ///
    /// Panics outside a Tokio runtime (like [`gokio::go`]).
    ///
    /// # Examples
    ///
    /// ```
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<u32>(5);
    ///     for n in 0..5 {
    ///         jobs.send(n).await.unwrap();
    ///     }
    ///     jobs.close();
    ///     let pool = gokio_patterns::WorkerPool::new(3).run_ordered(jobs.receiver(), |n| async move { n * n });
    ///     let mut out = Vec::new();
    ///     while let Some(r) = pool.results().recv().await {
    ///         out.push(r);
    ///     }
    ///     assert_eq!(out, [0, 1, 4, 9, 16]);
    /// });
    /// ```
    #[track_caller]
    pub fn run_ordered<J, R, F, Fut>(&self, jobs: Receiver<J>, f: F) -> Pool<R>
    where
        J: Send + 'static,
        R: Send + 'static,
        F: Fn(J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let window = self
            .window
            .unwrap_or_else(|| self.workers.saturating_mul(2));
        let core = self.core(f);
        let results = gokio::chan::<R>(self.results_capacity.unwrap_or(self.workers));
        // The counting semaphore of the window (invariant 3).
        let slots = gokio::chan::<()>(window);
        // Capacity 0: the dispatcher hands a job over only to an idle worker.
        let work = gokio::chan::<(usize, J)>(0);
        // Capacity `window`: at most `window` jobs are between dispatch and
        // emission, so a worker's send here never waits on the collector.
        let outcomes = gokio::chan::<(usize, Option<R>)>(window);
        let jobs = Arc::new(jobs);

        let dispatcher = dispatcher(
            self.workers,
            Arc::clone(&core),
            Arc::clone(&jobs),
            slots.sender(),
            work.sender(),
            outcomes.sender(),
        );
        let pool = Arc::clone(&self.name);
        go_in_span(
            format!("{}-dispatcher", self.name),
            dispatcher,
            move || tracing::info_span!("dispatcher", pool = %pool),
        );
        for id in 0..self.workers {
            let worker = ordered_worker(id, Arc::clone(&core), work.receiver(), outcomes.sender());
            let pool = Arc::clone(&self.name);
            go_in_span(
                format!("{}-worker-{id}", self.name),
                worker,
                move || tracing::info_span!("worker", pool = %pool, id),
            );
        }
        let collector = collector(
            Arc::clone(&core),
            outcomes.receiver(),
            slots.receiver(),
            results.sender(),
            window,
        );
        let pool = Arc::clone(&self.name);
        go_in_span(
            format!("{}-collector", self.name),
            collector,
            move || tracing::info_span!("collector", pool = %pool, window),
        );
        // The local `Chan`s count as senders and receivers; they are dropped
        // here, so each channel closes when the pool's goroutines are done.
        Pool::new(results.receiver(), &core, &jobs)
    }

    /// The state shared by one pool's goroutines.
    fn core<F>(&self, f: F) -> Arc<Core<F>> {
        let stop = match &self.cancel {
            // A child token: the pool may stop itself (a dropped consumer)
            // without cancelling the caller's token.
            Some(token) => token.child_token(),
            None => CancellationToken::new(),
        };
        Arc::new(Core {
            f,
            stop,
            // One tally per worker and one for an ordered pool's
            // dispatcher (index `workers`).
            counters: Arc::new(Counters::new(self.workers + 1)),
        })
    }
}

/// A running worker pool: its results, its [`Progress`], and a stop on drop.
///
/// Made by [`WorkerPool::run`] and [`WorkerPool::run_ordered`]. Dropping a
/// `Pool` stops the pool at once, as cancelling its token would (the results
/// receiver goes with it, so nobody could read another result);
/// [`into_results`](Self::into_results) keeps the pool running and hands the
/// results [`Receiver`] over.
///
/// # Examples
///
/// ```
/// gokio::run(async {
///     let jobs = gokio::chan::<u32>(3);
///     for n in 0..3 {
///         jobs.send(n).await.unwrap();
///     }
///     jobs.close();
///     let pool = gokio_patterns::WorkerPool::new(2).run(jobs.receiver(), |n| async move { n });
///     let mut got = 0;
///     while pool.results().recv().await.is_some() {
///         got += 1;
///     }
///     assert_eq!(got, 3);
///     let progress = pool.progress();
///     assert_eq!((progress.done, progress.in_flight, progress.queued), (3, 0, 0));
/// });
/// ```
pub struct Pool<R> {
    results: Receiver<R>,
    counters: Arc<Counters>,
    /// The pool's own handle on `jobs`, for [`Progress::queued`]. Weak, so
    /// that `jobs` loses this receiver (and its senders' sends fail) once
    /// every pool goroutine has returned.
    jobs: Weak<dyn Backlog>,
    stop_on_drop: DropGuard,
}

impl<R> Pool<R> {
    fn new<F, J>(results: Receiver<R>, core: &Arc<Core<F>>, jobs: &Arc<Receiver<J>>) -> Pool<R>
    where
        J: Send + 'static,
    {
        // Unsized coercion to the object-safe view of the jobs channel.
        let jobs: Weak<dyn Backlog> = Arc::downgrade(jobs) as Weak<dyn Backlog>;
        Pool {
            results,
            counters: Arc::clone(&core.counters),
            jobs,
            stop_on_drop: core.stop.clone().drop_guard(),
        }
    }

    /// The results channel: completion order for [`WorkerPool::run`], input
    /// order for [`WorkerPool::run_ordered`]. It returns `None` once the
    /// pool has finished (see [`WorkerPool`], "Stopping early", for when
    /// that is).
    ///
    /// # Examples
    ///
    /// ```
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<i32>(1);
    ///     jobs.send(1).await.unwrap();
    ///     jobs.close();
    ///     let pool = gokio_patterns::WorkerPool::new(1).run(jobs.receiver(), |n| async move { -n });
    ///     assert_eq!(pool.results().recv().await, Some(-1));
    ///     assert_eq!(pool.results().recv().await, None);
    /// });
    /// ```
    pub fn results(&self) -> &Receiver<R> {
        &self.results
    }

    /// Hands the results channel over and lets the pool run on without this
    /// handle: dropping the returned [`Receiver`] stops the pool at the next
    /// send a worker attempts (see [`WorkerPool`], "Stopping early"), and
    /// [`progress`](Self::progress) is no longer available.
    ///
    /// # Examples
    ///
    /// ```
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<i32>(1);
    ///     jobs.send(2).await.unwrap();
    ///     jobs.close();
    ///     let results = gokio_patterns::WorkerPool::new(1)
    ///         .run(jobs.receiver(), |n| async move { n * 3 })
    ///         .into_results();
    ///     assert_eq!(results.recv().await, Some(6));
    /// });
    /// ```
    pub fn into_results(self) -> Receiver<R> {
        let Pool {
            results,
            stop_on_drop,
            ..
        } = self;
        // The pool must outlive this handle now.
        drop(stop_on_drop.disarm());
        results
    }

    /// A snapshot of the pool's counters; a few atomic loads.
    ///
    /// Each counter is exact on its own. A snapshot taken while jobs finish
    /// may see a job in one counter a moment before another, but never
    /// counts a job both as finished and as in flight. Once the results
    /// channel has closed, the snapshot is final.
    ///
    /// # Examples
    ///
    /// ```
    /// gokio::run(async {
    ///     let jobs = gokio::chan::<u32>(10);
    ///     for n in 0..10 {
    ///         jobs.send(n).await.unwrap();
    ///     }
    ///     jobs.close();
    ///     let pool = gokio_patterns::WorkerPool::new(2).run(jobs.receiver(), |n| async move { n });
    ///     while pool.results().recv().await.is_some() {
    ///         let p = pool.progress();
    ///         assert!(p.done + p.in_flight + p.queued <= 10);
    ///     }
    ///     assert_eq!(pool.progress().done, 10);
    /// });
    /// ```
    pub fn progress(&self) -> Progress {
        let mut progress = self.counters.snapshot();
        progress.queued = self.jobs.upgrade().map_or(0, |jobs| jobs.backlog());
        progress
    }
}

impl<R> fmt::Debug for Pool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("results", &self.results)
            .field("progress", &self.progress())
            .finish()
    }
}

/// How far a pool has got: a snapshot from [`Pool::progress`].
///
/// Every job taken from `jobs` is `in_flight` until it ends as exactly one
/// of `done`, `panicked` or `cancelled`. Once the pool has finished,
/// `in_flight == 0` and `done + panicked + cancelled` is the number of jobs
/// taken.
///
/// # Examples
///
/// ```
/// gokio::run(async {
///     let jobs = gokio::chan::<u32>(4);
///     for n in 0..4 {
///         jobs.send(n).await.unwrap();
///     }
///     jobs.close();
///     let pool = gokio_patterns::WorkerPool::new(2).run(jobs.receiver(), |n| async move { n });
///     while pool.results().recv().await.is_some() {}
///     let p = pool.progress();
///     println!("{} done, {} running, {} waiting", p.done, p.in_flight, p.queued);
///     assert_eq!((p.done, p.in_flight, p.panicked, p.cancelled), (4, 0, 0, 0));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Jobs whose future returned a result. In an ordered pool the result
    /// may still wait in the reorder buffer; after a stop, it may have been
    /// discarded.
    pub done: usize,
    /// Jobs taken from `jobs` that have not ended yet (in an ordered pool,
    /// including one the dispatcher holds for the next idle worker).
    pub in_flight: usize,
    /// Jobs waiting in the `jobs` channel's buffer: its
    /// [`len`](Receiver::len), so always 0 for an unbuffered `jobs`, and 0
    /// once the pool has stopped.
    pub queued: usize,
    /// Jobs that panicked; they produced no result.
    pub panicked: usize,
    /// Jobs dropped unfinished because the pool stopped (cancelled token,
    /// dropped [`Pool`], dropped results receiver).
    pub cancelled: usize,
}

/// The object-safe view of the jobs channel that [`Pool`] keeps: `Pool<R>`
/// does not name the job type.
trait Backlog: Send + Sync {
    /// Jobs buffered in the channel now.
    fn backlog(&self) -> usize;
}

impl<J: Send> Backlog for Receiver<J> {
    fn backlog(&self) -> usize {
        self.len()
    }
}

/// Which count a job's end goes to.
#[derive(Clone, Copy)]
enum End {
    Done,
    Panicked,
    Cancelled,
}

/// One goroutine's job counters, on a cache line of its own: each counter
/// has a single writer (its goroutine), so counting costs a load and a
/// store, and goroutines on different cores never contend.
#[derive(Default)]
#[repr(align(128))]
struct Tally {
    taken: AtomicUsize,
    done: AtomicUsize,
    panicked: AtomicUsize,
    cancelled: AtomicUsize,
}

impl Tally {
    /// Adds one to `counter`, which only this tally's goroutine writes.
    fn bump(counter: &AtomicUsize, order: Ordering) -> usize {
        let n = counter.load(Ordering::Relaxed);
        counter.store(n + 1, order);
        n
    }
}

/// The job counters behind [`Progress`]: one [`Tally`] per worker, plus one
/// for the ordered pool's dispatcher.
struct Counters {
    tallies: Box<[Tally]>,
}

impl Counters {
    fn new(tallies: usize) -> Counters {
        Counters {
            tallies: (0..tallies).map(|_| Tally::default()).collect(),
        }
    }

    /// Counts a job taken from `jobs` by the goroutine owning `tally`;
    /// returns its number among that goroutine's jobs (in an ordered pool,
    /// whose dispatcher alone takes jobs, the job's place in the input).
    fn take(&self, tally: usize) -> usize {
        // Relaxed: readers learn of this count through the `Release` in
        // `end`, which follows it in the job's history.
        Tally::bump(&self.tallies[tally].taken, Ordering::Relaxed)
    }

    /// Counts a job's end, by the goroutine owning `tally`.
    fn end(&self, tally: usize, end: End) {
        let tally = &self.tallies[tally];
        let counter = match end {
            End::Done => &tally.done,
            End::Panicked => &tally.panicked,
            End::Cancelled => &tally.cancelled,
        };
        // Release: synchronizes with the `Acquire` loads in `snapshot`, so a
        // snapshot that sees this end also sees the job's `take` (which
        // happened before it: in the same goroutine, or in the dispatcher
        // before the job went through the work channel).
        Tally::bump(counter, Ordering::Release);
    }

    fn snapshot(&self) -> Progress {
        // Acquire: synchronizes with the `Release` stores in `end`; the
        // `taken` loads below then see every take of a job counted here.
        let (mut done, mut panicked, mut cancelled) = (0, 0, 0);
        for tally in self.tallies.iter() {
            done += tally.done.load(Ordering::Acquire);
            panicked += tally.panicked.load(Ordering::Acquire);
            cancelled += tally.cancelled.load(Ordering::Acquire);
        }
        // Relaxed: after the `Acquire` loads above, which is all it needs to
        // be at least the number of jobs that have ended.
        let taken: usize = self
            .tallies
            .iter()
            .map(|t| t.taken.load(Ordering::Relaxed))
            .sum();
        let ended = done + panicked + cancelled;
        debug_assert!(
            taken >= ended,
            "worker pool: a job ended before it was taken"
        );
        Progress {
            done,
            in_flight: taken.saturating_sub(ended),
            queued: 0,
            panicked,
            cancelled,
        }
    }
}

/// What one pool's goroutines share.
struct Core<F> {
    f: F,
    /// Cancelled to stop the pool: by the caller's token (this is its
    /// child), by the drop of the [`Pool`], or by a worker whose results
    /// send failed.
    stop: CancellationToken,
    counters: Arc<Counters>,
}

impl<F> Core<F> {
    /// Runs `fut` unless the pool stops first: `None` if it stopped.
    ///
    /// The stop is polled first, so once the pool has stopped `fut` is not
    /// polled again. Every gokio operation passed here is cancel-safe: a
    /// dropped `recv` consumes no value, and a dropped `send` has not sent.
    async fn until_stopped<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        let mut fut = pin!(fut);
        // Created now, registered with the token only when polled: the
        // common case, `fut` ready at once, costs one atomic load of the
        // token's state and no lock.
        let mut stopped = pin!(self.stop.cancelled());
        poll_fn(|cx| {
            if self.stop.is_cancelled() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(value) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(value));
            }
            stopped.as_mut().poll(cx).map(|()| None)
        })
        .await
    }

    /// Runs job number `seq`, catching its panic: `Some(Some(result))`,
    /// `Some(None)` if it panicked, `None` if the pool stopped first (the
    /// job's future is dropped).
    async fn execute<J, R, Fut>(&self, tally: usize, seq: usize, job: J) -> Option<Option<R>>
    where
        F: Fn(J) -> Fut,
        Fut: Future<Output = R>,
    {
        // The clock is read only when job events are logged: reading it
        // would cost more than a tiny job.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        tracing::debug!(job = seq, "job started");
        // `f(job)` itself runs inside the guarded future, so a panic in the
        // call is caught like one in the future. `AssertUnwindSafe`: after a
        // panic, only `f` is used again (see `WorkerPool`'s docs, "Panics").
        let run = AssertUnwindSafe(async { (self.f)(job).await }).catch_unwind();
        match self.until_stopped(run).await {
            Some(Ok(result)) => {
                self.counters.end(tally, End::Done);
                tracing::debug!(job = seq, elapsed = ?started.map(|t| t.elapsed()), "job finished");
                Some(Some(result))
            }
            Some(Err(payload)) => {
                self.counters.end(tally, End::Panicked);
                tracing::error!(
                    job = seq,
                    elapsed = ?started.map(|t| t.elapsed()),
                    panic = panic_message(&*payload),
                    "job panicked; it produces no result",
                );
                Some(None)
            }
            None => {
                self.counters.end(tally, End::Cancelled);
                tracing::debug!(job = seq, elapsed = ?started.map(|t| t.elapsed()), "job dropped: the pool stopped");
                None
            }
        }
    }

    /// Stops the pool because the results receiver is gone.
    fn consumer_gone(&self) {
        tracing::debug!("results receiver dropped: stopping the pool");
        self.stop.cancel();
    }
}

/// Starts `fut` as the goroutine `name`, inside the span `span()` made on
/// the goroutine itself, so that the span's parent is the goroutine's own
/// `goroutine` span rather than the span of whoever started the pool.
#[track_caller]
fn go_in_span<Fut, S>(name: String, fut: Fut, span: S)
where
    Fut: Future<Output = ()> + Send + 'static,
    S: FnOnce() -> tracing::Span + Send + 'static,
{
    gokio::go_named(name, async move { fut.instrument(span()).await });
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "Box<dyn Any>"
    }
}

/// A worker of a completion-order pool: Go's `for job := range jobs {
/// results <- f(job) }`, stopping with the pool.
async fn completion_worker<J, R, F, Fut>(
    id: usize,
    core: Arc<Core<F>>,
    jobs: Arc<Receiver<J>>,
    results: Sender<R>,
) where
    F: Fn(J) -> Fut,
    Fut: Future<Output = R>,
{
    loop {
        let job = match core.until_stopped(next_job(&jobs, &results)).await {
            Some(Next::Job(job)) => job,
            Some(Next::ConsumerGone) => {
                core.consumer_gone();
                break;
            }
            Some(Next::Exhausted) | None => break,
        };
        let seq = core.counters.take(id);
        let Some(outcome) = core.execute(id, seq, job).await else {
            break;
        };
        let Some(result) = outcome else {
            continue; // It panicked: no result, next job.
        };
        match core.until_stopped(results.send(result)).await {
            Some(Ok(())) => {}
            Some(Err(_)) => {
                core.consumer_gone();
                break;
            }
            None => break,
        }
    }
    tracing::debug!("worker returned");
    // Every job of this worker is counted. Its handle on `jobs` goes before
    // its results sender: the last worker's drop of that closes `results`,
    // and the pool must then hold no receiver of `jobs` (invariant 2).
    drop(jobs);
    drop(results);
}

/// The dispatcher of an ordered pool: numbers the jobs in order of receipt
/// and hands them to idle workers, one window slot per job.
///
/// It sends nothing on `outcomes`: it holds a sender only so that the
/// collector, and with it `results`, waits for it to return (invariant 2).
async fn dispatcher<J, R, F>(
    dispatcher_tally: usize,
    core: Arc<Core<F>>,
    jobs: Arc<Receiver<J>>,
    slots: Sender<()>,
    work: Sender<(usize, J)>,
    outcomes: Sender<(usize, Option<R>)>,
) {
    // The slot comes before the job, so a full window leaves the job in
    // `jobs` (invariant 3). The send fails only once the collector is gone.
    while let Some(Ok(())) = core.until_stopped(slots.send(())).await {
        let Some(Some(job)) = core.until_stopped(jobs.recv()).await else {
            break;
        };
        let seq = core.counters.take(dispatcher_tally);
        match core.until_stopped(work.send((seq, job))).await {
            // Handed over: the worker that received it counts its end, even
            // after a stop (invariant 4).
            Some(Ok(())) => {}
            // Stopped before the hand-over (a dropped send has not sent):
            // the job never ran. (Every worker gone, the other failure,
            // cannot happen while this sender lives: workers return only
            // once `work` is closed.)
            Some(Err(_)) | None => {
                core.counters.end(dispatcher_tally, End::Cancelled);
                break;
            }
        }
    }
    tracing::debug!("dispatcher returned");
    // Every job taken here is counted or in a worker's hands. Dropping
    // `work` lets the workers drain it and return; `jobs` goes before
    // `outcomes`, whose closing lets the collector close `results`
    // (invariant 2).
    drop(jobs);
    drop(work);
    drop(slots);
    drop(outcomes);
}

/// A worker of an ordered pool: runs numbered jobs and passes the outcomes
/// (`None` for a panic) to the collector.
///
/// It receives until `work` is closed and drained, without racing the stop
/// (invariant 4): the dispatcher has counted every job it handed over as
/// taken, so the worker that received it must count its end. After a stop,
/// `Core::execute` counts each job received as cancelled without running
/// it, and the dispatcher's return soon closes `work`.
async fn ordered_worker<J, R, F, Fut>(
    id: usize,
    core: Arc<Core<F>>,
    work: Receiver<(usize, J)>,
    outcomes: Sender<(usize, Option<R>)>,
) where
    F: Fn(J) -> Fut,
    Fut: Future<Output = R>,
{
    while let Some((seq, job)) = work.recv().await {
        let Some(outcome) = core.execute(id, seq, job).await else {
            continue; // Stopped: counted as cancelled; drain `work`.
        };
        // Never waits in practice: `outcomes` has room for the whole window.
        // After a stop the outcome is discarded (the job is counted as done
        // already), as the collector discards its buffer; the send cannot
        // fail otherwise, since the collector receives until every sender
        // is gone.
        let _discarded_if_stopped = core.until_stopped(outcomes.send((seq, outcome))).await;
    }
    tracing::debug!("worker returned");
}

/// The collector of an ordered pool: emits results in job order and frees a
/// window slot per job emitted (or skipped after a panic).
async fn collector<R, F>(
    core: Arc<Core<F>>,
    outcomes: Receiver<(usize, Option<R>)>,
    slots: Receiver<()>,
    results: Sender<R>,
    window: usize,
) {
    let mut reorder = Reorder::new(window);
    'collect: loop {
        let (seq, outcome) = match core.until_stopped(next_job(&outcomes, &results)).await {
            Some(Next::Job(numbered)) => numbered,
            // Nobody reads the results: stop the pool now rather than at
            // the next result (`jobs` may stay open and empty for ever).
            Some(Next::ConsumerGone) => {
                core.consumer_gone();
                break 'collect;
            }
            Some(Next::Exhausted) | None => break 'collect,
        };
        reorder.insert(seq, outcome);
        while let Some(outcome) = reorder.pop_next() {
            if let Some(result) = outcome {
                match core.until_stopped(results.send(result)).await {
                    Some(Ok(())) => {}
                    Some(Err(_)) => {
                        core.consumer_gone();
                        break 'collect;
                    }
                    None => break 'collect,
                }
            }
            // The dispatcher sent this job's token before taking it, so one
            // is always there to receive.
            let freed = slots.try_recv();
            debug_assert!(freed.is_ok(), "worker pool: window token missing");
        }
    }
    // After a stop, results still in the buffer are discarded. Then wait for
    // every worker and the dispatcher to return (they are stopping too)
    // before `results` closes, so that its closing means the whole pool is
    // done and counted (invariant 2). After a normal end the input is
    // closed already.
    drop(reorder);
    while outcomes.recv().await.is_some() {}
    tracing::debug!("collector returned");
    // The last results sender: this drop closes `results`.
    drop(results);
}

/// The reorder buffer of an ordered pool: outcomes that finished before an
/// earlier job, by position after the next job to emit.
struct Reorder<R> {
    /// Slot `k` holds job `next + k`'s outcome once it has arrived.
    slots: VecDeque<Option<Option<R>>>,
    /// The number of the next job to emit.
    next: usize,
    window: usize,
}

impl<R> Reorder<R> {
    fn new(window: usize) -> Self {
        Reorder {
            slots: VecDeque::with_capacity(window),
            next: 0,
            window,
        }
    }

    fn insert(&mut self, seq: usize, outcome: Option<R>) {
        let k = seq - self.next;
        // Invariant 3: job `seq` was taken only after job `seq - window`
        // was emitted.
        debug_assert!(k < self.window, "worker pool: job {seq} outside the window");
        if self.slots.len() <= k {
            self.slots.resize_with(k + 1, || None);
        }
        debug_assert!(
            self.slots[k].is_none(),
            "worker pool: job {seq} finished twice"
        );
        self.slots[k] = Some(outcome);
    }

    /// The next job's outcome, if it has arrived.
    fn pop_next(&mut self) -> Option<Option<R>> {
        let outcome = self.slots.front_mut()?.take()?;
        self.slots.pop_front();
        self.next += 1;
        Some(outcome)
    }
}
