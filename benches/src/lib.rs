//! The benchmark workloads of issue 5, each in two variants:
//!
//! - `gokio`: written with gokio's API (`gokio::go`, `gokio::chan`,
//!   `gokio::select!`, `gokio::WaitGroup`, `gokio::sync::Mutex`);
//! - `raw`: what a Rust user would write without gokio: `tokio::spawn`,
//!   `async_channel::bounded`, `tokio::select!` over `recv()` futures,
//!   `tokio::sync::Mutex`, and for a WaitGroup the [`RawWaitGroup`] below
//!   (an `Arc<AtomicUsize>` counter plus a `tokio::sync::Notify`).
//!
//! async-channel has no capacity 0 (no rendezvous). Wherever a workload asks
//! for an unbuffered channel, the raw variant uses `bounded(1)` as the
//! stand-in: the sender waits for room, not for a receiver, so the raw side
//! does strictly less synchronisation than Go's (and gokio's) cap 0.
//!
//! Each function runs its workload once on the given runtime and returns a
//! [`Measurement`]: nanoseconds per op (each workload documents its op), or,
//! for `park`, resident bytes per parked goroutine. The whole workload runs
//! inside one spawned "main" task (a goroutine, as Go's `main`), timed from
//! inside that task. Every count is multiplied by a scale factor (see
//! [`scale`], env `GOKIO_BENCH_SCALE`, default 1.0).
//!
//! Consumers check the sums they receive, so no work can be optimised away
//! and no value can be lost unnoticed.
//!
//! The criterion benches live in `benches/` beside this file
//! (`cargo bench -p gokio-benches`); the `workload` binary runs one workload
//! once and prints one line (`workload --list` for the names).

use std::fmt;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// Worker threads used when `GOMAXPROCS` is not set (issue 5: 2 workers).
pub const DEFAULT_WORKERS: usize = 2;

/// Capacity of every buffered channel in the workloads.
pub const CAP: usize = 128;

/// The unit of a [`Measurement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds per op (the op is documented per workload).
    NsPerOp,
    /// Resident bytes per parked goroutine.
    BytesPerGoroutine,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::NsPerOp => "ns/op",
            Unit::BytesPerGoroutine => "B/goroutine",
        })
    }
}

/// The result of one run of one workload.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// The figure reported, in `unit`.
    pub value: f64,
    /// `ns/op` or `B/goroutine`.
    pub unit: Unit,
    /// Wall-clock time of the run (inside the main task).
    pub elapsed: Duration,
    /// Ops performed (goroutines for `park`).
    pub ops: u64,
}

impl Measurement {
    fn per_op(elapsed: Duration, ops: u64) -> Self {
        Measurement {
            value: elapsed.as_nanos() as f64 / ops as f64,
            unit: Unit::NsPerOp,
            elapsed,
            ops,
        }
    }
}

/// Which implementation of a workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// gokio's API.
    Gokio,
    /// tokio + async-channel by hand.
    Raw,
}

impl Variant {
    /// Both variants, gokio first.
    pub const ALL: [Variant; 2] = [Variant::Gokio, Variant::Raw];

    /// `"gokio"` or `"raw"`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Gokio => "gokio",
            Variant::Raw => "raw",
        }
    }

    /// Parses `"gokio"` or `"raw"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "gokio" => Some(Variant::Gokio),
            "raw" => Some(Variant::Raw),
            _ => None,
        }
    }
}

/// A workload run once: on this runtime, at this scale.
pub type WorkloadFn = fn(&Runtime, f64) -> Measurement;

/// One named workload with its two variants.
#[derive(Clone, Copy)]
pub struct Workload {
    /// The name used by the `workload` binary and the Go program.
    pub name: &'static str,
    /// The gokio variant.
    pub gokio: WorkloadFn,
    /// The tokio + async-channel variant.
    pub raw: WorkloadFn,
}

impl Workload {
    /// Runs `variant` once.
    pub fn run(&self, variant: Variant, rt: &Runtime, scale: f64) -> Measurement {
        match variant {
            Variant::Gokio => (self.gokio)(rt, scale),
            Variant::Raw => (self.raw)(rt, scale),
        }
    }
}

