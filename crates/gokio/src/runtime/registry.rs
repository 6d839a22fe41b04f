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
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

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

/// Every gokio call that can wait: its state and its name in `dump()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum OpKind {
    ChanSend,
    ChanSendTimeout,
    SenderSend,
    SenderSendTimeout,
    SendBlocking,
    SinkSend,
    ChanRecv,
    ChanRecvTimeout,
    ReceiverRecv,
    ReceiverRecvTimeout,
    RecvBlocking,
    StreamNext,
    SelectMacro,
    SelectAwait,
    SelectNoCases,
    WaitGroupWait,
    Sleep,
    Join,
}

impl OpKind {
    /// The state a goroutine waiting in this call is in.
    pub(crate) fn wait(self) -> Wait {
        match self {
            OpKind::ChanSend => Wait::ChanSend,
            OpKind::ChanSendTimeout => Wait::ChanSend,
            OpKind::SenderSend => Wait::ChanSend,
            OpKind::SenderSendTimeout => Wait::ChanSend,
            OpKind::SendBlocking => Wait::ChanSend,
            OpKind::SinkSend => Wait::ChanSend,
            OpKind::ChanRecv => Wait::ChanRecv,
            OpKind::ChanRecvTimeout => Wait::ChanRecv,
            OpKind::ReceiverRecv => Wait::ChanRecv,
            OpKind::ReceiverRecvTimeout => Wait::ChanRecv,
            OpKind::RecvBlocking => Wait::ChanRecv,
            OpKind::StreamNext => Wait::ChanRecv,
            OpKind::SelectMacro => Wait::Select,
            OpKind::SelectAwait => Wait::Select,
            OpKind::SelectNoCases => Wait::SelectNoCases,
            OpKind::WaitGroupWait => Wait::WaitGroup,
            OpKind::Sleep => Wait::Sleep,
            OpKind::Join => Wait::Join,
        }
    }

    /// The call as the dump names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            OpKind::ChanSend => "gokio::Chan::send(..)",
            OpKind::ChanSendTimeout => "gokio::Chan::send_timeout(..)",
            OpKind::SenderSend => "gokio::Sender::send(..)",
            OpKind::SenderSendTimeout => "gokio::Sender::send_timeout(..)",
            OpKind::SendBlocking => "gokio::Chan::send_blocking(..)",
            OpKind::SinkSend => "gokio::Sender as Sink",
            OpKind::ChanRecv => "gokio::Chan::recv()",
            OpKind::ChanRecvTimeout => "gokio::Chan::recv_timeout(..)",
            OpKind::ReceiverRecv => "gokio::Receiver::recv()",
            OpKind::ReceiverRecvTimeout => "gokio::Receiver::recv_timeout(..)",
            OpKind::RecvBlocking => "gokio::Chan::recv_blocking()",
            OpKind::StreamNext => "gokio::Receiver as Stream",
            OpKind::SelectMacro => "gokio::select!",
            OpKind::SelectAwait => "gokio::Select.await",
            OpKind::SelectNoCases => "gokio::select! {}",
            OpKind::WaitGroupWait => "gokio::WaitGroup::wait()",
            OpKind::Sleep => "gokio::sleep(..)",
            OpKind::Join => "gokio::Goroutine.await",
        }
    }

    fn from_u8(v: u8) -> Option<OpKind> {
        Some(match v {
            0 => OpKind::ChanSend,
            1 => OpKind::ChanSendTimeout,
            2 => OpKind::SenderSend,
            3 => OpKind::SenderSendTimeout,
            4 => OpKind::SendBlocking,
            5 => OpKind::SinkSend,
            6 => OpKind::ChanRecv,
            7 => OpKind::ChanRecvTimeout,
            8 => OpKind::ReceiverRecv,
            9 => OpKind::ReceiverRecvTimeout,
            10 => OpKind::RecvBlocking,
            11 => OpKind::StreamNext,
            12 => OpKind::SelectMacro,
            13 => OpKind::SelectAwait,
            14 => OpKind::SelectNoCases,
            15 => OpKind::WaitGroupWait,
            16 => OpKind::Sleep,
            17 => OpKind::Join,
            _ => return None,
        })
    }
}

