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

use super::registry::{Registry, Task, Wait};

/// Go's message, the first line of the report.
pub(crate) const DEADLOCK_MESSAGE: &str = "fatal error: all goroutines are asleep - deadlock!";

/// Formats goroutines in the layout of Go's traceback, one block per
/// goroutine, blocks separated by an empty line.
pub(crate) fn format_tasks(tasks: &[Arc<Task>], now: Instant) -> String {
    let mut out = String::new();
    let current = super::registry::current_id();
    for (i, task) in tasks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        format_task(&mut out, task, now, current);
    }
    out
}

fn format_task(out: &mut String, task: &Task, now: Instant, current: Option<u64>) {
    let (wait, site) = task.state();
    let _ = write!(out, "goroutine {}", task.id);
    if let Some(name) = &task.name {
        let _ = write!(out, " {name:?}");
    }
    let waited = site.map(|s| now.saturating_duration_since(s.since));
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
            let waited = waited.unwrap_or_default();
            let _ = writeln!(out, "{}, waiting {:.3?}", site.op.name, waited);
            match site.op.at {
                Some(at) => {
                    let _ = writeln!(out, "\t{}:{}:{}", at.file(), at.line(), at.column());
                }
                None => out
                    .push_str("\t(no call site: polled through a trait: Future, Stream or Sink)\n"),
            }
        }
        (_, None) => out.push_str("\t(location not recorded)\n"),
    }
    let _ = write!(out, "created by {}", task.created_by);
    if let Some(parent) = task.parent {
        let _ = write!(out, " in goroutine {parent}");
    }
    let at = task.created_at;
    let _ = writeln!(out, "\n\t{}:{}:{}", at.file(), at.line(), at.column());
}

/// The report printed on a deadlock: Go's message, an empty line, the dump.
pub(crate) fn deadlock_report(tasks: &[Arc<Task>]) -> String {
    format!(
        "{DEADLOCK_MESSAGE}\n\n{}",
        format_tasks(tasks, Instant::now())
    )
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

/// One snapshot: the counts and the goroutines, if all are blocked, else
/// `None`.
fn snapshot(watched: &Watched) -> Option<(Counts, Vec<Arc<Task>>)> {
    if watched.threads.load(Ordering::Acquire) > watched.workers {
        return None;
    }
    let tasks = watched.registry.tasks();
    if tasks.is_empty() || watched.runtime.metrics().num_alive_tasks() != tasks.len() {
        return None;
    }
    let mut counts = Vec::with_capacity(tasks.len());
    for task in &tasks {
        let (polls, wakes) = task.blocked()?;
        counts.push((task.id, polls, wakes));
    }
    Some((counts, tasks))
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
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopped = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("gokio-watchdog".into())
            .spawn(move || watch(watched, &stopped, report))?;
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
    let (lock, cvar) = stop;
    let mut last: Option<Counts> = None;
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
        let snapshot = snapshot(&watched);
        watched.registry.checks.fetch_add(1, Ordering::Release);
        match snapshot {
            Some((counts, tasks)) if last.as_ref() == Some(&counts) => {
                drop(stopped);
                report(deadlock_report(&tasks));
                return;
            }
            Some((counts, _)) => last = Some(counts),
            None => last = None,
        }
    }
}
