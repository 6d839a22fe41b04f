//! The worker pool of `examples/worker_pool.rs`, scaled out: jobs live in a
//! NATS JetStream queue, and any number of worker processes, on any number
//! of machines, run the same `durable_worker_pool` over it. Kill a worker
//! with `kill -9` and its unfinished jobs go to the others after the ack
//! wait; a job that always fails is retried, then dead-lettered.
//!
//! ```text
//! distributed_pool produce <count>   submit jobs 0..count (ids "job-N")
//! distributed_pool work <name>       process jobs until Ctrl-C or stdin closes
//! distributed_pool report            dead letters and what the queue still holds
//! ```
//!
//! The server is `$NATS_URL` (default `nats://127.0.0.1:4222`); the
//! script `examples/distributed_pool.sh` starts one and runs the whole
//! story: a producer, three workers, one killed mid-batch, the accounting.

use std::time::Duration;

use gokio_queue::{durable_worker_pool, nats, Options};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

const QUEUE: &str = "distributed-pool";
const WORKERS: usize = 4;

/// A job: a number to square, slowly. Every 97th one is poison.
#[derive(Clone, Serialize, Deserialize)]
struct Square {
    n: u64,
}

fn options() -> Options {
    Options::new()
        .prefetch(WORKERS) // no job waits on its ack-wait clock for a busy worker
        .ack_wait(Duration::from_secs(2))
        .max_deliver(3)
        .retry_backoff(Duration::from_millis(100))
}

async fn work(job: Square) -> Result<u64, String> {
    gokio::sleep(Duration::from_millis(5)).await;
    if job.n % 97 == 96 {
        return Err(format!("{} is poison", job.n));
    }
    Ok(job.n * job.n)
}

#[gokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let client = nats::connect(&url).await?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["produce", count] => {
            let producer = nats::producer::<Square>(&client, QUEUE, &options()).await?;
            let count: u64 = count.parse()?;
            for n in 0..count {
                producer.submit(format!("job-{n}"), &Square { n }).await?;
            }
            println!("submitted {count}");
        }
        ["work", name] => {
            // Graceful stop on Ctrl-C or when stdin closes: stop pulling,
            // finish the jobs in hand, exit.
            let stop = CancellationToken::new();
            let on_signal = stop.clone();
            gokio::go(async move {
                let _ = tokio::signal::ctrl_c().await;
                on_signal.cancel();
            });
            let on_eof = stop.clone();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                on_eof.cancel();
            });
            let opts = options().cancel(stop);
            let counters = opts.counters();
            let jobs = nats::consume::<Square>(&client, QUEUE, opts).await?;
            // Report a job as processed before it is acked, as a real
            // side effect would happen: a worker killed in between makes a
            // duplicate (at-least-once), never a silent loss.
            let me = name.to_string();
            let results = durable_worker_pool(WORKERS, jobs, move |job: Square| {
                let me = me.clone();
                async move {
                    let n = job.n;
                    let square = work(job).await?;
                    println!("processed {n} by {me}");
                    Ok::<_, String>(square)
                }
            });
            while let Some(result) = results.recv().await {
                if let Err(err) = result {
                    println!("failed: {err}");
                }
            }
            client.flush().await?;
            eprintln!("{name} stopped: {:?}", counters.stats());
        }
        ["report"] => {
            let dead = nats::dead_letters(&client, QUEUE).await?;
            for letter in &dead {
                println!("dead letter {}: {}", letter.id, letter.reason);
            }
            let backlog = nats::backlog(&client, QUEUE).await?;
            println!(
                "dead-lettered {}, waiting {}, in flight {}",
                dead.len(),
                backlog.waiting,
                backlog.in_flight
            );
        }
        _ => return Err("usage: distributed_pool produce <count> | work <name> | report".into()),
    }
    Ok(())
}