/// One waiting operation: what it is and where the user called it (16
/// bytes, carried by every operation's future).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub(crate) at: Option<&'static Location<'static>>,
    pub(crate) kind: OpKind,
}

impl Op {
    pub(crate) const fn new(kind: OpKind, at: &'static Location<'static>) -> Op {
        Op { at: Some(at), kind }
    }

    /// An operation reached through a trait (`Future`, `Stream`, `Sink`),
    /// which has no call site.
    pub(crate) const fn untracked(kind: OpKind) -> Op {
        Op { at: None, kind }
    }
}

/// Where a goroutine waits, as `dump()` shows it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site {
    pub(crate) name: &'static str,
    /// File, line and column of the call, if it has one.
    pub(crate) at: Option<(&'static str, u32, u32)>,
    /// How long the goroutine has waited, to the watchdog clock's tick;
    /// `None` when no watchdog clock was running when it started waiting.
    pub(crate) waited: Option<Duration>,
}

/// Interns file names (`&'static str`s) as small numbers, so a wait's site
/// fits in two atomic words.
mod interner {
    use std::cell::Cell;
    use std::sync::Mutex;

    static STRINGS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

    /// Cache entries per thread; direct-mapped by address.
    const CACHE: usize = 16;

    thread_local! {
        static RECENT: [Cell<(usize, u32)>; CACHE] =
            const { [const { Cell::new((0, 0)) }; CACHE] };
    }

    /// The number of `s`: equal addresses and lengths give equal numbers.
    pub(super) fn intern(s: &'static str) -> u32 {
        let key = s.as_ptr() as usize ^ (s.len() << 48);
        let slot = (key >> 3) % CACHE;
        let cached = RECENT.with(|r| r[slot].get());
        if cached.0 == key && key != 0 {
            return cached.1;
        }
        let mut strings = STRINGS.lock().unwrap_or_else(|e| e.into_inner());
        let index = match strings
            .iter()
            .position(|t| std::ptr::eq(t.as_ptr(), s.as_ptr()) && t.len() == s.len())
        {
            Some(i) => i,
            None => {
                strings.push(s);
                strings.len() - 1
            }
        };
        let index = u32::try_from(index).expect("fewer than 2^32 call-site files");
        RECENT.with(|r| r[slot].set((key, index)));
        index
    }

    /// The string numbered `index`.
    pub(super) fn get(index: u32) -> &'static str {
        let strings = STRINGS.lock().unwrap_or_else(|e| e.into_inner());
        strings.get(index as usize).copied().unwrap_or("?")
    }
}

/// A coarse clock for wait times, in milliseconds since the process's first
/// use of it, advanced by the watchdogs at each look: parking reads one
/// shared word instead of the system clock. 0 means no watchdog is running,
/// and waits that start then have no known start.
mod clock {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    static EPOCH: OnceLock<Instant> = OnceLock::new();
    static NOW_MS: AtomicU64 = AtomicU64::new(0);
    static RUNNING: AtomicUsize = AtomicUsize::new(0);

