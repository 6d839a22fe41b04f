//! A first throughput figure for gokio channels, measured without criterion:
//! wall-clock time of a whole run, median of 5 interleaved runs per variant.
//!
//! - `spsc`: one producer goroutine sends N = 5,000,000 `u64`s through a
//!   capacity-128 channel to one consumer goroutine; one op = one message.
//!   Raw: `async_channel::bounded(128)`.
//! - `pingpong`: two goroutines, 500,000 round trips on capacity-0 channels
//!   `ping` and `pong`; one op = one round trip = 2 messages. async-channel
//!   has no capacity 0, so the raw side has two stand-ins:
//!   `raw-cap1` is `bounded(1)`, which is NOT a rendezvous (the sender does
//!   not wait for the receiver, only for room); `raw-ack` is a rendezvous:
//!   `bounded(1)` plus a `bounded(1)` acknowledgement channel, and the
//!   sender waits for the ack.
//!
//! Everything runs on a 2-worker multi-thread Tokio runtime; gokio tasks are
//! spawned with `gokio::go`, raw ones with `tokio::spawn`. Counts scale with
//! `GOKIO_N` (e.g. `GOKIO_N=0.01`); `GOKIO_BENCH=<substring>` runs only the
//! matching variants (e.g. `pingpong/gokio`, for profiling).
//!
//! Run: `cargo run --release --example throughput`. The real benchmark
//! harness is criterion, under `benches/`.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{bounded, Receiver, Sender};
use tokio::runtime::Runtime;

const RUNS: usize = 5;

async fn gokio_spsc(n: u64) {
    let ch = gokio::chan::<u64>(128);
    let (tx, rx) = (ch.sender(), ch.receiver());
    drop(ch); // the channel closes when the producer finishes
    let p = gokio::go(async move {
        for i in 0..n {
            tx.send(i).await.unwrap();
        }
    });
    let c = gokio::go(async move {
        let mut sum = 0u64;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    p.await.unwrap();
    assert_eq!(black_box(c.await.unwrap()), n * (n - 1) / 2);
}

async fn raw_spsc(n: u64) {
    let (tx, rx) = bounded::<u64>(128);
    let p = tokio::spawn(async move {
        for i in 0..n {
            tx.send(i).await.unwrap();
        }
    });
    let c = tokio::spawn(async move {
        let mut sum = 0u64;
        while let Ok(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    p.await.unwrap();
    assert_eq!(black_box(c.await.unwrap()), n * (n - 1) / 2);
}

async fn gokio_pingpong(n: u64) {
    let (ping, pong) = (gokio::chan::<u64>(0), gokio::chan::<u64>(0));
    let (ping_rx, pong_tx) = (ping.receiver(), pong.sender());
    let echo = gokio::go(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.unwrap();
        }
    });
    let player = gokio::go(async move {
        for i in 0..n {
            ping.send(i).await.unwrap();
            assert_eq!(pong.recv().await, Some(i));
        }
    }); // `ping` is dropped here: the channel closes and the echo ends
    player.await.unwrap();
    echo.await.unwrap();
}

/// One direction of a raw ping-pong: data, and (rendezvous stand-in) an ack.
struct Raw(
    Sender<u64>,
    Receiver<u64>,
    Option<(Sender<()>, Receiver<()>)>,
);

impl Raw {
    fn new(rendezvous: bool) -> Self {
        let (tx, rx) = bounded(1);
        Raw(tx, rx, rendezvous.then(|| bounded(1)))
    }
    async fn send(&self, v: u64) {
        self.0.send(v).await.unwrap();
        if let Some((_, ack)) = &self.2 {
            ack.recv().await.unwrap(); // wait until the receiver has it
        }
    }
    async fn recv(&self) -> u64 {
        let v = self.1.recv().await.unwrap();
        if let Some((ack, _)) = &self.2 {
            ack.send(()).await.unwrap();
        }
        v
    }
}

async fn raw_pingpong(n: u64, rendezvous: bool) {
    let ping = Arc::new((Raw::new(rendezvous), Raw::new(rendezvous)));
    let echo_side = ping.clone();
    let echo = tokio::spawn(async move {
        for _ in 0..n {
            let v = echo_side.0.recv().await;
            echo_side.1.send(v).await;
        }
    });
    let player = tokio::spawn(async move {
        for i in 0..n {
            ping.0.send(i).await;
            assert_eq!(ping.1.recv().await, i);
        }
    });
    player.await.unwrap();
    echo.await.unwrap();
}

/// A named variant: runs one whole workload of `n` ops on the runtime.
type Variant<'a> = (&'a str, Box<dyn Fn(&Runtime, u64) + 'a>);

fn variant<F: Future<Output = ()>>(name: &str, f: impl Fn(u64) -> F + 'static) -> Variant<'_> {
    (name, Box::new(move |rt: &Runtime, n| rt.block_on(f(n))))
}

/// Runs the variants interleaved `RUNS` times; prints medians and ratios
/// against the first (gokio) variant.
fn workload(rt: &Runtime, filter: &str, ops: u64, msgs_per_op: u64, variants: &[Variant<'_>]) {
    let variants: Vec<_> = variants.iter().filter(|v| v.0.contains(filter)).collect();
    let mut times = vec![Vec::<Duration>::new(); variants.len()];
    for _ in 0..RUNS {
        for (i, (_, f)) in variants.iter().enumerate() {
            let start = Instant::now();
            f(rt, ops);
            times[i].push(start.elapsed());
        }
    }
    let mut gokio_ns = None;
    for ((name, _), t) in variants.iter().zip(&mut times) {
        t.sort();
        let ns_op = t[RUNS / 2].as_nanos() as f64 / ops as f64;
        let msgs = msgs_per_op as f64 * 1e9 / ns_op;
        let ms: Vec<_> = t.iter().map(|d| d.as_millis()).collect();
        print!("{name:<18} {ns_op:>8.1} ns/op {msgs:>12.0} msg/s  runs(ms)={ms:?}");
        match gokio_ns {
            None if name.contains("gokio") => gokio_ns = Some(ns_op),
            Some(g) => print!("  gokio/raw ns/op = {:.2}x", g / ns_op),
            None => {}
        }
        println!();
    }
}

fn main() {
    let scale: f64 =
        std::env::var("GOKIO_N").map_or(1.0, |s| s.parse().expect("GOKIO_N: a number"));
    let filter = std::env::var("GOKIO_BENCH").unwrap_or_default();
    let count = |base: f64| ((base * scale) as u64).max(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let (spsc_n, pp_n) = (count(5e6), count(5e5));
    let spsc = [
        variant("spsc/gokio", gokio_spsc),
        variant("spsc/raw", raw_spsc),
    ];
    println!("spsc: {spsc_n} u64 through cap 128 (1 op = 1 msg), median of {RUNS}");
    workload(&rt, &filter, spsc_n, 1, &spsc);
    let pingpong = [
        variant("pingpong/gokio", gokio_pingpong),
        variant("pingpong/raw-cap1", |n| raw_pingpong(n, false)),
        variant("pingpong/raw-ack", |n| raw_pingpong(n, true)),
    ];
    println!(
        "pingpong: {pp_n} round trips on cap 0 (1 op = 1 round trip = 2 msgs), median of {RUNS}"
    );
    workload(&rt, &filter, pp_n, 2, &pingpong);
}
