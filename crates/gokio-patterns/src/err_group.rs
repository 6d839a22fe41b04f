//! Go's `errgroup` (`golang.org/x/sync/errgroup`): run a group of fallible
//! tasks as goroutines, wait for all of them, and get the first error.
//!
//! [`ErrGroup`] is Go's `errgroup.Group`, and [`ErrGroup::with_cancel`] is
//! `errgroup.WithContext`, with tokio-util's [`CancellationToken`] in the
//! part of Go's `context.Context`. Every task is a goroutine started with
//! [`gokio::go`].
//!
//! # Differences from Go
//!
//! - **`go` is async.** Go's `g.Go(f)` blocks the calling goroutine while the
//!   group is at its limit; [`ErrGroup::go`] returns a future that waits for
//!   a free slot and then starts the task, so it is spelled
//!   `g.go(fut).await`. [`ErrGroup::try_go`] is Go's `TryGo`.
//! - **Panics are reported through `wait`.** In Go a panicking task crashes
//!   the whole program. A gokio goroutine's panic ends only that goroutine,
//!   so the group catches it, counts it as a failure (the token is
//!   cancelled), and [`ErrGroup::wait`] re-raises it with
//!   [`std::panic::resume_unwind`] once every task has finished, unless an
//!   error was recorded first. This is the policy Go accepted in
//!   golang/go#53757 (and later reverted, because in Go it delays a crash)
//!   and the one Tokio's `JoinSet` follows. See [`ErrGroup::wait`].
//! - **The token stands in for the context.** [`ErrGroup::with_cancel`]
//!   returns a [`CancellationToken`] instead of a derived `context.Context`.
//!   As in Go, it is cancelled by the first failure and when `wait` returns.
//!   Go derives the context from a parent; the token here has none (cancel
//!   it from the parent's side if it must follow one).
//! - **The first error is handed out once.** Go's `Wait` returns the same
//!   `error` from every call. `E` need not be `Clone` here, so the first
//!   error (or panic) is moved out by the first `wait` that returns after it
//!   was recorded; later calls return `Ok(())`. As in Go, only the first
//!   failure is ever recorded: later errors are dropped, later panics logged.
//! - **`set_limit` checks every task.** Go's `SetLimit` must not be called
//!   while goroutines of the group are active, but it can detect that only
//!   when a limit is already set. [`ErrGroup::set_limit`] panics whenever a
//!   task is active. A negative limit (no limit) is
//!   [`ErrGroup::remove_limit`].
//!
//! # Design
//!
//! A [`WaitGroup`] counts the tasks. A limit of `n` is a `gokio::chan::<()>(n)`
//! used as a semaphore, as Go's errgroup uses a `chan token`: a task takes
//! a slot by sending a `()` (waiting for room) and gives it back with a
//! `try_recv`, which cannot fail because its own `()` is in the buffer. A
//! limit of 0 is `chan(0)`, a rendezvous channel nobody ever receives from,
//! so no slot is ever free, as in Go. The first failure sits in a
//! `std::sync::Mutex`. A task catches its future's panic with
//! [`FutureExt::catch_unwind`], so the bookkeeping below runs on every path.
//! The handles of the goroutines are kept (finished ones are pruned) so that
//! `wait` can join them: a goroutine is only gone, for
//! [`gokio::num_goroutine`], once its future has been dropped, which happens
//! just after the task's guard has called `done`.
//!
//! # Invariants
//!
//! 1. A task holds a semaphore slot from the moment [`ErrGroup::go`] or
//!    [`ErrGroup::try_go`] acquires it until the task's guard is dropped; the
//!    guard releases it into the very channel it came from, so replacing the
//!    semaphore can never make a release land in the wrong one.
//! 2. The [`WaitGroup`] counter is raised before the goroutine is spawned and
//!    lowered exactly once, by the task's guard, after the slot was released
//!    and after the task's failure (if any) was recorded. So when `wait`'s
//!    wait-group wait returns, every slot is free and every failure is in
//!    place.
//! 3. `failed` is set at most once and never reset; only the failure that set
//!    it is stored, and the token is cancelled after it was stored.
//! 4. No lock is held across an `.await`, and no user code (not even a drop
//!    of `E` or of a panic payload) runs while a lock is held.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::mem;
use std::panic::{AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::FutureExt;
use gokio::{Chan, Goroutine, TrySendError, WaitGroup};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A group of fallible tasks run as goroutines: Go's `errgroup.Group`.
///
/// [`go`](Self::go) starts a task (a future returning `Result<(), E>`),
/// [`wait`](Self::wait) waits for every task started so far and returns the
/// first error. Clones share the group (Go passes `*errgroup.Group`); move a
/// clone into a task to start more tasks from inside the group.
///
/// # Differences from Go
///
/// - [`go`](Self::go) is async: where Go's `Go` blocks at the limit, it
///   returns a future that waits for a free slot (`g.go(fut).await`).
/// - A panicking task does not crash the program: it counts as a failure
///   and [`wait`](Self::wait) re-raises it (see its `# Panics`).
/// - [`with_cancel`](Self::with_cancel) returns a [`CancellationToken`]
///   instead of a `context.Context`.
/// - The first error is moved out by the first `wait` that returns after it
///   (no `E: Clone` bound); Go returns it from every `Wait`.
/// - [`set_limit`](Self::set_limit) panics whenever a task is active, not
///   only when a limit was already set; Go's negative limit is
///   [`remove_limit`](Self::remove_limit).
///
/// # Examples
///
/// ```
/// use gokio_patterns::ErrGroup;
///
/// gokio::run(async {
///     let g = ErrGroup::new();
///     for url in ["a.example", "b.example", "bad.example"] {
///         g.go(async move {
///             if url.starts_with("bad") {
///                 return Err(format!("fetch {url}: not found"));
///             }
///             Ok(())
///         })
///         .await;
///     }
///     assert_eq!(g.wait().await, Err("fetch bad.example: not found".to_string()));
/// });
/// ```
pub struct ErrGroup<E> {
    inner: Arc<Inner<E>>,
}

/// The state shared by every clone of one [`ErrGroup`].
struct Inner<E> {
    /// Counts the tasks that have started and whose guard has not dropped.
    wg: WaitGroup,
    /// The semaphore of the current limit, or `None` for no limit.
    sem: Mutex<Option<Chan<()>>>,
    /// The first failure (invariant 3).
    outcome: Mutex<Outcome<E>>,
    /// Handles of the goroutines not yet joined; finished ones are pruned.
    handles: Mutex<Vec<Goroutine<()>>>,
    /// Cancelled on the first failure and when `wait` returns.
    token: Option<CancellationToken>,
    /// The index of the next task, for its `tracing` span.
    next_index: AtomicU64,
}

/// Whether the group has failed, and the failure not yet handed out.
struct Outcome<E> {
    failed: bool,
    first: Option<Failure<E>>,
}

/// How a task failed.
enum Failure<E> {
    Error(E),
    Panic(Box<dyn Any + Send + 'static>),
}

/// Locks `mutex`, ignoring poisoning: no critical section here runs user
/// code (invariant 4), so a poisoned lock still guards consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<E> ErrGroup<E> {
    /// Creates an empty group with no limit and no cancellation token: Go's
    /// zero `errgroup.Group`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let g = ErrGroup::<String>::new();
    ///     g.go(async { Ok(()) }).await;
    ///     assert_eq!(g.wait().await, Ok(()));
    /// });
    /// ```
    pub fn new() -> Self {
        Self::with_token(None)
    }

    /// Creates an empty group and its cancellation token: Go's
    /// `errgroup.WithContext`.
    ///
    /// The token is cancelled when a task fails (returns `Err` or panics),
    /// and when [`wait`](Self::wait) returns, whatever it returns. Tasks that
    /// should stop early once another task failed watch the token (for
    /// example `token.cancelled().await` in a `tokio::select!`, or
    /// `token.is_cancelled()` between steps).
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let (g, token) = ErrGroup::with_cancel();
    ///     let t = token.clone();
    ///     // This task would run forever, but it watches the token.
    ///     g.go(async move {
    ///         t.cancelled().await;
    ///         Ok(())
    ///     })
    ///     .await;
    ///     g.go(async { Err("disk full") }).await;
    ///     assert_eq!(g.wait().await, Err("disk full"));
    ///     assert!(token.is_cancelled());
    /// });
    /// ```
    pub fn with_cancel() -> (Self, CancellationToken) {
        let token = CancellationToken::new();
        (Self::with_token(Some(token.clone())), token)
    }

    fn with_token(token: Option<CancellationToken>) -> Self {
        ErrGroup {
            inner: Arc::new(Inner {
                wg: WaitGroup::new(),
                sem: Mutex::new(None),
                outcome: Mutex::new(Outcome {
                    failed: false,
                    first: None,
                }),
                handles: Mutex::new(Vec::new()),
                token,
                next_index: AtomicU64::new(0),
            }),
        }
    }

    /// Limits the number of active tasks to at most `n`: Go's `SetLimit(n)`
    /// with `n >= 0`.
    ///
    /// From then on [`go`](Self::go) waits until a task can start without
    /// exceeding the limit, and [`try_go`](Self::try_go) refuses to start one.
    /// A limit of 0 lets no task start: `go` then waits forever. The limit is
    /// a channel of capacity `n`, whose buffer is allocated up front (a word
    /// per slot): for no limit use [`remove_limit`](Self::remove_limit), not
    /// a huge `n`.
    ///
    /// # Panics
    ///
    /// Panics with "errgroup: modify limit while N goroutines in the group
    /// are still active" if any task of the group is active (started and not
    /// finished), as Go's documentation requires. Go detects this only if a
    /// limit was already set; gokio always does. Like Go, the check cannot
    /// see a [`go`](Self::go) that runs concurrently with this call on
    /// another clone; do not do that.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let g = ErrGroup::<()>::new();
    ///     g.set_limit(1);
    ///     let gate = gokio::chan::<()>(0);
    ///     let rx = gate.clone();
    ///     g.go(async move {
    ///         rx.recv().await;
    ///         Ok(())
    ///     })
    ///     .await;
    ///     // The only slot is taken.
    ///     assert!(!g.try_go(async { Ok(()) }));
    ///     gate.send(()).await.unwrap();
    ///     g.wait().await.unwrap();
    ///     assert!(g.try_go(async { Ok(()) }));
    ///     g.wait().await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn set_limit(&self, n: usize) {
        self.replace_semaphore(Some(gokio::chan(n)));
    }

    /// Removes the limit, so that [`go`](Self::go) never waits: Go's
    /// `SetLimit(-1)`. A new group has no limit.
    ///
    /// # Panics
    ///
    /// As [`set_limit`](Self::set_limit): if any task of the group is active.
    /// (Go never panics on a negative limit; gokio keeps the one rule that
    /// the limit is not modified while tasks are active.)
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let g = ErrGroup::<()>::new();
    ///     g.set_limit(0); // Nothing could start now.
    ///     assert!(!g.try_go(async { Ok(()) }));
    ///     g.remove_limit();
    ///     assert!(g.try_go(async { Ok(()) }));
    ///     g.wait().await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn remove_limit(&self) {
        self.replace_semaphore(None);
    }

    #[track_caller]
    fn replace_semaphore(&self, sem: Option<Chan<()>>) {
        let active = self.inner.wg.count();
        if active != 0 {
            panic!(
                "errgroup: modify limit while {active} goroutines in the group are still active"
            );
        }
        let old = mem::replace(&mut *lock(&self.inner.sem), sem);
        // Dropped after the lock is released (invariant 4).
        drop(old);
    }

    /// The current semaphore, if a limit is set.
    fn semaphore(&self) -> Option<Chan<()>> {
        lock(&self.inner.sem).clone()
    }
}