/// Every workload of issue 5, in the order, plus `pool-patterns`
/// and `fanin-patterns`: `pool` and `fanin` written with `gokio_patterns`
/// (`worker_pool`, `fan_in`) instead of by hand; their raw and Go variants
/// are `pool`'s and `fanin`'s.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn",
        gokio: spawn_gokio,
        raw: spawn_raw,
    },
    Workload {
        name: "park",
        gokio: park_gokio,
        raw: park_raw,
    },
    Workload {
        name: "pingpong",
        gokio: pingpong_gokio,
        raw: pingpong_raw,
    },
    Workload {
        name: "spsc",
        gokio: spsc_gokio,
        raw: spsc_raw,
    },
    Workload {
        name: "mpmc",
        gokio: mpmc_gokio,
        raw: mpmc_raw,
    },
    Workload {
        name: "mpmc0",
        gokio: mpmc0_gokio,
        raw: mpmc0_raw,
    },
    Workload {
        name: "select",
        gokio: select_gokio,
        raw: select_raw,
    },
    Workload {
        name: "pool",
        gokio: pool_gokio,
        raw: pool_raw,
    },
    Workload {
        name: "fanin",
        gokio: fanin_gokio,
        raw: fanin_raw,
    },
    Workload {
        name: "pool-patterns",
        gokio: pool_patterns,
        raw: pool_raw,
    },
    Workload {
        name: "fanin-patterns",
        gokio: fanin_patterns,
        raw: fanin_raw,
    },
    Workload {
        name: "pipeline",
        gokio: pipeline_gokio,
        raw: pipeline_raw,
    },
    Workload {
        name: "wg",
        gokio: wg_gokio,
        raw: wg_raw,
    },
    Workload {
        name: "mutex",
        gokio: mutex_gokio,
        raw: mutex_raw,
    },
];

/// The workload called `name`.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// The scale factor from `GOKIO_BENCH_SCALE` (a float), else `default`.
///
/// # Panics
///
/// If the variable is set but is not a positive number.
pub fn scale_or(default: f64) -> f64 {
    match std::env::var("GOKIO_BENCH_SCALE") {
        Ok(s) => {
            let v: f64 = s
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("GOKIO_BENCH_SCALE={s:?}: not a number"));
            assert!(v > 0.0, "GOKIO_BENCH_SCALE={s:?}: must be positive");
            v
        }
        Err(_) => default,
    }
}

/// The scale factor from `GOKIO_BENCH_SCALE`, default 1.0.
pub fn scale() -> f64 {
    scale_or(1.0)
}

/// `base * scale`, at least `min`.
fn count(base: u64, scale: f64, min: u64) -> u64 {
    ((base as f64 * scale).round() as u64).max(min)
}

/// `total * scale` split evenly over `parts`: (per part, total).
fn split(total: u64, scale: f64, parts: u64) -> (u64, u64) {
    let per = count(total, scale, parts) / parts;
    (per, per * parts)
}

/// Worker threads: `GOMAXPROCS` if set, else [`DEFAULT_WORKERS`].
pub fn workers() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(DEFAULT_WORKERS)
}

/// A fresh multi-thread Tokio runtime with [`workers`] worker threads; both
/// variants run on the same kind of runtime.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

/// Runs `fut` as a main goroutine (`gokio::go`) and returns its output.
fn main_gokio<F>(rt: &Runtime, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { gokio::go(fut).await.expect("main goroutine") })
}

/// Runs `fut` as a main task (`tokio::spawn`) and returns its output.
fn main_raw<F>(rt: &Runtime, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(fut).await.expect("main task") })
}

/// The raw variant's WaitGroup: an `Arc` of an `AtomicUsize` counter and a
/// `tokio::sync::Notify` woken (`notify_waiters`) when the counter reaches
/// zero. `wait` registers with the `Notify` before checking the counter, so
/// no wake-up is lost.
#[derive(Clone, Default)]
pub struct RawWaitGroup(Arc<(AtomicUsize, Notify)>);

impl RawWaitGroup {
    /// A counter of zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` to the counter.
    pub fn add(&self, n: usize) {
        self.0 .0.fetch_add(n, Ordering::AcqRel);
    }