    fn elapsed_ms() -> u64 {
        let epoch = EPOCH.get_or_init(Instant::now);
        // +1 so that a running clock never reads 0.
        u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// A watchdog starts: the clock runs.
    pub(crate) fn start() {
        RUNNING.fetch_add(1, Ordering::AcqRel);
        tick();
    }

    /// A watchdog stops; the clock stops with the last one.
    pub(crate) fn stop() {
        if RUNNING.fetch_sub(1, Ordering::AcqRel) == 1 {
            NOW_MS.store(0, Ordering::Relaxed);
        }
    }

    /// A watchdog looks: the clock advances.
    pub(crate) fn tick() {
        if RUNNING.load(Ordering::Acquire) > 0 {
            NOW_MS.store(elapsed_ms(), Ordering::Relaxed);
        }
    }

    /// The clock's reading, 0 if stopped.
    pub(super) fn now() -> u64 {
        NOW_MS.load(Ordering::Relaxed)
    }

    /// Time since the reading `since` (never 0).
    pub(super) fn since(since: u64) -> Duration {
        Duration::from_millis(elapsed_ms().saturating_sub(since))
    }
}

pub(crate) use clock::{start as clock_start, stop as clock_stop, tick as clock_tick};

/// "No file": an operation without a call site.
const NO_FILE: u64 = u32::MAX as u64;

/// A live goroutine as the registry sees it. Its `Arc` is also the
/// goroutine's gokio waker.
pub(crate) struct Task {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    /// The goroutine that called `go`; 0 if none.
    parent: u64,
    pub(crate) created_by: CreatedBy,
    pub(crate) created_at: &'static Location<'static>,
    /// The user waker, to count its clones and recognise it.
    user: Weak<UserWake>,
    /// The Tokio task's waker, set on the first poll.
    task_waker: OnceLock<Waker>,
    /// Wake-ups through either waker.
    wakes: AtomicU64,
    /// Odd while the goroutine is being polled.
    polls: AtomicU64,
    /// `wakes` as read when the current or last poll began.
    seen_wakes: AtomicU64,
    /// A [`Wait`]: `Running` at the start of every poll, set by the gokio
    /// operation that returned `Pending`.
    state: AtomicU8,
    /// The site of the current wait: the `OpKind` (high half) and the
    /// interned file (low half, `NO_FILE` if none).
    site_names: AtomicU64,
    /// Line (high half) and column (low half) of the current wait's call.
    site_line_col: AtomicU64,
    /// The watchdog clock when the current wait began (0: unknown).
    site_since: AtomicU64,
    /// Identifies the call the site words describe (name and location
    /// addresses), to skip rewriting them.
    site_key: AtomicUsize,
    /// Set when the goroutine's future is dropped; the registry purges it.
    done: AtomicBool,
}

/// The call that started a goroutine.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CreatedBy {
    Go,
    GoNamed,
    Run,
}

impl CreatedBy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CreatedBy::Go => "gokio::go",
            CreatedBy::GoNamed => "gokio::go_named",
            CreatedBy::Run => "gokio::run",
        }
    }
}

