//! Nothing lost, nothing duplicated, through `select!` and `Select`.
//!
//! - `mixed_selects_*`: producers, consumers and mixed goroutines whose
//!   every operation is a `select!` over 2-3 of three channels (capacities
//!   0, 1 and 64), sometimes with a send and a receive case on the same
//!   channel, some with a `recv(gokio::after(..))` timeout case of their
//!   own, with whole selects cancelled at random through
//!   `tokio::time::timeout` and `tokio::select!`. A value counts as sent only
//!   when its select reported the send case with `Ok`; a cancelled or timed
//!   out select sent nothing, so the same value is retried.
//! - `dynamic_fan_in_*`: one consumer drives a `Select` over many producers'
//!   channels until every one is closed.
//! - `self_select_*`: Go's `TestSelfSelect` — two selects on both sides of
//!   the same unbuffered channel never pair with themselves and never
//!   deadlock.
//!
//! Every test runs under a watchdog that fails it, with a report of what
//! each goroutine waits on, once nothing has moved for 20 s.
//!
//! Only non-blocking receives (`try_recv`, a `select!` with `default`, a
//! `try_select`) may complete a parked sender, so a send future cancelled in
//! that instant may already have delivered (see "Who commits a handoff" in
//! `chan/rendezvous.rs`). The exact-count runs therefore use `default` only
//! on selects that send, and `try_select` receives only against producers
//! that never cancel.
//!
//! `GOKIO_STRESS=N` multiplies the number of values (default 1).

use std::future::{Future, IntoFuture};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gokio::{chan, go, select, Chan, Receiver, Select, Selected, SendError, Sender, WaitGroup};

/// A tiny xorshift generator: the tests need no `rand` dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
    /// A random permutation of the three channel indices.
    fn perm3(&mut self) -> [usize; 3] {
        const PERMS: [[usize; 3]; 6] = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        PERMS[(self.next() % 6) as usize]
    }
}

