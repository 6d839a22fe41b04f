//! Jobs per second through a NATS JetStream queue (`gokio_queue::nats`)
//! with 1, 2 and 4 worker processes on loopback, for two ways of consuming:
//!
//! - `batched`: pull requests of up to 64 jobs (prefetch 64), acks
//!   published asynchronously (the defaults for a busy queue);
//! - `single`: one pull request per job (`batch(1)`), every ack confirmed
//!   by the server: a round trip per job each way, what a naive
//!   fetch-one/ack-one loop does.
//!
//! Each worker process runs `worker_pool(8, ..)` with an empty job body, so
//! the figure is the queue's own cost. The jobs (default 20,000) are
//! submitted before the workers start; the clock runs from the workers'
//! start until the server reports nothing waiting and nothing in flight.
//!
//! Usage: `queue_throughput <nats-url> [jobs]` (`benches/queue.sh` starts
//! a private server and runs it).

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gokio_queue::{nats, Options};

const WORKERS: usize = 8;

fn options(mode: &str) -> Options {
    let opts = Options::new()
        .prefetch(64)
        .ack_wait(Duration::from_secs(30))
        .dedup_window(Duration::from_secs(1));
    match mode {
        "single" => opts.batch(1).confirm_acks(true),
        _ => opts,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, url, queue, mode] if flag == "--worker" => worker(url, queue, mode),
        [url] => run(url, 20_000),
        [url, jobs] => run(url, jobs.parse().expect("jobs is a number")),
        _ => {
            eprintln!("usage: queue_throughput <nats-url> [jobs]");
            std::process::exit(2);
        }
    }
}

fn run(url: &str, jobs: u64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = rt.block_on(nats::connect(url)).unwrap_or_else(|err| {
        eprintln!("{err}");
        std::process::exit(1);
    });
    println!("| processes | batched pulls, async acks (jobs/s) | one pull per job, confirmed acks (jobs/s) |");
    println!("|---|---|---|");
    for procs in [1, 2, 4] {
        let mut row = format!("| {procs} |");
        for mode in ["batched", "single"] {
            let queue = format!("bench-{mode}-{procs}");
            rt.block_on(async {
                let _ = nats::delete_queue(&client, &queue).await;
                let producer = nats::producer::<u64>(&client, &queue, &options(mode))
                    .await
                    .unwrap();
                for n in 0..jobs {
                    producer.submit(n.to_string(), &n).await.unwrap();
                }
            });
            let start = Instant::now();
            let mut children: Vec<Child> = (0..procs)
                .map(|_| {
                    Command::new(std::env::current_exe().unwrap())
                        .args(["--worker", url, &queue, mode])
                        .stdin(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            rt.block_on(async {
                loop {
                    let backlog = nats::backlog(&client, &queue).await.unwrap();
                    if backlog.waiting == 0 && backlog.in_flight == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            let rate = jobs as f64 / start.elapsed().as_secs_f64();
            for child in &mut children {
                drop(child.stdin.take());
                child.wait().unwrap();
            }
            rt.block_on(nats::delete_queue(&client, &queue)).unwrap();
            row.push_str(&format!(" {rate:.0} |"));
        }
        println!("{row}");
        std::io::stdout().flush().unwrap();
    }
}

fn worker(url: &str, queue: &str, mode: &str) {
    let (url, queue, mode) = (url.to_owned(), queue.to_owned(), mode.to_owned());
    gokio::run(async move {
        let stop = tokio_util::sync::CancellationToken::new();
        let on_eof = stop.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            on_eof.cancel();
        });
        let client = nats::connect(&url).await.unwrap();
        let jobs = nats::consume::<u64>(&client, &queue, options(&mode).cancel(stop))
            .await
            .unwrap();
        let acks = gokio_patterns::worker_pool(WORKERS, jobs, |job| job.ack());
        while let Some(ack) = acks.recv().await {
            ack.unwrap();
        }
        client.flush().await.unwrap();
    });
}
