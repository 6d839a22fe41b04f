//! An exhaustive interleaving model check of the deadlock watchdog's
//! snapshot rule (`src/runtime/registry.rs`, `src/runtime/watchdog.rs`).
//!
//! # The model
//!
//! Two or three goroutines run small programs of gokio operations on
//! capacity-0 (rendezvous) channels and `gokio::sleep`. Each step is one
//! atomic action of the real code:
//!
//! ```text
//! GoroutineFuture::poll          polls += 1 (odd)      [Tokio starts the poll:
//!                                                        the run flag is consumed]
//!                                state = running
//!                                w = wakes             (a load ...)
//!                                seen_wakes = w        (... and a store)
//! the user future                one channel operation under the channel lock:
//!                                completes (and hands over to a parked partner,
//!                                whose op completes) or registers the gokio
//!                                waker and returns Pending
//! Task::signal (partner)         wakes += 1
//!                                task_waker.wake_by_ref()  (partner runnable)
//! Task::park                     state = wait
//! GoroutineFuture::poll          polls += 1 (even); the goroutine is done if
//!                                its future returned Ready
//! ```
//!
//! `gokio::sleep` arms a timer that holds a clone of the user waker (the
//! clone count is above the registry's own while it is armed); the timer
//! fires in four steps: the entry is marked fired, `wakes += 1`, the task is
//! made runnable, and the clone is dropped (`Waker::wake` by value).
//!
//! The watchdog is one more actor. A snapshot reads, for each goroutine in
//! turn and one field per step, in the order of `Registry::all_blocked` and
//! `Task::blocked`: the `done` flag, `polls` (odd: not blocked), the state
//! word (running: not blocked), the user-waker clone count, `wakes`, then
//! `seen_wakes` (different: not blocked), stopping at the first goroutine
//! that is not blocked. A snapshot in which every live goroutine is blocked
//! (and there is at least one) gives `(id, polls, wakes)` per goroutine; the
//! watchdog reports when two consecutive snapshots give equal counts. The
//! 100 ms confirmation and the task and thread counts only make the real
//! rule stricter, and are left out. The model is sequentially consistent.
//!
//! # What is checked
//!
//! Over every interleaving (a breadth-first search over the state graph, so
//! counterexamples are shortest):
//!
//! 1. **No false alarm**: whenever the watchdog reports, the system is truly
//!    deadlocked: no goroutine step and no timer step is enabled (nobody is
//!    in a poll, runnable, or mid-signal, and no timer is armed), and some
//!    goroutine has not finished.
//! 2. **Detection**: for the programs that deadlock, a report is reachable;
//!    for those that do not, none is. Moreover, from every reachable state
//!    in which the system is deadlocked and the watchdog is between
//!    snapshots, the watchdog alone reports by the end of its second
//!    snapshot.
//!
//! Deliberately broken rules are checked too, and the checker must find
//! their false alarms (or missed deadlocks), which shows that it can.
//!
//! Not modelled: an aborted goroutine between `abort()` and the drop of its
//! future. Tokio's abort does not go through the goroutine's wakers, and a
//! wake-up its drop issues (a `Sender` dropped, closing a channel) could
//! fall after the second snapshot's read of the goroutine it wakes. So
//! `Goroutine::abort` counts a wake on the aborted goroutine before it
//! aborts (`registry::note_abort`): no poll ever matches it, so that
//! goroutine no longer looks blocked, and no snapshot can be all-blocked
//! until it is gone. Aborts through other paths (runtime shutdown) end the
//! program anyway; the 100 ms confirmation covers what remains.

use std::collections::{HashMap, VecDeque};

/// One gokio operation of a goroutine's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    /// Send on a capacity-0 channel.
    Send(u8),
    /// Receive from a capacity-0 channel.
    Recv(u8),
    /// `gokio::sleep`: a timer holding a user-waker clone wakes it.
    Sleep,
}

