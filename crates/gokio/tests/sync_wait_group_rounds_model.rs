//! An exhaustive model check of `WaitGroup::wait` when the group is reused:
//! a goroutine adds from zero while an earlier `done`'s wake-up is still on
//! its way.
//!
//! `sync_wait_group_model.rs` checks the register-then-load order against
//! `done` callers only. Here the actors are waiters, `done` callers, and
//! *adders* (an `add(1)` from any count, then a `done`), and the protocols
//! are
//!
//! ```text
//! Counter (the protocol before rounds)     Rounds (WaitGroup::wait now)
//! FastLoad   if count == 0 { return }      FastLoad   if count == 0 { return }
//! Register   notified(); enable()          Register   notified(); enable()
//! Load       if count == 0 { return }      Load       if count == 0 || round moved { return }
//! Park       woken -> return               Park       woken -> back to Register
//!
//! done (both): Sub  count -= 1 (Rounds: and round += 1 if it reached 0, in the same step)
//!              Notify  notify_waiters(), if the Sub reached zero (a separate step)
//! ```
//!
//! The property: a waiter returns only when its own look saw a zero, or
//! after the counter has been zero at some moment since its first look
//! after registering (Go's `Wait` returns once the counter reaches zero;
//! it may have risen again since). The counter protocol breaks it: a
//! `done` reaches zero, an adder raises the counter, the waiter registers
//! and sees 1, and then the old `done`'s `notify_waiters` wakes it. That
//! is the early return `stress_many_add_done_wait_cycles` hit under load.
//! The rounds protocol must have no early return and no lost wake-up.