impl<E: Send + 'static> ErrGroup<E> {
    /// Starts `fut` as a task of the group, in a new goroutine: Go's
    /// `g.Go(f)`.
    ///
    /// If a limit is set ([`set_limit`](Self::set_limit)), the returned
    /// future first waits until a task can start without exceeding it, then
    /// starts the task and completes; without a limit it completes at its
    /// first poll. The task runs as a goroutine named `errgroup`, inside a
    /// `tracing` span `errgroup` with the fields `index` (0, 1, ... in the
    /// order tasks start in this group) and `spawned_at` (the caller's
    /// source location).
    ///
    /// If the task returns `Err`, or panics, and no task of the group failed
    /// before, that failure is recorded for [`wait`](Self::wait) and the
    /// group's token (if any) is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops `fut` unstarted and
    /// leaves the group as it was: a slot is taken and the task started in
    /// one step, during the poll that completes the future.
    ///
    /// # Panics
    ///
    /// Panics if polled outside a Tokio runtime, like [`gokio::go`]; the
    /// group is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// gokio::run(async {
    ///     let done = Arc::new(AtomicUsize::new(0));
    ///     let g = ErrGroup::<std::io::Error>::new();
    ///     g.set_limit(2);
    ///     for _ in 0..10 {
    ///         let done = done.clone();
    ///         // Waits here while two tasks are running.
    ///         g.go(async move {
    ///             done.fetch_add(1, Ordering::Relaxed);
    ///             Ok(())
    ///         })
    ///         .await;
    ///     }
    ///     g.wait().await.unwrap();
    ///     assert_eq!(done.load(Ordering::Relaxed), 10);
    /// });
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F) -> impl Future<Output = ()> + Send + '_
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let caller = Location::caller();
        async move {
            // Read at the first poll, as Go reads the limit when `Go` runs:
            // a `set_limit` between making this future and awaiting it
            // applies to it.
            let sem = self.semaphore();
            if let Some(sem) = &sem {
                // The group holds both ends of its semaphore, so the send
                // cannot fail; it only waits for room (a free slot).
                let sent = sem.send(()).await;
                debug_assert!(sent.is_ok(), "an errgroup semaphore never closes");
            }
            self.start(sem, caller, fut);
        }
    }

    /// Starts `fut` as a task of the group if it can start now without
    /// exceeding the limit, and returns whether it did: Go's `g.TryGo(f)`.
    ///
    /// Without a limit it always starts the task and returns `true`. When it
    /// returns `false`, `fut` is dropped unstarted. Otherwise as
    /// [`go`](Self::go).
    ///
    /// # Panics
    ///
    /// Panics if called outside a Tokio runtime, like [`gokio::go`]; the
    /// group is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let g = ErrGroup::<()>::new();
    ///     g.set_limit(1);
    ///     let stop = gokio::chan::<()>(0);
    ///     let rx = stop.clone();
    ///     assert!(g.try_go(async move {
    ///         rx.recv().await;
    ///         Ok(())
    ///     }));
    ///     assert!(!g.try_go(async { Ok(()) })); // Full.
    ///     stop.send(()).await.unwrap();
    ///     g.wait().await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn try_go<F>(&self, fut: F) -> bool
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let sem = self.semaphore();
        if let Some(sem) = &sem {
            match sem.try_send(()) {
                Ok(()) => {}
                Err(TrySendError::Full(())) => return false,
                Err(TrySendError::Closed(())) => {
                    unreachable!("an errgroup semaphore never closes")
                }
            }
        }
        self.start(sem, Location::caller(), fut);
        true
    }

    /// Starts a task that holds `slot` (if a limit is set). Invariant 2.
    fn start<F>(&self, slot: Option<Chan<()>>, caller: &'static Location<'static>, fut: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.inner.wg.add(1);
        // From here on the guard owns the slot and the count: if spawning
        // panics, the unspawned task is dropped and the guard gives both back.
        let guard = TaskGuard {
            group: Arc::clone(&self.inner),
            slot,
        };
        // Relaxed: the index only labels the span; it publishes nothing.
        let index = self.inner.next_index.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("errgroup", index, spawned_at = %caller);
        let task = async move {
            // AssertUnwindSafe: after a panic, `fut` is dropped and never
            // polled again, and the payload goes to `wait` (or the log), as
            // Tokio does with a task's panic.
            let failure = match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(Ok(())) => None,
                Ok(Err(err)) => Some(Failure::Error(err)),
                Err(payload) => Some(Failure::Panic(payload)),
            };
            if let Some(failure) = failure {
                guard.group.fail(failure, index);
            }
            // The guard drops here: slot released, then `done` (invariant 2).
            drop(guard);
        };
        let handle = gokio::go_named("errgroup", task.instrument(span));
        self.inner.keep(handle);
    }

    /// Waits for every task started so far, then returns the first failure:
    /// Go's `g.Wait()`.
    ///
    /// Returns `Ok(())` if no task failed, `Err(e)` with the first error if
    /// one did. With no tasks it returns at once. When it returns, every
    /// task's goroutine has ended (it is no longer counted by
    /// [`gokio::num_goroutine`]) and every slot of the limit is free; then
    /// the group's token (if any) is cancelled, as Go cancels the context.
    /// Tasks started while `wait` is pending may or may not be waited for,
    /// as in Go.
    ///
    /// The first failure is handed out once (Go would need `E: Clone` to
    /// return it again): to the first `wait` that returns after it was
    /// recorded. Later calls return `Ok(())`, and, as in Go, failures of
    /// tasks started after the first failure are never recorded.
    ///
    /// # Panics
    ///
    /// A panic in a task counts as a failure: it cancels the token, and
    /// other tasks run on. If the first failure of the group was a panic,
    /// `wait` resumes it with [`std::panic::resume_unwind`], with the
    /// original payload, after every task has finished. A panic after an
    /// earlier failure is not raised: it is logged with `tracing::error!`
    /// (and printed by the panic hook as usual), and `wait` returns the
    /// earlier error. A panicking task never makes `wait` hang or leaves a
    /// slot taken.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes has no effect on the group:
    /// the failure stays recorded and the token is not cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let g = ErrGroup::<&str>::new();
    ///     assert_eq!(g.wait().await, Ok(())); // No tasks: at once.
    ///
    ///     g.go(async { panic!("boom") }).await;
    ///     let panicked = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(g.wait())).await;
    ///     let payload = panicked.unwrap_err();
    ///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) -> impl Future<Output = Result<(), E>> + Send + '_ {
        // Created here, in a `#[track_caller]` function, so that `dump`
        // shows the caller's line for the `sync.WaitGroup.Wait`.
        let all_done = self.inner.wg.wait();
        async move {
            all_done.await;
            // Every task body and guard has run (invariant 2); join the
            // goroutines so that their futures are dropped too.
            let handles = mem::take(&mut *lock(&self.inner.handles));
            for handle in handles {
                // Each task catches its own panic, so a join error means the
                // goroutine was aborted at runtime shutdown: nothing to report.
                let _ = handle.await;
            }
            if let Some(token) = &self.inner.token {
                token.cancel();
            }
            let first = lock(&self.inner.outcome).first.take();
            match first {
                None => Ok(()),
                Some(Failure::Error(err)) => Err(err),
                Some(Failure::Panic(payload)) => std::panic::resume_unwind(payload),
            }
        }
    }
}

