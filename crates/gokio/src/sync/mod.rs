//! Go's `sync` package: [`WaitGroup`], [`Mutex`], [`RwMutex`], [`Once`].
//!
//! [`WaitGroup`] is gokio's own (see its module docs). The locks and `Once`
//! are Tokio's async primitives, re-exported under Go's names: waiting for
//! them suspends the goroutine (`.await`) instead of blocking its thread,
//! which is what Go's blocking does to a goroutine too.
//!
//! | Go | gokio |
//! |---|---|
//! | `var wg sync.WaitGroup` | `let wg = WaitGroup::new();` |
//! | `wg.Add(n)`, `wg.Done()`, `wg.Wait()` | `wg.add(n)`, `wg.done()`, `wg.wait().await` |
//! | `wg.Go(f)` (Go 1.25) | `wg.go(async move { .. })` |
//! | `var mu sync.Mutex` guarding `x` | `let mu = Mutex::new(x);` (the mutex owns `x`) |
//! | `mu.Lock(); defer mu.Unlock()` | `let mut g = mu.lock().await;` (dropping `g` unlocks) |
//! | `mu.TryLock()` | `mu.try_lock()` (`Ok(guard)` or `Err`) |
//! | `var rw sync.RWMutex` guarding `x` | `let rw = RwMutex::new(x);` |
//! | `rw.RLock(); defer rw.RUnlock()` | `let g = rw.read().await;` |
//! | `rw.Lock(); defer rw.Unlock()` | `let mut g = rw.write().await;` |
//! | `var once sync.Once; once.Do(f)` | `let once = Once::new(); once.get_or_init(\|\| async { f() }).await;` |
//! | `sync.OnceValue(f)` | `Once<T>`: `*once.get_or_init(\|\| async { f() }).await` |
//!
//! The lock is held exactly as long as its guard lives: `drop(g)` is the
//! explicit `Unlock`, and the end of the scope is `defer mu.Unlock()`. Go's
//! "unlock of unlocked mutex" cannot happen, and forgetting to unlock is
//! forgetting to drop.
//!
//! ```
//! use gokio::sync::Mutex;
//! use std::sync::Arc;
//!
//! # #[tokio::main] async fn main() {
//! let counter = Arc::new(Mutex::new(0));
//! let wg = gokio::WaitGroup::new();
//! for _ in 0..10 {
//!     let counter = counter.clone();
//!     // The handle is not needed (the group tracks the goroutine): drop it.
//!     wg.go(async move {
//!         let mut n = counter.lock().await; // mu.Lock(); defer mu.Unlock()
//!         *n += 1;
//!         // `n` goes out of scope here: mu.Unlock().
//!     });
//! }
//! wg.wait().await;
//! assert_eq!(*counter.lock().await, 10);
//! # }
//! ```
//!
//! # Differences from Go
//!
//! - **The lock owns the data.** Go's mutex guards fields by convention;
//!   `Mutex<T>` and `RwMutex<T>` hold the `T`, which is reachable only through
//!   a guard. Share the lock between goroutines with an `Arc`.
//! - **Async, and safe to hold across `.await`.** These locks suspend the
//!   goroutine. For a short critical section with no `.await` inside,
//!   `std::sync::Mutex` is faster and is what Tokio recommends; it blocks the
//!   worker thread for the (short) time it waits.
//! - **Fair.** Tokio's locks queue waiters first in, first out; Go's `Mutex`
//!   switches to FIFO only after a waiter starves for 1ms. Tokio's `RwLock`,
//!   like Go's `RWMutex`, lets no new reader in while a writer waits, so
//!   writers cannot starve.
//! - **A panic does not poison.** A guard dropped by a panic unlocks, and the
//!   next `lock` succeeds (Go's panics end the program instead).
//! - **`Once` holds a value and retries failures.** [`Once<T>`](Once) is
//!   Tokio's `OnceCell<T>`: Go's `sync.Once` is `Once<()>`, and
//!   `sync.OnceValue` is `Once<T>`. If the initializer panics or its future is
//!   cancelled, the cell stays empty and the next caller runs its own
//!   initializer; Go's `Once` counts a panicking `f` as done.
//! - **Invisible to the deadlock detector.** These are Tokio's types, not
//!   gokio operations: a goroutine waiting on one counts as running, so a
//!   deadlock made of locks alone is not reported (and never falsely
//!   reported). A goroutine blocked in [`WaitGroup::wait`] is seen.
//! - **From plain threads**, use `blocking_lock`, `blocking_read`,
//!   `blocking_write` (never inside the runtime) and
//!   [`WaitGroup::wait_blocking`].

mod wait_group;

pub use wait_group::WaitGroup;

