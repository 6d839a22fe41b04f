//! The deadlock watchdog and the goroutine dump.
//!
//! The watchdog is a plain thread that wakes every interval and takes a
//! snapshot of the runtime's goroutines. A deadlock is reported only when two
//! snapshots in a row find every goroutine blocked (see `registry.rs` for
//! what blocked means) with the same poll and wake counts, no task that gokio
//! did not start, and no blocking-pool thread alive. When in doubt, it stays
//! quiet.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::registry::{self, Registry, Task, Wait};

/// How long the goroutines must stay blocked, with nothing run or woken in
/// between, before a deadlock is reported, however short the check
/// interval. Wake-ups in flight (a blocking-pool job about to start, a
/// wake-up Tokio deferred to the end of a worker's turn, an aborted goroutine
/// not yet dropped) resolve within a scheduling tick; this leaves them
/// far more than that.
pub(crate) const CONFIRM: Duration = Duration::from_millis(100);

/// Go's message, the first line of the report.
pub(crate) const DEADLOCK_MESSAGE: &str = "fatal error: all goroutines are asleep - deadlock!";

/// Formats goroutines in the layout of Go's traceback, one block per
/// goroutine, blocks separated by an empty line.
pub(crate) fn format_tasks(tasks: &[Arc<Task>]) -> String {
    let mut out = String::new();
    let current = super::registry::current_id();
    for (i, task) in tasks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        format_task(&mut out, task, current);
    }
    out
}

fn format_task(out: &mut String, task: &Task, current: Option<u64>) {
    let (wait, site) = task.state();
    let _ = write!(out, "goroutine {}", task.id);
    if let Some(name) = &task.name {
        let _ = write!(out, " {name:?}");
    }
    let waited = site.and_then(|s| s.waited);
    let _ = write!(out, " [{}", wait.as_str());
    // Go adds the wait time to the header once it reaches a minute.
    if let Some(minutes) = waited.map(|w| w.as_secs() / 60).filter(|&m| m > 0) {
        let _ = write!(out, ", {minutes} minutes");
    }
    out.push_str("]:\n");
    match (wait, site) {
        (Wait::Running, _) if current == Some(task.id) => {
            out.push_str("\t(this goroutine is the one calling dump)\n");
        }
        (Wait::Running, _) => {
            out.push_str(
                "\t(running, runnable, or waiting outside gokio: I/O, a timer or another future)\n",
            );
        }
        (_, Some(site)) => {
            out.push_str(site.name);
            if let Some(waited) = waited {
                let _ = write!(out, ", waiting {waited:.1?}");
            }
            out.push('\n');
            match site.at {
                Some((file, line, column)) => {
                    let _ = writeln!(out, "\t{file}:{line}:{column}");
                }
                None => out
                    .push_str("\t(no call site: polled through a trait: Future, Stream or Sink)\n"),
            }
        }
        (_, None) => out.push_str("\t(location not recorded)\n"),
    }
    let _ = write!(out, "created by {}", task.created_by.as_str());
    if let Some(parent) = task.parent() {
        let _ = write!(out, " in goroutine {parent}");
    }
    let at = task.created_at;
    let _ = writeln!(out, "\n\t{}:{}:{}", at.file(), at.line(), at.column());
}

/// The report printed on a deadlock: Go's message, an empty line, the dump.
pub(crate) fn deadlock_report(tasks: &[Arc<Task>]) -> String {
    format!("{DEADLOCK_MESSAGE}\n\n{}", format_tasks(tasks))
}

/// What the watchdog watches.
pub(crate) struct Watched {
    pub(crate) registry: Arc<Registry>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// Threads of the runtime alive now (thread start/stop hooks).
    pub(crate) threads: Arc<AtomicUsize>,
    /// The runtime's worker threads: more threads than this means a
    /// blocking-pool thread is alive.
    pub(crate) workers: usize,
    pub(crate) interval: Duration,
}

/// `(id, polls, wakes)` of every goroutine: two equal ones mean nothing ran.
type Counts = Vec<(u64, u64, u64)>;

/// One snapshot: the counts, if every goroutine is blocked and nothing
/// outside gokio is alive, else `None`. Cheap when a goroutine runs: it
/// stops at the first one that is not blocked.
fn snapshot(watched: &Watched) -> Option<Counts> {
    if watched.threads.load(Ordering::Acquire) > watched.workers {
        return None;
    }
    let counts = watched.registry.all_blocked()?;
    if counts.is_empty() || watched.runtime.metrics().num_alive_tasks() != counts.len() {
        return None;
    }
    Some(counts)
}

/// A running watchdog thread; stops it when dropped.
pub(crate) struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching; `report` receives the deadlock report, at most once.
    pub(crate) fn start(
        watched: Watched,
        report: impl FnOnce(String) + Send + 'static,
    ) -> std::io::Result<Watchdog> {
        // The clock runs from now, so that waits that begin before the
        // thread's first look are timed too.
        registry::clock_start();
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopped = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("gokio-watchdog".into())
            .spawn(move || watch(watched, &stopped, report))
            .inspect_err(|_| registry::clock_stop())?;
        Ok(Watchdog {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(watched: Watched, stop: &(Mutex<bool>, Condvar), report: impl FnOnce(String)) {
    let _clock = ClockGuard;
    let (lock, cvar) = stop;
    // The all-blocked counts last seen, and since when they have held.
    let mut last: Option<(Counts, Instant)> = None;
    let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let deadline = Instant::now() + watched.interval;
        // Sleep a whole interval (spurious wake-ups included) unless stopped.
        loop {
            if *stopped {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            stopped = cvar
                .wait_timeout(stopped, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        registry::clock_tick();
        let snapshot = snapshot(&watched);
        watched.registry.checks.fetch_add(1, Ordering::Release);
        last = match (snapshot, last) {
            (Some(counts), Some((seen, since))) if counts == seen => {
                if since.elapsed() >= CONFIRM {
                    drop(stopped);
                    report(deadlock_report(&watched.registry.tasks()));
                    return;
                }
                Some((seen, since))
            }
            (Some(counts), _) => Some((counts, Instant::now())),
            (None, _) => None,
        };
    }
}

/// Stops the wait-time clock when a watchdog thread ends.
struct ClockGuard;

impl Drop for ClockGuard {
    fn drop(&mut self) {
        registry::clock_stop();
    }
}
