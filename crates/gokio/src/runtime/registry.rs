//! The registry of live goroutines and the state word each one keeps: what
//! `dump()`, `num_goroutine()` and the deadlock watchdog read.
//!
//! Go's runtime knows every goroutine and what it waits in because it owns
//! the scheduler. gokio gets the same knowledge by wrapping each goroutine's
//! future ([`spawn`]) and by having every gokio operation that can wait say
//! so when it returns `Pending` ([`track`], [`poll_op`]).
//!
//! # How a goroutine is known to be blocked
//!
//! Being in a gokio operation is not enough: in
//! `tokio::select! { v = ch.recv() => .., c = listener.accept() => .. }` the
//! receive waits, but the accept can wake the goroutine at any moment. The
//! registry therefore counts who can wake a goroutine.
//!
//! Each goroutine has two wakers over the same task:
//!
//! - the **user waker**, the one its future is polled with. Anything outside
//!   gokio that stores a waker (Tokio's timers and I/O driver, a `JoinHandle`,
//!   another crate's future) stores a clone of it;
//! - the **gokio waker**, which gokio's own operations store instead when they
//!   are polled directly with the user waker.
//!
//! A goroutine is *blocked* when all of these hold at once:
//!
//! 1. it is not being polled (its poll counter is even);
//! 2. its last poll left it in a gokio operation (the state word is not
//!    `running`);
//! 3. nobody holds a clone of its user waker (the `Arc` count is the
//!    registry's own two), so only gokio operations can wake it;
//! 4. it was not woken since its last poll began (wake counter unchanged).
//!
//! Condition 3 is what keeps the watchdog quiet for timers, I/O, plain Tokio
//! tasks and futures gokio cannot see: each of them holds a user-waker clone
//! while it waits. Operations polled under a combinator's own waker (for
//! instance inside `FuturesUnordered`) record their state but store the
//! combinator's waker, whose owner holds a user-waker clone: such a goroutine
//! is never counted as blocked.
//!
//! The watchdog (`watchdog.rs`) reports a deadlock only when every goroutine
//! is blocked in two snapshots taken an interval apart with the same poll
//! and wake counts, and the runtime has no task or thread gokio did not
//! start.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

/// What a goroutine waits in: the state shown in `[...]` by `dump()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Wait {
    /// Running, runnable, or waiting on something gokio cannot see.
    Running = 0,
    ChanSend = 1,
    ChanRecv = 2,
    Select = 3,
    SelectNoCases = 4,
    #[allow(clippy::enum_variant_names)] // Go's name for the state
    WaitGroup = 5,
    Sleep = 6,
    Join = 7,
}

impl Wait {
    fn from_u8(v: u8) -> Wait {
        match v {
            1 => Wait::ChanSend,
            2 => Wait::ChanRecv,
            3 => Wait::Select,
            4 => Wait::SelectNoCases,
            5 => Wait::WaitGroup,
            6 => Wait::Sleep,
            7 => Wait::Join,
            _ => Wait::Running,
        }
    }

    /// Go's name for the state, as in `goroutine 1 [chan send]:`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Wait::Running => "running",
            Wait::ChanSend => "chan send",
            Wait::ChanRecv => "chan receive",
            Wait::Select => "select",
            Wait::SelectNoCases => "select (no cases)",
            Wait::WaitGroup => "sync.WaitGroup.Wait",
            Wait::Sleep => "sleep",
            Wait::Join => "goroutine join",
        }
    }
}

/// One waiting operation: its state, the name of the call and where the user
/// made it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub(crate) wait: Wait,
    pub(crate) name: &'static str,
    pub(crate) at: Option<&'static Location<'static>>,
}

impl Op {
    pub(crate) const fn new(wait: Wait, name: &'static str, at: &'static Location<'static>) -> Op {
        Op {
            wait,
            name,
            at: Some(at),
        }
    }
}

/// Where and since when a goroutine waits (written on the first `Pending`
/// of each operation, read by `dump()`).
#[derive(Clone, Copy)]
pub(crate) struct Site {
    pub(crate) op: Op,
    pub(crate) since: Instant,
}