use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Protocol {
    Counter,
    Rounds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum WaiterPc {
    FastLoad,
    Register,
    Load,
    Park,
    Returned,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Waiter {
    pc: WaiterPc,
    registered: bool,
    woken: bool,
    /// The round its first registered load saw.
    first_round: Option<u32>,
    /// The counter was zero at some moment since that first look.
    zero_since: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum DoerPc {
    /// An adder's `add(1)`.
    Add,
    Sub,
    Notify,
    Finished,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    count: i32,
    round: u32,
    waiters: Vec<Waiter>,
    doers: Vec<DoerPc>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Summary {
    interleavings: u128,
    lost_wakeups: u128,
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
    protocol: Protocol,
    memo: HashMap<State, Summary>,
}

impl Checker {
    fn initial(waiters: usize, doers: usize, adders: usize) -> State {
        let waiter = Waiter {
            pc: WaiterPc::FastLoad,
            registered: false,
            woken: false,
            first_round: None,
            zero_since: false,
        };
        let mut all = vec![DoerPc::Sub; doers];
        all.extend(vec![DoerPc::Add; adders]);
        State {
            count: i32::try_from(doers).unwrap(),
            round: 0,
            waiters: vec![waiter; waiters],
            doers: all,
        }
    }

    /// The next states, each with whether a waiter returned early in it.
    fn steps(&self, s: &State) -> Vec<(State, bool)> {
        let mut out = Vec::new();
        for i in 0..s.waiters.len() {
            let w = &s.waiters[i];
            let mut n = s.clone();
            let mut early = false;
            let nw = &mut n.waiters[i];
            match w.pc {
                WaiterPc::Returned => continue,
                WaiterPc::Park if !w.woken => continue,
                WaiterPc::FastLoad => {
                    nw.pc = if s.count == 0 {
                        WaiterPc::Returned
                    } else {
                        WaiterPc::Register
                    };
                }
                WaiterPc::Register => {
                    nw.registered = true;
                    nw.pc = WaiterPc::Load;
                }
                WaiterPc::Load => {
                    let first = *nw.first_round.get_or_insert(s.round);
                    let round_moved = self.protocol == Protocol::Rounds && s.round != first;
                    if s.count == 0 || round_moved {
                        early = s.count != 0 && !nw.zero_since;
                        nw.pc = WaiterPc::Returned;
                    } else {
                        nw.pc = WaiterPc::Park;
                    }
                }
                WaiterPc::Park => {
                    // Woken by a notify_waiters.
                    nw.woken = false;
                    nw.registered = false;
                    match self.protocol {
                        Protocol::Counter => {
                            early = !nw.zero_since;
                            nw.pc = WaiterPc::Returned;
                        }
                        Protocol::Rounds => nw.pc = WaiterPc::Register,
                    }
                }
            }
            out.push((n, early));
        }
        for i in 0..s.doers.len() {
            let mut n = s.clone();
            match s.doers[i] {
                DoerPc::Finished => continue,
                DoerPc::Add => {
                    n.count += 1;
                    n.doers[i] = DoerPc::Sub;
                }
                DoerPc::Sub => {
                    n.count -= 1;
                    assert!(n.count >= 0, "the model never over-decrements");
                    if n.count == 0 {
                        if self.protocol == Protocol::Rounds {
                            n.round += 1;
                        }
                        for w in &mut n.waiters {
                            if w.first_round.is_some() && w.pc != WaiterPc::Returned {
                                w.zero_since = true;
                            }
                        }
                        n.doers[i] = DoerPc::Notify;
                    } else {
                        n.doers[i] = DoerPc::Finished;
                    }
                }
                DoerPc::Notify => {
                    for w in &mut n.waiters {
                        if w.pc != WaiterPc::Returned && w.registered {
                            w.woken = true;
                        }
                    }
                    n.doers[i] = DoerPc::Finished;
                }
            }
            out.push((n, false));
        }
        out
    }

    fn explore(&mut self, s: &State) -> Summary {
        if let Some(&sum) = self.memo.get(s) {
            return sum;
        }
        let steps = self.steps(s);
        let mut sum = Summary::default();
        if steps.is_empty() {
            assert_eq!(s.count, 0, "every doer and adder has finished");
            sum.interleavings = 1;
            if s.waiters.iter().any(|w| w.pc != WaiterPc::Returned) {
                sum.lost_wakeups = 1;
            }
        }
        for (next, early) in steps {
            let mut below = self.explore(&next);
            if early {
                below.early_returns = below.interleavings;
            }
            sum += below;
        }
        self.memo.insert(s.clone(), sum);
        sum
    }
}

fn check(protocol: Protocol, waiters: usize, doers: usize, adders: usize) -> Summary {
    let mut c = Checker {
        protocol,
        memo: HashMap::new(),
    };
    c.explore(&Checker::initial(waiters, doers, adders))
}

/// 1-2 waiters, 1-3 `done` callers, 0-2 adders.
fn configs() -> impl Iterator<Item = (usize, usize, usize)> {
    (1..=2).flat_map(|w| (1..=3).flat_map(move |d| (0..=2).map(move |a| (w, d, a))))
}

#[test]
fn rounds_never_return_early_nor_lose_a_wakeup() {
    for (w, d, a) in configs() {
        let sum = check(Protocol::Rounds, w, d, a);
        assert!(sum.interleavings > 0);
        assert_eq!(
            (sum.lost_wakeups, sum.early_returns),
            (0, 0),
            "{w} waiters, {d} doers, {a} adders: {sum:?}"
        );
    }
}

#[test]
fn the_counter_protocol_returns_early_when_the_group_is_reused() {
    // Without adders it is sound (what sync_wait_group_model.rs shows) ...
    for (w, d) in [(1, 1), (2, 3)] {
        let sum = check(Protocol::Counter, w, d, 0);
        assert_eq!((sum.lost_wakeups, sum.early_returns), (0, 0));
    }
    // ... and with one adder the checker finds the stale wake-up.
    let sum = check(Protocol::Counter, 1, 1, 1);
    assert!(
        sum.early_returns > 0,
        "the checker must find the stale wake-up: {sum:?}"
    );
}
