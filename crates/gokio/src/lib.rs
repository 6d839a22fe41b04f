//! # gokio: Go's concurrency model, faithfully, on Tokio
//!
//! Go programmers reach for `go f()`, channels that close, `select`,
//! `sync.WaitGroup` and worker pools without thinking. gokio gives async Rust
//! the same model with Go's exact semantics, Rust's types, and Tokio's
//! work-stealing runtime underneath, and goes past Go where Rust allows:
//! values handed back instead of panics, cancel-safe operations, and channels
//! that close themselves when the last sender is dropped.
//!
//! ```
//! use gokio::{chan, go, WaitGroup};
//!
//! # #[tokio::main] async fn main() {
//! let results = chan::<u64>(10);
//! let wg = WaitGroup::new();
//! for i in 1..=3u64 {
//!     let tx = results.sender();
//!     wg.go(async move {
//!         tx.send(i * i).await.unwrap();
//!     });
//! }
//! wg.wait().await;
//! results.close();
//! let mut sum = 0;
//! while let Some(v) = results.recv().await {
//!     sum += v;
//! }
//! assert_eq!(sum, 1 + 4 + 9);
//! # }
//! ```
//!
//! ## Go -> gokio
//!
//! | Go | gokio |
//! |---|---|
//! | `go f()` | [`go`]`(async move { f().await })` |
//! | `ch := make(chan int)` | `let ch = `[`chan()`]`::<i32>(0)` |
//! | `ch := make(chan int, 5)` | `let ch = chan::<i32>(5)` |
//! | `ch <- v` | `ch.send(v).await?` ([`Chan::send`]) |
//! | `v := <-ch` | `let v = ch.recv().await` (`Option<T>`, [`Chan::recv`]) |
//! | `v, ok := <-ch` | `let (v, ok) = ch.recv_ok().await` ([`Chan::recv_ok`]) |
//! | `for v := range ch` | `while let Some(v) = ch.recv().await` |
//! | `close(ch)` | `ch.close()` ([`Chan::close`]) |
//! | `len(ch)`, `cap(ch)` | `ch.len()`, `ch.cap()` |
//! | `chan<- int`, `<-chan int` | [`Sender<i32>`], [`Receiver<i32>`] (`ch.sender()`, `ch.receiver()`) |
//! | `var ch chan int` (nil) | [`never()`]`::<i32>()` |
//! | `select { case v := <-a: .. case b <- x: .. default: .. }` | [`select!`]`{ recv(&a) -> v => .., send(&b, x) -> r => .., default => .. }` |
//! | `reflect.Select(cases)` | [`Select`] |
//! | `sync.WaitGroup` | [`WaitGroup`] |
//! | `wg.Go(f)` (Go 1.25) | [`WaitGroup::go`] |
//! | `time.After(d)`, `time.Tick(d)`, `time.Sleep(d)` | [`after`], [`tick`], [`sleep`] |
//! | `sync.Mutex`, `sync.RWMutex`, `sync.Once` | [`sync::Mutex`], [`sync::RwMutex`], [`sync::Once`] |
//! | `runtime.Gosched()`, `runtime.GOMAXPROCS(0)` | [`gosched`], [`gomaxprocs`] |
//! | `func main()` | [`run`]`(async { .. })` or [`#[gokio::main]`](macro@main) |
//! | `runtime.NumGoroutine()` | [`num_goroutine`] |
//! | goroutine dump (`SIGQUIT`, `runtime.Stack`) | [`dump`] |
//! | `fatal error: all goroutines are asleep - deadlock!` | the same from [`run`], exit status 2 ([`runtime::Builder`]) |
//! | `go test` | [`#[gokio::test]`](macro@test): a deadlocked test fails with the report |
//!
//! The [`guide`] module walks through each concept with Go and gokio snippets side by side.
//!
//! ## Differences from Go
//!
//! - **Values handed back instead of panics.** A send on a closed channel
//!   returns the value in [`SendError`] instead of panicking. Closing a closed
//!   channel still panics, as in Go: it is a programming error.
//! - **Close on drop.** A channel closes when its last sending handle
//!   ([`Chan`] or [`Sender`]) is dropped, and a send fails instead of blocking
//!   forever once every receiving handle is gone (Go would leak the goroutine).
//! - **Cancel safety.** Every operation's future may be dropped while it
//!   waits (in `tokio::select!` or `tokio::time::timeout`) without losing or
//!   duplicating a value.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod chan;
mod go;
pub mod runtime;
mod select;
pub mod sync;
mod time;

// The Go -> gokio guide (docs/go-to-gokio.md), included so its snippets run as doctests.
#[doc = include_str!("../../../docs/go-to-gokio.md")]
pub mod guide {}

pub use chan::{
    chan, Chan, Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
    TrySendError,
};
pub use go::{go, go_named, Goroutine};
/// `#[gokio::main]`: runs `async fn main` under [`run`] (see [`runtime::Builder`]).
///
/// ```
/// #[gokio::main]
/// async fn main() {
///     let ch = gokio::chan(1);
///     ch.send("hello").await.unwrap();
///     assert_eq!(ch.recv().await, Some("hello"));
/// }
/// ```
///
/// Options: `#[gokio::main(worker_threads = 4, detect_deadlocks = false)]`.
pub use gokio_macros::main;
/// `#[gokio::test]`: runs an `async fn` test under [`run`], with the deadlock
/// watchdog set to panic ([`runtime::OnDeadlock::Panic`]): a deadlocked test
/// fails within about 200 ms with Go's message and the goroutine dump.
///
/// ```
/// #[gokio::test]
/// async fn handoff() {
///     let ch = gokio::chan(0);
///     let tx = ch.clone();
///     gokio::go(async move { tx.send(1).await.unwrap() });
///     assert_eq!(ch.recv().await, Some(1));
/// }
/// # fn main() {}
/// ```
///
/// Options as for [`main`](macro@main).
pub use gokio_macros::test;
pub use runtime::{dump, gomaxprocs, gosched, num_goroutine, run};
#[doc(hidden)]
pub use select::__private;
pub use select::{Select, SelectFuture, Selected};
pub use sync::WaitGroup;
pub use time::{after, never, sleep, tick};