use Op::{Recv, Send, Sleep};

/// Where a goroutine is in `GoroutineFuture::poll`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Phase {
    /// Not being polled.
    Idle,
    /// `polls` is odd: next, `state = running`.
    Started,
    /// Next: load `wakes`.
    Cleared,
    /// Loaded `wakes`: next, store it in `seen_wakes`.
    Loaded(u8),
    /// Running the user future: next, the current operation.
    Body,
    /// Completed `target`'s parked operation; `step` of its wake-up.
    Signal { target: u8, step: u8 },
    /// The operation returned Pending: next, `state = wait`.
    Parking,
    /// Next: `polls += 1` (even); `done` if the future returned Ready.
    Ending { done: bool },
    /// Finished: the registry no longer lists it.
    Done,
}

/// The timer of a `gokio::sleep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Timer {
    Unarmed,
    /// Holds a user-waker clone; may fire at any time.
    Armed,
    /// Fired: next, `wakes += 1`, then wake the task, then drop the clone.
    Firing(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Goroutine {
    pc: u8,
    phase: Phase,
    polls: u8,
    wakes: u8,
    seen: u8,
    /// The state word is not `running`.
    waiting: bool,
    /// Tokio will poll it (scheduled, or notified while being polled).
    runnable: bool,
    /// Its current channel operation has a waker registered in the channel.
    parked: bool,
    /// Its current operation was completed by a partner or the timer.
    completed: bool,
    /// User-waker clones held outside the registry.
    clones: u8,
    timer: Timer,
}

/// The watchdog: the last all-blocked counts and a snapshot in progress.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Watchdog {
    last: Option<Vec<Option<(u8, u8)>>>,
    /// Counts of the snapshot in progress (`None`: a done goroutine).
    cur: Vec<Option<(u8, u8)>>,
    /// The goroutine being read and the next field.
    g: u8,
    field: u8,
    polls: u8,
    wakes: u8,
    reported: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    gs: Vec<Goroutine>,
    wd: Watchdog,
}

/// The rule under test: the real one, or a broken one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Rule {
    /// `Task::signal` wakes the task before incrementing `wakes`.
    wake_before_count: bool,
    /// Report on two consecutive all-blocked snapshots, counts or not.
    no_count_compare: bool,
    /// Report on the first all-blocked snapshot.
    single_snapshot: bool,
    /// Do not check that `polls` is even.
    no_parity: bool,
    /// Do not check the user-waker clone count.
    no_clones: bool,
    /// Do not compare `wakes` with `seen_wakes`.
    no_seen: bool,
}

struct Program {
    name: &'static str,
    gs: &'static [&'static [Op]],
    deadlocks: bool,
}

const PROGRAMS: &[Program] = &[
    Program {
        name: "mutual receive",
        gs: &[&[Recv(0)], &[Recv(1)]],
        deadlocks: true,
    },
    Program {
        name: "ping-pong",
        gs: &[&[Send(0), Recv(1)], &[Recv(0), Send(1)]],
        deadlocks: false,
    },
    Program {
        name: "ping-pong, then both receive",
        gs: &[&[Send(0), Recv(1), Recv(0)], &[Recv(0), Send(1), Recv(1)]],
        deadlocks: true,
    },
    Program {
        name: "a sleeper delivers",
        gs: &[&[Sleep, Send(0)], &[Recv(0)]],
        deadlocks: false,
    },
    Program {
        name: "a sleeper delivers, then both receive",
        gs: &[&[Sleep, Send(0), Recv(1)], &[Recv(0), Recv(1)]],
        deadlocks: true,
    },
    Program {
        name: "a token passed along three",
        gs: &[&[Send(0)], &[Recv(0), Send(1)], &[Recv(1)]],
        deadlocks: false,
    },
    Program {
        name: "a token passed along three, then the last is stuck",
        gs: &[&[Send(0)], &[Recv(0), Send(1)], &[Recv(1), Recv(2)]],
        deadlocks: true,
    },
];

