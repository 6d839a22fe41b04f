//! Go's `runtime` package: the program entry, `GOMAXPROCS`, `Gosched`,
//! `NumGoroutine`, goroutine dumps and the deadlock report.
//!
//! A Go program starts in `main` on a runtime that is already running; a Rust
//! program has to build one. [`run`] (or `#[gokio::main]`) does that the way
//! Go would: it builds a multi-threaded Tokio runtime with [`gomaxprocs`]
//! worker threads, runs the given future as the main goroutine (id 1) on
//! those workers, and ends every other goroutine when main returns.
//! [`Builder`] spells the settings out.
//!
//! | Go | gokio |
//! |---|---|
//! | `func main() { .. }` | `fn main() { gokio::run(async { .. }) }` ([`run`]) or `#[gokio::main] async fn main()` |
//! | `runtime.GOMAXPROCS(0)` | [`gomaxprocs`]`()` |
//! | `GOMAXPROCS=4 ./prog` | `GOMAXPROCS=4 ./prog` (read by [`run`] and [`gomaxprocs`]) |
//! | `runtime.Gosched()` | [`gosched`]`().await` |
//! | `runtime.NumGoroutine()` | [`num_goroutine`]`()` |
//! | `runtime.Stack(buf, true)`, `SIGQUIT` dump | [`dump`]`()` |
//! | `fatal error: all goroutines are asleep - deadlock!` | the same, from [`run`]'s watchdog, exit status 2 |
//! | `testing/synctest`'s "all goroutines in bubble are blocked" | `#[gokio::test]`: the test panics with the report |
//!
//! # The deadlock report
//!
//! Under [`run`], a watchdog thread notices when main and every goroutine
//! wait in gokio operations that only other goroutines could complete, and
//! ends the program as Go does:
//!
//! ```text
//! fatal error: all goroutines are asleep - deadlock!
//!
//! goroutine 1 [chan send]:
//! gokio::Chan::send(..), waiting 200.446ms
//!         examples/deadlock.rs:26:12
//! created by gokio::run
//!         examples/deadlock.rs:23:5
//! ```
//!
//! It stays quiet while anything it cannot see could still wake a goroutine
//! (timers, I/O, plain Tokio tasks, blocking-pool jobs, other crates'
//! futures); see [`Builder`] for the rules and the one blind spot, plain
//! threads. The bookkeeping behind it is a few stores per poll and per wait.
//!
//! # Differences from Go
//!
//! - **`GOMAXPROCS` is fixed at start.** It is read once, the first time
//!   [`run`] or [`gomaxprocs`] needs it, and sizes Tokio's worker pool; Go's
//!   `runtime.GOMAXPROCS(n)` can change it later, gokio cannot.
//! - **An invalid `GOMAXPROCS` is an error.** Go silently ignores a value that
//!   is not a positive integer; gokio refuses it, so a typo does not go
//!   unnoticed: [`run`] prints `gokio: invalid GOMAXPROCS=<value>: must be a
//!   positive integer` and exits with status 2. An empty value counts as
//!   unset, as in Go.
//! - **Blocking calls are not preempted.** Go moves other goroutines off a
//!   thread that blocks in a system call and preempts long computations. A
//!   goroutine that blocks its worker thread (for instance in
//!   `std::thread::sleep`) holds it; use `tokio::task::spawn_blocking` for
//!   blocking work. [`gosched`] and gokio's cooperative budget are the only
//!   ways a goroutine gives up its thread.

use std::future::Future;
use std::sync::OnceLock;

mod builder;
pub(crate) mod registry;
mod watchdog;

pub use builder::{Builder, OnDeadlock};

/// The environment variable that sets the number of worker threads.
const GOMAXPROCS_VAR: &str = "GOMAXPROCS";

/// `GOMAXPROCS` as parsed on first use: the worker count, or the message
/// [`run`] prints before exiting.
static GOMAXPROCS: OnceLock<Result<usize, String>> = OnceLock::new();

