//! `sync.WaitGroup`: wait for a collection of goroutines to finish.
//!
//! A [`WaitGroup`] is a counter. [`add`](WaitGroup::add) raises it before
//! work starts, [`done`](WaitGroup::done) lowers it when a piece of work ends,
//! and [`wait`](WaitGroup::wait) suspends the calling goroutine until the
//! counter is zero. [`go`](WaitGroup::go) (Go 1.25's `wg.Go`) does all three
//! bookkeeping steps for one goroutine.
//!
//! # Differences from Go
//!
//! In short (the full list is on [`WaitGroup`], where users read it): clones
//! share the counter instead of passing a pointer; `go` counts a goroutine
//! until it ends, including by panic or abort; `wait_blocking` serves plain
//! threads; the "reused before previous Wait has returned" and "Add called
//! concurrently with Wait" panics are not raised, because gokio's wake-up rule
//! (on [`WaitGroup::wait`]) is defined for every interleaving.
//!
//! # Design
//!
//! The state is one `AtomicIsize` counter and one [`tokio::sync::Notify`].
//! An `add` (or `done`) that moves the counter from non-zero to zero calls
//! [`Notify::notify_waiters`], which wakes every waiter registered at that
//! moment and no later one. A waiter therefore registers first and looks at
//! the counter second:
//!
//! ```text
//! waiter                                  last done()
//! ------                                  -----------
//! notified = notify.notified(); enable    count.fetch_sub(1) == 1 ?
//! if count.load() == 0 { return }         notify.notify_waiters()
//! notified.await
//! ```
//!
//! If the waiter's load sees a non-zero counter, the `done` that later brings
//! it to zero calls `notify_waiters` after the waiter registered, so the
//! wake-up reaches it. Loading before registering would lose it: the load
//! sees 1, the last `done` runs and notifies nobody, and the waiter then
//! registers and sleeps forever. `tests/sync_wait_group_model.rs` enumerates
//! every interleaving of both orders and finds exactly that lost wake-up in
//! the wrong one. (Tokio already promises that a `Notified` receives
//! `notify_waiters` wake-ups from its creation on; `enable` makes the
//! registration explicit and independent of that detail.)
//!
//! On real hardware the two sides are ordered by the mutex inside `Notify`:
//! either the waiter's registration precedes the notifier's critical section
//! (and the notifier sees and wakes it), or the notifier's critical section
//! precedes the registration, and then it also precedes the waiter's load of
//! the counter, which therefore reads the zero (or a later value).
//!
//! `wait_blocking` runs the same `wait` future under
//! `futures::executor::block_on`, whose waker unparks the blocked thread. A
//! wake that arrives before the thread parks leaves the park token set, so
//! `park` returns at once: the blocking path inherits the no-lost-wake-up
//! argument above and adds none of its own.
//!
//! # Invariants
//!
//! 1. The counter is never negative, except after the "negative WaitGroup
//!    counter" panic, after which the group must not be used.
//! 2. `notify_waiters` is called by exactly the `add` whose read-modify-write
//!    moved the counter from non-zero to zero, after that write.
//! 3. A waiter registers with the `Notify` before it loads the counter, and
//!    returns only if that load saw zero or it was notified.
//! 4. A `Notified` completes only through `notify_waiters` (nobody calls
//!    `notify_one`), so a notified waiter has seen a zero transition that
//!    happened after it registered.
//! 5. Each [`WaitGroup::go`] adds exactly 1 before spawning and its drop
//!    guard subtracts exactly 1, once, however the goroutine ends.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::runtime::registry::{track, Op, OpKind};

use crate::Goroutine;

/// Waits for a collection of goroutines to finish: Go's `sync.WaitGroup`.
///
/// Clones share one counter (Go passes `*sync.WaitGroup`); move a clone into
/// each goroutine. [`add`](Self::add) raises the counter before work starts,
/// [`done`](Self::done) lowers it when a piece of work ends, and
/// [`wait`](Self::wait) suspends the goroutine until it is zero;
/// [`go`](Self::go) does the bookkeeping for one goroutine.
///
/// # Differences from Go
///
/// - Go passes `*sync.WaitGroup` around; here `WaitGroup` is [`Clone`] and
///   every clone shares one counter, so a clone can be moved into each
///   goroutine. The future returned by [`wait`](Self::wait) owns its own
///   clone, so it is `'static` and can itself be moved into a goroutine.
/// - [`go`](Self::go) calls `done` when the goroutine ends for any reason:
///   when its future completes, when it panics, and when it is aborted (or
///   dropped at runtime shutdown). Go has no abort.
/// - [`wait_blocking`](Self::wait_blocking) waits from a plain thread outside
///   any runtime; Go has one kind of thread and needs no such method.
/// - Go panics with "sync: WaitGroup is reused before previous Wait has
///   returned" and "sync: WaitGroup misuse: Add called concurrently with
///   Wait" when it detects those races. gokio does not detect them. Its rule
///   is simpler and total: a `wait` returns once the counter has been zero at
///   some moment since the `wait` future was first polled, even if it has
///   risen again before the waiter runs. Every waiter pending at a zero
///   transition is released by it.
/// - After the "negative WaitGroup counter" panic the counter stays negative
///   and the group is unusable, as in Go.
///
/// # Examples
///
/// ```
/// use gokio::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// # #[tokio::main] async fn main() {
/// let finished = Arc::new(AtomicUsize::new(0));
/// let wg = WaitGroup::new();
/// for _ in 0..4 {
///     wg.add(1);
///     let wg = wg.clone();
///     let finished = finished.clone();
///     // go f(): the handle is dropped, the goroutine runs on detached.
///     gokio::go(async move {
///         finished.fetch_add(1, Ordering::Relaxed);
///         wg.done();
///     });
/// }
/// wg.wait().await;
/// assert_eq!(finished.load(Ordering::Relaxed), 4);
/// # }
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