/// A rendezvous partner of `op`: the goroutine parked in the matching
/// operation on the same channel.
fn partner(s: &State, prog: &Program, me: usize, op: Op) -> Option<usize> {
    let want = match op {
        Send(c) => Recv(c),
        Recv(c) => Send(c),
        Sleep => return None,
    };
    (0..s.gs.len()).find(|&h| {
        let g = &s.gs[h];
        h != me && g.parked && !g.completed && prog.gs[h].get(usize::from(g.pc)) == Some(&want)
    })
}

/// The successors of `s` through goroutine and timer steps, with labels.
fn system_steps(s: &State, prog: &Program, rule: Rule, labels: bool) -> Vec<(String, State)> {
    // Labels only when a counterexample is printed: formatting is costly.
    macro_rules! l {
        ($($t:tt)*) => {
            if labels { format!($($t)*) } else { String::new() }
        };
    }
    let mut out = Vec::new();
    for i in 0..s.gs.len() {
        let g = &s.gs[i];
        let moves = match g.phase {
            Phase::Idle => g.runnable,
            Phase::Done => false,
            _ => true,
        };
        if !moves && g.timer == Timer::Unarmed {
            continue;
        }
        let mut n = s.clone();
        let label;
        let mut moved = true;
        {
            let m = &mut n.gs[i];
            match g.phase {
                Phase::Idle if g.runnable => {
                    m.runnable = false;
                    m.polls += 1;
                    m.phase = Phase::Started;
                    label = l!("g{i}: poll starts, polls = {}", m.polls);
                }
                Phase::Idle | Phase::Done => {
                    moved = false;
                    label = String::new();
                }
                Phase::Started => {
                    m.waiting = false;
                    m.phase = Phase::Cleared;
                    label = l!("g{i}: state = running");
                }
                Phase::Cleared => {
                    m.phase = Phase::Loaded(g.wakes);
                    label = l!("g{i}: loads wakes = {}", g.wakes);
                }
                Phase::Loaded(w) => {
                    m.seen = w;
                    m.phase = Phase::Body;
                    label = l!("g{i}: seen_wakes = {w}");
                }
                Phase::Body => match prog.gs[i].get(usize::from(g.pc)) {
                    None => {
                        m.phase = Phase::Ending { done: true };
                        label = l!("g{i}: future returns Ready");
                    }
                    Some(_) if g.completed => {
                        m.completed = false;
                        m.parked = false;
                        m.pc += 1;
                        label = l!("g{i}: its operation completed");
                    }
                    Some(&Sleep) => {
                        if g.timer == Timer::Unarmed {
                            m.timer = Timer::Armed;
                            m.clones += 1;
                        }
                        m.phase = Phase::Parking;
                        label = l!("g{i}: sleep arms the timer, Pending");
                    }
                    Some(&op) => match partner(s, prog, i, op) {
                        Some(h) => {
                            m.pc += 1;
                            m.phase = Phase::Signal {
                                target: h as u8,
                                step: 0,
                            };
                            let p = &mut n.gs[h];
                            p.completed = true;
                            p.parked = false;
                            label = l!("g{i}: {op:?} completes g{h}'s parked operation");
                        }
                        None => {
                            m.parked = true;
                            m.phase = Phase::Parking;
                            label = l!("g{i}: {op:?} registers its waker, Pending");
                        }
                    },
                },
                Phase::Signal { target, step } => {
                    let count = (step == 0) != rule.wake_before_count;
                    m.phase = if step == 0 {
                        Phase::Signal { target, step: 1 }
                    } else {
                        Phase::Body
                    };
                    let t = &mut n.gs[usize::from(target)];
                    if count {
                        t.wakes += 1;
                        label = l!("g{i}: signal g{target}: wakes = {}", t.wakes);
                    } else {
                        t.runnable = true;
                        label = l!("g{i}: signal g{target}: wake_by_ref (runnable)");
                    }
                }
                Phase::Parking => {
                    m.waiting = true;
                    m.phase = Phase::Ending { done: false };
                    label = l!("g{i}: state = wait");
                }
                Phase::Ending { done } => {
                    m.polls += 1;
                    m.phase = if done { Phase::Done } else { Phase::Idle };
                    label = l!(
                        "g{i}: poll ends, polls = {}{}",
                        m.polls,
                        if done { ", done" } else { "" }
                    );
                }
            }
        }
        if moved {
            out.push((label, n));
        }
        // The timer, an actor of its own.
        let mut n = s.clone();
        let m = &mut n.gs[i];
        let label = match g.timer {
            Timer::Unarmed => continue,
            Timer::Armed => {
                m.completed = true;
                m.timer = Timer::Firing(0);
                l!("timer of g{i}: fires")
            }
            Timer::Firing(step) => {
                let count = (step == 0) != rule.wake_before_count;
                if step == 2 {
                    m.clones -= 1;
                    m.timer = Timer::Unarmed;
                    l!("timer of g{i}: drops its user-waker clone")
                } else {
                    m.timer = Timer::Firing(step + 1);
                    if count {
                        m.wakes += 1;
                        l!("timer of g{i}: signal: wakes = {}", m.wakes)
                    } else {
                        m.runnable = true;
                        l!("timer of g{i}: signal: wake (runnable)")
                    }
                }
            }
        };
        out.push((label, n));
    }
    out
}