    /// Subtracts one; wakes every waiter when the counter reaches zero.
    pub fn done(&self) {
        if self.0 .0.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0 .1.notify_waiters();
        }
    }

    /// Waits until the counter is zero.
    pub async fn wait(&self) {
        loop {
            let mut notified = pin!(self.0 .1.notified());
            notified.as_mut().enable();
            if self.0 .0.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

// ---------------------------------------------------------------- spawn

/// Goroutines spawned by `spawn`.
const SPAWN_N: u64 = 1_000_000;

/// spawn: 1M goroutines, each calls `wg.done()`; main waits on the
/// WaitGroup. One op = one goroutine (spawn, run, done).
pub fn spawn_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(SPAWN_N, scale, 1);
    main_gokio(rt, async move {
        let start = Instant::now();
        let wg = gokio::WaitGroup::new();
        wg.add(n as isize);
        for _ in 0..n {
            let wg = wg.clone();
            gokio::go(async move { wg.done() });
        }
        wg.wait().await;
        Measurement::per_op(start.elapsed(), n)
    })
}

/// spawn, raw: `tokio::spawn` and a [`RawWaitGroup`].
pub fn spawn_raw(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(SPAWN_N, scale, 1);
    main_raw(rt, async move {
        let start = Instant::now();
        let wg = RawWaitGroup::new();
        wg.add(n as usize);
        for _ in 0..n {
            let wg = wg.clone();
            tokio::spawn(async move { wg.done() });
        }
        wg.wait().await;
        Measurement::per_op(start.elapsed(), n)
    })
}

// ----------------------------------------------------------------- park

/// Goroutines parked by `park`.
const PARK_N: u64 = 100_000;

/// Page size assumed when converting `/proc/self/statm` pages to bytes
/// (4 KiB: x86-64 and most aarch64 Linux kernels).
const PAGE_SIZE: u64 = 4096;

/// Resident set size in bytes, from `/proc/self/statm` (second field, in
/// pages); 0 where there is no `/proc`.
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * PAGE_SIZE)
}

/// Resident growth per goroutine between `before` and now.
fn park_measurement(before: u64, start: Instant, n: u64) -> Measurement {
    let after = resident_bytes();
    Measurement {
        value: after.saturating_sub(before) as f64 / n as f64,
        unit: Unit::BytesPerGoroutine,
        elapsed: start.elapsed(),
        ops: n,
    }
}

/// Time given to the last goroutines to reach their `recv` after they
/// signalled that they are about to.
const PARK_SETTLE: Duration = Duration::from_millis(20);

/// park: 100k goroutines each parked on `recv` of one shared cap-0 channel.
/// Resident memory (`/proc/self/statm`) is read before they are spawned and
/// once all are parked; the result is the growth in bytes per goroutine.
/// Then the channel is closed, which releases them all, and main waits for
/// them to end.
pub fn park_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(PARK_N, scale, 1);
    main_gokio(rt, async move {
        let start = Instant::now();
        let before = resident_bytes();
        let ch = gokio::chan::<u64>(0);
        let parked = gokio::WaitGroup::new();
        let ended = gokio::WaitGroup::new();
        parked.add(n as isize);
        ended.add(n as isize);
        for _ in 0..n {
            let (rx, parked, ended) = (ch.receiver(), parked.clone(), ended.clone());
            gokio::go(async move {
                parked.done();
                assert_eq!(rx.recv().await, None);
                ended.done();
            });
        }
        parked.wait().await;
        gokio::sleep(PARK_SETTLE).await;
        let m = park_measurement(before, start, n);
        ch.close();
        ended.wait().await;
        m
    })
}

/// park, raw: `tokio::spawn` on `async_channel::bounded(1)` (stand-in for
/// cap 0; nothing is ever sent), released by `Sender::close`.
pub fn park_raw(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(PARK_N, scale, 1);
    main_raw(rt, async move {
        let start = Instant::now();
        let before = resident_bytes();
        let (tx, rx) = async_channel::bounded::<u64>(1);
        let parked = RawWaitGroup::new();
        let ended = RawWaitGroup::new();
        parked.add(n as usize);
        ended.add(n as usize);
        for _ in 0..n {
            let (rx, parked, ended) = (rx.clone(), parked.clone(), ended.clone());
            tokio::spawn(async move {
                parked.done();
                assert!(rx.recv().await.is_err());
                ended.done();
            });
        }
        parked.wait().await;
        tokio::time::sleep(PARK_SETTLE).await;
        let m = park_measurement(before, start, n);
        tx.close();
        ended.wait().await;
        m
    })
}

// ------------------------------------------------------------- pingpong

/// Round trips in `pingpong`.
const PINGPONG_N: u64 = 500_000;