impl<E> Inner<E> {
    /// Records `failure` if it is the group's first (invariant 3).
    fn fail(&self, failure: Failure<E>, index: u64) {
        let late = {
            let mut outcome = lock(&self.outcome);
            if outcome.failed {
                Some(failure)
            } else {
                outcome.failed = true;
                outcome.first = Some(failure);
                None
            }
        };
        match late {
            None => {
                if let Some(token) = &self.token {
                    token.cancel();
                }
            }
            Some(Failure::Panic(payload)) => {
                tracing::error!(
                    index,
                    panic = panic_message(&*payload),
                    "errgroup: task panicked after an earlier failure; the panic is not re-raised"
                );
            }
            Some(Failure::Error(_)) => {
                tracing::debug!(
                    index,
                    "errgroup: task failed after an earlier failure; its error is dropped"
                );
            }
        }
    }

    /// Keeps `handle` for `wait`, pruning handles of finished goroutines so
    /// that a long-lived group holds about as many as it has active tasks.
    fn keep(&self, handle: Goroutine<()>) {
        let mut handles = lock(&self.handles);
        if handles.len() == handles.capacity() {
            handles.retain(|h| !h.is_finished());
            // Grow if pruning freed little room, so that pruning stays
            // amortized O(1) per task.
            if handles.len() * 2 > handles.capacity() {
                let additional = handles.len().max(8);
                handles.reserve(additional);
            }
        }
        handles.push(handle);
    }
}

