//! An exhaustive model check of `WaitGroup`'s no-lost-wake-up protocol.
//!
//! The waiters and the `done` callers are written as small state machines
//! whose steps are the protocol's atomic actions (each is atomic in the real
//! code: a read-modify-write, a load, or a critical section of the mutex
//! inside `tokio::sync::Notify`):
//!
//! ```text
//! waiter (WaitGroup::wait)                 doer (WaitGroup::done)
//! Register  notified(); enable()           FetchSub       now = count.fetch_sub(1) - 1
//! Load      if count == 0 { return }       NotifyWaiters  if now == 0: wake every
//! Park      notified.await (needs a wake)                 registered waiter
//! ```
//!
//! The checker explores every interleaving of 1-3 waiters and 1-4 doers from
//! a counter equal to the number of doers, and checks that
//!
//! - no execution ends with a waiter parked while the counter is 0 (a lost
//!   wake-up: in the real program that goroutine would sleep forever), and
//! - no waiter returns while the counter is non-zero.
//!
//! It memoizes on the global state (a depth-first search over the state
//! graph) and counts complete interleavings by dynamic programming over the
//! same graph, so every interleaving is covered without walking millions of
//! paths one by one. The model is sequentially consistent; why the real
//! orderings give the same results is argued in `src/sync/wait_group.rs`.
//!
//! The broken protocol (load the counter *before* registering) is checked
//! too, and the checker must find its lost wake-up, which shows that it can.
//!
//! `sync_wait_group_rounds_model.rs` adds goroutines that `add` from zero
//! (a reused group) and checks the round that `wait` now compares, which
//! this model, with `done` callers only, does not need.

use std::collections::HashMap;
use std::fmt::Write as _;

/// One step of a waiter's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum WaiterOp {
    /// `notified()` + `enable()`: from here on, `notify_waiters` wakes it.
    Register,
    /// `if count.load() == 0 { return }`.
    Load,
    /// `notified.await`: can proceed (and return) only once woken.
    Park,
}

use WaiterOp::{Load, Park, Register};

/// The waiter programs under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// Register, then load: the protocol the design relies on.
    RegisterThenLoad,
    /// What `WaitGroup::wait` actually runs: a fast-path load, then the
    /// protocol above.
    Implementation,
    /// The broken order: load, then register.
    LoadThenRegister,
}

impl Protocol {
    fn program(self) -> &'static [WaiterOp] {
        match self {
            Protocol::RegisterThenLoad => &[Register, Load, Park],
            Protocol::Implementation => &[Load, Register, Load, Park],
            Protocol::LoadThenRegister => &[Load, Register, Park],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Waiter {
    /// Index of the next op; `RETURNED` once `wait` has returned.
    pc: u8,
    /// Registered with the `Notify` (so a `notify_waiters` reaches it).
    registered: bool,
    /// Woken by a `notify_waiters`.
    woken: bool,
}

const RETURNED: u8 = u8::MAX;

/// A doer's program counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Doer {
    /// About to `fetch_sub(1)`.
    FetchSub,
    /// Its `fetch_sub` reached zero: about to `notify_waiters`.
    NotifyWaiters,
    Finished,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    count: i32,
    waiters: Vec<Waiter>,
    doers: Vec<Doer>,
}

/// Who takes a step.
#[derive(Clone, Copy, Debug)]
enum Actor {
    Waiter(usize),
    Doer(usize),
}

/// What the checker found below one state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Summary {
    /// Complete interleavings (paths to a state where nobody can move).
    interleavings: u128,
    /// Those that end with a waiter parked forever.
    lost_wakeups: u128,
    /// Those in which a waiter returned while the counter was non-zero.
    early_returns: u128,
}

impl std::ops::AddAssign for Summary {
    fn add_assign(&mut self, o: Summary) {
        self.interleavings += o.interleavings;
        self.lost_wakeups += o.lost_wakeups;
        self.early_returns += o.early_returns;
    }
}

struct Checker {
    program: &'static [WaiterOp],
    memo: HashMap<State, Summary>,
}

impl Checker {
    fn new(protocol: Protocol) -> Self {
        Checker {
            program: protocol.program(),
            memo: HashMap::new(),
        }
    }

    fn initial(waiters: usize, doers: usize) -> State {
        State {
            count: i32::try_from(doers).unwrap(),
            waiters: vec![
                Waiter {
                    pc: 0,
                    registered: false,
                    woken: false,
                };
                waiters
            ],
            doers: vec![Doer::FetchSub; doers],
        }
    }

