//! One producer, one consumer: 100,000 `u64`s through a channel of capacity
//! 128, on a two-worker multi-threaded Tokio runtime.
//!
//! Compares a gokio buffered channel with the raw `async_channel::bounded`
//! it is built on, so the difference is gokio's own cost (closing rules,
//! select readiness signals, cooperative budget). The Go counterpart is
//! `make(chan uint64, 128)` with one sending and one receiving goroutine.
//!
//! Run with `cargo bench -p gokio-benches --bench chan_spsc`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::runtime::Runtime;

/// Values sent per iteration.
const MESSAGES: u64 = 100_000;
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

/// Producer and consumer are both spawned, so both run on the workers.
async fn gokio_spsc() -> u64 {
    let ch = gokio::chan::<u64>(CAP);
    let tx = ch.sender();
    let rx = ch.receiver();
    // Only the producer's handle can send now, so the channel closes when
    // the producer finishes.
    drop(ch);
    let producer = tokio::spawn(async move {
        for i in 0..MESSAGES {
            tx.send(i).await.expect("the consumer is alive");
        }
    });
    let consumer = tokio::spawn(async move {
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    producer.await.expect("producer");
    consumer.await.expect("consumer")
}

/// The same workload on the raw `async_channel::bounded`.
async fn async_channel_spsc() -> u64 {
    let (tx, rx) = async_channel::bounded::<u64>(CAP);
    let producer = tokio::spawn(async move {
        for i in 0..MESSAGES {
            tx.send(i).await.expect("the consumer is alive");
        }
    });
    let consumer = tokio::spawn(async move {
        let mut sum = 0;
        while let Ok(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    producer.await.expect("producer");
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

fn chan_spsc(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("chan_spsc");
    group.throughput(Throughput::Elements(MESSAGES));
    group.sample_size(20);
    group.bench_function("gokio", |b| {
        b.iter_custom(|iters| time_on(&rt, iters, gokio_spsc))
    });
    group.bench_function("async_channel", |b| {
        b.iter_custom(|iters| time_on(&rt, iters, async_channel_spsc))
    });
    group.finish();
}

criterion_group!(benches, chan_spsc);
criterion_main!(benches);