impl Task {
    /// The goroutine that started this one, if any.
    pub(crate) fn parent(&self) -> Option<u64> {
        (self.parent != 0).then_some(self.parent)
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    fn mark_done(&self) {
        // Release: a registry that sees `done` sees everything before it.
        self.done.store(true, Ordering::Release);
    }

    fn signal(&self) {
        // Release: a watchdog that sees the new count sees the wake.
        self.wakes.fetch_add(1, Ordering::Release);
        // Unset only before the first poll, when the task is queued to run
        // anyway and nothing can have stored a waker yet.
        if let Some(task) = self.task_waker.get() {
            task.wake_by_ref();
        }
    }

    /// Whether `waker` is this goroutine's user waker.
    fn is_user_waker(&self, waker: &Waker) -> bool {
        std::ptr::eq(waker.data(), self.user.as_ptr().cast::<()>())
    }

    fn park(&self, op: &Op, fresh: bool) {
        // Relaxed: read together with the poll counter, whose Release store
        // at the end of the poll publishes them.
        self.state.store(op.kind.wait() as u8, Ordering::Relaxed);
        if !fresh {
            return;
        }
        self.site_since.store(clock::now(), Ordering::Relaxed);
        // A loop waits at the same call again and again: the site words
        // already say so. (Only the polling thread writes them.)
        let key = (op.kind as usize) ^ op.at.map_or(0, |at| std::ptr::from_ref(at) as usize);
        if self.site_key.load(Ordering::Relaxed) != key {
            self.site_key.store(key, Ordering::Relaxed);
            let name = op.kind as u64;
            let (file, line_col) = match op.at {
                Some(at) => (
                    u64::from(interner::intern(at.file())),
                    (u64::from(at.line()) << 32) | u64::from(at.column()),
                ),
                None => (NO_FILE, 0),
            };
            self.site_names
                .store((name << 32) | file, Ordering::Relaxed);
            self.site_line_col.store(line_col, Ordering::Relaxed);
            self.site_since.store(clock::now(), Ordering::Relaxed);
        }
    }

    /// The goroutine's state and, if it waits, where and for how long.
    pub(crate) fn state(&self) -> (Wait, Option<Site>) {
        // The site words are written during polls: read them between two
        // equal even poll counts for a consistent view (a few tries, then
        // take what is there).
        let mut tries = 0;
        loop {
            let before = self.polls.load(Ordering::Acquire);
            let wait = Wait::from_u8(self.state.load(Ordering::Relaxed));
            let names = self.site_names.load(Ordering::Relaxed);
            let line_col = self.site_line_col.load(Ordering::Relaxed);
            let since = self.site_since.load(Ordering::Relaxed);
            let site_key = self.site_key.load(Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Acquire);
            let after = self.polls.load(Ordering::Relaxed);
            tries += 1;
            if (before != after || before % 2 == 1) && tries < 3 {
                continue;
            }
            if wait == Wait::Running || site_key == 0 {
                return (wait, None);
            }
            let file = names & NO_FILE;
            let site = Site {
                name: OpKind::from_u8((names >> 32) as u8).map_or("?", OpKind::name),
                at: (file != NO_FILE).then(|| {
                    (
                        interner::get(file as u32),
                        (line_col >> 32) as u32,
                        line_col as u32,
                    )
                }),
                waited: (since != 0).then(|| clock::since(since)),
            };
            return (wait, Some(site));
        }
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
        // Only the wrapper's own user waker is alive: nothing outside gokio
        // can wake this goroutine.
        if self.user.strong_count() != 1 {
            return None;
        }
        let wakes = self.wakes.load(Ordering::Acquire);
        if wakes != self.seen_wakes.load(Ordering::Relaxed) {
            return None;
        }
        Some((polls, wakes))
    }
}

/// The gokio waker.
impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.signal();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.signal();
    }
}

/// The user waker: a separate allocation so that its clones can be counted.
pub(crate) struct UserWake {
    task: Arc<Task>,
}

impl Wake for UserWake {
    fn wake(self: Arc<Self>) {
        self.task.signal();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.task.signal();
    }
}

/// One shard of a registry: goroutines, including finished ones not yet
/// purged.
#[derive(Default)]
struct Shard {
    tasks: Vec<Arc<Task>>,
}

impl Shard {
    /// Adds a goroutine. A goroutine that ends only marks its task done (no
    /// lock, no reference to the registry); done tasks are purged here when
    /// the vector is full. A purge that leaves it more than half full also
    /// doubles it, so at least half a purge's length of pushes pays for each
    /// purge (amortized O(1)), and memory stays within four times the peak
    /// of live goroutines.
    fn push(&mut self, task: Arc<Task>) {
        if self.tasks.len() == self.tasks.capacity() {
            self.tasks.retain(|t| !t.is_done());
            if self.tasks.len() > self.tasks.capacity() / 2 {
                self.tasks.reserve(self.tasks.capacity().max(4));
            }
        }
        self.tasks.push(task);
    }

    fn live(&self) -> impl Iterator<Item = &Arc<Task>> {
        self.tasks.iter().filter(|t| !t.is_done())
    }
}

/// The live goroutines of one runtime (or of the process, outside gokio's
/// runtimes).
pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
    /// Snapshots the watchdog has taken (tests wait on it).
    pub(crate) checks: AtomicU64,
}

/// Shards keep threads that start goroutines off one lock: each thread adds
/// to its own shard.
const SHARDS: usize = 16;

/// Every registry alive, for `dump()` called from a thread outside any
/// runtime (a signal handler's thread, say).
static ALL: Mutex<Vec<Weak<Registry>>> = Mutex::new(Vec::new());

/// The registry of goroutines started outside gokio's runtimes (under
/// `#[tokio::main]`, for instance).
static GLOBAL: OnceLock<Arc<Registry>> = OnceLock::new();