    /// The actors that can take a step in `s`.
    fn enabled(&self, s: &State) -> Vec<Actor> {
        let mut out = Vec::new();
        for (i, w) in s.waiters.iter().enumerate() {
            if w.pc == RETURNED {
                continue;
            }
            // A parked waiter can move only once woken.
            if self.program[usize::from(w.pc)] != Park || w.woken {
                out.push(Actor::Waiter(i));
            }
        }
        for (i, d) in s.doers.iter().enumerate() {
            if *d != Doer::Finished {
                out.push(Actor::Doer(i));
            }
        }
        out
    }

    /// Takes `actor`'s step. Returns the next state, a label for traces, and
    /// whether a waiter returned with a non-zero counter in this step.
    fn step(&self, s: &State, actor: Actor) -> (State, String, bool) {
        let mut n = s.clone();
        let mut early = false;
        let label = match actor {
            Actor::Waiter(i) => {
                let w = &mut n.waiters[i];
                let op = self.program[usize::from(w.pc)];
                match op {
                    Register => {
                        w.registered = true;
                        w.pc += 1;
                        format!("W{i} register")
                    }
                    Load if n.count == 0 => {
                        w.pc = RETURNED;
                        format!("W{i} load 0 -> return")
                    }
                    Load => {
                        w.pc += 1;
                        format!("W{i} load {} -> go on", n.count)
                    }
                    Park => {
                        debug_assert!(w.woken);
                        w.pc = RETURNED;
                        early = n.count != 0;
                        format!("W{i} woken -> return")
                    }
                }
            }
            Actor::Doer(i) => match n.doers[i] {
                Doer::FetchSub => {
                    let prev = n.count;
                    n.count -= 1;
                    assert!(n.count >= 0, "the model never over-decrements");
                    n.doers[i] = if n.count == 0 && prev != 0 {
                        Doer::NotifyWaiters
                    } else {
                        Doer::Finished
                    };
                    format!("D{i} fetch_sub {prev} -> {}", n.count)
                }
                Doer::NotifyWaiters => {
                    n.doers[i] = Doer::Finished;
                    let mut woke = Vec::new();
                    for (j, w) in n.waiters.iter_mut().enumerate() {
                        if w.pc != RETURNED && w.registered && !w.woken {
                            w.woken = true;
                            woke.push(format!("W{j}"));
                        }
                    }
                    format!("D{i} notify_waiters (wakes [{}])", woke.join(", "))
                }
                Doer::Finished => unreachable!("a finished doer is never enabled"),
            },
        };
        (n, label, early)
    }

    /// Every interleaving from `s`, memoized on the state.
    fn explore(&mut self, s: &State) -> Summary {
        if let Some(&sum) = self.memo.get(s) {
            return sum;
        }
        let enabled = self.enabled(s);
        let mut sum = Summary::default();
        if enabled.is_empty() {
            // Nobody can move. Every doer has finished, so the counter is 0;
            // a waiter that has not returned is parked forever.
            assert_eq!(s.count, 0);
            sum.interleavings = 1;
            if s.waiters.iter().any(|w| w.pc != RETURNED) {
                sum.lost_wakeups = 1;
            }
        }
        for actor in enabled {
            let (next, _, early) = self.step(s, actor);
            let mut below = self.explore(&next);
            if early {
                // Every interleaving through this step has the early return.
                below.early_returns = below.interleavings;
            }
            sum += below;
        }
        self.memo.insert(s.clone(), sum);
        sum
    }

    /// One interleaving that ends in a lost wake-up, if any: follow, from
    /// the initial state, any step under which the memo counts one.
    fn lost_wakeup_trace(&mut self, initial: &State) -> Option<Vec<String>> {
        if self.explore(initial).lost_wakeups == 0 {
            return None;
        }
        let mut trace = Vec::new();
        let mut s = initial.clone();
        loop {
            let enabled = self.enabled(&s);
            if enabled.is_empty() {
                return Some(trace);
            }
            let (next, label) = enabled
                .into_iter()
                .map(|a| {
                    let (n, label, _) = self.step(&s, a);
                    (n, label)
                })
                .find(|(n, _)| self.memo[n].lost_wakeups > 0)
                .expect("a counted lost wake-up has a step leading to it");
            trace.push(label);
            s = next;
        }
    }
}