/// One watchdog step (the watchdog is deterministic); `None` once reported.
fn watchdog_step(s: &State, rule: Rule, labels: bool) -> Option<(String, State)> {
    macro_rules! l {
        ($($t:tt)*) => {
            if labels { format!($($t)*) } else { String::new() }
        };
    }
    if s.wd.reported {
        return None;
    }
    let mut n = s.clone();
    let w = &mut n.wd;
    let gi = usize::from(w.g);
    let label;
    let mut fail = false;
    let mut push = None;
    if gi == s.gs.len() {
        // The snapshot is complete.
        let snapshot = w.cur.iter().any(Option::is_some).then(|| w.cur.clone());
        w.cur.clear();
        w.g = 0;
        w.field = 0;
        match snapshot {
            Some(counts) => {
                let report = rule.single_snapshot
                    || match &w.last {
                        Some(last) => rule.no_count_compare || *last == counts,
                        None => false,
                    };
                if report {
                    w.reported = true;
                    label = l!("watchdog: snapshot {counts:?} -> REPORTS A DEADLOCK");
                } else {
                    label = l!("watchdog: snapshot {counts:?} all blocked, remembered");
                    w.last = Some(counts);
                }
            }
            None => {
                w.last = None;
                label = "watchdog: snapshot: none blocked that could be".to_string();
            }
        }
        return Some((label, n));
    }
    let g = &s.gs[gi];
    match w.field {
        0 => {
            if g.phase == Phase::Done {
                push = Some(None);
                label = l!("watchdog: g{gi} is done, skipped");
            } else {
                w.field = 1;
                label = l!("watchdog: g{gi} is live");
            }
        }
        1 => {
            w.polls = g.polls;
            fail = g.polls % 2 == 1 && !rule.no_parity;
            w.field = 2;
            label = l!("watchdog: g{gi} polls = {}", g.polls);
        }
        2 => {
            fail = !g.waiting;
            w.field = 3;
            label = l!(
                "watchdog: g{gi} state = {}",
                if g.waiting { "wait" } else { "running" }
            );
        }
        3 => {
            fail = g.clones != 0 && !rule.no_clones;
            w.field = 4;
            label = l!("watchdog: g{gi} user-waker clones = {}", g.clones);
        }
        4 => {
            w.wakes = g.wakes;
            w.field = 5;
            label = l!("watchdog: g{gi} wakes = {}", g.wakes);
        }
        _ => {
            fail = w.wakes != g.seen && !rule.no_seen;
            if !fail {
                push = Some(Some((w.polls, w.wakes)));
            }
            label = l!("watchdog: g{gi} seen_wakes = {}", g.seen);
        }
    }
    if fail {
        // `blocked()` is None: the whole snapshot is None.
        w.last = None;
        w.cur.clear();
        w.g = 0;
        w.field = 0;
        return Some((l!("{label} -> not blocked, snapshot None"), n));
    }
    if let Some(entry) = push {
        w.cur.push(entry);
        w.g += 1;
        w.field = 0;
    }
    Some((label, n))
}