/// Hands out shard numbers to threads.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

/// The goroutine being polled on this thread, and its gokio waker.
struct Current {
    task: Arc<Task>,
    gokio_waker: Waker,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
    /// The registry of the gokio runtime this thread belongs to.
    static RUNTIME: RefCell<Option<Arc<Registry>>> = const { RefCell::new(None) };
    /// The shard this thread adds goroutines to.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl Registry {
    pub(crate) fn new() -> Arc<Registry> {
        let registry = Arc::new(Registry {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            checks: AtomicU64::new(0),
        });
        let mut all = ALL.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|r| r.strong_count() > 0);
        all.push(Arc::downgrade(&registry));
        registry
    }

    fn insert(&self, task: Arc<Task>) {
        let shard = SHARD.with(|s| *s);
        self.shards[shard]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// The number of live goroutines.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).live().count())
            .sum()
    }

    /// Every live goroutine, by id.
    pub(crate) fn tasks(&self) -> Vec<Arc<Task>> {
        let mut tasks = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            tasks.extend(shard.live().cloned());
        }
        tasks.sort_by_key(|t| t.id);
        tasks
    }

    /// `(id, polls, wakes)` of every goroutine, sorted by id, if every one
    /// is blocked; stops at the first that is not.
    pub(crate) fn all_blocked(&self) -> Option<Vec<(u64, u64, u64)>> {
        let mut counts = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for task in shard.live() {
                let (polls, wakes) = task.blocked()?;
                counts.push((task.id, polls, wakes));
            }
        }
        counts.sort_unstable();
        Some(counts)
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
    with_current(Arc::clone)
}

/// Calls `f` with this thread's registry (see [`current`]) without
/// touching its reference count.
fn with_current<R>(f: impl FnOnce(&Arc<Registry>) -> R) -> R {
    RUNTIME.with(|r| match &*r.borrow() {
        Some(registry) => f(registry),
        None => f(GLOBAL.get_or_init(Registry::new)),
    })
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
    CURRENT.with(|c| c.borrow().as_ref().map(|c| c.task.id))
}

/// What [`spawn`] needs to know about a new goroutine.
pub(crate) struct Spawn {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    pub(crate) created_by: CreatedBy,
    pub(crate) created_at: &'static Location<'static>,
}

/// Wraps `fut` as goroutine `spec.id` of `registry` (default: this thread's,
/// see [`current`]): registers it now, marks it done when the returned
/// future is dropped, and keeps its state
/// word while it is polled.
pub(crate) fn spawn<F: Future>(
    registry: Option<&Registry>,
    spec: Spawn,
    fut: F,
) -> GoroutineFuture<F> {
    let parent = current_id();
    let user = Arc::new_cyclic(|user| UserWake {
        task: Arc::new(Task {
            id: spec.id,
            name: spec.name.map(String::into_boxed_str),
            parent: parent.unwrap_or(0),
            created_by: spec.created_by,
            created_at: spec.created_at,
            user: user.clone(),
            task_waker: OnceLock::new(),
            wakes: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            seen_wakes: AtomicU64::new(0),
            state: AtomicU8::new(Wait::Running as u8),
            site_names: AtomicU64::new(0),
            site_line_col: AtomicU64::new(0),
            site_since: AtomicU64::new(0),
            site_key: AtomicUsize::new(0),
            done: AtomicBool::new(false),
        }),
    });
    let task = Arc::clone(&user.task);
    match registry {
        Some(registry) => registry.insert(Arc::clone(&task)),
        None => with_current(|registry| registry.insert(Arc::clone(&task))),
    }
    let user_waker = Waker::from(user);
    let gokio_waker = Waker::from(Arc::clone(&task));
    GoroutineFuture {
        fut,
        slot: Slot(Some(Current { task, gokio_waker })),
        user_waker,
    }
}