/// The state shared by every clone of one [`WaitGroup`].
struct Inner {
    /// The number of outstanding tasks (Go's counter `v`).
    count: AtomicIsize,
    /// Woken with `notify_waiters` when `count` moves from non-zero to zero.
    zero: Notify,
}

impl WaitGroup {
    /// Creates a wait group with a counter of zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gokio::WaitGroup::new();
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn new() -> Self {
        WaitGroup {
            inner: Arc::new(Inner {
                count: AtomicIsize::new(0),
                zero: Notify::new(),
            }),
        }
    }

    /// Adds `delta`, which may be negative, to the counter: Go's `wg.Add`.
    ///
    /// If the counter becomes zero, every goroutine pending in
    /// [`wait`](Self::wait) is released. Call `add` with a positive delta
    /// before starting the goroutine (or other event) it accounts for, not
    /// inside it, so that a concurrent `wait` cannot see zero too early.
    ///
    /// Everything a goroutine did before its `add`/`done` is visible to a
    /// goroutine after its `wait` returns (the counter's updates release and
    /// the waiter's read of zero acquires).
    ///
    /// # Panics
    ///
    /// Panics with "sync: negative WaitGroup counter" if the counter becomes
    /// negative. The counter is left negative, as in Go.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gokio::WaitGroup::new();
    /// wg.add(3);
    /// wg.add(-2);
    /// assert_eq!(wg.count(), 1);
    /// ```
    #[track_caller]
    pub fn add(&self, delta: isize) {
        // AcqRel. Release: the work done before this `add`/`done` is published
        // to a waiter whose Acquire load in `wait` reads zero; every
        // read-modify-write on the counter continues the release sequence, so
        // the load that reads the last one's zero synchronizes with all earlier
        // ones. Acquire: the call that reaches zero must itself have
        // synchronized with all earlier Release updates before it calls
        // `notify_waiters`, because a notified waiter synchronizes only with
        // the notifier (through the mutex inside `Notify`), not with the
        // counter.
        let prev = self.inner.count.fetch_add(delta, Ordering::AcqRel);
        // The check is on the value this read-modify-write produced, not on a
        // separate load, which could observe another caller's update instead.
        let now = prev.wrapping_add(delta);
        if now < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if now == 0 && prev != 0 {
            self.inner.zero.notify_waiters();
        }
    }

