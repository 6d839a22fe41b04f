//! Every workload of issue 5 (except `park`, which measures memory, not
//! time), for both variants (`gokio` and `raw` tokio + async-channel), at a
//! small scale: `GOKIO_BENCH_SCALE`, default 0.05 here. The workloads are
//! documented in `gokio_benches` (`benches/src/lib.rs`); the full-size runs
//! are the `workload` binary's job.
//!
//! Each iteration runs one whole workload on a shared two-worker
//! (`GOMAXPROCS`) runtime; criterion reports time per whole run.
//!
//! Run with `cargo bench -p gokio-benches --bench workloads`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use gokio_benches::{runtime, scale_or, Variant, WORKLOADS};

/// Scale used when `GOKIO_BENCH_SCALE` is not set.
const DEFAULT_SCALE: f64 = 0.05;

fn workloads(c: &mut Criterion) {
    let rt = runtime();
    let scale = scale_or(DEFAULT_SCALE);
    for w in WORKLOADS.iter().filter(|w| w.name != "park") {
        let mut group = c.benchmark_group(w.name);
        group.sample_size(10);
        for variant in Variant::ALL {
            group.bench_function(variant.name(), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| w.run(variant, &rt, scale).elapsed)
                        .sum::<Duration>()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