/// Go's `sync.Mutex`: an async mutual-exclusion lock that owns the data it
/// protects. This is [`tokio::sync::Mutex`].
///
/// `mu.Lock(); defer mu.Unlock()` is `let mut g = mu.lock().await;`: the
/// guard dereferences to the data, and dropping it unlocks. `mu.TryLock()` is
/// `mu.try_lock()`. See the [module docs](self) for the differences from Go.
///
/// # Examples
///
/// ```
/// use gokio::sync::Mutex;
/// use std::sync::Arc;
///
/// # #[tokio::main] async fn main() {
/// let balance = Arc::new(Mutex::new(100));
/// let b = balance.clone();
/// gokio::go(async move {
///     let mut g = b.lock().await; // mu.Lock()
///     *g -= 30;
///     drop(g); // mu.Unlock()
/// })
/// .await
/// .unwrap();
///
/// let g = balance.lock().await;
/// assert_eq!(*g, 70);
/// assert!(balance.try_lock().is_err()); // TryLock fails while g is held.
/// # }
/// ```
#[doc(inline)]
pub use tokio::sync::Mutex;

/// The guard returned by [`Mutex::lock`]: the lock is held while it lives.
/// This is [`tokio::sync::MutexGuard`].
///
/// # Examples
///
/// ```
/// use gokio::sync::{Mutex, MutexGuard};
///
/// fn push(mut g: MutexGuard<'_, Vec<u32>>, v: u32) {
///     g.push(v);
/// } // Unlocked here.
///
/// # #[tokio::main] async fn main() {
/// let mu = Mutex::new(Vec::new());
/// push(mu.lock().await, 7);
/// assert_eq!(*mu.lock().await, [7]);
/// # }
/// ```
#[doc(inline)]
pub use tokio::sync::MutexGuard;

/// Go's `sync.RWMutex`: an async reader-writer lock that owns its data. This
/// is [`tokio::sync::RwLock`] under Go's name.
///
/// `rw.RLock(); defer rw.RUnlock()` is `let g = rw.read().await;` and
/// `rw.Lock(); defer rw.Unlock()` is `let mut g = rw.write().await;`; dropping
/// the guard unlocks. Many readers may hold the lock at once; a writer holds
/// it alone. Once a writer waits, new readers wait behind it, as in Go.
///
/// # Examples
///
/// ```
/// use gokio::sync::RwMutex;
///
/// # #[tokio::main] async fn main() {
/// let config = RwMutex::new(String::from("v1"));
/// {
///     let a = config.read().await; // rw.RLock()
///     let b = config.read().await; // A second reader at the same time.
///     assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
///     assert!(config.try_write().is_err()); // The writer is excluded.
/// } // rw.RUnlock() twice.
/// *config.write().await = String::from("v2"); // rw.Lock(); ...; rw.Unlock()
/// assert_eq!(*config.read().await, "v2");
/// # }
/// ```
#[doc(inline)]
pub use tokio::sync::RwLock as RwMutex;

/// The guard returned by [`RwMutex::read`] (shared access). This is
/// [`tokio::sync::RwLockReadGuard`].
///
/// # Examples
///
/// ```
/// use gokio::sync::{RwMutex, RwMutexReadGuard};
///
/// # #[tokio::main] async fn main() {
/// let rw = RwMutex::new(5);
/// let g: RwMutexReadGuard<'_, i32> = rw.read().await;
/// assert_eq!(*g, 5);
/// # }
/// ```
#[doc(inline)]
pub use tokio::sync::RwLockReadGuard as RwMutexReadGuard;

/// The guard returned by [`RwMutex::write`] (exclusive access). This is
/// [`tokio::sync::RwLockWriteGuard`].
///
/// # Examples
///
/// ```
/// use gokio::sync::{RwMutex, RwMutexWriteGuard};
///
/// # #[tokio::main] async fn main() {
/// let rw = RwMutex::new(5);
/// let mut g: RwMutexWriteGuard<'_, i32> = rw.write().await;
/// *g += 1;
/// drop(g);
/// assert_eq!(*rw.read().await, 6);
/// # }
/// ```
#[doc(inline)]
pub use tokio::sync::RwLockWriteGuard as RwMutexWriteGuard;

/// Go's `sync.Once` (as `Once<()>`) and `sync.OnceValue` (as `Once<T>`): a
/// cell initialized at most once. This is [`tokio::sync::OnceCell`] under
/// Go's name.
///
/// `once.Do(f)` is `once.get_or_init(|| async { f() }).await`: the first
/// caller runs the initializer, concurrent callers wait for it, and every
/// caller gets a reference to the one value. Unlike Go, an initializer that
/// panics or is cancelled leaves the cell empty for the next caller to try.
///
/// # Examples
///
/// ```
/// use gokio::sync::Once;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// # #[tokio::main] async fn main() {
/// static SETUP_RUNS: AtomicUsize = AtomicUsize::new(0);
/// let once: Arc<Once<()>> = Arc::new(Once::new());
/// let wg = gokio::WaitGroup::new();
/// for _ in 0..8 {
///     let once = once.clone();
///     wg.go(async move {
///         // once.Do(setup)
///         once.get_or_init(|| async {
///             SETUP_RUNS.fetch_add(1, Ordering::Relaxed);
///         })
///         .await;
///     });
/// }
/// wg.wait().await;
/// assert_eq!(SETUP_RUNS.load(Ordering::Relaxed), 1);
///
/// // sync.OnceValue: the cell keeps the value.
/// let answer = Once::new();
/// assert_eq!(*answer.get_or_init(|| async { 6 * 7 }).await, 42);
/// assert_eq!(answer.get(), Some(&42));
/// # }
/// ```
#[doc(inline)]
pub use tokio::sync::OnceCell as Once;