/// The wake side shared by a goroutine's two wakers: counts wake-ups, then
/// wakes the Tokio task.
pub(crate) struct Signal {
    task: OnceLock<Waker>,
    wakes: AtomicU64,
}

impl Signal {
    fn signal(&self) {
        // Release: a watchdog that sees the new count sees the wake.
        self.wakes.fetch_add(1, Ordering::Release);
        // Unset only before the first poll, when the task is queued to run
        // anyway and nothing can have stored a waker yet.
        if let Some(task) = self.task.get() {
            task.wake_by_ref();
        }
    }
}

/// The gokio waker is the `Signal` itself.
impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.signal();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.signal();
    }
}

/// The user waker: a separate allocation so that its clones can be counted.
pub(crate) struct UserWake {
    signal: Arc<Signal>,
}

impl Wake for UserWake {
    fn wake(self: Arc<Self>) {
        self.signal.signal();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.signal.signal();
    }
}

/// The `Arc<UserWake>` count when nobody else holds a user waker: the task's
/// own `Arc` and the `Waker` the wrapper polls with.
const USER_WAKE_BASE: usize = 2;

/// A live goroutine as the registry sees it.
pub(crate) struct Task {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    /// The goroutine that called `go`, if any.
    pub(crate) parent: Option<u64>,
    /// `gokio::go`, `gokio::go_named` or `gokio::run`.
    pub(crate) created_by: &'static str,
    pub(crate) created_at: &'static Location<'static>,
    signal: Arc<Signal>,
    user: Arc<UserWake>,
    gokio_waker: Waker,
    /// Odd while the goroutine is being polled.
    polls: AtomicU64,
    /// `signal.wakes` as read when the current or last poll began.
    seen_wakes: AtomicU64,
    /// A [`Wait`]: `Running` at the start of every poll, set by the gokio
    /// operation that returned `Pending`.
    state: AtomicU8,
    site: Mutex<Option<Site>>,
}

impl Task {
    /// Whether `waker` is this goroutine's user waker.
    fn is_user_waker(&self, waker: &Waker) -> bool {
        std::ptr::eq(waker.data(), Arc::as_ptr(&self.user).cast::<()>())
    }

    fn park(&self, op: &Op, fresh: bool) {
        // Relaxed: read by the watchdog together with the poll counter,
        // whose Release store at the end of the poll publishes it.
        self.state.store(op.wait as u8, Ordering::Relaxed);
        if fresh {
            let site = Site {
                op: *op,
                since: Instant::now(),
            };
            *self.site.lock().unwrap_or_else(|e| e.into_inner()) = Some(site);
        }
    }

    /// The goroutine's state and, if it waits, where and since when.
    pub(crate) fn state(&self) -> (Wait, Option<Site>) {
        let wait = Wait::from_u8(self.state.load(Ordering::Acquire));
        if wait == Wait::Running {
            return (wait, None);
        }
        let site = *self.site.lock().unwrap_or_else(|e| e.into_inner());
        (wait, site.filter(|s| s.op.wait == wait))
    }

    /// The counters a deadlock snapshot compares, if the goroutine is blocked
    /// right now (see the module docs), else `None`.
    pub(crate) fn blocked(&self) -> Option<(u64, u64)> {
        // Acquire: pairs with the Release store at the end of a poll, so the
        // state written during that poll is visible.
        let polls = self.polls.load(Ordering::Acquire);
        if polls % 2 == 1 {
            return None;
        }
        if self.state.load(Ordering::Relaxed) == Wait::Running as u8 {
            return None;
        }
        if Arc::strong_count(&self.user) != USER_WAKE_BASE {
            return None;
        }
        let wakes = self.signal.wakes.load(Ordering::Acquire);
        if wakes != self.seen_wakes.load(Ordering::Relaxed) {
            return None;
        }
        Some((polls, wakes))
    }
}

/// The live goroutines of one runtime (or of the process, outside gokio's
/// runtimes).
/// One shard of a registry: live goroutines by id.
type Shard = Mutex<HashMap<u64, Arc<Task>>>;