/// pingpong: two goroutines, `ping` and `pong` cap-0 channels, 500k round
/// trips. One op = one round trip (two messages).
pub fn pingpong_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(PINGPONG_N, scale, 1);
    main_gokio(rt, async move {
        let start = Instant::now();
        let (ping, pong) = (gokio::chan::<u64>(0), gokio::chan::<u64>(0));
        let (ping_rx, pong_tx) = (ping.receiver(), pong.sender());
        let echo = gokio::go(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.expect("the player is alive");
            }
        });
        let player = gokio::go(async move {
            for i in 0..n {
                ping.send(i).await.expect("the echo is alive");
                assert_eq!(pong.recv().await, Some(i));
            }
        }); // `ping` is dropped at the end: the channel closes, the echo ends
        player.await.expect("player");
        echo.await.expect("echo");
        Measurement::per_op(start.elapsed(), n)
    })
}

/// pingpong, raw: `async_channel::bounded(1)` as the cap-0 stand-in (not a
/// rendezvous: a send completes once there is room).
pub fn pingpong_raw(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(PINGPONG_N, scale, 1);
    main_raw(rt, async move {
        let start = Instant::now();
        let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
        let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Ok(v) = ping_rx.recv().await {
                pong_tx.send(v).await.expect("the player is alive");
            }
        });
        let player = tokio::spawn(async move {
            for i in 0..n {
                ping_tx.send(i).await.expect("the echo is alive");
                assert_eq!(pong_rx.recv().await, Ok(i));
            }
        });
        player.await.expect("player");
        echo.await.expect("echo");
        Measurement::per_op(start.elapsed(), n)
    })
}

// ----------------------------------------------------------------- spsc

/// Messages in `spsc`.
const SPSC_N: u64 = 5_000_000;

/// The sum of `0..n`.
fn sum_to(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// spsc: one producer, one consumer, cap 128, 5M `u64`s. One op = one
/// message.
pub fn spsc_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(SPSC_N, scale, 1);
    main_gokio(rt, async move {
        let start = Instant::now();
        let ch = gokio::chan::<u64>(CAP);
        let (tx, rx) = (ch.sender(), ch.receiver());
        drop(ch); // the channel closes when the producer finishes
        let producer = gokio::go(async move {
            for i in 0..n {
                tx.send(i).await.expect("the consumer is alive");
            }
        });
        let consumer = gokio::go(async move {
            let mut sum = 0u64;
            while let Some(v) = rx.recv().await {
                sum += v;
            }
            sum
        });
        producer.await.expect("producer");
        assert_eq!(black_box(consumer.await.expect("consumer")), sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

/// spsc, raw: `async_channel::bounded(128)`.
pub fn spsc_raw(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(SPSC_N, scale, 1);
    main_raw(rt, async move {
        let start = Instant::now();
        let (tx, rx) = async_channel::bounded::<u64>(CAP);
        let producer = tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).await.expect("the consumer is alive");
            }
        });
        let consumer = tokio::spawn(async move {
            let mut sum = 0u64;
            while let Ok(v) = rx.recv().await {
                sum += v;
            }
            sum
        });
        producer.await.expect("producer");
        assert_eq!(black_box(consumer.await.expect("consumer")), sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

// ---------------------------------------------------------- mpmc, mpmc0

/// Producers and consumers in `mpmc` and `mpmc0`.
const MPMC_SIDES: u64 = 4;

/// 4 producers, 4 consumers on one channel of capacity `cap`, `total`
/// messages (split evenly). The channel closes when the last producer ends.
async fn mpmc_gokio_run(cap: usize, total: u64, scale: f64) -> Measurement {
    let (per, n) = split(total, scale, MPMC_SIDES);
    let start = Instant::now();
    let ch = gokio::chan::<u64>(cap);
    for p in 0..MPMC_SIDES {
        let tx = ch.sender();
        gokio::go(async move {
            for i in p * per..(p + 1) * per {
                tx.send(i).await.expect("consumers are alive");
            }
        });
    }
    let consumers: Vec<_> = (0..MPMC_SIDES)
        .map(|_| {
            let rx = ch.receiver();
            gokio::go(async move {
                let mut sum = 0u64;
                while let Some(v) = rx.recv().await {
                    sum += v;
                }
                sum
            })
        })
        .collect();
    drop(ch);
    let mut sum = 0;
    for c in consumers {
        sum += c.await.expect("consumer");
    }
    assert_eq!(black_box(sum), sum_to(n));
    Measurement::per_op(start.elapsed(), n)
}

/// The raw `mpmc`: `async_channel::bounded(cap)`.
async fn mpmc_raw_run(cap: usize, total: u64, scale: f64) -> Measurement {
    let (per, n) = split(total, scale, MPMC_SIDES);
    let start = Instant::now();
    let (tx, rx) = async_channel::bounded::<u64>(cap);
    for p in 0..MPMC_SIDES {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in p * per..(p + 1) * per {
                tx.send(i).await.expect("consumers are alive");
            }
        });
    }
    drop(tx);
    let consumers: Vec<_> = (0..MPMC_SIDES)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut sum = 0u64;
                while let Ok(v) = rx.recv().await {
                    sum += v;
                }
                sum
            })
        })
        .collect();
    drop(rx);
    let mut sum = 0;
    for c in consumers {
        sum += c.await.expect("consumer");
    }
    assert_eq!(black_box(sum), sum_to(n));
    Measurement::per_op(start.elapsed(), n)
}