/// Nothing but the watchdog can move, and some goroutine is not done.
fn deadlocked(s: &State) -> bool {
    let stuck = |g: &Goroutine| {
        g.timer == Timer::Unarmed
            && (g.phase == Phase::Done || (g.phase == Phase::Idle && !g.runnable))
    };
    s.gs.iter().any(|g| g.phase != Phase::Done) && s.gs.iter().all(stuck)
}

#[derive(Debug, Default)]
struct Outcome {
    states: usize,
    reports: usize,
    /// Deadlocked states between snapshots, from which detection was run.
    quiescent: usize,
    /// A shortest interleaving ending in a false alarm.
    false_alarm: Option<Vec<String>>,
    /// A deadlocked, between-snapshots state from which the watchdog alone
    /// does not report within two snapshots.
    slow_detection: Option<Vec<String>>,
}

/// The steps from the initial state to `states[i]`, labelled.
fn trace(states: &[(State, usize)], mut i: usize, prog: &Program, rule: Rule) -> Vec<String> {
    let mut out = Vec::new();
    while i != 0 {
        let (s, parent) = &states[i];
        let p = &states[*parent].0;
        let mut next = system_steps(p, prog, rule, true);
        next.extend(watchdog_step(p, rule, true));
        let label = next.into_iter().find(|(_, n)| n == s).map(|(l, _)| l);
        out.push(label.expect("a step leads from the parent"));
        i = *parent;
    }
    out.reverse();
    out
}

fn check(prog: &Program, rule: Rule) -> Outcome {
    let g0 = Goroutine {
        pc: 0,
        phase: Phase::Idle,
        polls: 0,
        wakes: 0,
        seen: 0,
        waiting: false,
        // Spawned: scheduled to run.
        runnable: true,
        parked: false,
        completed: false,
        clones: 0,
        timer: Timer::Unarmed,
    };
    let init = State {
        gs: vec![g0; prog.gs.len()],
        wd: Watchdog {
            last: None,
            cur: Vec::new(),
            g: 0,
            field: 0,
            polls: 0,
            wakes: 0,
            reported: false,
        },
    };
    // States, each with its parent.
    let mut states = vec![(init.clone(), 0)];
    let mut seen: HashMap<State, usize> = HashMap::new();
    seen.insert(init.clone(), 0);
    let mut queue = VecDeque::from([0]);
    let mut out = Outcome::default();
    while let Some(i) = queue.pop_front() {
        let s = states[i].0.clone();
        if s.wd.reported {
            out.reports += 1;
            if !deadlocked(&s) && out.false_alarm.is_none() {
                out.false_alarm = Some(trace(&states, i, prog, rule));
            }
            continue;
        }
        if deadlocked(&s) && s.wd.g == 0 && s.wd.field == 0 {
            out.quiescent += 1;
            if out.slow_detection.is_none() && !watchdog_alone_reports(&s, rule) {
                out.slow_detection = Some(trace(&states, i, prog, rule));
            }
        }
        let mut next = system_steps(&s, prog, rule, false);
        next.extend(watchdog_step(&s, rule, false));
        for (_, n) in next {
            if !seen.contains_key(&n) {
                seen.insert(n.clone(), states.len());
                queue.push_back(states.len());
                states.push((n, i));
            }
        }
    }
    out.states = states.len();
    out
}