/// Checks one configuration and returns its summary and state count.
fn check(protocol: Protocol, waiters: usize, doers: usize) -> (Summary, usize) {
    let mut c = Checker::new(protocol);
    let sum = c.explore(&Checker::initial(waiters, doers));
    (sum, c.memo.len())
}

/// Every configuration checked: 1-3 waiters against 1-4 `done` callers.
/// The state graphs stay small (hundreds to a few thousand states), so all of
/// them run in well under a second even in a debug build.
const CONFIGS: [(usize, usize); 12] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (2, 1),
    (2, 2),
    (2, 3),
    (2, 4),
    (3, 1),
    (3, 2),
    (3, 3),
    (3, 4),
];

#[test]
fn explorer_counts_every_interleaving() {
    // One waiter [Register, Load, Park] against one doer [FetchSub, Notify]:
    // if the load comes before the fetch_sub, the only order is
    // R L F N P (1); otherwise the waiter returns at its load, and R L merged
    // with F N with F before L gives 5 orders. 6 in all.
    let (sum, _) = check(Protocol::RegisterThenLoad, 1, 1);
    assert_eq!(sum.interleavings, 6);
    // With the counter already 0 (no doers) each waiter runs [Register,
    // Load] and returns: two 2-step programs merge in C(4, 2) = 6 ways.
    let (sum, _) = check(Protocol::RegisterThenLoad, 2, 0);
    assert_eq!(sum.interleavings, 6);
    assert_eq!(sum.lost_wakeups, 0);
}

#[test]
fn register_then_load_never_loses_a_wakeup() {
    let mut report = String::new();
    for (waiters, doers) in CONFIGS {
        let (sum, states) = check(Protocol::RegisterThenLoad, waiters, doers);
        writeln!(
            report,
            "register-then-load: {waiters} waiters, {doers} doers: {states} states, \
             {} interleavings, {} lost wake-ups, {} early returns",
            sum.interleavings, sum.lost_wakeups, sum.early_returns
        )
        .unwrap();
        assert!(sum.interleavings > 0);
        assert_eq!(sum.lost_wakeups, 0, "{waiters} waiters, {doers} doers");
        assert_eq!(sum.early_returns, 0, "{waiters} waiters, {doers} doers");
    }
    eprint!("{report}");
}

#[test]
fn implementation_order_never_loses_a_wakeup() {
    for (waiters, doers) in CONFIGS {
        let (sum, states) = check(Protocol::Implementation, waiters, doers);
        eprintln!(
            "implementation (fast path + register-then-load): {waiters} waiters, \
             {doers} doers: {states} states, {} interleavings, {} lost wake-ups",
            sum.interleavings, sum.lost_wakeups
        );
        assert_eq!(sum.lost_wakeups, 0, "{waiters} waiters, {doers} doers");
        assert_eq!(sum.early_returns, 0, "{waiters} waiters, {doers} doers");
    }
}

#[test]
fn load_then_register_loses_a_wakeup() {
    for (waiters, doers) in CONFIGS {
        let mut c = Checker::new(Protocol::LoadThenRegister);
        let initial = Checker::initial(waiters, doers);
        let sum = c.explore(&initial);
        eprintln!(
            "load-then-register (broken): {waiters} waiters, {doers} doers: {} states, \
             {} of {} interleavings lose a wake-up",
            c.memo.len(),
            sum.lost_wakeups,
            sum.interleavings
        );
        assert!(
            sum.lost_wakeups > 0,
            "the checker must find the broken order's lost wake-up \
             ({waiters} waiters, {doers} doers)"
        );
        // Losing a wake-up never means returning early.
        assert_eq!(sum.early_returns, 0);

        let trace = c.lost_wakeup_trace(&initial).unwrap();
        if (waiters, doers) == (1, 1) {
            // The classic shape: the waiter sees 1, the last done notifies
            // nobody, and only then does the waiter register and park.
            assert_eq!(
                trace,
                [
                    "W0 load 1 -> go on",
                    "D0 fetch_sub 1 -> 0",
                    "D0 notify_waiters (wakes [])",
                    "W0 register",
                ]
            );
            eprintln!("counterexample: {}", trace.join("; "));
        }
        // In every configuration the notify that mattered woke nobody
        // registered later than it: some waiter registers after the last
        // notify_waiters in the trace.
        let last_notify = trace
            .iter()
            .rposition(|l| l.contains("notify_waiters"))
            .unwrap();
        assert!(trace[last_notify + 1..]
            .iter()
            .any(|l| l.ends_with("register")));
    }
}