/// Parses the raw value of the `GOMAXPROCS` environment variable.
///
/// `None` (unset) and the empty string give `cores`; a positive integer gives
/// itself; anything else gives the one-line message that [`run`] prints.
pub(crate) fn parse_gomaxprocs(raw: Option<&str>, cores: usize) -> Result<usize, String> {
    match raw {
        // Go treats an empty GOMAXPROCS like an unset one.
        None | Some("") => Ok(cores),
        Some(value) => match value.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid_gomaxprocs(value)),
        },
    }
}

/// The message for a `GOMAXPROCS` value that is not a positive integer.
fn invalid_gomaxprocs(value: &str) -> String {
    format!("gokio: invalid {GOMAXPROCS_VAR}={value}: must be a positive integer")
}

/// Reads and parses `GOMAXPROCS` once per process.
fn configured_gomaxprocs() -> &'static Result<usize, String> {
    GOMAXPROCS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match std::env::var_os(GOMAXPROCS_VAR) {
            None => parse_gomaxprocs(None, cores),
            Some(raw) => match raw.to_str() {
                Some(value) => parse_gomaxprocs(Some(value), cores),
                // A value that is not even UTF-8 cannot be a number.
                None => Err(invalid_gomaxprocs(&raw.to_string_lossy())),
            },
        }
    })
}

/// The number of worker threads [`run`] uses: Go's `runtime.GOMAXPROCS(0)`.
///
/// It is the `GOMAXPROCS` environment variable when that is set to a positive
/// integer, and otherwise the number of CPUs available to the process
/// ([`std::thread::available_parallelism`], or 1 if that is unknown). An
/// empty `GOMAXPROCS` counts as unset. The variable is read once per process,
/// on the first call to `gomaxprocs` or [`run`]; later changes to the
/// environment have no effect.
///
/// The value describes [`run`]'s runtime. Inside a runtime built some other
/// way (for instance `#[tokio::main]`), Tokio's own worker count applies.
///
/// # Panics
///
/// Panics if `GOMAXPROCS` is set to something other than a positive integer,
/// with the message `gokio: invalid GOMAXPROCS=<value>: must be a positive
/// integer`. Under [`run`] this cannot happen: `run` checks the variable
/// before it starts the program and exits with status 2 instead.
///
/// # Differences from Go
///
/// Go ignores an invalid `GOMAXPROCS`; gokio refuses it. Go's
/// `runtime.GOMAXPROCS(n)` also sets the value; gokio's is fixed for the life
/// of the runtime.
///
/// # Examples
///
/// ```
/// let procs = gokio::run(async { gokio::gomaxprocs() });
/// assert!(procs >= 1);
/// ```
pub fn gomaxprocs() -> usize {
    match configured_gomaxprocs() {
        Ok(n) => *n,
        Err(message) => panic!("{message}"),
    }
}

/// Yields the processor, letting other goroutines run: Go's
/// `runtime.Gosched()`.
///
/// The current goroutine is put back at the end of its worker's run queue and
/// resumes after the tasks queued before it had a turn. This is
/// [`tokio::task::yield_now`].
///
/// # Cancel safety
///
/// This method is cancel safe: dropping it before it completes has no effect
/// beyond not yielding.
///
/// # Differences from Go
///
/// Go preempts goroutines, so `Gosched` is rarely needed there. Tokio never
/// preempts: a goroutine that computes for a long time without reaching an
/// `.await` holds its worker thread, and calling `gosched().await` in such a
/// loop is how it lets the others run.
///
/// # Examples
///
/// ```
/// gokio::run(async {
///     let worker = gokio::go(async {
///         let mut sum = 0u64;
///         for i in 0..10_000u64 {
///             sum += i;
///             if i % 1_000 == 0 {
///                 // A long computation gives the other goroutines a turn.
///                 gokio::gosched().await;
///             }
///         }
///         sum
///     });
///     assert_eq!(worker.await.unwrap(), 49_995_000);
/// });
/// ```
pub async fn gosched() {
    tokio::task::yield_now().await;
}

