//! [`Builder`]: [`run`](super::run) with its settings spelled out.

use std::future::Future;
use std::panic::{self, Location};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::registry::{self, CreatedBy, Registry, Spawn};
use super::watchdog::{Watchdog, Watched};

/// The id of the main goroutine, as in Go.
const MAIN_GOROUTINE_ID: u64 = 1;

/// The default name of the runtime's threads.
const THREAD_NAME: &str = "gokio-worker";

/// How often the watchdog looks by default.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What happens when the watchdog finds a deadlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnDeadlock {
    /// Print Go's `fatal error: all goroutines are asleep - deadlock!` and
    /// the goroutine dump to standard error, then exit the process with
    /// status 2, as a Go program does. The default.
    Exit,
    /// Panic on the thread that called [`Builder::run`], with the message
    /// and the dump as the panic message: what `#[gokio::test]` uses, so a
    /// deadlocked test fails with the dump instead of hanging.
    Panic,
}

/// Builds and runs a gokio runtime with explicit settings: [`run`] is
/// `Builder::new().run(fut)`.
///
/// [`run`]: super::run
///
/// | Setting | Default | Go |
/// |---|---|---|
/// | [`worker_threads`](Builder::worker_threads) | [`gomaxprocs()`](super::gomaxprocs) | `GOMAXPROCS` |
/// | [`thread_name`](Builder::thread_name) | `gokio-worker` | |
/// | [`detect_deadlocks`](Builder::detect_deadlocks) | on | always on |
/// | [`on_deadlock`](Builder::on_deadlock) | [`OnDeadlock::Exit`] (status 2) | exit status 2 |
/// | [`deadlock_check_interval`](Builder::deadlock_check_interval) | 100 ms | |
///
/// # Deadlock detection
///
/// With detection on, a watchdog thread looks at the goroutines every
/// interval. It reports a deadlock when main and every goroutine are waiting
/// in gokio operations (channel sends and receives, `select!`, `Select`,
/// `WaitGroup::wait`, awaiting a `Goroutine`) that only other goroutines
/// could complete, and this has held, with no goroutine polled or woken in
/// between, for at least 100 ms and two looks. With the default interval a
/// deadlock is reported about 200 ms after it happens.
///
/// It never reports while any goroutine could be woken by something gokio
/// does not own: a timer (`after`, `tick`, `sleep`, Tokio's), I/O, a task
/// started with `tokio::spawn`, a future from another crate, a blocking-pool
/// thread (`spawn_blocking`, or the spare worker `block_in_place` starts;
/// detection resumes once Tokio retires the thread, 10 s after its last
/// job). What it cannot see are **plain threads** (`std::thread::spawn`): if
/// every goroutine waits on channels that only a plain thread will send on,
/// that looks like a deadlock. Such programs should start the work with
/// `spawn_blocking`, or turn detection off.
///
/// A goroutine that awaits gokio operations through a combinator with its
/// own wakers (`FuturesUnordered`, say) counts as running: it can still be
/// listed by [`dump`](super::dump), but never makes a deadlock report.
///
/// # Examples
///
/// ```
/// use gokio::runtime::Builder;
///
/// let sum = Builder::new()
///     .worker_threads(2)
///     .thread_name("adder")
///     .run(async {
///         let ch = gokio::chan(0);
///         let tx = ch.clone();
///         gokio::go(async move {
///             for i in 1..=3 {
///                 tx.send(i).await.unwrap();
///             }
///         });
///         ch.recv().await.unwrap() + ch.recv().await.unwrap() + ch.recv().await.unwrap()
///     });
/// assert_eq!(sum, 6);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: String,
    detect_deadlocks: bool,
    on_deadlock: OnDeadlock,
    check_interval: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The defaults of [`run`](super::run).
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: THREAD_NAME.to_string(),
            detect_deadlocks: true,
            on_deadlock: OnDeadlock::Exit,
            check_interval: CHECK_INTERVAL,
        }
    }

    /// Sets the number of worker threads, instead of
    /// [`gomaxprocs()`](super::gomaxprocs).
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0, as Tokio does.
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "gokio: worker_threads must be at least 1");
        self.worker_threads = Some(n);
        self
    }

    /// Names the runtime's threads (default `gokio-worker`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Turns the deadlock watchdog on (the default) or off.
    pub fn detect_deadlocks(&mut self, on: bool) -> &mut Self {
        self.detect_deadlocks = on;
        self
    }

    /// Chooses what a detected deadlock does: exit with status 2 (the
    /// default) or panic.
    pub fn on_deadlock(&mut self, what: OnDeadlock) -> &mut Self {
        self.on_deadlock = what;
        self
    }

    /// Sets how often the watchdog looks (default 100 ms). However short the
    /// interval, a deadlock must hold for 100 ms before it is reported.
    ///
    /// # Panics
    ///
    /// Panics if `every` is zero.
    pub fn deadlock_check_interval(&mut self, every: Duration) -> &mut Self {
        assert!(
            !every.is_zero(),
            "gokio: the deadlock check interval must not be zero"
        );
        self.check_interval = every;
        self
    }

    /// Builds the runtime, runs `fut` as the main goroutine, and returns its
    /// output. See [`run`](super::run) for what happens when main returns or
    /// panics, and [`OnDeadlock`] for a deadlock.
    ///
    /// # Panics
    ///
    /// As [`run`](super::run), and with [`OnDeadlock::Panic`] on a deadlock.
    ///
    /// # Exit status
    ///
    /// 2 on an invalid `GOMAXPROCS` (when no worker count was set) and, with
    /// [`OnDeadlock::Exit`], on a deadlock.
    #[track_caller]
    pub fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let caller = Location::caller();
        let workers = match self.worker_threads {
            Some(n) => n,
            None => match super::configured_gomaxprocs() {
                Ok(n) => *n,
                Err(message) => {
                    // A configuration error is the user's, not a bug: say
                    // what is wrong in one line and leave with Go's
                    // fatal-error status, no panic and no backtrace.
                    eprintln!("{message}");
                    std::process::exit(2);
                }
            },
        };
        let registry = Registry::new();
        let threads = Arc::new(AtomicUsize::new(0));
        let runtime = {
            let registry = Arc::clone(&registry);
            let started = Arc::clone(&threads);
            let stopped = Arc::clone(&threads);
            let name = self.thread_name.clone();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                // Tokio asks for a thread's name on the spawning side, before
                // the thread exists: counting there means a blocking-pool
                // thread that `spawn_blocking` has just asked for is counted
                // even before it first runs.
                .thread_name_fn(move || {
                    started.fetch_add(1, Ordering::AcqRel);
                    name.clone()
                })
                .on_thread_start(move || registry.enter_thread())
                .on_thread_stop(move || {
                    stopped.fetch_sub(1, Ordering::AcqRel);
                })
                .enable_all()
                .build()
                .unwrap_or_else(|err| panic!("gokio: cannot build the Tokio runtime: {err}"))
        };

        let (report_tx, report_rx) = tokio::sync::oneshot::channel::<String>();
        let watchdog = if self.detect_deadlocks {
            let watched = Watched {
                registry: Arc::clone(&registry),
                runtime: runtime.handle().clone(),
                threads,
                workers,
                interval: self.check_interval,
            };
            let report = move |text: String| {
                let _ = report_tx.send(text);
            };
            Some(
                Watchdog::start(watched, report)
                    .unwrap_or_else(|err| panic!("gokio: cannot start the watchdog: {err}")),
            )
        } else {
            None
        };

        let span = tracing::info_span!("goroutine", id = MAIN_GOROUTINE_ID);
        let spec = Spawn {
            id: MAIN_GOROUTINE_ID,
            name: None,
            created_by: CreatedBy::Run,
            created_at: caller,
        };
        // Main is spawned rather than passed to `block_on` so that it runs on
        // the workers like every goroutine: `block_on` would poll it on this
        // thread, outside the work-stealing pool.
        let main = runtime.spawn(registry::spawn(Some(&registry), spec, fut.instrument(span)));

        let outcome = runtime.block_on(async {
            tokio::select! {
                biased;
                outcome = main => Ok(outcome),
                Ok(report) = report_rx => Err(report),
            }
        });
        drop(watchdog);
        // Go does not wait for other goroutines when main returns. Shutting
        // down in the background also keeps a goroutine stuck in a blocking
        // call from holding up the exit.
        runtime.shutdown_background();

        match outcome {
            Ok(Ok(output)) => output,
            Ok(Err(err)) if err.is_panic() => panic::resume_unwind(err.into_panic()),
            // Nothing holds an abort handle for main and the runtime is
            // still alive while it runs, so it can only have finished or
            // panicked.
            Ok(Err(err)) => panic!("gokio: the main goroutine was cancelled: {err}"),
            Err(report) => match self.on_deadlock {
                OnDeadlock::Exit => {
                    eprint!("{report}");
                    std::process::exit(2);
                }
                OnDeadlock::Panic => panic!("{report}"),
            },
        }
    }
}
