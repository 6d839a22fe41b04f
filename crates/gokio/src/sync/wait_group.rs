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
//! The state is one `AtomicU64` and one [`tokio::sync::Notify`]. The low
//! 32 bits of the state are the counter (an `i32`, as in Go); the high 32
//! bits count the counter's transitions from non-zero to zero (the
//! *round*). An `add` that moves the counter to zero bumps the round in
//! the same atomic update, then calls [`Notify::notify_waiters`], which
//! wakes every waiter registered at that moment.
//!
//! A waiter registers first and looks at the state second, remembering the
//! round it saw; it returns once the counter is zero or the round has moved
//! on:
//!
//! ```text
//! waiter                                        last done()
//! ------                                        -----------
//! notified = notify.notified(); enable          CAS (round, 1) -> (round + 1, 0)
//! s = state.load(); if count(s) == 0: return    notify.notify_waiters()
//! round0 = round(s)
//! loop { notified.await;
//!        if round(state.load()) != round0: return
//!        re-register; re-check }
//! ```
//!
//! If the waiter's load sees a non-zero counter, the `done` that later brings
//! it to zero bumps the round and calls `notify_waiters` after the waiter
//! registered, so the wake-up reaches it. Loading before registering would
//! lose it: the load sees 1, the last `done` runs and notifies nobody, and
//! the waiter then registers and sleeps forever. `tests/sync_wait_group_model.rs`
//! enumerates every interleaving of both orders and finds exactly that lost
//! wake-up in the wrong one.
//!
//! The round is what makes a wake-up trustworthy. A `done` that reached zero
//! *before* the waiter looked may still be on its way to `notify_waiters`
//! when the waiter registers (an `add` from zero in between made the
//! waiter see a non-zero counter): its wake-up is stale. The waiter saw that
//! transition's round already, so it finds the round unchanged, registers
//! again and goes on waiting. (Before the round existed, such a stale
//! wake-up released `wait` while the counter was non-zero; the stress test
//! `stress_many_add_done_wait_cycles` caught it under load.)
//!
//! A decrement uses a compare-and-swap, so that reaching zero and bumping
//! the round are one update; an increment never reaches zero and uses a
//! plain `fetch_add`.
//!
//! On real hardware the two sides are ordered by the mutex inside `Notify`:
//! either the waiter's registration precedes the notifier's critical section
//! (and the notifier sees and wakes it), or the notifier's critical section
//! precedes the registration, and then it also precedes the waiter's load of
//! the state, which therefore reads the new round (or a later one).
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
//! 2. The round changes exactly when the counter moves from non-zero to
//!    zero, in the same atomic update; `notify_waiters` is called by that
//!    update's `add`, after it.
//! 3. A waiter registers with the `Notify` before it loads the state, and
//!    returns only if a load after a registration saw a zero counter or a
//!    round other than the one its first load saw.
//! 4. Each [`WaitGroup::go`] adds exactly 1 before spawning and its drop
//!    guard subtracts exactly 1, once, however the goroutine ends.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The round (high 32 bits) and the counter (low 32 bits, an `i32`:
    /// Go's counter `v`); see the module docs.
    state: AtomicU64,
    /// Woken with `notify_waiters` when the counter moves to zero.
    zero: Notify,
}

/// The counter in a state word.
fn count_of(state: u64) -> i32 {
    // Truncation intended: the counter is the low 32 bits.
    state as u32 as i32
}

/// The round in a state word.
fn round_of(state: u64) -> u32 {
    (state >> 32) as u32
}

/// A state word.
fn state_of(round: u32, count: i32) -> u64 {
    (u64::from(round) << 32) | u64::from(count as u32)
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
                state: AtomicU64::new(0),
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
        let Ok(delta) = i32::try_from(delta) else {
            panic!("sync: WaitGroup delta {delta} out of the counter's range");
        };
        let inner = &*self.inner;
        if delta >= 0 {
            // An increment never reaches zero: no round to bump. AcqRel as
            // below. Adding to the low half: a carry into the round would
            // need the counter past i32::MAX, refused right after.
            let prev = inner
                .state
                .fetch_add(u64::from(delta as u32), Ordering::AcqRel);
            if count_of(prev).checked_add(delta).is_none() {
                panic!("sync: WaitGroup counter overflow");
            }
            return;
        }
        // AcqRel. Release: the work done before this `add`/`done` is published
        // to a waiter whose Acquire load in `wait` reads the zero or the new
        // round; every read-modify-write on the state continues the release
        // sequence, so that load synchronizes with all earlier ones. Acquire:
        // the call that reaches zero must itself have synchronized with all
        // earlier Release updates before it calls `notify_waiters`, because a
        // notified waiter synchronizes only with the notifier (through the
        // mutex inside `Notify`). Relaxed on failure: the loop retries with
        // the value read.
        let mut state = inner.state.load(Ordering::Relaxed);
        loop {
            let (round, count) = (round_of(state), count_of(state));
            let now = count.wrapping_add(delta);
            let next = if now == 0 && count != 0 {
                // Invariant 2: the round moves with the zero, in one update.
                state_of(round.wrapping_add(1), 0)
            } else {
                state_of(round, now)
            };
            match inner.state.compare_exchange_weak(
                state,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if now < 0 {
                        panic!("sync: negative WaitGroup counter");
                    }
                    if now == 0 && count != 0 {
                        inner.zero.notify_waiters();
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
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
            if count_of(inner.state.load(Ordering::Acquire)) <= 0 {
                return;
            }
            let mut round = None;
            loop {
                let mut notified = pin!(inner.zero.notified());
                // Register first (invariant 3): a zero transition after this
                // point calls `notify_waiters`, which now reaches this future.
                notified.as_mut().enable();
                // Acquire: as above. This load must come after `enable`; see
                // the module docs for the lost wake-up the other order allows.
                let state = inner.state.load(Ordering::Acquire);
                let first = *round.get_or_insert(round_of(state));
                if count_of(state) <= 0 || round_of(state) != first {
                    return;
                }
                tracing::trace!(
                    target: "gokio::sync",
                    location = %caller,
                    "sync.WaitGroup.Wait: parked"
                );
                // Woken by a zero transition: ours if the round moved on since
                // the first look (checked at the top of the next turn), a
                // stale one from before it otherwise (module docs).
                notified.await;
            }
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
        let count = count_of(self.inner.state.load(Ordering::Acquire));
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
        let count = count_of(self.inner.state.load(Ordering::Relaxed));
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