/// Runs the watchdog alone from a snapshot boundary: it must report by the
/// end of its second snapshot.
fn watchdog_alone_reports(s: &State, rule: Rule) -> bool {
    let mut s = s.clone();
    let mut taken = 0;
    while let Some((_, n)) = watchdog_step(&s, rule, false) {
        s = n;
        if s.wd.reported {
            return true;
        }
        // Back at the first field of the first goroutine: a snapshot ended.
        if s.wd.g == 0 && s.wd.field == 0 {
            taken += 1;
            if taken == 2 {
                return false;
            }
        }
    }
    s.wd.reported
}

fn show(name: &str, t: &[String]) -> String {
    let mut out = format!("{name}:\n");
    for (i, step) in t.iter().enumerate() {
        out.push_str(&format!("  {:3}. {step}\n", i + 1));
    }
    out
}

#[test]
fn the_snapshot_rule_never_raises_a_false_alarm_and_detects_deadlocks() {
    let mut total = 0;
    for prog in PROGRAMS {
        let out = check(prog, Rule::default());
        total += out.states;
        println!(
            "{:52} {:6} states, {} reporting, {} deadlocked between snapshots",
            prog.name, out.states, out.reports, out.quiescent
        );
        if let Some(t) = &out.false_alarm {
            panic!("{}", show(&format!("false alarm in {:?}", prog.name), t));
        }
        if let Some(t) = &out.slow_detection {
            panic!(
                "{}",
                show(
                    &format!(
                        "{:?}: deadlocked, but the watchdog alone does not report \
                         within two snapshots",
                        prog.name
                    ),
                    t
                )
            );
        }
        assert_eq!(
            out.reports > 0,
            prog.deadlocks,
            "{:?}: a report is reachable iff the program deadlocks",
            prog.name
        );
        assert_eq!(out.quiescent > 0, prog.deadlocks, "{:?}", prog.name);
    }
    println!("{total} states in all");
}

/// Every broken rule must be caught on at least one program.
#[test]
fn broken_rules_are_caught() {
    let broken: &[(&str, Rule)] = &[
        (
            "two all-blocked snapshots, counts not compared",
            Rule {
                no_count_compare: true,
                ..Rule::default()
            },
        ),
        (
            "a single all-blocked snapshot",
            Rule {
                single_snapshot: true,
                ..Rule::default()
            },
        ),
        (
            "polls parity not checked",
            Rule {
                no_parity: true,
                ..Rule::default()
            },
        ),
        (
            "user-waker clones not counted",
            Rule {
                no_clones: true,
                ..Rule::default()
            },
        ),
        (
            "wakes not compared with seen_wakes",
            Rule {
                no_seen: true,
                ..Rule::default()
            },
        ),
        (
            "signal wakes the task before counting the wake",
            Rule {
                wake_before_count: true,
                ..Rule::default()
            },
        ),
    ];
    for (name, rule) in broken {
        let mut found = None;
        let mut states = 0;
        for prog in PROGRAMS {
            let out = check(prog, *rule);
            states += out.states;
            {
                if let Some(t) = out.false_alarm {
                    found = Some(show(&format!("false alarm in {:?}", prog.name), &t));
                } else if let Some(t) = out.slow_detection {
                    found = Some(show(
                        &format!("missed or slow detection in {:?}", prog.name),
                        &t,
                    ));
                } else if (out.reports > 0) != prog.deadlocks {
                    found = Some(format!("{:?}: deadlock not detected\n", prog.name));
                }
            }
            if found.is_some() {
                break;
            }
        }
        println!("broken rule: {name} ({states} states)");
        let found = found.unwrap_or_else(|| panic!("the broken rule {name:?} is not caught"));
        println!("  caught, shortest counterexample: {found}");
    }
}
