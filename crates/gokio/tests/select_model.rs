//! An exhaustive interleaving model check of the `select!` protocol over
//! capacity-0 (rendezvous) channels: the engine in `src/select/mod.rs`
//! (try phase, publish, withdraw, `Engine::drop`), the cases in
//! `src/chan/case.rs` (`try_now`, `publish`, `withdraw`, `Drop`) and the
//! rendezvous calls they make in `src/chan/rendezvous.rs`
//! (`select_try_recv`, `select_try_send`, `park`, `unpark`,
//! `take_received`, `give_back_from`, the baton with its same-operation
//! skip), together with the plain `SendOp` / `RecvOp` / `close` that
//! `tests/chan_rendezvous_model.rs` models.
//!
//! # The model
//!
//! Actors are goroutines: a select over one or two cases (each a send or a
//! receive on one of two cap-0 channels, all sharing the select's token), a
//! plain send, a plain receive, or a `close`. Atomic steps:
//!
//! - one critical section under one channel lock (`park`, `unpark`, a try
//!   of one case, `deliver`, `consumed`, `give_back`, `close`, a plain
//!   operation's locked part) is one step; a private action next to it
//!   (reading one's own slot after the token is final, `Token::new` before
//!   anything is published) is folded into it;
//! - each lock-free token CAS of an owner (`Token::abort` in
//!   `Engine::withdraw`, `Engine::drop`, the cases' `Drop`, `SendOp` and
//!   `RecvOp` withdrawals) and the plain sender's `completed()` check are
//!   steps of their own;
//! - each wake issued after an unlock is its own step (so anything can
//!   happen between the unlock and the wake); a wake sets the task's
//!   `woken` flag, consumed when the next poll starts;
//! - a parked future is polled when woken (mandatory) or spuriously at any
//!   time (optional), and a cancellable one may be dropped between polls
//!   (optional, once).
//!
//! The select engine: a poll first withdraws (abort the token, then
//! `withdraw(won == i)` for each case in order, one lock step each; the won
//! receive case reads its slot and runs `consumed`), then runs the try
//! phase, one case per step in *every* order (the checker branches on
//! which untried case comes next, covering all of `random_below`'s
//! permutations), then publishes every case in order (a `park` per case
//! with its baton wake) and returns `Pending`. A dropped select runs
//! `Engine::drop` (abort, withdraw every case but the won one) and then the
//! cases' `Drop`s (the won receive case gives its value back, a won send
//! case keeps its delivery); `DropPath::CasesOnly` checks that the cases'
//! `Drop`s alone suffice too.
//!
//! A waiter is named by (actor, case): an actor has at most one waiter per
//! case, because every withdrawal removes its non-won waiters from the
//! queues (`unpark`) and the counterpart that completes a waiter pops it,
//! before a new token is made. The checker asserts this (`ModelError`).
//!
//! # Checks
//!
//! In every state: values are conserved (each is in exactly one place:
//! a hand, a waiter slot, `returned`, or received); no value is received
//! twice; a select never receives its own value (self-pairing); a select
//! has at most one effect at any time (a send case's value delivered, a
//! receive case handed a value, or a value received), and when it returns
//! its effect matches the reported case; a dropped select has no effect at
//! all (its won receive gave the value back; no send of it was delivered);
//! a dropped plain send did not deliver. In every quiescent state (no
//! mandatory step left): no live receiver and live sender of two different
//! operations parked on one channel (a deadlock), no parked task whose
//! token is done and who was not woken (a lost wake-up), every value whose
//! send reported `Ok` was received or sits in `returned`. Over the whole
//! graph: every state can still reach a quiescent one (no livelock, such as
//! a select waking itself forever).
//!
//! Not modelled: memory orderings (sequentially consistent model; see the
//! invariants of `token.rs`), Tokio's coop budget, buffered channels and
//! timers, `try_select`/`default`, `try_recv`, disconnect.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

/// A word-at-a-time multiplicative hash (FxHash-like): SipHash dominates
/// the search time in debug builds.
#[derive(Default)]
struct FastHash(u64);