fn scale() -> u64 {
    std::env::var("GOKIO_STRESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// How [`attempt`] runs a select.
#[derive(Clone, Copy)]
enum Mode {
    /// Dropped by a `tokio::time::timeout` of 0-49 µs.
    Timeout,
    /// Dropped if it loses a `tokio::select!` against `yield_now`.
    Yield,
    /// Awaited to completion.
    Plain,
}

impl Mode {
    fn random(rng: &mut Rng) -> Mode {
        match rng.next() % 4 {
            0 => Mode::Timeout,
            1 => Mode::Yield,
            _ => Mode::Plain,
        }
    }
}

/// Runs `fut` (a whole select) to completion, or cancels it: dropped by a
/// tiny `tokio::time::timeout`, or by losing a `tokio::select!` against
/// `yield_now`. `None` if it was cancelled.
async fn attempt<F: Future>(rng: &mut Rng, fut: F) -> Option<F::Output> {
    let mode = Mode::random(rng);
    attempt_with(mode, rng, fut).await
}

async fn attempt_with<F: Future>(mode: Mode, rng: &mut Rng, fut: F) -> Option<F::Output> {
    match mode {
        Mode::Timeout => tokio::time::timeout(Duration::from_micros(rng.next() % 50), fut)
            .await
            .ok(),
        Mode::Yield => tokio::select! {
            v = fut => Some(v),
            _ = tokio::task::yield_now() => None,
        },
        Mode::Plain => Some(fut.await),
    }
}

/// How long without progress counts as a deadlock. A healthy run never
/// stalls for more than a few timer ticks.
const STALL: Duration = Duration::from_secs(20);

/// Awaits `fut`, but fails (rather than hangs) once `progress().0` has not
/// changed for [`STALL`]; the message ends with `progress().1`.
async fn watchdog<F: Future>(
    what: &str,
    progress: impl Fn() -> (u64, String),
    fut: F,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut last = progress().0;
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::select! {
            v = &mut fut => return v,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                let (now, report) = progress();
                if now != last {
                    last = now;
                    since = tokio::time::Instant::now();
                } else if since.elapsed() >= STALL {
                    panic!("{what}: no progress for {STALL:?} (deadlock?): {report}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Mixed selects over capacities 0, 1 and 64.
// ---------------------------------------------------------------------------

const CAPS: [usize; 3] = [0, 1, 64];

/// What one select did.
#[derive(Debug)]
enum Out {
    Sent(usize),
    SendFailed(usize),
    Got(usize, Option<u64>),
    Default,
    /// The select's own `recv(gokio::after(..))` case fired.
    Timeout,
}

fn sent(i: usize, r: Result<(), SendError<u64>>) -> Out {
    match r {
        Ok(()) => Out::Sent(i),
        Err(_) => Out::SendFailed(i),
    }
}

/// Live counters and what every goroutine is doing, for the watchdog.
struct Progress {
    sent: AtomicU64,
    received: AtomicU64,
    cancelled: AtomicU64,
    /// One word per goroutine, see [`State`].
    states: Vec<AtomicU64>,
    chans: Chans,
}

/// A goroutine's state word: phase (bits 0-1), mode of its current select
/// (bits 2-3), its cases (bits 4-19, four nibbles: enabled, send, channel
/// index), selects completed (bits 32-63).
struct State;

impl State {
    const SENDING: u64 = 1;
    const DRAINING: u64 = 2;
    const FINISHED: u64 = 3;

    /// One case: `ch` is `None` for a nil case.
    fn case(send: bool, ch: Option<usize>) -> u64 {
        match ch {
            None => 0,
            Some(i) => 1 | (u64::from(send) << 1) | ((i as u64) << 2),
        }
    }

    fn word(phase: u64, mode: Mode, cases: [u64; 4], done: u64) -> u64 {
        let mode = match mode {
            Mode::Timeout => 0,
            Mode::Yield => 1,
            Mode::Plain => 2,
        };
        let cases = cases
            .iter()
            .enumerate()
            .fold(0, |acc, (k, c)| acc | (c << (4 * k)));
        phase | (mode << 2) | (cases << 4) | (done << 32)
    }

    fn describe(word: u64) -> String {
        let phase = ["starting", "sending", "draining", "finished"][(word & 3) as usize];
        let mode = ["timeout", "yield", "plain", "?"][((word >> 2) & 3) as usize];
        let cases: Vec<String> = (0..4)
            .map(|k| (word >> (4 + 4 * k)) & 0xF)
            .filter(|c| c & 1 == 1)
            .map(|c| {
                let kind = if c & 2 != 0 { "send" } else { "recv" };
                format!("{kind} cap{}", CAPS[(c >> 2) as usize])
            })
            .collect();
        format!(
            "{phase}, {} selects done, last select ({mode}): [{}]",
            word >> 32,
            cases.join(", ")
        )
    }
}

impl Progress {
    fn new(goroutines: u64, chans: Chans) -> Self {
        Progress {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            states: (0..goroutines).map(|_| AtomicU64::new(0)).collect(),
            chans,
        }
    }

    fn note(&self, gid: usize, phase: u64, mode: Mode, cases: [u64; 4], done: u64) {
        self.states[gid].store(State::word(phase, mode, cases, done), Ordering::Relaxed);
    }

    fn finished(&self, gid: usize) {
        let word = self.states[gid].load(Ordering::Relaxed);
        self.states[gid].store((word & !3) | State::FINISHED, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed) + self.received.load(Ordering::Relaxed)
    }

    fn report(&self) -> String {
        let mut r = format!(
            "{} sent, {} received, {} selects cancelled so far; channels {:?}",
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
            self.cancelled.load(Ordering::Relaxed),
            self.chans
        );
        for (gid, word) in self.states.iter().enumerate() {
            let word = word.load(Ordering::Relaxed);
            r += &format!("\n  goroutine {gid}: {}", State::describe(word));
        }
        r
    }
}

/// What one goroutine saw.
struct Tally {
    gid: usize,
    p: Arc<Progress>,
    rng: Rng,
    sent: Vec<u64>,
    got: Vec<u64>,
    cancelled: u64,
    defaults: u64,
    timed_out: u64,
    /// Selects completed per channel (index into `CAPS`), sends and receives.
    per_chan: [u64; 3],
}

impl Tally {
    fn new(gid: usize, p: Arc<Progress>) -> Self {
        Tally {
            gid,
            p,
            rng: Rng::new(gid as u64 + 1),
            sent: Vec::new(),
            got: Vec::new(),
            cancelled: 0,
            defaults: 0,
            timed_out: 0,
            per_chan: [0; 3],
        }
    }
    fn chans(&self) -> Chans {
        self.p.chans.clone()
    }
    fn done(&self) -> u64 {
        (self.sent.len() + self.got.len()) as u64
    }
    /// Records the select about to run, for the watchdog's report.
    fn note(&self, phase: u64, mode: Mode, cases: [u64; 4]) {
        self.p.note(self.gid, phase, mode, cases, self.done());
    }
    fn sent(&mut self, i: usize, v: u64) {
        self.per_chan[i] += 1;
        self.sent.push(v);
        self.p.sent.fetch_add(1, Ordering::Relaxed);
    }
    fn got(&mut self, i: usize, v: u64) {
        self.per_chan[i] += 1;
        self.got.push(v);
        self.p.received.fetch_add(1, Ordering::Relaxed);
    }
    fn cancelled(&mut self) {
        self.cancelled += 1;
        self.p.cancelled.fetch_add(1, Ordering::Relaxed);
    }
    /// One select in four also gets a timeout case of its own, Go's
    /// `case <-time.After(d):`, of 0-199 µs.
    fn timer(&mut self) -> Option<Receiver<std::time::Instant>> {
        if self.rng.chance(4) {
            Some(gokio::after(Duration::from_micros(self.rng.next() % 200)))
        } else {
            None
        }
    }
}

type Chans = Arc<[Chan<u64>; 3]>;

/// Sends every value of `ids`, each through a select of send cases on 2-3
/// channels (the same value in each: exactly one case proceeds). One select
/// in five is the `default` form; the others may be cancelled.
async fn producer(t: &mut Tally, ids: std::ops::Range<u64>) {
    let chans = t.chans();
    for v in ids {
        loop {
            let [x, y, z] = t.rng.perm3();
            let z = t.rng.chance(2).then_some(z);
            let third = z.map(|z| &chans[z]);
            let z = z.unwrap_or(usize::MAX);
            let default = t.rng.chance(5);
            let mode = Mode::random(&mut t.rng);
            let cases = [
                State::case(true, Some(x)),
                State::case(true, Some(y)),
                State::case(true, third.map(|_| z)),
                0,
            ];
            t.note(State::SENDING, mode, cases);
            let out = if default {
                Some(select! {
                    send(&chans[x], v) -> r => sent(x, r),
                    send(&chans[y], v) -> r => sent(y, r),
                    send(third, v) -> r => sent(z, r),
                    default => Out::Default,
                })
            } else {
                let timer = t.timer();
                attempt_with(mode, &mut t.rng, async {
                    select! {
                        send(&chans[x], v) -> r => sent(x, r),
                        send(&chans[y], v) -> r => sent(y, r),
                        send(third, v) -> r => sent(z, r),
                        recv(timer) -> _ => Out::Timeout,
                    }
                })
                .await
            };
            match out {
                None => t.cancelled(),
                Some(Out::Timeout) => t.timed_out += 1,
                Some(Out::Sent(i)) => {
                    t.sent(i, v);
                    break;
                }
                Some(Out::Default) => {
                    t.defaults += 1;
                    tokio::task::yield_now().await;
                }
                Some(Out::SendFailed(i)) => panic!("send on open cap-{} channel failed", CAPS[i]),
                Some(other) => panic!("producer: unexpected {other:?}"),
            }
        }
    }
}

/// Sends every value of `ids` through selects that also receive: a send and
/// a receive case on one channel, plus a send or a receive on another.
async fn mixed_sending(t: &mut Tally, ids: std::ops::Range<u64>) {
    let chans = t.chans();
    for v in ids {
        loop {
            let [x, y, _] = t.rng.perm3();
            let send_y = t.rng.chance(2);
            let ty = send_y.then(|| &chans[y]);
            let ry = (!send_y).then(|| &chans[y]);
            let mode = Mode::random(&mut t.rng);
            let cases = [
                State::case(true, Some(x)),
                State::case(false, Some(x)),
                State::case(true, send_y.then_some(y)),
                State::case(false, (!send_y).then_some(y)),
            ];
            t.note(State::SENDING, mode, cases);
            let timer = t.timer();
            let out = attempt_with(mode, &mut t.rng, async {
                select! {
                    send(&chans[x], v) -> r => sent(x, r),
                    recv(&chans[x]) -> g => Out::Got(x, g),
                    send(ty, v) -> r => sent(y, r),
                    recv(ry) -> g => Out::Got(y, g),
                    recv(timer) -> _ => Out::Timeout,
                }
            })
            .await;
            match out {
                None => t.cancelled(),
                Some(Out::Timeout) => t.timed_out += 1,
                Some(Out::Sent(i)) => {
                    t.sent(i, v);
                    break;
                }
                Some(Out::Got(i, Some(g))) => t.got(i, g),
                Some(Out::SendFailed(i)) => panic!("send on open cap-{} channel failed", CAPS[i]),
                Some(other) => panic!("mixed: unexpected {other:?} while channels are open"),
            }
        }
    }
}

/// Receives through selects over the open channels until all three are
/// closed and drained. A select that may be cancelled covers a random
/// non-empty subset of them; one that is awaited to completion covers every
/// open channel, as a Go drain loop would: waiting for good on a subset can
/// deadlock for real (the last sender waiting to send on the channel the
/// subset leaves out).
async fn drain(t: &mut Tally) {
    let chans = t.chans();
    let mut open = [true; 3];
    while open.contains(&true) {
        let mode = Mode::random(&mut t.rng);
        let mut on = [false; 3];
        for i in 0..3 {
            on[i] = open[i] && !t.rng.chance(3);
        }
        if matches!(mode, Mode::Plain) || !on.contains(&true) {
            on = open;
        }
        let cases = [0, 1, 2, 3].map(|i| State::case(false, (i < 3 && on[i]).then_some(i)));
        t.note(State::DRAINING, mode, cases);
        let c = |i: usize| on[i].then(|| &chans[i]);
        let timer = t.timer();
        let out = attempt_with(mode, &mut t.rng, async {
            select! {
                recv(c(0)) -> g => Out::Got(0, g),
                recv(c(1)) -> g => Out::Got(1, g),
                recv(c(2)) -> g => Out::Got(2, g),
                recv(timer) -> _ => Out::Timeout,
            }
        })
        .await;
        match out {
            None => t.cancelled(),
            Some(Out::Timeout) => t.timed_out += 1,
            Some(Out::Got(i, Some(g))) => t.got(i, g),
            Some(Out::Got(i, None)) => open[i] = false,
            Some(other) => panic!("consumer: unexpected {other:?}"),
        }
    }
}

async fn mixed_selects(producers: u64, consumers: u64, mixed: u64, per: u64) {
    let chans: Chans = Arc::new(CAPS.map(chan::<u64>));
    let progress = Arc::new(Progress::new(producers + mixed + consumers, chans.clone()));
    let senders = producers + mixed;
    let total = senders * per;
    // Counts producers and mixed goroutines until their quota is sent; the
    // channels close only then, so no send case ever meets a closed channel.
    let quota = WaitGroup::new();

    // Goroutine ids: producers, then mixed, then consumers; a sender's
    // values are `gid * per..(gid + 1) * per`.
    let mut tasks = Vec::new();
    for gid in 0..producers + mixed + consumers {
        let mut t = Tally::new(gid as usize, progress.clone());
        let ids = gid * per..(gid + 1) * per;
        let quota = quota.clone();
        let (produce, mix) = (gid < producers, gid < producers + mixed);
        if mix {
            quota.add(1);
        }
        tasks.push(go(async move {
            if produce {
                producer(&mut t, ids).await;
                quota.done();
            } else if mix {
                mixed_sending(&mut t, ids).await;
                quota.done();
                drain(&mut t).await;
            } else {
                drain(&mut t).await;
            }
            t.p.finished(t.gid);
            t
        }));
    }

    let report = || (progress.count(), progress.report());
    watchdog("mixed selects: senders", report, quota.wait()).await;
    for ch in chans.iter() {
        ch.close();
    }
    let tallies = watchdog("mixed selects: drain", report, async {
        let mut tallies = Vec::new();
        for task in tasks {
            tallies.push(task.await.expect("goroutine panicked"));
        }
        tallies
    })
    .await;

    let mut was_sent = vec![0u32; total as usize];
    let mut seen = vec![0u32; total as usize];
    let (mut n_sent, mut received, mut cancelled, mut defaults, mut timed_out) = (0, 0, 0, 0, 0);
    let mut per_chan = [0u64; 3];
    for t in &tallies {
        for &v in &t.sent {
            was_sent[v as usize] += 1;
            n_sent += 1;
        }
        for &v in &t.got {
            seen[v as usize] += 1;
            received += 1;
        }
        cancelled += t.cancelled;
        defaults += t.defaults;
        timed_out += t.timed_out;
        for (sum, n) in per_chan.iter_mut().zip(t.per_chan) {
            *sum += n;
        }
    }
    let lost = (0..total as usize)
        .filter(|&v| was_sent[v] > 0 && seen[v] == 0)
        .count();
    let duplicated = seen.iter().filter(|&&n| n > 1).count();
    let unsent_received = (0..total as usize)
        .filter(|&v| was_sent[v] == 0 && seen[v] > 0)
        .count();
    println!(
        "select stress ({producers} producers, {consumers} consumers, {mixed} mixed, caps {CAPS:?}): \
         {n_sent} sent, {received} received, {lost} lost, {duplicated} duplicated, \
         {unsent_received} received but never reported sent, {cancelled} selects cancelled, \
         {timed_out} timeout cases taken, {defaults} defaults taken, selects completed per cap {per_chan:?}"
    );
    assert_eq!(n_sent, total, "every value is sent exactly once");
    assert!(was_sent.iter().all(|&n| n == 1));
    assert_eq!((lost, duplicated, unsent_received), (0, 0, 0));
    assert_eq!(received, total);
    assert!(cancelled > 0, "the test must actually cancel selects");
    assert!(timed_out > 0, "the test must actually take timeout cases");
    assert!(
        per_chan.iter().all(|&n| n > 0),
        "every capacity is exercised"
    );
    for ch in chans.iter() {
        assert!(ch.is_empty() && ch.try_recv().is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_selects_4_producers_4_consumers_2_mixed() {
    mixed_selects(4, 4, 2, 10_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_selects_only_mixed_goroutines() {
    // Every goroutine sends and receives until its quota is sent; the ones
    // that finish first keep draining for the others.
    mixed_selects(0, 0, 6, 5_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_selects_many_goroutines() {
    mixed_selects(12, 12, 6, 2_000 * scale()).await;
}

// ---------------------------------------------------------------------------
// Dynamic `Select` fan-in.
// ---------------------------------------------------------------------------

/// Values are `producer << 32 | seq`.
const SHIFT: u32 = 32;

async fn fan_in_producer(tx: Sender<u64>, id: u64, per: u64, cancel: bool) -> u64 {
    let mut rng = Rng::new(7 + id);
    let mut cancelled = 0;
    for seq in 0..per {
        let v = (id << SHIFT) | seq;
        loop {
            let r = if cancel {
                attempt(&mut rng, tx.send(v)).await
            } else {
                Some(tx.send(v).await)
            };
            match r {
                Some(r) => {
                    r.expect("the consumer keeps every receiver until closed");
                    break;
                }
                None => cancelled += 1,
            }
        }
    }
    // Half close explicitly, half by dropping their only sending handle.
    if id % 2 == 0 {
        tx.close();
    }
    cancelled
}

/// `producers` channels with capacities cycling through 0, 1 and 64, one
/// consumer selecting over every channel still open. With
/// `cancel_producers`, the producers' sends are cancelled at random (so the
/// consumer only waits, see the module docs); without, one consumer select
/// in four is a `try_select`.
async fn dynamic_fan_in(producers: u64, per: u64, cancel_producers: bool) {
    let mut live: Vec<(u64, Receiver<u64>)> = Vec::new();
    let mut tasks = Vec::new();
    for id in 0..producers {
        let ch = chan::<u64>(CAPS[(id % 3) as usize]);
        live.push((id, ch.receiver()));
        let tx = ch.sender();
        drop(ch);
        tasks.push(go(fan_in_producer(tx, id, per, cancel_producers)));
    }
    // Extra receiving handles, only for the watchdog's report.
    let all: Vec<Receiver<u64>> = live.iter().map(|(_, rx)| rx.clone()).collect();
    let received = Arc::new(AtomicU64::new(0));
    let consumer = {
        let received = received.clone();
        go(async move {
            let mut rng = Rng::new(99);
            let mut next = vec![0u64; producers as usize];
            let (mut cancelled, mut empty_tries, mut out_of_order, mut foreign) = (0, 0, 0, 0);
            while !live.is_empty() {
                let mut sel = Select::new();
                for (_, rx) in &live {
                    sel = sel.recv(rx);
                }
                let out = if !cancel_producers && rng.chance(4) {
                    match sel.try_select() {
                        Some(out) => Some(out),
                        None => {
                            empty_tries += 1;
                            tokio::task::yield_now().await;
                            continue;
                        }
                    }
                } else {
                    attempt(&mut rng, sel.into_future()).await
                };
                match out {
                    None => cancelled += 1,
                    Some(Selected::Recv {
                        index,
                        value: Some(v),
                    }) => {
                        let id = live[index].0;
                        let (from, seq) = (v >> SHIFT, v & ((1 << SHIFT) - 1));
                        if from != id {
                            foreign += 1;
                        }
                        // One receiver per channel: FIFO per sender holds.
                        if seq != next[from as usize] {
                            out_of_order += 1;
                        }
                        next[from as usize] = seq + 1;
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Selected::Recv { index, value: None }) => {
                        let (id, rx) = live.swap_remove(index);
                        assert!(rx.is_closed(), "channel {id} reported closed");
                    }
                    Some(other) => panic!("no send case was added: {other:?}"),
                }
            }
            (next, cancelled, empty_tries, out_of_order, foreign)
        })
    };
    let report = || {
        let n = received.load(Ordering::Relaxed);
        (n, format!("{n} received; channels {all:?}"))
    };
    let (next, consumer_cancelled, empty_tries, out_of_order, foreign) =
        watchdog("dynamic fan-in", report, consumer)
            .await
            .expect("consumer panicked");
    let mut producer_cancelled = 0;
    for t in tasks {
        producer_cancelled += t.await.expect("producer panicked");
    }
    let total = producers * per;
    let received = received.load(Ordering::Relaxed);
    // Counting exactly once: with FIFO per sender and no gap, every producer's
    // sequence numbers arrived as exactly 0, 1, ..., per - 1.
    let short = next.iter().filter(|&&n| n != per).count();
    println!(
        "dynamic fan-in ({producers} producers, cancel_producers {cancel_producers}): \
         {total} sent, {received} received, {out_of_order} out of order/duplicated/lost, \
         {foreign} on a wrong channel, {short} producers short, \
         {consumer_cancelled} consumer selects cancelled, {producer_cancelled} sends cancelled, \
         {empty_tries} empty try_selects"
    );
    assert_eq!(
        (received, out_of_order, foreign, short),
        (total, 0, 0, 0),
        "nothing lost, nothing duplicated, FIFO per producer"
    );
    if cancel_producers {
        assert!(consumer_cancelled > 0 && producer_cancelled > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_fan_in_with_cancellation() {
    dynamic_fan_in(9, 5_000 * scale(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_fan_in_with_try_select() {
    dynamic_fan_in(9, 5_000 * scale(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_fan_in_many_channels() {
    dynamic_fan_in(40, 1_000 * scale(), true).await;
}

// ---------------------------------------------------------------------------
// Go's TestSelfSelect.
// ---------------------------------------------------------------------------

/// Two goroutines each run `n` selects, each with a send and a receive case
/// on `c` and on `d`. At capacity 0 a select's own cases must never pair
/// (a goroutine receiving its own value); both sides of a capacity-0 pair
/// complete together, so with both channels unbuffered each goroutine's
/// `n`-th select is matched by the other's. A buffered channel always has
/// one of its two cases ready, so neither goroutine can block for good.
async fn self_select(cap_c: usize, cap_d: usize, n: u64) {
    let c = chan::<(u8, u64)>(cap_c);
    let d = chan::<(u8, u64)>(cap_d);
    let done = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let mut tasks = Vec::new();
    for me in 0..2u8 {
        let (c, d, done) = (c.clone(), d.clone(), done.clone());
        tasks.push(go(async move {
            let mut sent = Vec::new();
            let mut got = Vec::new();
            let mut self_paired = 0;
            for i in 0..n {
                let mine = (me, i);
                let r = select! {
                    send(&c, mine) -> r => r.map(|()| None).map_err(|_| "c"),
                    recv(&c) -> v => v.map(|v| Some((cap_c, v))).ok_or("c"),
                    send(&d, mine) -> r => r.map(|()| None).map_err(|_| "d"),
                    recv(&d) -> v => v.map(|v| Some((cap_d, v))).ok_or("d"),
                };
                match r.unwrap_or_else(|ch| panic!("{ch} closed")) {
                    None => sent.push(i),
                    Some((cap, v)) => {
                        if cap == 0 && v.0 == me {
                            self_paired += 1;
                        }
                        got.push(v);
                    }
                }
                done[me as usize].fetch_add(1, Ordering::Relaxed);
            }
            (sent, got, self_paired)
        }));
    }
    let report = || {
        let (a, b) = (
            done[0].load(Ordering::Relaxed),
            done[1].load(Ordering::Relaxed),
        );
        (
            a + b,
            format!("selects done: {a} and {b} of {n}; c {c:?}, d {d:?}"),
        )
    };
    let results = watchdog("self select", report, async {
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("goroutine panicked"));
        }
        results
    })
    .await;
    // What is still buffered counts as received.
    let mut leftover = Vec::new();
    for ch in [&c, &d] {
        while let Ok(v) = ch.try_recv() {
            leftover.push(v);
        }
    }
    let mut sent: Vec<(u8, u64)> = Vec::new();
    let mut got: Vec<(u8, u64)> = leftover.clone();
    let mut self_paired = 0;
    for (me, (s, g, sp)) in results.into_iter().enumerate() {
        sent.extend(s.into_iter().map(|i| (me as u8, i)));
        got.extend(g);
        self_paired += sp;
    }
    sent.sort_unstable();
    got.sort_unstable();
    println!(
        "self select (caps {cap_c}/{cap_d}, {n} selects each): {} sent, {} received ({} left buffered), \
         {self_paired} self-paired",
        sent.len(),
        got.len(),
        leftover.len()
    );
    assert_eq!(
        self_paired, 0,
        "a select paired with itself on a cap-0 channel"
    );
    assert_eq!(sent, got, "every value sent is received exactly once");
    if cap_c == 0 && cap_d == 0 {
        assert_eq!(
            sent.len() as u64,
            n,
            "each exchange completes one select on each side"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_select_both_unbuffered() {
    self_select(0, 0, 20_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_select_unbuffered_and_cap_1() {
    self_select(0, 1, 20_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_select_cap_10_and_unbuffered() {
    // Go runs TestSelfSelect at capacities 0 and 10.
    self_select(10, 0, 20_000 * scale()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn self_select_single_thread() {
    // One worker: every hand-off goes through a park, a baton and a wake.
    self_select(0, 0, 10_000 * scale()).await;
}