/// Messages in `mpmc`.
const MPMC_N: u64 = 4_000_000;
/// Messages in `mpmc0`.
const MPMC0_N: u64 = 1_000_000;

/// mpmc: 4 producers x 4 consumers on one cap-128 channel, 4M messages in
/// all. One op = one message.
pub fn mpmc_gokio(rt: &Runtime, scale: f64) -> Measurement {
    main_gokio(rt, mpmc_gokio_run(CAP, MPMC_N, scale))
}

/// mpmc, raw: `async_channel::bounded(128)`.
pub fn mpmc_raw(rt: &Runtime, scale: f64) -> Measurement {
    main_raw(rt, mpmc_raw_run(CAP, MPMC_N, scale))
}

/// mpmc0: 4 producers x 4 consumers on one cap-0 channel, 1M messages in
/// all. One op = one message.
pub fn mpmc0_gokio(rt: &Runtime, scale: f64) -> Measurement {
    main_gokio(rt, mpmc_gokio_run(0, MPMC0_N, scale))
}

/// mpmc0, raw: `async_channel::bounded(1)` as the cap-0 stand-in.
pub fn mpmc0_raw(rt: &Runtime, scale: f64) -> Measurement {
    main_raw(rt, mpmc_raw_run(1, MPMC0_N, scale))
}

// --------------------------------------------------------------- select

/// Messages in `select`, over all producers.
const SELECT_N: u64 = 2_000_000;
/// Producers in `select`, each with its own channel.
const SELECT_PRODUCERS: u64 = 4;

