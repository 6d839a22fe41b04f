//! Go's `runtime` package: the program entry, `GOMAXPROCS` and `Gosched`.
//!
//! A Go program starts in `main` on a runtime that is already running; a Rust
//! program has to build one. [`run`] does that the way Go would: it builds a
//! multi-threaded Tokio runtime with [`gomaxprocs`] worker threads, runs the
//! given future as the main goroutine (id 1) on those workers, and ends every
//! other goroutine when main returns.
//!
//! | Go | gokio |
//! |---|---|
//! | `func main() { .. }` | `fn main() { gokio::run(async { .. }) }` ([`run`]) |
//! | `runtime.GOMAXPROCS(0)` | [`gomaxprocs`]`()` |
//! | `GOMAXPROCS=4 ./prog` | `GOMAXPROCS=4 ./prog` (read by [`run`] and [`gomaxprocs`]) |
//! | `runtime.Gosched()` | [`gosched`]`().await` |
//!
//! # Not here yet
//!
//! Go's deadlock detector (`fatal error: all goroutines are asleep -
//! deadlock!`), goroutine dumps, `runtime.NumGoroutine`, a runtime builder and
//! the `#[gokio::main]` / `#[gokio::test]` attributes are planned and not
//! implemented yet. Until they land, a program whose goroutines all block
//! forever under [`run`] hangs instead of exiting with Go's message.
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
use std::panic;
use std::sync::OnceLock;

use tracing::Instrument;

/// The id of the main goroutine, as in Go.
const MAIN_GOROUTINE_ID: u64 = 1;

/// The name of Tokio's worker threads under [`run`].
const WORKER_THREAD_NAME: &str = "gokio-worker";

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
    let workers = match configured_gomaxprocs() {
        Ok(n) => *n,
        Err(message) => {
            // A configuration error is the user's, not a bug: say what is
            // wrong in one line and leave with Go's fatal-error status, no
            // panic and no backtrace.
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(WORKER_THREAD_NAME)
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("gokio: cannot build the Tokio runtime: {err}"));

    let span = tracing::info_span!("goroutine", id = MAIN_GOROUTINE_ID);
    // Main is spawned rather than passed to `block_on` so that it runs on the
    // workers like every goroutine: `block_on` would poll it on this thread,
    // outside the work-stealing pool.
    let main = runtime.spawn(fut.instrument(span));
    let outcome = runtime.block_on(main);
    // Go does not wait for other goroutines when main returns. Shutting down
    // in the background also keeps a goroutine stuck in a blocking call from
    // holding up the exit.
    runtime.shutdown_background();

    match outcome {
        Ok(output) => output,
        Err(err) if err.is_panic() => panic::resume_unwind(err.into_panic()),
        // Nothing holds an abort handle for main and the runtime is still
        // alive while it runs, so it can only have finished or panicked.
        Err(err) => panic!("gokio: the main goroutine was cancelled: {err}"),
    }
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