/// Runs `fut` as the main goroutine of a Go-style program and returns its
/// output.
///
/// `run` builds a multi-threaded Tokio runtime with [`gomaxprocs`] worker
/// threads (named `gokio-worker`, with Tokio's I/O and time drivers enabled),
/// starts `fut` on those workers as goroutine 1 (inside a `tracing` span
/// `goroutine` with `id = 1`), and blocks the calling thread until it
/// finishes. Then it shuts the runtime down without waiting: every goroutine
/// still running is abandoned, exactly as a Go program ends when `main`
/// returns. Their futures are dropped on the worker threads as those wind
/// down, which `run` does not wait for, so their destructors may or may not
/// run before the process exits (Go never runs the deferred calls of other
/// goroutines at exit).
///
/// Main runs on a worker thread, like any other goroutine, not on the thread
/// that called `run`; the calling thread only waits.
///
/// # Panics
///
/// - If the main goroutine panics, `run` shuts the runtime down and resumes
///   that panic on the calling thread, with the original payload.
/// - If called from inside a Tokio runtime (for instance from a goroutine or
///   under `#[tokio::main]`), since a runtime cannot be started inside
///   another.
/// - If the runtime cannot be built (the operating system refuses to create
///   the threads).
///
/// # Exit status
///
/// If `GOMAXPROCS` is set to something other than a positive integer, `run`
/// prints `gokio: invalid GOMAXPROCS=<value>: must be a positive integer` to
/// standard error and exits the process with status 2, without running `fut`
/// and without a panic message or backtrace. Go's runtime uses status 2 for
/// its own fatal errors.
///
/// # Examples
///
/// The body of a program's `fn main()`:
///
/// ```
/// let answer = gokio::run(async {
///     let goroutine = gokio::go(async { 6 * 7 });
///     goroutine.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// Main does not wait for other goroutines; when it returns, they end:
///
/// ```
/// let done = gokio::run(async {
///     // This goroutine would wait forever; the program ends anyway.
///     gokio::go(std::future::pending::<()>());
///     "main returned"
/// });
/// assert_eq!(done, "main returned");
/// ```
#[track_caller]
pub fn run<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Builder::new().run(fut)
}

/// Every live goroutine, in the layout of Go's goroutine traceback: Go's
/// `runtime.Stack(buf, true)` or the dump a `SIGQUIT` prints.
///
/// Each goroutine gets a block like this one:
///
/// ```text
/// goroutine 7 "resizer" [chan receive]:
/// gokio::Receiver::recv(..), waiting 1.204s
///         src/main.rs:42:30
/// created by gokio::go_named in goroutine 1
///         src/main.rs:17:5
/// ```
///
/// - the id, the name given to [`go_named`](crate::go_named) if any, and the
///   state: `running`, `chan send`, `chan receive`, `select`,
///   `select (no cases)`, `sync.WaitGroup.Wait`, `sleep` or `goroutine join`
///   (awaiting a [`Goroutine`](crate::Goroutine));
/// - for a waiting goroutine, the gokio call it waits in, how long it has
///   waited, and the file, line and column of that call in the user's code;
/// - where the goroutine was started, and by which goroutine.
///
/// Blocks are ordered by id and separated by an empty line. Like Go, the
/// header adds `, N minutes` once a goroutine has waited a minute.
///
/// `running` covers a goroutine being polled, one that is ready to run, and
/// one waiting on something gokio cannot see (I/O, a Tokio timer, another
/// crate's future). Operations used as a `Stream` or `Sink` have no call
/// site to show.
///
/// Called on a thread of a gokio runtime (from a goroutine, say), `dump`
/// shows that runtime's goroutines; called from any other thread (a signal
/// handler's, for instance), it shows the goroutines of every runtime in the
/// process, including goroutines started with [`go`](crate::go) under
/// `#[tokio::main]`.
///
/// # Examples
///
/// ```
/// gokio::run(async {
///     let ch = gokio::chan::<i32>(0);
///     let rx = ch.clone();
///     gokio::go_named("waiter", async move { rx.recv().await });
///     let dump = gokio::dump();
///     // Main is the goroutine calling dump; the waiter is in the dump
///     // whether or not it has reached its receive yet.
///     assert!(dump.starts_with("goroutine 1 [running]:"));
///     assert!(dump.contains(r#""waiter" ["#));
///     ch.send(1).await.unwrap();
/// });
/// ```
pub fn dump() -> String {
    let mut tasks: Vec<_> = registry::visible()
        .iter()
        .flat_map(|registry| registry.tasks())
        .collect();
    tasks.sort_by_key(|t| t.id);
    watchdog::format_tasks(&tasks)
}