/// select: 4 producers, each on its own cap-128 channel; one consumer
/// loops on a 4-case `select` until all are closed (a closed channel
/// becomes a nil case). 2M messages in all; one op = one message.
pub fn select_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let (per, n) = split(SELECT_N, scale, SELECT_PRODUCERS);
    main_gokio(rt, async move {
        let start = Instant::now();
        let rxs: Vec<gokio::Receiver<u64>> = (0..SELECT_PRODUCERS)
            .map(|p| {
                let ch = gokio::chan::<u64>(CAP);
                let (tx, rx) = (ch.sender(), ch.receiver());
                drop(ch);
                gokio::go(async move {
                    for i in p * per..(p + 1) * per {
                        tx.send(i).await.expect("the consumer is alive");
                    }
                });
                rx
            })
            .collect();
        let mut open = [true; 4];
        let mut left = 4;
        let mut sum = 0u64;
        while left > 0 {
            let rx = |i: usize| open[i].then(|| &rxs[i]);
            let (i, v) = gokio::select! {
                recv(rx(0)) -> v => (0, v),
                recv(rx(1)) -> v => (1, v),
                recv(rx(2)) -> v => (2, v),
                recv(rx(3)) -> v => (3, v),
            };
            match v {
                Some(v) => sum += v,
                None => {
                    open[i] = false;
                    left -= 1;
                }
            }
        }
        assert_eq!(black_box(sum), sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

/// select, raw: `tokio::select!` over `async_channel` `recv()` futures, a
/// closed channel disabled by its `if` guard.
pub fn select_raw(rt: &Runtime, scale: f64) -> Measurement {
    let (per, n) = split(SELECT_N, scale, SELECT_PRODUCERS);
    main_raw(rt, async move {
        let start = Instant::now();
        let rxs: Vec<_> = (0..SELECT_PRODUCERS)
            .map(|p| {
                let (tx, rx) = async_channel::bounded::<u64>(CAP);
                tokio::spawn(async move {
                    for i in p * per..(p + 1) * per {
                        tx.send(i).await.expect("the consumer is alive");
                    }
                });
                rx
            })
            .collect();
        let [a, b, c, d] = &rxs[..] else {
            unreachable!("four receivers")
        };
        let mut open = [true; 4];
        let mut sum = 0u64;
        loop {
            let (i, v) = tokio::select! {
                v = a.recv(), if open[0] => (0, v),
                v = b.recv(), if open[1] => (1, v),
                v = c.recv(), if open[2] => (2, v),
                v = d.recv(), if open[3] => (3, v),
                else => break,
            };
            match v {
                Ok(v) => sum += v,
                Err(_) => open[i] = false,
            }
        }
        assert_eq!(black_box(sum), sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

// ----------------------------------------------------------------- pool

/// Jobs in `pool`.
const POOL_N: u64 = 1_000_000;
/// Worker goroutines in `pool`.
const POOL_WORKERS: u64 = 8;

/// pool: a feeder goroutine sends 1M jobs (`u64`) on a cap-128 `jobs`
/// channel; 8 workers each receive jobs and send `x * 2` on a cap-128
/// `results` channel; main receives and sums the results. `results` closes
/// when the last worker ends. One op = one job.
pub fn pool_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(POOL_N, scale, 1);
    main_gokio(rt, async move {
        let start = Instant::now();
        let jobs = gokio::chan::<u64>(CAP);
        let results = gokio::chan::<u64>(CAP);
        for _ in 0..POOL_WORKERS {
            let (jobs, results) = (jobs.receiver(), results.sender());
            gokio::go(async move {
                while let Some(x) = jobs.recv().await {
                    results.send(x * 2).await.expect("main is alive");
                }
            });
        }
        let jobs_tx = jobs.sender();
        drop(jobs);
        gokio::go(async move {
            for i in 0..n {
                jobs_tx.send(i).await.expect("workers are alive");
            }
        });
        let results_rx = results.receiver();
        drop(results); // only the workers can send now
        let results = results_rx;
        let mut sum = 0u64;
        while let Some(v) = results.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), 2 * sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

/// pool, raw: `async_channel::bounded(128)` for `jobs` and `results`.
pub fn pool_raw(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(POOL_N, scale, 1);
    main_raw(rt, async move {
        let start = Instant::now();
        let (jobs_tx, jobs_rx) = async_channel::bounded::<u64>(CAP);
        let (results_tx, results_rx) = async_channel::bounded::<u64>(CAP);
        for _ in 0..POOL_WORKERS {
            let (jobs, results) = (jobs_rx.clone(), results_tx.clone());
            tokio::spawn(async move {
                while let Ok(x) = jobs.recv().await {
                    results.send(x * 2).await.expect("main is alive");
                }
            });
        }
        drop((jobs_rx, results_tx));
        tokio::spawn(async move {
            for i in 0..n {
                jobs_tx.send(i).await.expect("workers are alive");
            }
        });
        let mut sum = 0u64;
        while let Ok(v) = results_rx.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), 2 * sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

// ---------------------------------------------------------------- fanin

/// Messages in `fanin`, over all producers.
const FANIN_N: u64 = 2_000_000;
/// Producers in `fanin`.
const FANIN_PRODUCERS: u64 = 8;

/// fanin: 8 producers, each on its own cap-128 channel; one forwarding
/// goroutine per producer channel copies its values into one cap-128 `out`
/// channel (Go's classic `merge`); main receives 2M values from `out`,
/// which closes when the last forwarder ends. One op = one message
/// received by main.
pub fn fanin_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let (per, n) = split(FANIN_N, scale, FANIN_PRODUCERS);
    main_gokio(rt, async move {
        let start = Instant::now();
        let out = gokio::chan::<u64>(CAP);
        for p in 0..FANIN_PRODUCERS {
            let ch = gokio::chan::<u64>(CAP);
            let (tx, rx) = (ch.sender(), ch.receiver());
            drop(ch);
            gokio::go(async move {
                for i in p * per..(p + 1) * per {
                    tx.send(i).await.expect("the forwarder is alive");
                }
            });
            let out = out.sender();
            gokio::go(async move {
                while let Some(v) = rx.recv().await {
                    out.send(v).await.expect("main is alive");
                }
            });
        }
        let out_rx = out.receiver();
        drop(out); // only the forwarders can send now
        let out = out_rx;
        let mut sum = 0u64;
        while let Some(v) = out.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

/// fanin, raw: `async_channel::bounded(128)` everywhere.
pub fn fanin_raw(rt: &Runtime, scale: f64) -> Measurement {
    let (per, n) = split(FANIN_N, scale, FANIN_PRODUCERS);
    main_raw(rt, async move {
        let start = Instant::now();
        let (out_tx, out_rx) = async_channel::bounded::<u64>(CAP);
        for p in 0..FANIN_PRODUCERS {
            let (tx, rx) = async_channel::bounded::<u64>(CAP);
            tokio::spawn(async move {
                for i in p * per..(p + 1) * per {
                    tx.send(i).await.expect("the forwarder is alive");
                }
            });
            let out = out_tx.clone();
            tokio::spawn(async move {
                while let Ok(v) = rx.recv().await {
                    out.send(v).await.expect("main is alive");
                }
            });
        }
        drop(out_tx);
        let mut sum = 0u64;
        while let Ok(v) = out_rx.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

// ------------------------------------------------------------- pipeline

/// Items through `pipeline`.
const PIPELINE_N: u64 = 1_000_000;

/// pipeline: 3 stages connected by cap-0 channels: a generator goroutine
/// sends `0..n` on `a`; a middle goroutine receives from `a` and sends
/// `x * 2` on `b`; the last stage (main) receives from `b` and sums. One op =
/// one item through all three stages (two hand-offs).
pub fn pipeline_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(PIPELINE_N, scale, 1);
    main_gokio(rt, async move {
        let start = Instant::now();
        let a = gokio::chan::<u64>(0);
        let b = gokio::chan::<u64>(0);
        let a_tx = a.sender();
        let (a_rx, b_tx) = (a.receiver(), b.sender());
        let b_rx = b.receiver();
        drop((a, b));
        gokio::go(async move {
            for i in 0..n {
                a_tx.send(i).await.expect("stage 2 is alive");
            }
        });
        gokio::go(async move {
            while let Some(x) = a_rx.recv().await {
                b_tx.send(x * 2).await.expect("stage 3 is alive");
            }
        });
        let mut sum = 0u64;
        while let Some(v) = b_rx.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), 2 * sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

/// pipeline, raw: `async_channel::bounded(1)` as the cap-0 stand-in.
pub fn pipeline_raw(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(PIPELINE_N, scale, 1);
    main_raw(rt, async move {
        let start = Instant::now();
        let (a_tx, a_rx) = async_channel::bounded::<u64>(1);
        let (b_tx, b_rx) = async_channel::bounded::<u64>(1);
        tokio::spawn(async move {
            for i in 0..n {
                a_tx.send(i).await.expect("stage 2 is alive");
            }
        });
        tokio::spawn(async move {
            while let Ok(x) = a_rx.recv().await {
                b_tx.send(x * 2).await.expect("stage 3 is alive");
            }
        });
        let mut sum = 0u64;
        while let Ok(v) = b_rx.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), 2 * sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

// ------------------------------------------------------------ wg, mutex

/// Goroutines in `wg` and `mutex`.
const CONTENDERS: u64 = 8;
/// add/done pairs (wg) or locks (mutex) per goroutine.
const PER_CONTENDER: u64 = 100_000;

/// wg: 8 goroutines each do 100k `wg.add(1)`/`wg.done()` pairs on one
/// shared WaitGroup (contended); main has added 8 for the goroutines
/// themselves (each calls `done()` once at its end) and waits on the same
/// WaitGroup. One op = one add/done pair.
pub fn wg_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let per = count(PER_CONTENDER, scale, 1);
    let n = per * CONTENDERS;
    main_gokio(rt, async move {
        let start = Instant::now();
        let wg = gokio::WaitGroup::new();
        wg.add(CONTENDERS as isize);
        for _ in 0..CONTENDERS {
            let wg = wg.clone();
            gokio::go(async move {
                for _ in 0..per {
                    wg.add(1);
                    wg.done();
                }
                wg.done();
            });
        }
        wg.wait().await;
        Measurement::per_op(start.elapsed(), n)
    })
}

/// wg, raw: the same on a [`RawWaitGroup`] (`Arc<AtomicUsize>` + `Notify`).
pub fn wg_raw(rt: &Runtime, scale: f64) -> Measurement {
    let per = count(PER_CONTENDER, scale, 1);
    let n = per * CONTENDERS;
    main_raw(rt, async move {
        let start = Instant::now();
        let wg = RawWaitGroup::new();
        wg.add(CONTENDERS as usize);
        for _ in 0..CONTENDERS {
            let wg = wg.clone();
            tokio::spawn(async move {
                for _ in 0..per {
                    wg.add(1);
                    wg.done();
                }
                wg.done();
            });
        }
        wg.wait().await;
        Measurement::per_op(start.elapsed(), n)
    })
}

/// mutex: 8 goroutines each do 100k lock / increment / unlock on a shared
/// `gokio::sync::Mutex<u64>`; main waits for them (WaitGroup) and checks the
/// count. One op = one lock (with its increment and unlock).
pub fn mutex_gokio(rt: &Runtime, scale: f64) -> Measurement {
    let per = count(PER_CONTENDER, scale, 1);
    let n = per * CONTENDERS;
    main_gokio(rt, async move {
        let start = Instant::now();
        let counter = Arc::new(gokio::sync::Mutex::new(0u64));
        let wg = gokio::WaitGroup::new();
        for _ in 0..CONTENDERS {
            let counter = counter.clone();
            wg.go(async move {
                for _ in 0..per {
                    *counter.lock().await += 1;
                }
            });
        }
        wg.wait().await;
        assert_eq!(black_box(*counter.lock().await), n);
        Measurement::per_op(start.elapsed(), n)
    })
}

/// mutex, raw: `tokio::sync::Mutex<u64>` (the type gokio re-exports), the
/// goroutines joined by awaiting their `JoinHandle`s.
pub fn mutex_raw(rt: &Runtime, scale: f64) -> Measurement {
    let per = count(PER_CONTENDER, scale, 1);
    let n = per * CONTENDERS;
    main_raw(rt, async move {
        let start = Instant::now();
        let counter = Arc::new(tokio::sync::Mutex::new(0u64));
        let handles: Vec<_> = (0..CONTENDERS)
            .map(|_| {
                let counter = counter.clone();
                tokio::spawn(async move {
                    for _ in 0..per {
                        *counter.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("contender");
        }
        assert_eq!(black_box(*counter.lock().await), n);
        Measurement::per_op(start.elapsed(), n)
    })
}

/// pool-patterns, gokio: a `gokio_patterns::WorkerPool` of 8 over the same
/// tiny jobs as `pool`, with the same results capacity (128; the default is
/// the worker count).
pub fn pool_patterns(rt: &Runtime, scale: f64) -> Measurement {
    let n = count(POOL_N, scale, 1);
    main_gokio(rt, async move {
        let start = Instant::now();
        let jobs = gokio::chan::<u64>(CAP);
        let jobs_tx = jobs.sender();
        let results = gokio_patterns::WorkerPool::new(POOL_WORKERS as usize)
            .results_capacity(CAP)
            .run(jobs.receiver(), |x| async move { x * 2 })
            .into_results();
        drop(jobs);
        gokio::go(async move {
            for i in 0..n {
                jobs_tx.send(i).await.expect("workers are alive");
            }
        });
        let mut sum = 0u64;
        while let Some(v) = results.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), 2 * sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}

/// fanin-patterns, gokio: `gokio_patterns::fan_in_buffered` of the same 8
/// producers as `fanin`, with the same output capacity (Go's program uses a
/// buffered `merged` too).
pub fn fanin_patterns(rt: &Runtime, scale: f64) -> Measurement {
    let (per, n) = split(FANIN_N, scale, FANIN_PRODUCERS);
    main_gokio(rt, async move {
        let start = Instant::now();
        let inputs: Vec<gokio::Receiver<u64>> = (0..FANIN_PRODUCERS)
            .map(|p| {
                gokio_patterns::generate(CAP, move |tx| async move {
                    for i in p * per..(p + 1) * per {
                        tx.send(i).await.expect("the merger is alive");
                    }
                })
            })
            .collect();
        let out = gokio_patterns::fan_in_buffered(CAP, inputs);
        let mut sum = 0u64;
        while let Some(v) = out.recv().await {
            sum += v;
        }
        assert_eq!(black_box(sum), sum_to(n));
        Measurement::per_op(start.elapsed(), n)
    })
}
