//! The cost of the goroutine registry and the deadlock watchdog's
//! bookkeeping: the same channel workloads under `gokio::run` (goroutines
//! started with `gokio::go`, so every poll and every wait is recorded) and
//! under a plain Tokio runtime as `#[tokio::main]` builds it (tasks started
//! with `tokio::spawn`, so nothing is recorded). Both have two workers.
//!
//! - `spsc`: 100,000 `u64`s through a channel of capacity 128.
//! - `pingpong`: 10,000 round trips over two capacity-0 channels (every
//!   operation waits, so every operation records its wait).
//!
//! Run with `cargo bench -p gokio-benches --bench runtime_overhead`.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MESSAGES: u64 = 100_000;
const ROUND_TRIPS: u64 = 10_000;
const CAP: usize = 128;

/// How a workload starts its concurrent parts.
#[derive(Clone, Copy)]
enum Spawner {
    Gokio,
    Tokio,
}

impl Spawner {
    fn spawn<F>(self, fut: F) -> impl Future<Output = F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = match self {
            Spawner::Gokio => Err(gokio::go(fut)),
            Spawner::Tokio => Ok(tokio::spawn(fut)),
        };
        async move {
            match handle {
                Ok(task) => task.await.expect("the task finishes"),
                Err(goroutine) => goroutine.await.expect("the goroutine finishes"),
            }
        }
    }
}

async fn spsc(spawner: Spawner) -> u64 {
    let ch = gokio::chan::<u64>(CAP);
    let (tx, rx) = (ch.sender(), ch.receiver());
    drop(ch);
    let producer = spawner.spawn(async move {
        for i in 0..MESSAGES {
            tx.send(i).await.expect("the consumer is alive");
        }
    });
    let consumer = spawner.spawn(async move {
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    producer.await;
    consumer.await
}

async fn pingpong(spawner: Spawner) -> u64 {
    let (ping, pong) = (gokio::chan::<u64>(0), gokio::chan::<u64>(0));
    // Directional handles, so that the ping channel closes when the pinger
    // is done and the echo ends (with `Chan` clones it would wait forever,
    // and the watchdog would rightly report the deadlock).
    let (ping_rx, pong_tx) = (ping.receiver(), pong.sender());
    let echo = spawner.spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v + 1).await.expect("the pinger is alive");
        }
    });
    let pinger = spawner.spawn(async move {
        let mut v = 0;
        for _ in 0..ROUND_TRIPS {
            ping.send(v).await.expect("the echo is alive");
            v = pong.recv().await.expect("the echo is alive");
        }
        v
    });
    let v = pinger.await;
    echo.await;
    v
}

/// Times `iters` runs of `work` as the main goroutine of `gokio::run`.
fn under_run<F, Fut>(iters: u64, work: F) -> Duration
where
    F: Fn(Spawner) -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send,
{
    gokio::runtime::Builder::new()
        .worker_threads(2)
        .run(async move {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(work(Spawner::Gokio).await);
            }
            start.elapsed()
        })
}

/// Times `iters` runs of `work` in a task of a plain two-worker runtime.
fn under_tokio<F, Fut>(iters: u64, work: F) -> Duration
where
    F: Fn(Spawner) -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(work(Spawner::Tokio).await);
            }
            start.elapsed()
        })
        .await
        .expect("the bench task finishes")
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("runtime_overhead/spsc");
    group.throughput(Throughput::Elements(MESSAGES));
    group.bench_function("gokio::run + go", |b| {
        b.iter_custom(|iters| under_run(iters, spsc))
    });
    group.bench_function("tokio runtime + tokio::spawn", |b| {
        b.iter_custom(|iters| under_tokio(iters, spsc))
    });
    group.finish();

    let mut group = c.benchmark_group("runtime_overhead/pingpong");
    group.throughput(Throughput::Elements(ROUND_TRIPS));
    group.bench_function("gokio::run + go", |b| {
        b.iter_custom(|iters| under_run(iters, pingpong))
    });
    group.bench_function("tokio runtime + tokio::spawn", |b| {
        b.iter_custom(|iters| under_tokio(iters, pingpong))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
