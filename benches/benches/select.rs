//! Fan-in through select: four producers, each sending on its own channel of
//! capacity 128, and one consumer selecting over the four receivers until
//! all are closed, 200,000 `u64`s in all, on a two-worker multi-threaded
//! Tokio runtime.
//!
//! - `gokio_select`: `gokio::select!` over the four gokio receivers (a
//!   closed one becomes a nil case, `None`).
//! - `gokio_dynamic_select`: `gokio::Select` rebuilt over the receivers
//!   still open for each value (Go's `reflect.Select`).
//! - `tokio_select_async_channel`: what a Rust user would write without
//!   gokio: `tokio::select!` over `async_channel` receivers' `recv()`
//!   futures, a closed one disabled by its `if` guard.
//! - `tokio_select_gokio_recv`: `tokio::select!` over gokio's `recv()`
//!   futures (cancel-safe, so this is correct too), to separate the cost of
//!   gokio's select engine from that of its channels.
//!
//! The Go counterpart is four `make(chan uint64, 128)` and a `for` loop
//! around a four-case `select`, setting a channel to nil once it is closed.
//!
//! Run with `cargo bench -p gokio-benches --bench select`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::runtime::Runtime;

/// Values received per iteration, over all producers.
const MESSAGES: u64 = 200_000;
/// Producers, each with its own channel.
const PRODUCERS: u64 = 4;
/// Values per producer.
const PER_PRODUCER: u64 = MESSAGES / PRODUCERS;
/// Channel capacity.
const CAP: usize = 128;
/// The sum of `0..MESSAGES`, checked so the work cannot be optimized away.
const EXPECTED_SUM: u64 = MESSAGES * (MESSAGES - 1) / 2;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

/// Spawns the producers on gokio channels; returns the receivers. Each
/// channel closes when its producer finishes (its only sending handle).
fn gokio_producers() -> Vec<gokio::Receiver<u64>> {
    (0..PRODUCERS)
        .map(|p| {
            let ch = gokio::chan::<u64>(CAP);
            let tx = ch.sender();
            let rx = ch.receiver();
            drop(ch);
            tokio::spawn(async move {
                for i in p * PER_PRODUCER..(p + 1) * PER_PRODUCER {
                    tx.send(i).await.expect("the consumer is alive");
                }
            });
            rx
        })
        .collect()
}

/// `gokio::select!` over four receivers; a closed one becomes a nil case.
async fn gokio_select() -> u64 {
    let rxs = gokio_producers();
    let consumer = tokio::spawn(async move {
        let mut open = [true; 4];
        let mut left = 4;
        let mut sum = 0;
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
        sum
    });
    consumer.await.expect("consumer")
}

/// `gokio::Select` over the receivers still open, rebuilt for each value.
async fn gokio_dynamic_select() -> u64 {
    let mut live = gokio_producers();
    let consumer = tokio::spawn(async move {
        let mut sum = 0;
        while !live.is_empty() {
            let mut sel = gokio::Select::new();
            for rx in &live {
                sel = sel.recv(rx);
            }
            match sel.await {
                gokio::Selected::Recv { value: Some(v), .. } => sum += v,
                gokio::Selected::Recv { index, value: None } => {
                    live.swap_remove(index);
                }
                gokio::Selected::Send { .. } => unreachable!("no send case"),
            }
        }
        sum
    });
    consumer.await.expect("consumer")
}

/// `tokio::select!` over gokio's cancel-safe `recv()` futures.
async fn tokio_select_gokio_recv() -> u64 {
    let rxs = gokio_producers();
    let consumer = tokio::spawn(async move {
        let [a, b, c, d] = &rxs[..] else {
            unreachable!("four receivers")
        };
        let mut open = [true; 4];
        let mut sum = 0;
        loop {
            let (i, v) = tokio::select! {
                v = a.recv(), if open[0] => (0, v),
                v = b.recv(), if open[1] => (1, v),
                v = c.recv(), if open[2] => (2, v),
                v = d.recv(), if open[3] => (3, v),
                else => break,
            };
            match v {
                Some(v) => sum += v,
                None => open[i] = false,
            }
        }
        sum
    });
    consumer.await.expect("consumer")
}

/// The same fan-in without gokio: `tokio::select!` over `async_channel`.
async fn tokio_select_async_channel() -> u64 {
    let rxs: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (tx, rx) = async_channel::bounded::<u64>(CAP);
            tokio::spawn(async move {
                for i in p * PER_PRODUCER..(p + 1) * PER_PRODUCER {
                    tx.send(i).await.expect("the consumer is alive");
                }
            });
            rx
        })
        .collect();
    let consumer = tokio::spawn(async move {
        let [a, b, c, d] = &rxs[..] else {
            unreachable!("four receivers")
        };
        let mut open = [true; 4];
        let mut sum = 0;
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
        sum
    });
    consumer.await.expect("consumer")
}

/// Times `iters` runs of `workload` on `rt`, excluding runtime start-up.
fn time_on<Fut>(rt: &Runtime, iters: u64, workload: fn() -> Fut) -> Duration
where
    Fut: std::future::Future<Output = u64>,
{
    let start = Instant::now();
    for _ in 0..iters {
        let sum = rt.block_on(workload());
        assert_eq!(sum, EXPECTED_SUM);
    }
    start.elapsed()
}

fn select_fan_in(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("select_fan_in");
    group.throughput(Throughput::Elements(MESSAGES));
    group.sample_size(20);
    group.bench_function("gokio_select", |b| {
        b.iter_custom(|iters| time_on(&rt, iters, gokio_select))
    });
    group.bench_function("gokio_dynamic_select", |b| {
        b.iter_custom(|iters| time_on(&rt, iters, gokio_dynamic_select))
    });
    group.bench_function("tokio_select_async_channel", |b| {
        b.iter_custom(|iters| time_on(&rt, iters, tokio_select_async_channel))
    });
    group.bench_function("tokio_select_gokio_recv", |b| {
        b.iter_custom(|iters| time_on(&rt, iters, tokio_select_gokio_recv))
    });
    group.finish();
}

criterion_group!(benches, select_fan_in);
criterion_main!(benches);