pin_project_lite::pin_project! {
    /// A goroutine's future as Tokio runs it: the user's future, polled with
    /// the user waker while the goroutine is current on the thread. (A
    /// struct rather than an `async` block, which would store the user's
    /// future twice.)
    pub(crate) struct GoroutineFuture<F> {
        #[pin]
        fut: F,
        slot: Slot,
        user_waker: Waker,
    }
}

impl<F> GoroutineFuture<F> {
    /// The goroutine's task, for its [`Goroutine`](crate::Goroutine)
    /// handle.
    pub(crate) fn task(&self) -> Weak<Task> {
        let current = self.slot.0.as_ref().expect("not polled yet");
        Arc::downgrade(&current.task)
    }
}

/// Tells the watchdog that `task` is being aborted: Tokio drops an aborted
/// goroutine's future without polling it or calling its wakers, and that
/// drop may wake others (a dropped `Sender` closes a channel). Counting a
/// wake that no poll will ever match keeps the goroutine from looking
/// blocked until it is gone.
pub(crate) fn note_abort(task: &Weak<Task>) {
    if let Some(task) = task.upgrade() {
        // Release: as in `Task::signal`.
        task.wakes.fetch_add(1, Ordering::Release);
    }
}

impl<F: Future> Future for GoroutineFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let entry = this
            .slot
            .0
            .take()
            .expect("a goroutine's task is back after each poll");
        let task = &entry.task;
        task.task_waker.get_or_init(|| cx.waker().clone());
        // Only this wrapper writes `polls`. Release: pairs with the
        // watchdog's Acquire load.
        let polls = task.polls.load(Ordering::Relaxed);
        task.polls.store(polls + 1, Ordering::Release);
        task.state.store(Wait::Running as u8, Ordering::Relaxed);
        // Acquire: pairs with the Release increment in `Task::signal`.
        let wakes = task.wakes.load(Ordering::Acquire);
        task.seen_wakes.store(wakes, Ordering::Relaxed);

        let entered = Entered::enter(entry);
        let poll = this.fut.poll(&mut Context::from_waker(this.user_waker));
        let entry = entered.leave();

        entry.task.polls.store(polls + 2, Ordering::Release);
        this.slot.0 = Some(entry);
        poll
    }
}

/// The goroutine wrapper's hold on its task between polls. Dropping it (the
/// goroutine finished, was aborted, or was abandoned at shutdown) marks the
/// task done; its registry purges it later.
struct Slot(Option<Current>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(current) = &self.0 {
            current.task.mark_done();
        }
    }
}

/// Makes a goroutine the current one on this thread for one poll; restores
/// the previous one even if the poll panics.
struct Entered {
    previous: Option<Current>,
    left: bool,
}

impl Entered {
    fn enter(entry: Current) -> Entered {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(entry));
        Entered {
            previous,
            left: false,
        }
    }

    fn leave(mut self) -> Current {
        self.left = true;
        let previous = self.previous.take();
        CURRENT
            .with(|c| std::mem::replace(&mut *c.borrow_mut(), previous))
            .expect("the current goroutine is still set")
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if !self.left {
            // The poll panicked: the goroutine is over (Tokio drops its
            // future next, without the task, which was in the thread-local).
            let previous = self.previous.take();
            let entry = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), previous));
            if let Some(entry) = entry {
                entry.task.mark_done();
            }
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
        let Some(Current { task, gokio_waker }) = current.as_ref() else {
            return poll(&mut Context::from_waker(waker), &mut user);
        };
        let park_waker = if task.is_user_waker(waker) {
            gokio_waker
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
pub(crate) fn track<F: Future>(op: Op, gokio_only: bool, fut: F) -> Tracked<F> {
    Tracked {
        fut,
        op,
        gokio_only,
        parked: false,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`track`].
    pub(crate) struct Tracked<F> {
        #[pin]
        fut: F,
        op: Op,
        gokio_only: bool,
        parked: bool,
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut fut = this.fut;
        let gokio_only = *this.gokio_only;
        poll_op(cx, this.op, this.parked, |park, user| {
            if gokio_only {
                fut.as_mut().poll(park)
            } else {
                fut.as_mut().poll(user)
            }
        })
    }
}