    /// Decrements the counter by one: Go's `wg.Done`, the same as `add(-1)`.
    ///
    /// # Panics
    ///
    /// Panics with "sync: negative WaitGroup counter" if the counter was
    /// already zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gokio::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[track_caller]
    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits until the counter is zero: Go's `wg.Wait`.
    ///
    /// The future is ready at its first poll if the counter is zero then;
    /// otherwise it completes once the counter next reaches zero, even if the
    /// counter has risen again by the time the waiting goroutine runs. Every
    /// waiter pending at that moment is released. The future owns a clone of
    /// the group, so it is `'static` and `Send`.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future has no effect on the
    /// wait group.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio::WaitGroup;
    ///
    /// # #[tokio::main] async fn main() {
    /// let wg = WaitGroup::new();
    /// wg.wait().await; // The counter is zero: ready at once.
    ///
    /// wg.add(1);
    /// let worker = wg.clone();
    /// gokio::go(async move {
    ///     worker.done();
    /// });
    /// wg.wait().await;
    /// assert_eq!(wg.count(), 0);
    /// # }
    /// ```
    #[track_caller]
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        let caller = Location::caller();
        let op = Op::new(OpKind::WaitGroupWait, caller);
        track(op, true, async move {
            // Fast path, an optimization only: a zero seen here is as good as
            // a zero seen after registering. Acquire: synchronizes with the
            // AcqRel update in `add` that wrote this zero (and through the
            // release sequence with every earlier one).
            if inner.count.load(Ordering::Acquire) == 0 {
                return;
            }
            let mut notified = pin!(inner.zero.notified());
            // Register first (invariant 3): a zero transition after this point
            // calls `notify_waiters`, which now reaches this future.
            notified.as_mut().enable();
            // Acquire: as above. This load must come after `enable`; see the
            // module docs for the lost wake-up the other order allows.
            if inner.count.load(Ordering::Acquire) == 0 {
                return;
            }
            tracing::trace!(
                target: "gokio::sync",
                location = %caller,
                "sync.WaitGroup.Wait: parked"
            );
            // Only `notify_waiters` completes this future (invariant 4), so
            // waking up means the counter reached zero after we registered.
            // Memory: the notifier's `add` acquired every earlier update, and
            // `Notify`'s internal mutex orders its wake-up before our return.
            notified.await;
        })
    }

    /// Blocks the current thread until the counter is zero: `wait` for plain
    /// threads.
    ///
    /// Needs no Tokio runtime. It has exactly the semantics of
    /// [`wait`](Self::wait), whose future it drives with
    /// `futures::executor::block_on`; the thread parks until the wake-up.
    ///
    /// Do not call it from async code: it blocks the worker thread, and
    /// inside a single-threaded runtime the goroutines that would call `done`
    /// could never run. Use `wait().await` there.
    ///
    /// # Panics
    ///
    /// Panics if called from inside a `futures::executor` executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio::WaitGroup;
    ///
    /// let wg = WaitGroup::new();
    /// let mut threads = Vec::new();
    /// for _ in 0..3 {
    ///     wg.add(1);
    ///     let wg = wg.clone();
    ///     threads.push(std::thread::spawn(move || wg.done()));
    /// }
    /// wg.wait_blocking();
    /// assert_eq!(wg.count(), 0);
    /// # for t in threads { t.join().unwrap(); }
    /// ```
    #[track_caller]
    pub fn wait_blocking(&self) {
        futures::executor::block_on(self.wait());
    }

    /// Starts `fut` as a goroutine counted by this group: Go 1.25's `wg.Go`.
    ///
    /// Adds 1 to the counter, starts `fut` with [`go`](crate::go), and
    /// calls [`done`](Self::done) when the goroutine ends: when `fut`
    /// completes, when it panics, and when the goroutine is aborted or
    /// dropped at runtime shutdown. A drop guard inside the spawned future
    /// does this, so it cannot be forgotten or run twice.
    ///
    /// # Panics
    ///
    /// Panics if called outside a Tokio runtime, like [`go`](crate::go). The
    /// counter is restored before the panic leaves this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio::WaitGroup;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// # #[tokio::main] async fn main() {
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// let wg = WaitGroup::new();
    /// for _ in 0..10 {
    ///     let hits = hits.clone();
    ///     // Like Go's wg.Go, the handle is not needed: drop it.
    ///     wg.go(async move {
    ///         hits.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// }
    /// wg.wait().await;
    /// assert_eq!(hits.load(Ordering::Relaxed), 10);
    /// # }
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F) -> Goroutine<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.add(1);
        let guard = DoneOnDrop(self.clone());
        crate::go(async move {
            // The guard lives in the spawned future's state. That state is
            // dropped when the future completes, when Tokio catches its panic,
            // when it is aborted, and when the runtime shuts down; if `go`
            // itself panics the unspawned future is dropped while unwinding.
            let _guard = guard;
            fut.await
        })
    }

    /// The counter's current value (a snapshot; it may change at once).
    ///
    /// A zero read here acquires like the one in [`wait`](Self::wait): the
    /// work done before the last `done` is visible afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gokio::WaitGroup::new();
    /// wg.add(2);
    /// assert_eq!(wg.count(), 2);
    /// wg.done();
    /// assert_eq!(wg.count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        // Acquire: synchronizes with the AcqRel updates in `add`, so a caller
        // that reads zero may rely on the finished work, as after `wait`.
        let count = self.inner.count.load(Ordering::Acquire);
        // Negative only after the misuse panic (invariant 1); report 0 then.
        usize::try_from(count).unwrap_or(0)
    }
}

impl Default for WaitGroup {
    /// Same as [`WaitGroup::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gokio::WaitGroup::default();
    /// assert_eq!(wg.count(), 0);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for WaitGroup {
    /// Shows the counter's current value.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gokio::WaitGroup::new();
    /// wg.add(2);
    /// assert_eq!(format!("{wg:?}"), "WaitGroup { count: 2 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a diagnostic snapshot; nothing is read on its strength.
        let count = self.inner.count.load(Ordering::Relaxed);
        f.debug_struct("WaitGroup").field("count", &count).finish()
    }
}

/// Calls `done` on its group when dropped; see [`WaitGroup::go`].
struct DoneOnDrop(WaitGroup);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done();
    }
}