/// The text of a panic payload, for the log.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// A task's hold on its slot and on the group's count; released on drop,
/// however the task ends (invariants 1 and 2).
struct TaskGuard<E> {
    group: Arc<Inner<E>>,
    slot: Option<Chan<()>>,
}

impl<E> Drop for TaskGuard<E> {
    fn drop(&mut self) {
        if let Some(sem) = self.slot.take() {
            // Our own `()` is in this channel's buffer (invariant 1), so the
            // receive succeeds; it makes room for one waiting `go`.
            let released = sem.try_recv();
            debug_assert!(released.is_ok(), "errgroup: a held slot is missing");
        }
        self.group.wg.done();
    }
}

impl<E> Clone for ErrGroup<E> {
    /// Another handle to the same group: tasks started through it are
    /// waited for by `wait` on any handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let g = ErrGroup::<&str>::new();
    ///     let g2 = g.clone();
    ///     g2.go(async { Err("from the clone") }).await;
    ///     assert_eq!(g.wait().await, Err("from the clone"));
    /// });
    /// ```
    fn clone(&self) -> Self {
        ErrGroup {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<E> Default for ErrGroup<E> {
    /// Same as [`ErrGroup::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_patterns::ErrGroup;
    ///
    /// gokio::run(async {
    ///     let g: ErrGroup<()> = ErrGroup::default();
    ///     assert_eq!(g.wait().await, Ok(()));
    /// });
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    /// Shows the number of active tasks, the limit, whether the group has
    /// failed and whether it has a token; never the error itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = gokio_patterns::ErrGroup::<()>::new();
    /// g.set_limit(4);
    /// assert_eq!(
    ///     format!("{g:?}"),
    ///     "ErrGroup { active: 0, limit: Some(4), failed: false, cancel: false }",
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroup")
            .field("active", &self.inner.wg.count())
            .field("limit", &self.semaphore().map(|sem| sem.cap()))
            .field("failed", &lock(&self.inner.outcome).failed)
            .field("cancel", &self.inner.token.is_some())
            .finish()
    }
}