pub(crate) struct Registry {
    shards: Box<[Shard]>,
    len: AtomicUsize,
    /// Snapshots the watchdog has taken (tests wait on it).
    pub(crate) checks: AtomicU64,
}

/// Shards keep spawning goroutines on different workers off one lock.
const SHARDS: usize = 16;

/// Every registry alive, for `dump()` called from a thread outside any
/// runtime (a signal handler's thread, say).
static ALL: Mutex<Vec<Weak<Registry>>> = Mutex::new(Vec::new());

/// The registry of goroutines started outside gokio's runtimes (under
/// `#[tokio::main]`, for instance).
static GLOBAL: OnceLock<Arc<Registry>> = OnceLock::new();

thread_local! {
    /// The goroutine being polled on this thread.
    static CURRENT: RefCell<Option<Arc<Task>>> = const { RefCell::new(None) };
    /// The registry of the gokio runtime this thread belongs to.
    static RUNTIME: RefCell<Option<Arc<Registry>>> = const { RefCell::new(None) };
}

impl Registry {
    pub(crate) fn new() -> Arc<Registry> {
        let registry = Arc::new(Registry {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            len: AtomicUsize::new(0),
            checks: AtomicU64::new(0),
        });
        let mut all = ALL.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|r| r.strong_count() > 0);
        all.push(Arc::downgrade(&registry));
        registry
    }

    fn shard(&self, id: u64) -> &Shard {
        &self.shards[(id as usize) % SHARDS]
    }

    fn insert(&self, task: Arc<Task>) {
        let mut shard = self
            .shard(task.id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        shard.insert(task.id, task);
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    fn remove(&self, id: u64) {
        let mut shard = self.shard(id).lock().unwrap_or_else(|e| e.into_inner());
        if shard.remove(&id).is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The number of live goroutines.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Every live goroutine, by id.
    pub(crate) fn tasks(&self) -> Vec<Arc<Task>> {
        let mut tasks = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            tasks.extend(shard.values().cloned());
        }
        tasks.sort_by_key(|t| t.id);
        tasks
    }

    /// Makes `self` the registry of the calling thread (a gokio runtime's
    /// thread-start hook).
    pub(crate) fn enter_thread(self: &Arc<Self>) {
        RUNTIME.with(|r| *r.borrow_mut() = Some(Arc::clone(self)));
    }
}

/// The registry `go` and `num_goroutine` use on this thread: the gokio
/// runtime's, else the process-wide one.
pub(crate) fn current() -> Arc<Registry> {
    RUNTIME
        .with(|r| r.borrow().clone())
        .unwrap_or_else(|| Arc::clone(GLOBAL.get_or_init(Registry::new)))
}

/// The registries `dump()` shows from this thread: the runtime's own on one
/// of its threads, else every registry alive.
pub(crate) fn visible() -> Vec<Arc<Registry>> {
    if let Some(registry) = RUNTIME.with(|r| r.borrow().clone()) {
        return vec![registry];
    }
    let all = ALL.lock().unwrap_or_else(|e| e.into_inner());
    all.iter().filter_map(Weak::upgrade).collect()
}

/// The id of the goroutine polled on this thread, if any.
pub(crate) fn current_id() -> Option<u64> {
    CURRENT.with(|c| c.borrow().as_ref().map(|t| t.id))
}

/// What [`spawn`] needs to know about a new goroutine.
pub(crate) struct Spawn {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    pub(crate) created_by: &'static str,
    pub(crate) created_at: &'static Location<'static>,
}

/// Wraps `fut` as goroutine `spec.id` of `registry`: registers it now,
/// deregisters it when the returned future is dropped, and keeps its state
/// word while it is polled.
pub(crate) fn spawn<F: Future>(
    registry: Arc<Registry>,
    spec: Spawn,
    fut: F,
) -> impl Future<Output = F::Output> {
    let signal = Arc::new(Signal {
        task: OnceLock::new(),
        wakes: AtomicU64::new(0),
    });
    let user = Arc::new(UserWake {
        signal: Arc::clone(&signal),
    });
    let user_waker = Waker::from(Arc::clone(&user));
    let task = Arc::new(Task {
        id: spec.id,
        name: spec.name,
        parent: current_id(),
        created_by: spec.created_by,
        created_at: spec.created_at,
        gokio_waker: Waker::from(Arc::clone(&signal)),
        signal,
        user,
        polls: AtomicU64::new(0),
        seen_wakes: AtomicU64::new(0),
        state: AtomicU8::new(Wait::Running as u8),
        site: Mutex::new(None),
    });
    registry.insert(Arc::clone(&task));
    let registered = Registered {
        registry,
        id: spec.id,
    };
    async move {
        let _registered = registered;
        let mut fut = pin!(fut);
        let mut slot = Some(task);
        let mut polls = 0u64;
        poll_fn(move |cx| {
            let task = slot
                .take()
                .expect("a goroutine's task is back after each poll");
            task.signal.task.get_or_init(|| cx.waker().clone());
            polls += 1;
            // Release: pairs with the watchdog's Acquire load.
            task.polls.store(polls, Ordering::Release);
            task.state.store(Wait::Running as u8, Ordering::Relaxed);
            // Acquire: pairs with the Release increment in `Signal::signal`.
            let wakes = task.signal.wakes.load(Ordering::Acquire);
            task.seen_wakes.store(wakes, Ordering::Relaxed);

            let poll = {
                let current = Current::enter(task);
                let poll = fut.as_mut().poll(&mut Context::from_waker(&user_waker));
                slot = Some(current.leave());
                poll
            };

            let task = slot.as_ref().expect("just put back");
            polls += 1;
            task.polls.store(polls, Ordering::Release);
            poll
        })
        .await
    }
}

/// Removes a goroutine from its registry when its future is dropped
/// (finished, aborted, or abandoned at shutdown).
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// Makes a goroutine the current one on this thread for one poll; restores
/// the previous one even if the poll panics.
struct Current {
    previous: Option<Arc<Task>>,
    left: bool,
}

impl Current {
    fn enter(task: Arc<Task>) -> Current {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(task));
        Current {
            previous,
            left: false,
        }
    }

    fn leave(mut self) -> Arc<Task> {
        self.left = true;
        let previous = self.previous.take();
        CURRENT
            .with(|c| std::mem::replace(&mut *c.borrow_mut(), previous))
            .expect("the current goroutine is still set")
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        if !self.left {
            let previous = self.previous.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
}

/// Polls one step of a gokio operation that may wait.
///
/// `poll` gets two contexts: the one to register in gokio's own structures
/// (the goroutine's gokio waker when the operation is polled directly by its
/// goroutine) and the caller's own (for timers and anything else that must
/// count as a way to be woken). On `Pending` the goroutine's state becomes
/// `op`; `parked` is the operation's own flag, set on its first `Pending`,
/// when the wait's start time is taken.
pub(crate) fn poll_op<R>(
    cx: &mut Context<'_>,
    op: &Op,
    parked: &mut bool,
    poll: impl FnOnce(&mut Context<'_>, &mut Context<'_>) -> Poll<R>,
) -> Poll<R> {
    CURRENT.with(|current| {
        let current = current.borrow();
        let waker = cx.waker();
        let mut user = Context::from_waker(waker);
        let Some(task) = current.as_ref() else {
            return poll(&mut Context::from_waker(waker), &mut user);
        };
        let park_waker = if task.is_user_waker(waker) {
            &task.gokio_waker
        } else {
            waker
        };
        let result = poll(&mut Context::from_waker(park_waker), &mut user);
        if result.is_pending() {
            task.park(op, !*parked);
            *parked = true;
        }
        result
    })
}

/// Wraps an operation's future so that it records its state when it waits.
///
/// With `gokio_only`, the future is polled with the park context of
/// [`poll_op`] (it waits only on gokio's structures); otherwise with the
/// caller's context (it also waits on a timer, say), so the goroutine never
/// counts as blocked while in it.
pub(crate) async fn track<F: Future>(op: Op, gokio_only: bool, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut parked = false;
    poll_fn(|cx| {
        poll_op(cx, &op, &mut parked, |park, user| {
            if gokio_only {
                fut.as_mut().poll(park)
            } else {
                fut.as_mut().poll(user)
            }
        })
    })
    .await
}