impl Hasher for FastHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, x: usize) {
        self.0 = (self.0.rotate_left(5) ^ x as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHash>>;

/// At most this many cases per select (a waiter id is `actor * MAXC + case`).
const MAXC: usize = 2;
const NCH: usize = 2;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// One case of a select (or a plain operation's single case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Send(u8),
    Recv(u8),
}

impl Op {
    fn ch(self) -> usize {
        match self {
            Op::Send(c) | Op::Recv(c) => usize::from(c),
        }
    }
    fn is_send(self) -> bool {
        matches!(self, Op::Send(_))
    }
}

#[derive(Clone, Copy, Debug)]
enum Role {
    /// A waiting `select!` (or `Select`) over `cases`, dropped at most once
    /// between polls if `cancel`.
    Select { cases: &'static [Op], cancel: bool },
    /// A plain `send` (`SendOp`), dropped at most once if `cancel`.
    Send { ch: u8, cancel: bool },
    /// A plain `recv` (`RecvOp`), dropped at most once if `cancel`.
    Recv { ch: u8, cancel: bool },
    /// `close()` of a channel.
    Close { ch: u8 },
}

impl Role {
    fn ops(self) -> Vec<Op> {
        match self {
            Role::Select { cases, .. } => cases.to_vec(),
            Role::Send { ch, .. } => vec![Op::Send(ch)],
            Role::Recv { ch, .. } => vec![Op::Recv(ch)],
            Role::Close { .. } => vec![],
        }
    }
    fn cancellable(self) -> bool {
        match self {
            Role::Select { cancel, .. } | Role::Send { cancel, .. } | Role::Recv { cancel, .. } => {
                cancel
            }
            Role::Close { .. } => false,
        }
    }
}

/// How a dropped select is torn down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DropPath {
    /// `Engine::drop` (abort, withdraw every case but the won one), then
    /// the cases' `Drop`s: the engine is dropped first both in the macro
    /// (the awaited future before the case locals) and in `Select`.
    EngineThenCases,
    /// Only the cases' `Drop`s (each aborts, then unparks or gives back).
    CasesOnly,
}

/// The protocol's switches. `CURRENT` is the code as it stands; the other
/// settings are deliberately broken variants.
#[derive(Clone, Copy, Debug)]
struct Protocol {
    /// `State::baton` skips senders whose only live receivers belong to the
    /// same operation (`same_op`). Off: the plain baton (front live sender
    /// whenever any live receiver is parked).
    baton_skips_same_op: bool,
    /// `Rendezvous::unpark` of a send case passes the baton.
    baton_on_send_unpark: bool,
    /// BROKEN: the waiting engine's try phase calls `select_try_recv(true)`,
    /// taking a parked sender's value directly.
    waiting_select_takes_sender: bool,
    /// The won receive case of a dropped select gives its value back
    /// (`give_back_from`).
    drop_gives_back: bool,
    drop_path: DropPath,
}

impl Protocol {
    const CURRENT: Protocol = Protocol {
        baton_skips_same_op: true,
        baton_on_send_unpark: true,
        waiting_select_takes_sender: false,
        drop_gives_back: true,
        drop_path: DropPath::EngineThenCases,
    };
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/// A token's claim word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Tok {
    Waiting,
    Aborted,
    Done(u8),
}

/// Where an actor's program is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pc {
    /// The first poll (plain operations, select), or `close`.
    Start,
    /// The last poll returned `Pending`.
    Parked,
    /// Select poll, `Engine::withdraw`: the abort CAS is done; next
    /// `cases[i].withdraw(won == i)`.
    Withdraw(u8),
    /// Select poll, `try_phase`: the next untried case (any of them).
    Try,
    /// Select poll, the publish loop: next `cases[i].publish`.
    Publish(u8),
    /// `Engine::drop`: abort done; next `cases[i].withdraw(false)`.
    DropEngine(u8),
    /// The cases' `Drop`s: next case `i`.
    DropCase(u8),
    /// `SendOp::poll` re-poll: `completed()` said no; next the locked part.
    SendPollLock,
    /// `SendOp::withdraw` won its abort; next lock, remove, baton.
    SendCancelLock,
    /// `RecvOp::withdraw_raw` won its abort; next lock and remove.
    RecvCancelLock,
    /// `RecvOp::cancel` lost its abort to a delivery; next `give_back`.
    RecvGiveBack,
    Finished,
    /// A dropped select or plain operation, torn down.
    Dropped,
}

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Res {
    /// Receive case `case` returned this (`None`: closed and drained).
    Recv(u8, Option<u8>),
    /// Send case `case` returned `Ok(())`.
    SendOk(u8),
    /// Send case `case` returned `Err(SendError(v))` (closed).
    SendClosed(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Actor {
    pc: Pc,
    /// The current token (a select attempt's, shared by its cases, or a
    /// plain operation's own). `None` before the first publish and after
    /// `Engine::withdraw` took it.
    tok: Option<Tok>,
    /// The case the token's winner completed, as seen by the owner's abort.
    won: Option<u8>,
    /// Case `i` has a published waiter (`RecvWait::Parked` / `SendWait::Parked`).
    wait: [bool; MAXC],
    /// The waiters' slots.
    slot: [Option<u8>; MAXC],
    /// Send values not in the channel (`SendCase::value`, `SendOp::value`,
    /// or handed back).
    hand: [Option<u8>; MAXC],
    woken: bool,
    /// Wakes still to issue after the last critical section.
    wakes: Vec<u8>,
    /// Try phase: cases already tried (a bit per case).
    tried: u8,
    cancels: u8,
    result: Option<Res>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
struct Chan {
    senders: Vec<u8>,
    receivers: Vec<u8>,
    returned: Vec<u8>,
    closed: bool,
    in_flight: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ValueInfo {
    /// The actor that received the value.
    received_by: Option<u8>,
    reported_ok: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    chans: [Chan; NCH],
    actors: Vec<Actor>,
    values: Vec<ValueInfo>,
}

fn owner(w: u8) -> usize {
    usize::from(w) / MAXC
}
fn case_of(w: u8) -> usize {
    usize::from(w) % MAXC
}
fn wid(a: usize, case: usize) -> u8 {
    u8::try_from(a * MAXC + case).unwrap()
}

/// Whether waiter `w` can still be claimed (`Token::is_waiting`).
fn live(actors: &[Actor], w: u8) -> bool {
    let act = &actors[owner(w)];
    act.wait[case_of(w)] && act.tok == Some(Tok::Waiting)
}

/// `State::prune`.
fn prune(q: &mut Vec<u8>, actors: &[Actor]) {
    while q.first().is_some_and(|&w| !live(actors, w)) {
        q.remove(0);
    }
}

fn remove(q: &mut Vec<u8>, w: u8) {
    if let Some(i) = q.iter().position(|&x| x == w) {
        q.remove(i);
    }
}

impl Chan {
    fn drained(&self) -> bool {
        self.closed && self.returned.is_empty() && self.in_flight == 0
    }
}

// ---------------------------------------------------------------------------
// Violations and steps
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// A select had two effects (two cases completed).
    DoubleCommit,
    /// A select's returned case does not match its effect.
    WrongResult,
    /// A select received its own send case's value.
    SelfPair,
    DoubleReceive,
    ValueLost,
    ValueDuplicated,
    /// A dropped send (plain, or a dropped select's send case) delivered.
    DroppedSendDelivered,
    /// A dropped select consumed a value (kept a won receive's value).
    DroppedRecvConsumed,
    /// Quiescent with a live receiver and a live sender of different
    /// operations parked on one channel.
    Deadlock,
    /// Quiescent with a parked task whose token is done, not woken.
    LostWakeup,
    /// Quiescent with a value whose send reported `Ok` neither received nor
    /// in `returned`.
    OkButNotReceived,
    /// A reachable state from which no quiescent state is reachable.
    Livelock,
    ModelError,
}

#[derive(Clone, Debug)]
struct Violation {
    kind: Kind,
    detail: String,
    trace: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The next program step (a wake, a locked section, a CAS, a poll).
    Run,
    /// The try phase tries this case next.
    Try(u8),
    /// Drop the future between polls.
    Cancel,
}

struct Model {
    roles: Vec<Role>,
    ops: Vec<Vec<Op>>,
    /// Value id of each (actor, send case).
    vid: Vec<[Option<u8>; MAXC]>,
    /// (actor, case) that owns each value.
    vowner: Vec<(usize, usize)>,
    proto: Protocol,
    labels: Cell<bool>,
}

struct Outcome {
    next: State,
    label: String,
    violations: Vec<(Kind, String)>,
}

macro_rules! lbl {
    ($labels:expr, $($t:tt)*) => {
        if $labels { format!($($t)*) } else { String::new() }
    };
}

#[derive(Debug, Default)]
struct Report {
    states: usize,
    transitions: usize,
    quiescent: usize,
    violations: Vec<Violation>,
}

impl Report {
    fn kinds(&self) -> Vec<Kind> {
        self.violations.iter().map(|v| v.kind).collect()
    }
    fn has(&self, kind: Kind) -> bool {
        self.violations.iter().any(|v| v.kind == kind)
    }
    fn get(&self, kind: Kind) -> &Violation {
        self.violations.iter().find(|v| v.kind == kind).unwrap()
    }
}

impl Model {
    fn new(roles: Vec<Role>, proto: Protocol) -> Self {
        let ops: Vec<Vec<Op>> = roles.iter().map(|r| r.ops()).collect();
        let mut vid = vec![[None; MAXC]; roles.len()];
        let mut vowner = Vec::new();
        for (a, o) in ops.iter().enumerate() {
            assert!(o.len() <= MAXC);
            for (c, op) in o.iter().enumerate() {
                if op.is_send() {
                    vid[a][c] = Some(u8::try_from(vowner.len()).unwrap());
                    vowner.push((a, c));
                }
            }
        }
        Model {
            roles,
            ops,
            vid,
            vowner,
            proto,
            labels: Cell::new(false),
        }
    }

    fn name(&self, a: usize) -> String {
        let p = match self.roles[a] {
            Role::Select { .. } => "X",
            Role::Send { .. } => "S",
            Role::Recv { .. } => "R",
            Role::Close { .. } => "C",
        };
        format!("{p}{a}")
    }

    fn wname(&self, w: u8) -> String {
        let a = owner(w);
        match self.roles[a] {
            Role::Select { .. } => format!("{}.{}", self.name(a), case_of(w)),
            _ => self.name(a),
        }
    }

    fn initial(&self) -> State {
        let actors = (0..self.roles.len())
            .map(|a| Actor {
                pc: Pc::Start,
                tok: None,
                won: None,
                wait: [false; MAXC],
                slot: [None; MAXC],
                hand: self.vid[a],
                woken: false,
                wakes: Vec::new(),
                tried: 0,
                cancels: u8::from(self.roles[a].cancellable()),
                result: None,
            })
            .collect();
        State {
            chans: Default::default(),
            actors,
            values: vec![
                ValueInfo {
                    received_by: None,
                    reported_ok: false
                };
                self.vowner.len()
            ],
        }
    }

    // ----- rendezvous.rs, under the channel lock -----

    /// `State::baton`: the owner of the first live sender with a live
    /// receiver of another operation.
    fn baton(&self, s: &mut State, ch: usize) -> Option<u8> {
        let State { chans, actors, .. } = s;
        let c = &mut chans[ch];
        prune(&mut c.senders, actors);
        prune(&mut c.receivers, actors);
        let skip = self.proto.baton_skips_same_op;
        c.senders
            .iter()
            .copied()
            .filter(|&sw| live(actors, sw))
            .find(|&sw| {
                c.receivers
                    .iter()
                    .any(|&r| live(actors, r) && (!skip || owner(r) != owner(sw)))
            })
            .map(|sw| u8::try_from(owner(sw)).unwrap())
    }

    /// `State::deliver`: claims the first live receiver. Returns its owner.
    fn deliver(&self, s: &mut State, ch: usize, v: u8) -> Result<u8, u8> {
        while !s.chans[ch].receivers.is_empty() {
            let w = s.chans[ch].receivers.remove(0);
            if live(&s.actors, w) {
                let act = &mut s.actors[owner(w)];
                act.tok = Some(Tok::Done(u8::try_from(case_of(w)).unwrap()));
                act.slot[case_of(w)] = Some(v);
                s.chans[ch].in_flight += 1;
                return Ok(u8::try_from(owner(w)).unwrap());
            }
        }
        Err(v)
    }

    /// `State::complete` of the senders' (or receivers') queue.
    fn complete(&self, s: &mut State, ch: usize, senders: bool) -> Vec<u8> {
        let q = if senders {
            std::mem::take(&mut s.chans[ch].senders)
        } else {
            std::mem::take(&mut s.chans[ch].receivers)
        };
        let mut woken = Vec::new();
        for w in q {
            if live(&s.actors, w) {
                s.actors[owner(w)].tok = Some(Tok::Done(u8::try_from(case_of(w)).unwrap()));
                woken.push(u8::try_from(owner(w)).unwrap());
            }
        }
        woken
    }

    /// `Rendezvous::consumed`.
    fn consumed(&self, s: &mut State, ch: usize) -> Vec<u8> {
        s.chans[ch].in_flight -= 1;
        if s.chans[ch].drained() {
            self.complete(s, ch, false)
        } else {
            Vec::new()
        }
    }

    /// `Rendezvous::give_back`.
    fn give_back(&self, s: &mut State, ch: usize, v: u8) -> Vec<u8> {
        s.chans[ch].in_flight -= 1;
        match self.deliver(s, ch, v) {
            Ok(r) => vec![r],
            Err(v) => {
                s.chans[ch].returned.push(v);
                Vec::new()
            }
        }
    }

    /// Records that actor `a` received value `x`.
    fn receive(&self, s: &mut State, v: &mut Vec<(Kind, String)>, a: usize, x: u8) {
        let info = &mut s.values[usize::from(x)];
        if let Some(by) = info.received_by {
            v.push((
                Kind::DoubleReceive,
                format!(
                    "{} received value {x}, already received by {}",
                    self.name(a),
                    self.name(usize::from(by))
                ),
            ));
        }
        info.received_by = Some(u8::try_from(a).unwrap());
        if self.vowner[usize::from(x)].0 == a {
            v.push((
                Kind::SelfPair,
                format!("{} received its own value {x}", self.name(a)),
            ));
        }
    }

    /// The effects of select `a` so far: its send values delivered, values
    /// handed to its receive waiters, values it received.
    fn effects(&self, s: &State, a: usize) -> (Vec<usize>, usize) {
        let act = &s.actors[a];
        let mut delivered = Vec::new();
        let mut got = 0;
        for (c, op) in self.ops[a].iter().enumerate() {
            if op.is_send() {
                let x = self.vid[a][c].unwrap();
                if act.hand[c] != Some(x) && act.slot[c] != Some(x) {
                    delivered.push(c);
                }
            } else {
                // Handed (in the slot) or read out of it by the owner.
                got += usize::from(act.slot[c].is_some()) + usize::from(act.hand[c].is_some());
            }
        }
        got += s
            .values
            .iter()
            .filter(|i| i.received_by == Some(u8::try_from(a).unwrap()))
            .count();
        (delivered, got)
    }

    // ----- the explorer's interface -----

    fn enabled(&self, s: &State) -> (Vec<(u8, Step, bool)>, bool) {
        let mut out = Vec::new();
        let mut mandatory = false;
        for (i, act) in s.actors.iter().enumerate() {
            let a = u8::try_from(i).unwrap();
            let mut push = |step, m: bool| {
                out.push((a, step, m));
                mandatory |= m;
            };
            if !act.wakes.is_empty() {
                push(Step::Run, true);
                continue;
            }
            match act.pc {
                Pc::Finished | Pc::Dropped => {}
                Pc::Parked => {
                    let spurious_matters = match self.roles[i] {
                        // A plain receive's re-poll with a WAITING token
                        // only consumes the wake.
                        Role::Recv { .. } => act.tok != Some(Tok::Waiting),
                        _ => true,
                    };
                    if act.woken || spurious_matters {
                        push(Step::Run, act.woken);
                    }
                    if act.cancels > 0 {
                        push(Step::Cancel, false);
                    }
                }
                Pc::Try => {
                    for c in 0..self.ops[i].len() {
                        if act.tried & (1 << c) == 0 {
                            push(Step::Try(u8::try_from(c).unwrap()), true);
                        }
                    }
                }
                _ => push(Step::Run, true),
            }
        }
        (out, mandatory)
    }

    fn step(&self, s: &State, a8: u8, step: Step) -> Outcome {
        let mut n = s.clone();
        let mut v = Vec::new();
        let a = usize::from(a8);
        let lb = self.labels.get();
        let me = self.name(a);

        if !n.actors[a].wakes.is_empty() {
            let t = usize::from(n.actors[a].wakes.remove(0));
            if !matches!(n.actors[t].pc, Pc::Finished | Pc::Dropped) {
                n.actors[t].woken = true;
            }
            let label = lbl!(lb, "{me} wakes {}", self.name(t));
            return Outcome {
                next: n,
                label,
                violations: v,
            };
        }

        let label = match (self.roles[a], n.actors[a].pc, step) {
            (Role::Select { .. }, _, _) => self.step_select(&mut n, &mut v, a, step),
            (Role::Send { ch, .. }, _, _) => {
                self.step_send(&mut n, &mut v, a, usize::from(ch), step)
            }
            (Role::Recv { ch, .. }, _, _) => {
                self.step_recv(&mut n, &mut v, a, usize::from(ch), step)
            }
            (Role::Close { ch }, Pc::Start, Step::Run) => {
                // Rendezvous::close.
                let ch = usize::from(ch);
                n.chans[ch].closed = true;
                let mut woken = self.complete(&mut n, ch, true);
                if n.chans[ch].drained() {
                    woken.extend(self.complete(&mut n, ch, false));
                }
                n.actors[a].wakes = woken;
                n.actors[a].pc = Pc::Finished;
                lbl!(lb, "{me} close(ch{ch})")
            }
            (role, pc, step) => unreachable!("{role:?} {pc:?} {step:?}"),
        };
        for act in &mut n.actors {
            if matches!(act.pc, Pc::Finished | Pc::Dropped) {
                act.woken = false;
            }
        }
        Outcome {
            next: n,
            label,
            violations: v,
        }
    }

    /// The select engine and its cases.
    fn step_select(
        &self,
        n: &mut State,
        v: &mut Vec<(Kind, String)>,
        a: usize,
        step: Step,
    ) -> String {
        let p = &self.proto;
        let lb = self.labels.get();
        let me = self.name(a);
        let ops = &self.ops[a];
        let ncases = u8::try_from(ops.len()).unwrap();
        match (n.actors[a].pc, step) {
            (Pc::Start | Pc::Parked, Step::Run) => {
                // Engine::poll: loop { withdraw; try_phase; publish }.
                let how = if std::mem::take(&mut n.actors[a].woken) {
                    "polled"
                } else if n.actors[a].pc == Pc::Start {
                    "first poll"
                } else {
                    "polled spuriously"
                };
                match n.actors[a].tok {
                    None => {
                        n.actors[a].pc = Pc::Try;
                        n.actors[a].tried = 0;
                        lbl!(lb, "{me} {how}: try phase")
                    }
                    Some(t) => {
                        // Engine::withdraw: token.abort().
                        let won = match t {
                            Tok::Waiting => {
                                n.actors[a].tok = Some(Tok::Aborted);
                                None
                            }
                            Tok::Done(c) => Some(c),
                            Tok::Aborted => unreachable!("a published token is aborted only here"),
                        };
                        n.actors[a].won = won;
                        n.actors[a].pc = Pc::Withdraw(0);
                        lbl!(lb, "{me} {how}: abort -> won {won:?}")
                    }
                }
            }
            (Pc::Withdraw(i), Step::Run) => {
                let c = usize::from(i);
                let won = n.actors[a].won == Some(i);
                let mut label = self.withdraw_case(n, a, c, won, false);
                if i + 1 < ncases {
                    n.actors[a].pc = Pc::Withdraw(i + 1);
                } else {
                    n.actors[a].tok = None;
                    match n.actors[a].won.take() {
                        Some(w) => {
                            let wc = usize::from(w);
                            let res = match ops[wc] {
                                Op::Recv(_) => Res::Recv(w, n.actors[a].hand[wc].take()),
                                Op::Send(_) => {
                                    if n.actors[a].hand[wc].is_some() {
                                        Res::SendClosed(w)
                                    } else {
                                        Res::SendOk(w)
                                    }
                                }
                            };
                            self.finish_select(n, v, a, res);
                            label += &lbl!(lb, " -> Ready({res:?})");
                        }
                        None => {
                            n.actors[a].pc = Pc::Try;
                            n.actors[a].tried = 0;
                        }
                    }
                }
                label
            }
            (Pc::Try, Step::Try(i)) => {
                // try_phase -> Case::try_now(false), one case.
                let c = usize::from(i);
                n.actors[a].tried |= 1 << i;
                let mut done = None;
                let label;
                match ops[c] {
                    Op::Recv(ch) => {
                        let chu = usize::from(ch);
                        // Rendezvous::select_try_recv(nonblocking).
                        if !n.chans[chu].returned.is_empty() {
                            let x = n.chans[chu].returned.remove(0);
                            done = Some(Res::Recv(i, Some(x)));
                            label = lbl!(lb, "{me} try recv ch{ch}: {x} from `returned`");
                        } else {
                            let mut took = None;
                            if p.waiting_select_takes_sender {
                                // BROKEN: State::try_recv takes a parked sender's value.
                                while !n.chans[chu].senders.is_empty() {
                                    let w = n.chans[chu].senders.remove(0);
                                    if live(&n.actors, w) {
                                        let o = &mut n.actors[owner(w)];
                                        o.tok = Some(Tok::Done(u8::try_from(case_of(w)).unwrap()));
                                        let x = o.slot[case_of(w)].take().unwrap();
                                        took = Some((w, x));
                                        break;
                                    }
                                }
                            }
                            if let Some((w, x)) = took {
                                let baton = self.baton(n, chu);
                                n.actors[a].wakes =
                                    std::iter::once(u8::try_from(owner(w)).unwrap())
                                        .chain(baton)
                                        .collect();
                                done = Some(Res::Recv(i, Some(x)));
                                label = lbl!(
                                    lb,
                                    "{me} try recv ch{ch}: takes {x} from parked {} (BROKEN)",
                                    self.wname(w)
                                );
                            } else if n.chans[chu].drained() {
                                done = Some(Res::Recv(i, None));
                                label = lbl!(lb, "{me} try recv ch{ch}: closed");
                            } else {
                                label = lbl!(lb, "{me} try recv ch{ch}: not ready");
                            }
                        }
                    }
                    Op::Send(ch) => {
                        // Rendezvous::select_try_send -> try_send.
                        let chu = usize::from(ch);
                        let x = n.actors[a].hand[c].take().unwrap();
                        if n.chans[chu].closed {
                            n.actors[a].hand[c] = Some(x);
                            done = Some(Res::SendClosed(i));
                            label = lbl!(lb, "{me} try send({x}) ch{ch}: closed");
                        } else {
                            match self.deliver(n, chu, x) {
                                Ok(r) => {
                                    let baton = self.baton(n, chu);
                                    n.actors[a].wakes = std::iter::once(r).chain(baton).collect();
                                    done = Some(Res::SendOk(i));
                                    label = lbl!(
                                        lb,
                                        "{me} try send({x}) ch{ch}: delivered to {}, baton {:?}",
                                        self.name(usize::from(r)),
                                        baton.map(|b| self.name(usize::from(b)))
                                    );
                                }
                                Err(x) => {
                                    n.actors[a].hand[c] = Some(x);
                                    label = lbl!(lb, "{me} try send({x}) ch{ch}: not ready");
                                }
                            }
                        }
                    }
                }
                if let Some(res) = done {
                    self.finish_select(n, v, a, res);
                } else if n.actors[a].tried.count_ones() == u32::from(ncases) {
                    // Token::new: nothing published yet.
                    n.actors[a].tok = Some(Tok::Waiting);
                    n.actors[a].pc = Pc::Publish(0);
                }
                label
            }
            (Pc::Publish(i), Step::Run) => {
                // Case::publish -> Waiter::shared + Rendezvous::park.
                let c = usize::from(i);
                let ch = ops[c].ch();
                let w = wid(a, c);
                n.actors[a].wait[c] = true;
                if ops[c].is_send() {
                    n.actors[a].slot[c] = n.actors[a].hand[c].take();
                    n.chans[ch].senders.push(w);
                } else {
                    n.chans[ch].receivers.push(w);
                }
                let baton = self.baton(n, ch);
                n.actors[a].wakes = baton.into_iter().collect();
                n.actors[a].pc = if i + 1 < ncases {
                    Pc::Publish(i + 1)
                } else {
                    Pc::Parked
                };
                lbl!(
                    lb,
                    "{me} park {:?}, baton {:?}{}",
                    ops[c],
                    baton.map(|b| self.name(usize::from(b))),
                    if i + 1 == ncases { " -> Pending" } else { "" }
                )
            }
            (Pc::Parked, Step::Cancel) => {
                n.actors[a].cancels -= 1;
                // Engine::drop (or the first case's Drop): token.abort().
                let won = match n.actors[a].tok.unwrap() {
                    Tok::Waiting => {
                        n.actors[a].tok = Some(Tok::Aborted);
                        None
                    }
                    Tok::Done(c) => Some(c),
                    Tok::Aborted => unreachable!(),
                };
                n.actors[a].won = won;
                n.actors[a].pc = match p.drop_path {
                    DropPath::EngineThenCases => Pc::DropEngine(0),
                    DropPath::CasesOnly => Pc::DropCase(0),
                };
                lbl!(lb, "{me} dropped: abort -> won {won:?}")
            }
            (Pc::DropEngine(i), Step::Run) => {
                let c = usize::from(i);
                let label = if n.actors[a].won == Some(i) {
                    lbl!(lb, "{me} Engine::drop skips won case {i}")
                } else {
                    self.withdraw_case(n, a, c, false, false)
                };
                n.actors[a].pc = if i + 1 < ncases {
                    Pc::DropEngine(i + 1)
                } else {
                    Pc::DropCase(0)
                };
                label
            }
            (Pc::DropCase(i), Step::Run) => {
                let c = usize::from(i);
                let label = if n.actors[a].wait[c] {
                    let won = n.actors[a].won == Some(i);
                    self.withdraw_case(n, a, c, won, true)
                } else {
                    lbl!(lb, "{me} case {i} Drop: not registered")
                };
                if i + 1 < ncases {
                    n.actors[a].pc = Pc::DropCase(i + 1);
                } else {
                    n.actors[a].pc = Pc::Dropped;
                    n.actors[a].tok = None;
                    let (delivered, got) = self.effects(n, a);
                    if !delivered.is_empty() {
                        v.push((
                            Kind::DroppedSendDelivered,
                            format!("dropped {me} delivered send case(s) {delivered:?}"),
                        ));
                    }
                    if got > 0 {
                        v.push((
                            Kind::DroppedRecvConsumed,
                            format!("dropped {me} kept {got} received value(s)"),
                        ));
                    }
                }
                label
            }
            (pc, step) => unreachable!("select {pc:?} {step:?}"),
        }
    }

    /// `Case::withdraw(won)` (or the case's `Drop` if `dropping`) of case
    /// `c` of select `a`: one lock step (the slot read is private).
    fn withdraw_case(
        &self,
        n: &mut State,
        a: usize,
        c: usize,
        won: bool,
        dropping: bool,
    ) -> String {
        let p = &self.proto;
        let lb = self.labels.get();
        let me = self.name(a);
        let op = self.ops[a][c];
        let ch = op.ch();
        let w = wid(a, c);
        let what = if dropping { "Drop" } else { "withdraw" };
        n.actors[a].wait[c] = false;
        match (op, won) {
            (Op::Recv(_), true) if dropping => {
                // RecvCase::drop, won: give_back_from.
                let val = n.actors[a].slot[c].take();
                match val {
                    Some(x) if p.drop_gives_back => {
                        let woken = self.give_back(n, ch, x);
                        n.actors[a].wakes = woken;
                        lbl!(lb, "{me}.{c} Drop (won): gives {x} back to ch{ch}")
                    }
                    Some(x) => {
                        // BROKEN: the value is dropped with the case.
                        n.chans[ch].in_flight -= 1;
                        n.actors[a].hand[c] = Some(x);
                        lbl!(lb, "{me}.{c} Drop (won): keeps {x} (BROKEN)")
                    }
                    None => lbl!(lb, "{me}.{c} Drop (won): closed, nothing to give back"),
                }
            }
            (Op::Recv(_), true) => {
                // RecvCase::withdraw, won: take_received (+ consumed).
                let val = n.actors[a].slot[c].take();
                // The result is parked in `hand` until the engine returns.
                n.actors[a].hand[c] = val;
                if val.is_some() {
                    n.actors[a].wakes = self.consumed(n, ch);
                }
                lbl!(lb, "{me}.{c} {what} (won): takes {val:?}")
            }
            (Op::Recv(_), false) => {
                // Rendezvous::unpark(recv): remove, no baton.
                remove(&mut n.chans[ch].receivers, w);
                lbl!(lb, "{me}.{c} {what}: unpark recv ch{ch}")
            }
            (Op::Send(_), true) => {
                // Won: delivered (slot empty) or handed back by close.
                n.actors[a].hand[c] = n.actors[a].slot[c].take();
                lbl!(lb, "{me}.{c} {what} (won): slot {:?}", n.actors[a].hand[c])
            }
            (Op::Send(_), false) => {
                // Rendezvous::unpark(send): remove, baton; then take value.
                remove(&mut n.chans[ch].senders, w);
                let baton = if p.baton_on_send_unpark {
                    self.baton(n, ch)
                } else {
                    None
                };
                n.actors[a].wakes = baton.into_iter().collect();
                n.actors[a].hand[c] = n.actors[a].slot[c].take();
                lbl!(
                    lb,
                    "{me}.{c} {what}: unpark send ch{ch}, baton {:?}",
                    baton.map(|b| self.name(usize::from(b)))
                )
            }
        }
    }

    fn finish_select(&self, n: &mut State, v: &mut Vec<(Kind, String)>, a: usize, res: Res) {
        n.actors[a].pc = Pc::Finished;
        n.actors[a].result = Some(res);
        match res {
            Res::Recv(c, Some(x)) => {
                n.actors[a].hand[usize::from(c)] = None;
                self.receive(n, v, a, x);
            }
            Res::SendOk(c) => {
                let x = self.vid[a][usize::from(c)].unwrap();
                n.values[usize::from(x)].reported_ok = true;
            }
            _ => {}
        }
        let (delivered, got) = self.effects(n, a);
        let ok = match res {
            Res::Recv(_, Some(_)) => delivered.is_empty() && got == 1,
            Res::SendOk(c) => delivered == [usize::from(c)] && got == 0,
            Res::Recv(_, None) | Res::SendClosed(_) => delivered.is_empty() && got == 0,
        };
        if !ok {
            v.push((
                Kind::WrongResult,
                format!(
                    "{} returned {res:?} with sends delivered {delivered:?}, {got} received",
                    self.name(a)
                ),
            ));
        }
    }

    /// A plain send: `SendOp`.
    fn step_send(
        &self,
        n: &mut State,
        v: &mut Vec<(Kind, String)>,
        a: usize,
        ch: usize,
        step: Step,
    ) -> String {
        let lb = self.labels.get();
        let me = self.name(a);
        let w = wid(a, 0);
        let finish = |n: &mut State, how: &str| -> String {
            // SendOp::finish.
            n.actors[a].wait[0] = false;
            n.actors[a].pc = Pc::Finished;
            match n.actors[a].slot[0].take() {
                Some(x) => {
                    n.actors[a].hand[0] = Some(x);
                    n.actors[a].result = Some(Res::SendClosed(0));
                    lbl!(lb, "{me} {how}: value back -> Err(SendError({x}))")
                }
                None => {
                    n.actors[a].result = Some(Res::SendOk(0));
                    let x = self.vid[a][0].unwrap();
                    n.values[usize::from(x)].reported_ok = true;
                    lbl!(lb, "{me} {how}: taken -> Ok")
                }
            }
        };
        match (n.actors[a].pc, step) {
            (Pc::Start, Step::Run) => {
                n.actors[a].woken = false;
                let x = n.actors[a].hand[0].take().unwrap();
                if n.chans[ch].closed {
                    n.actors[a].hand[0] = Some(x);
                    n.actors[a].pc = Pc::Finished;
                    n.actors[a].result = Some(Res::SendClosed(0));
                    return lbl!(lb, "{me} send({x}): closed");
                }
                match self.deliver(n, ch, x) {
                    Ok(r) => {
                        let baton = self.baton(n, ch);
                        n.actors[a].wakes = std::iter::once(r).chain(baton).collect();
                        n.values[usize::from(x)].reported_ok = true;
                        n.actors[a].result = Some(Res::SendOk(0));
                        n.actors[a].pc = Pc::Finished;
                        lbl!(
                            lb,
                            "{me} send({x}): delivered to {} -> Ok",
                            self.name(usize::from(r))
                        )
                    }
                    Err(x) => {
                        n.actors[a].tok = Some(Tok::Waiting);
                        n.actors[a].wait[0] = true;
                        n.actors[a].slot[0] = Some(x);
                        n.chans[ch].senders.push(w);
                        n.actors[a].pc = Pc::Parked;
                        lbl!(lb, "{me} send({x}): parks")
                    }
                }
            }
            (Pc::Parked, Step::Run) => {
                let how = if std::mem::take(&mut n.actors[a].woken) {
                    "polled"
                } else {
                    "polled spuriously"
                };
                match n.actors[a].tok.unwrap() {
                    Tok::Done(_) => finish(n, &format!("{how}, done")),
                    Tok::Waiting => {
                        n.actors[a].pc = Pc::SendPollLock;
                        lbl!(lb, "{me} {how}: not completed")
                    }
                    Tok::Aborted => unreachable!(),
                }
            }
            (Pc::SendPollLock, Step::Run) => {
                prune(&mut n.chans[ch].receivers, &n.actors);
                if n.chans[ch].receivers.is_empty() {
                    n.actors[a].pc = Pc::Parked;
                    return lbl!(lb, "{me} lock: no live receiver -> Pending");
                }
                if n.actors[a].tok != Some(Tok::Waiting) {
                    return finish(n, "lock: abort failed");
                }
                n.actors[a].tok = Some(Tok::Aborted);
                remove(&mut n.chans[ch].senders, w);
                n.actors[a].wait[0] = false;
                let x = n.actors[a].slot[0].take().unwrap();
                match self.deliver(n, ch, x) {
                    Ok(r) => {
                        let baton = self.baton(n, ch);
                        n.actors[a].wakes = std::iter::once(r).chain(baton).collect();
                        n.values[usize::from(x)].reported_ok = true;
                        n.actors[a].result = Some(Res::SendOk(0));
                        n.actors[a].pc = Pc::Finished;
                        lbl!(
                            lb,
                            "{me} lock: delivers {x} to {} -> Ok",
                            self.name(usize::from(r))
                        )
                    }
                    Err(x) => {
                        n.actors[a].tok = Some(Tok::Waiting);
                        n.actors[a].wait[0] = true;
                        n.actors[a].slot[0] = Some(x);
                        n.chans[ch].senders.insert(0, w);
                        n.actors[a].pc = Pc::Parked;
                        lbl!(lb, "{me} lock: receivers gone -> re-parks at the front")
                    }
                }
            }
            (Pc::Parked, Step::Cancel) => {
                n.actors[a].cancels -= 1;
                match n.actors[a].tok.unwrap() {
                    Tok::Waiting => {
                        n.actors[a].tok = Some(Tok::Aborted);
                        n.actors[a].pc = Pc::SendCancelLock;
                        lbl!(lb, "{me} dropped: abort wins")
                    }
                    Tok::Done(_) => {
                        n.actors[a].wait[0] = false;
                        n.actors[a].pc = Pc::Dropped;
                        match n.actors[a].slot[0].take() {
                            Some(x) => {
                                n.actors[a].hand[0] = Some(x);
                                lbl!(lb, "{me} dropped: abort fails, value back (closed)")
                            }
                            None => {
                                v.push((
                                    Kind::DroppedSendDelivered,
                                    format!("{me}'s dropped send had delivered its value"),
                                ));
                                lbl!(lb, "{me} dropped: abort fails, value was taken")
                            }
                        }
                    }
                    Tok::Aborted => unreachable!(),
                }
            }
            (Pc::SendCancelLock, Step::Run) => {
                remove(&mut n.chans[ch].senders, w);
                let baton = self.baton(n, ch);
                n.actors[a].wakes = baton.into_iter().collect();
                n.actors[a].wait[0] = false;
                n.actors[a].hand[0] = n.actors[a].slot[0].take();
                n.actors[a].pc = Pc::Dropped;
                lbl!(
                    lb,
                    "{me} withdraw lock: removed, baton {:?}",
                    baton.map(|b| self.name(usize::from(b)))
                )
            }
            (pc, step) => unreachable!("send {pc:?} {step:?}"),
        }
    }

    /// A plain receive: `RecvOp`.
    fn step_recv(
        &self,
        n: &mut State,
        v: &mut Vec<(Kind, String)>,
        a: usize,
        ch: usize,
        step: Step,
    ) -> String {
        let lb = self.labels.get();
        let me = self.name(a);
        let w = wid(a, 0);
        match (n.actors[a].pc, step) {
            (Pc::Start, Step::Run) => {
                n.actors[a].woken = false;
                if !n.chans[ch].returned.is_empty() {
                    let x = n.chans[ch].returned.remove(0);
                    self.receive(n, v, a, x);
                    n.actors[a].result = Some(Res::Recv(0, Some(x)));
                    n.actors[a].pc = Pc::Finished;
                    return lbl!(lb, "{me} recv: {x} from `returned`");
                }
                if n.chans[ch].drained() {
                    n.actors[a].result = Some(Res::Recv(0, None));
                    n.actors[a].pc = Pc::Finished;
                    return lbl!(lb, "{me} recv: closed");
                }
                n.actors[a].tok = Some(Tok::Waiting);
                n.actors[a].wait[0] = true;
                n.chans[ch].receivers.push(w);
                let baton = self.baton(n, ch);
                n.actors[a].wakes = baton.into_iter().collect();
                n.actors[a].pc = Pc::Parked;
                lbl!(
                    lb,
                    "{me} recv: parks, baton {:?}",
                    baton.map(|b| self.name(usize::from(b)))
                )
            }
            (Pc::Parked, Step::Run) => {
                let how = if std::mem::take(&mut n.actors[a].woken) {
                    "polled"
                } else {
                    "polled spuriously"
                };
                if n.actors[a].tok == Some(Tok::Waiting) {
                    return lbl!(lb, "{me} {how}: not completed");
                }
                // RecvOp::finish: take + consumed.
                n.actors[a].wait[0] = false;
                n.actors[a].pc = Pc::Finished;
                match n.actors[a].slot[0].take() {
                    Some(x) => {
                        n.actors[a].wakes = self.consumed(n, ch);
                        self.receive(n, v, a, x);
                        n.actors[a].result = Some(Res::Recv(0, Some(x)));
                        lbl!(lb, "{me} {how}: receives {x}")
                    }
                    None => {
                        n.actors[a].result = Some(Res::Recv(0, None));
                        lbl!(lb, "{me} {how}: closed")
                    }
                }
            }
            (Pc::Parked, Step::Cancel) => {
                n.actors[a].cancels -= 1;
                match n.actors[a].tok.unwrap() {
                    Tok::Waiting => {
                        n.actors[a].tok = Some(Tok::Aborted);
                        n.actors[a].pc = Pc::RecvCancelLock;
                        lbl!(lb, "{me} dropped: abort wins")
                    }
                    Tok::Done(_) => {
                        n.actors[a].pc = Pc::RecvGiveBack;
                        lbl!(lb, "{me} dropped: abort fails")
                    }
                    Tok::Aborted => unreachable!(),
                }
            }
            (Pc::RecvCancelLock, Step::Run) => {
                remove(&mut n.chans[ch].receivers, w);
                n.actors[a].wait[0] = false;
                n.actors[a].pc = Pc::Dropped;
                lbl!(lb, "{me} withdraw lock: removed")
            }
            (Pc::RecvGiveBack, Step::Run) => {
                n.actors[a].wait[0] = false;
                n.actors[a].pc = Pc::Dropped;
                match n.actors[a].slot[0].take() {
                    Some(x) => {
                        n.actors[a].wakes = self.give_back(n, ch, x);
                        lbl!(lb, "{me} gives {x} back")
                    }
                    None => lbl!(lb, "{me}: closed, nothing to give back"),
                }
            }
            (pc, step) => unreachable!("recv {pc:?} {step:?}"),
        }
    }

    // ----- checks -----

    fn places(&self, s: &State, x: u8) -> Vec<String> {
        let mut out = Vec::new();
        for (j, act) in s.actors.iter().enumerate() {
            for c in 0..MAXC {
                if act.hand[c] == Some(x) {
                    out.push(format!("{}'s hand", self.name(j)));
                }
                if act.slot[c] == Some(x) {
                    out.push(format!("{}'s slot {c}", self.name(j)));
                }
            }
        }
        for (ch, c) in s.chans.iter().enumerate() {
            for &y in &c.returned {
                if y == x {
                    out.push(format!("ch{ch}.returned"));
                }
            }
        }
        if let Some(by) = s.values[usize::from(x)].received_by {
            out.push(format!("received by {}", self.name(usize::from(by))));
        }
        out
    }

    fn check_state(&self, s: &State) -> Vec<(Kind, String)> {
        let mut v = Vec::new();
        for x in 0..self.vowner.len() {
            let x = u8::try_from(x).unwrap();
            let places = self.places(s, x);
            if places.len() != 1 {
                let kind = if places.is_empty() {
                    Kind::ValueLost
                } else {
                    Kind::ValueDuplicated
                };
                v.push((kind, format!("value {x} is in {places:?}")));
            }
        }
        for (a, role) in self.roles.iter().enumerate() {
            if matches!(role, Role::Select { .. }) {
                let (delivered, got) = self.effects(s, a);
                if delivered.len() + got > 1 {
                    v.push((
                        Kind::DoubleCommit,
                        format!(
                            "{}: send cases {delivered:?} delivered and {got} value(s) received",
                            self.name(a)
                        ),
                    ));
                }
            }
        }
        for c in &s.chans {
            let mut seen = Vec::new();
            for &w in c.senders.iter().chain(&c.receivers) {
                if seen.contains(&w) || !s.actors[owner(w)].wait[case_of(w)] {
                    v.push((
                        Kind::ModelError,
                        format!("{} queued twice or without a waiter", self.wname(w)),
                    ));
                }
                seen.push(w);
            }
        }
        v
    }

    fn check_quiescent(&self, s: &State) -> Vec<(Kind, String)> {
        let mut v = Vec::new();
        for (ch, c) in s.chans.iter().enumerate() {
            for &sw in &c.senders {
                for &r in &c.receivers {
                    if live(&s.actors, sw) && live(&s.actors, r) && owner(sw) != owner(r) {
                        v.push((
                            Kind::Deadlock,
                            format!(
                                "ch{ch}: {} and {} parked, nobody to wake them",
                                self.wname(sw),
                                self.wname(r)
                            ),
                        ));
                    }
                }
            }
        }
        for (a, act) in s.actors.iter().enumerate() {
            if act.pc == Pc::Parked && matches!(act.tok, Some(Tok::Done(_))) && !act.woken {
                v.push((
                    Kind::LostWakeup,
                    format!("{} parked with a done token", self.name(a)),
                ));
            }
        }
        for (x, info) in s.values.iter().enumerate() {
            let x = u8::try_from(x).unwrap();
            let in_returned = s.chans.iter().any(|c| c.returned.contains(&x));
            if info.reported_ok && info.received_by.is_none() && !in_returned {
                v.push((
                    Kind::OkButNotReceived,
                    format!("value {x} reported Ok, is in {:?}", self.places(s, x)),
                ));
            }
        }
        v
    }

    // ----- the explorer -----

    /// Breadth-first over the whole state graph (shortest counterexamples).
    fn check(&self) -> Report {
        type Found = (u32, Option<(u8, Step)>, String);
        let initial = self.initial();
        let mut index: FastMap<State, u32> = FastMap::default();
        let mut parent: Vec<(u32, u8, Step)> = Vec::new();
        let mut quiescent: Vec<bool> = Vec::new();
        let mut edges: Vec<(u32, u32)> = Vec::new();
        let mut queue: VecDeque<(State, u32)> = VecDeque::new();
        let mut report = Report::default();
        let mut found: HashMap<Kind, Found> = HashMap::new();

        index.insert(initial.clone(), 0);
        parent.push((u32::MAX, 0, Step::Run));
        quiescent.push(false);
        queue.push_back((initial, 0));
        while let Some((s, id)) = queue.pop_front() {
            for (kind, detail) in self.check_state(&s) {
                found.entry(kind).or_insert((id, None, detail));
            }
            let (enabled, mandatory) = self.enabled(&s);
            if !mandatory {
                report.quiescent += 1;
                quiescent[id as usize] = true;
                for (kind, detail) in self.check_quiescent(&s) {
                    found.entry(kind).or_insert((id, None, detail));
                }
            }
            for (a, step, _) in enabled {
                let out = self.step(&s, a, step);
                for (kind, detail) in out.violations {
                    found.entry(kind).or_insert((id, Some((a, step)), detail));
                }
                if out.next == s {
                    continue;
                }
                report.transitions += 1;
                let nid = match index.get(&out.next) {
                    Some(&nid) => nid,
                    None => {
                        let nid = u32::try_from(parent.len()).unwrap();
                        index.insert(out.next.clone(), nid);
                        parent.push((id, a, step));
                        quiescent.push(false);
                        queue.push_back((out.next, nid));
                        nid
                    }
                };
                edges.push((nid, id));
            }
        }
        report.states = index.len();
        drop(index);

        // Livelock: states that cannot reach any quiescent state.
        let mut rev: Vec<Vec<u32>> = vec![Vec::new(); report.states];
        for &(to, from) in &edges {
            rev[to as usize].push(from);
        }
        let mut reach = quiescent.clone();
        let mut work: Vec<u32> = (0..report.states)
            .filter(|&i| quiescent[i])
            .map(|i| u32::try_from(i).unwrap())
            .collect();
        while let Some(x) = work.pop() {
            for &p in &rev[x as usize] {
                if !reach[p as usize] {
                    reach[p as usize] = true;
                    work.push(p);
                }
            }
        }
        // Ids are in BFS order: the first unreaching one is a shortest.
        if let Some(id) = reach.iter().position(|&r| !r) {
            found.entry(Kind::Livelock).or_insert((
                u32::try_from(id).unwrap(),
                None,
                "no quiescent state is reachable from here".into(),
            ));
        }

        self.labels.set(true);
        let mut found: Vec<_> = found.into_iter().collect();
        found.sort_by_key(|(k, _)| *k);
        for (kind, (id, last, detail)) in found {
            let (mut trace, s) = self.trace(&parent, id);
            if let Some((a, step)) = last {
                trace.push(self.step(&s, a, step).label);
            }
            if kind == Kind::Livelock {
                // Show how it goes on: follow mandatory steps a while.
                let mut s = s;
                for _ in 0..12 {
                    let (en, _) = self.enabled(&s);
                    let Some(&(a, step, _)) = en.iter().find(|e| e.2) else {
                        break;
                    };
                    let out = self.step(&s, a, step);
                    trace.push(format!("(then) {}", out.label));
                    s = out.next;
                }
            }
            report.violations.push(Violation {
                kind,
                detail,
                trace,
            });
        }
        self.labels.set(false);
        report
    }

    /// Replays the shortest path to state `id`.
    fn trace(&self, parent: &[(u32, u8, Step)], mut id: u32) -> (Vec<String>, State) {
        let mut path = Vec::new();
        while id != 0 {
            let (p, a, step) = parent[id as usize];
            path.push((a, step));
            id = p;
        }
        path.reverse();
        let mut s = self.initial();
        let mut labels = Vec::new();
        for (a, step) in path {
            let out = self.step(&s, a, step);
            labels.push(out.label);
            s = out.next;
        }
        (labels, s)
    }
}

// ---------------------------------------------------------------------------
// Configurations and tests
// ---------------------------------------------------------------------------

const SELF_SELECT: &[Op] = &[Op::Send(0), Op::Recv(0)];
const RECV_A_RECV_B: &[Op] = &[Op::Recv(0), Op::Recv(1)];
const SEND_A_RECV_B: &[Op] = &[Op::Send(0), Op::Recv(1)];
const RECV_A_SEND_B: &[Op] = &[Op::Recv(0), Op::Send(1)];
const RECV_A: &[Op] = &[Op::Recv(0)];

fn sel(cases: &'static [Op], cancel: bool) -> Role {
    Role::Select { cases, cancel }
}
fn send(ch: u8, cancel: bool) -> Role {
    Role::Send { ch, cancel }
}
fn recv(ch: u8, cancel: bool) -> Role {
    Role::Recv { ch, cancel }
}

struct Config {
    name: &'static str,
    roles: Vec<Role>,
}

fn configs() -> Vec<Config> {
    let c = |name, roles| Config { name, roles };
    vec![
        c(
            "(1) TestSelfSelect: 2 x select{send ch, recv ch}",
            vec![sel(SELF_SELECT, false), sel(SELF_SELECT, false)],
        ),
        c(
            "(1b) TestSelfSelect, one select dropped",
            vec![sel(SELF_SELECT, true), sel(SELF_SELECT, false)],
        ),
        c(
            "(2) select{recv a, recv b} x send a, send b",
            vec![sel(RECV_A_RECV_B, false), send(0, false), send(1, false)],
        ),
        c(
            "(2b) select{recv a, recv b} (dropped) x send a (dropped), send b",
            vec![sel(RECV_A_RECV_B, true), send(0, true), send(1, false)],
        ),
        c(
            "(3) cross: select{send a, recv b} x select{recv a, send b}",
            vec![sel(SEND_A_RECV_B, false), sel(RECV_A_SEND_B, false)],
        ),
        c(
            "(3b) cross, both dropped",
            vec![sel(SEND_A_RECV_B, true), sel(RECV_A_SEND_B, true)],
        ),
        c(
            "(3c) cross + plain recv a + close b",
            vec![
                sel(SEND_A_RECV_B, false),
                sel(RECV_A_SEND_B, true),
                recv(0, false),
                Role::Close { ch: 1 },
            ],
        ),
        c(
            "(4) select{recv a} dropped while send a delivers, + recv a",
            vec![sel(RECV_A, true), send(0, false), recv(0, false)],
        ),
        c(
            "(4b) select{recv a, send b} dropped x send a, recv b (dropped), recv a",
            vec![
                sel(RECV_A_SEND_B, true),
                send(0, false),
                recv(1, true),
                recv(0, false),
            ],
        ),
        c(
            "(5) select{send ch, recv ch} x send ch, recv ch",
            vec![sel(SELF_SELECT, true), send(0, false), recv(0, false)],
        ),
        c(
            "(7) 2 x select{send ch, recv ch} + recv ch (dropped)",
            vec![
                sel(SELF_SELECT, false),
                sel(SELF_SELECT, true),
                recv(0, true),
            ],
        ),
        c(
            "(8) select{recv a, recv b} x select{recv a, send b} x send a, recv b",
            vec![
                sel(RECV_A_RECV_B, true),
                sel(RECV_A_SEND_B, false),
                send(0, true),
                recv(1, false),
            ],
        ),
        c(
            "(6) TestSelfSelect + close",
            vec![
                sel(SELF_SELECT, false),
                sel(SELF_SELECT, true),
                Role::Close { ch: 0 },
            ],
        ),
    ]
}

fn run(name: &str, roles: Vec<Role>, proto: Protocol, label: &str) -> Report {
    let start = std::time::Instant::now();
    let report = Model::new(roles, proto).check();
    eprintln!(
        "[{label}] {name}: {} states, {} transitions, {} quiescent, {:?}; violations: {:?}",
        report.states,
        report.transitions,
        report.quiescent,
        start.elapsed(),
        report.kinds()
    );
    report
}

fn show(report: &Report, kind: Kind) -> String {
    let v = report.get(kind);
    let mut out = format!("{:?}: {}\n", v.kind, v.detail);
    for (i, l) in v.trace.iter().enumerate() {
        writeln!(out, "  {:>2}. {l}", i + 1).unwrap();
    }
    out
}

fn assert_clean(report: &Report, what: &str) {
    if let Some(v) = report.violations.first() {
        panic!("{what}: {}", show(report, v.kind));
    }
}

#[test]
fn explorer_sees_a_select_handoff() {
    let report = run(
        "select{recv a} x send a",
        vec![sel(RECV_A, false), send(0, false)],
        Protocol::CURRENT,
        "current",
    );
    assert_clean(&report, "1x1");
    assert!(report.states > 5, "{report:?}");
}

#[test]
fn current_protocol_passes() {
    let mut total = 0;
    for c in configs() {
        let report = run(c.name, c.roles, Protocol::CURRENT, "current");
        total += report.states;
        assert_clean(&report, c.name);
    }
    eprintln!("[current] total: {total} states");
}

#[test]
fn cases_drop_alone_suffices() {
    let proto = Protocol {
        drop_path: DropPath::CasesOnly,
        ..Protocol::CURRENT
    };
    for c in configs().into_iter().filter(|c| {
        c.roles
            .iter()
            .any(|r| matches!(r, Role::Select { cancel: true, .. }))
    }) {
        assert_clean(&run(c.name, c.roles, proto, "cases' Drop only"), c.name);
    }
}

/// The checker has teeth: each deliberately broken protocol is caught.
#[test]
fn broken_variants_are_caught() {
    let cases: Vec<(&str, Protocol, Vec<Role>, Kind)> = vec![
        (
            "baton without the same-operation skip (a lone select{send ch, recv ch})",
            Protocol {
                baton_skips_same_op: false,
                ..Protocol::CURRENT
            },
            vec![sel(SELF_SELECT, false)],
            Kind::Livelock,
        ),
        (
            "a waiting select's try phase takes a parked sender's value",
            Protocol {
                waiting_select_takes_sender: true,
                ..Protocol::CURRENT
            },
            vec![sel(RECV_A, false), send(0, true)],
            Kind::DroppedSendDelivered,
        ),
        (
            "a dropped select keeps its won receive's value",
            Protocol {
                drop_gives_back: false,
                ..Protocol::CURRENT
            },
            vec![sel(RECV_A, true), send(0, false), recv(0, false)],
            Kind::DroppedRecvConsumed,
        ),
        (
            "unparking a send case does not pass the baton",
            Protocol {
                baton_on_send_unpark: false,
                ..Protocol::CURRENT
            },
            vec![sel(SEND_A_RECV_B, true), send(0, false), recv(0, false)],
            Kind::Deadlock,
        ),
    ];
    for (what, proto, roles, expected) in cases {
        let report = run(what, roles, proto, "broken");
        assert!(
            report.has(expected),
            "{what}: the checker missed {expected:?}: {report:?}"
        );
        eprintln!("{}", show(&report, expected));
    }
}