/// The number of goroutines that exist: Go's `runtime.NumGoroutine()`.
///
/// Under [`run`] (and `#[gokio::main]`, `#[gokio::test]`) it counts the main
/// goroutine and every goroutine started with [`go`](crate::go) in that
/// runtime that has not finished. Elsewhere (under `#[tokio::main]`, say) it
/// counts the goroutines started with `go` outside gokio's runtimes; the
/// main task is not one. Plain `tokio::spawn` tasks and threads are never
/// counted.
///
/// A goroutine counts until its future is dropped: after it returns, panics
/// or is aborted, the count drops as soon as Tokio has released it.
///
/// # Examples
///
/// ```
/// gokio::run(async {
///     assert_eq!(gokio::num_goroutine(), 1); // main
///     let ch = gokio::chan::<()>(0);
///     let rx = ch.clone();
///     let waiter = gokio::go(async move { rx.recv().await });
///     assert_eq!(gokio::num_goroutine(), 2);
///     ch.send(()).await.unwrap();
///     waiter.await.unwrap();
///     assert_eq!(gokio::num_goroutine(), 1);
/// });
/// ```
pub fn num_goroutine() -> usize {
    registry::current().len()
}

#[cfg(test)]
mod tests {
    use super::parse_gomaxprocs;

    const MESSAGE_ABC: &str = "gokio: invalid GOMAXPROCS=abc: must be a positive integer";

    #[test]
    fn unset_uses_the_cores() {
        assert_eq!(parse_gomaxprocs(None, 8), Ok(8));
        assert_eq!(parse_gomaxprocs(None, 1), Ok(1));
    }

    #[test]
    fn empty_counts_as_unset() {
        assert_eq!(parse_gomaxprocs(Some(""), 6), Ok(6));
    }

    #[test]
    fn positive_integer_is_used_as_is() {
        assert_eq!(parse_gomaxprocs(Some("1"), 8), Ok(1));
        assert_eq!(parse_gomaxprocs(Some("4"), 2), Ok(4));
        assert_eq!(parse_gomaxprocs(Some("64"), 2), Ok(64));
    }

    #[test]
    fn zero_is_rejected() {
        assert_eq!(
            parse_gomaxprocs(Some("0"), 4),
            Err("gokio: invalid GOMAXPROCS=0: must be a positive integer".to_string())
        );
    }

    #[test]
    fn non_numbers_are_rejected_with_the_variable_and_value() {
        assert_eq!(
            parse_gomaxprocs(Some("abc"), 4),
            Err(MESSAGE_ABC.to_string())
        );
        for bad in [
            "-1",
            "1.5",
            " 4",
            "4 ",
            "four",
            "0x10",
            "99999999999999999999999",
        ] {
            let err = parse_gomaxprocs(Some(bad), 4).unwrap_err();
            assert_eq!(
                err,
                format!("gokio: invalid GOMAXPROCS={bad}: must be a positive integer")
            );
        }
    }
}
