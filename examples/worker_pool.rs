//! The seed's worker pool (`004_48e1de2280589ec8.txt`, "工作池"), written with
//! `gokio_patterns` instead of by hand: 3 workers, 5 jobs, each result is
//! the job doubled.
//!
//! Compare `examples/seeds/seed004_worker_pool.rs`, the line-for-line Go
//! version: here `worker_pool` starts the workers, closes the results when
//! the jobs run out, and `worker_pool_ordered` gives the results back in
//! job order. Run with `cargo run --example worker_pool`.

use std::time::Duration;

use gokio_patterns::{generate, worker_pool, worker_pool_ordered};

/// The seed's `work`: takes a while, then doubles the job.
async fn work(job: i32) -> i32 {
    println!("start job {job}");
    gokio::sleep(Duration::from_millis(10 * (5 - job as u64))).await;
    println!("end job {job}");
    job * 2
}

#[gokio::main]
async fn main() {
    // Results as they complete (the seed's `for a := 1; a <= 5; a++ { <-results }`).
    let jobs = generate(0, |tx| async move {
        for i in 0..5 {
            tx.send(i).await.unwrap(); // jobs <- i
        }
    }); // close(jobs): when the generator returns
    let results = worker_pool(3, jobs, work);
    let mut got = Vec::new();
    while let Some(r) = results.recv().await {
        got.push(r);
    }
    got.sort_unstable();
    println!("results (sorted): {got:?}");

    // The same jobs, results in job order however long each one takes.
    let jobs = generate(0, |tx| async move {
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
    });
    let results = worker_pool_ordered(3, jobs, work);
    let mut ordered = Vec::new();
    while let Some(r) = results.recv().await {
        ordered.push(r);
    }
    println!("results (in job order): {ordered:?}");
}
