//! At-least-once across processes: three worker processes share one
//! JetStream queue, one is killed with SIGKILL while it holds unacked jobs,
//! and the survivors get those jobs after the ack wait. Every job id is
//! counted: none may be lost; duplicates are allowed (at-least-once) and
//! reported.
//!
//! The worker processes are this test binary run again with
//! `KILL_TEST_QUEUE` set, running only `worker_process`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use gokio_queue::{nats, Options};

const JOBS: u32 = 200;
/// How long a job takes: long enough that a worker always holds started,
/// unfinished jobs when it is killed.
const JOB_TIME: Duration = Duration::from_millis(100);
const WORKERS_PER_PROCESS: usize = 4;
/// How many jobs the victim finishes before it hangs on every further job.
const VICTIM_FINISHES: usize = 10;
const ACK_WAIT: Duration = Duration::from_secs(1);

fn options() -> Options {
    Options::new()
        .prefetch(WORKERS_PER_PROCESS)
        .ack_wait(ACK_WAIT)
        .max_deliver(10)
}

/// What a worker process printed: `start <id>` or `done <id>` lines, then
/// the end of its output.
enum Line {
    Start(usize, u32),
    Done(usize, u32),
    Eof(usize),
}

fn spawn_worker(index: usize, url: &str, queue: &str, lines: mpsc::Sender<Line>) -> Child {
    let finishes = if index == 0 {
        VICTIM_FINISHES
    } else {
        usize::MAX
    };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILL_TEST_QUEUE", queue)
        .env("KILL_TEST_FINISHES", finishes.to_string())
        .env("GOKIO_NATS_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the test binary runs again as a worker");
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let parsed = match line.split_once(' ') {
                Some(("start", id)) => id.parse().ok().map(|id| Line::Start(index, id)),
                Some(("done", id)) => id.parse().ok().map(|id| Line::Done(index, id)),
                _ => None,
            };
            if let Some(line) = parsed {
                if lines.send(line).is_err() {
                    return;
                }
            }
        }
        let _ = lines.send(Line::Eof(index));
    });
    child
}

#[test]
fn kill_9_mid_batch_loses_nothing() {
    let Some(url) = common::server() else { return };
    let queue = common::unique_queue("kill");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = rt.block_on(async {
        let client = nats::connect(&url).await.unwrap();
        let producer = nats::producer::<u32>(&client, &queue, &options())
            .await
            .unwrap();
        for id in 0..JOBS {
            producer.submit(format!("{id}"), &id).await.unwrap();
        }
        client
    });

    let (tx, rx) = mpsc::channel();
    let mut workers: Vec<Child> = (0..3)
        .map(|i| spawn_worker(i, &url, &queue, tx.clone()))
        .collect();
    drop(tx);

    // Per worker: ids started and ids done (a job's side effect is its
    // `done` line, printed before its ack).
    let mut started: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    let mut done: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    let mut killed = false;
    let mut victim_ended = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    let all: BTreeSet<u32> = (0..JOBS).collect();
    let processed = |done: &BTreeMap<usize, Vec<u32>>| -> BTreeSet<u32> {
        done.values().flatten().copied().collect()
    };
    while !(victim_ended && processed(&done) == all) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "jobs never processed: {:?}",
                all.difference(&processed(&done))
            )
        });
        match line {
            Line::Start(w, id) => {
                started.entry(w).or_default().insert(id);
            }
            Line::Done(w, id) => done.entry(w).or_default().push(id),
            Line::Eof(0) => victim_ended = true,
            Line::Eof(w) => panic!("worker {w} ended early"),
        }
        // Worker 0 finishes VICTIM_FINISHES jobs, then hangs on every job it
        // starts: kill it once it holds one, started and never to be acked.
        let finished0 = done.get(&0).map_or(0, Vec::len);
        let started0 = started.get(&0).map_or(0, BTreeSet::len);
        if !killed && finished0 >= VICTIM_FINISHES && started0 > finished0 {
            workers[0].kill().unwrap(); // SIGKILL
            workers[0].wait().unwrap();
            killed = true;
        }
    }
    // Everything worker 0 printed has been read (its EOF came): what it
    // started and never finished was in its hands when it died.
    let finished: BTreeSet<u32> = done[&0].iter().copied().collect();
    let in_flight_at_kill: BTreeSet<u32> = started[&0].difference(&finished).copied().collect();
    assert!(
        !in_flight_at_kill.is_empty(),
        "worker 0 held no unfinished job when it was killed"
    );

    // Jobs worker 0 finished but never acked come back too: wait until the
    // queue is empty before stopping the survivors.
    rt.block_on(async {
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let backlog = nats::backlog(&client, &queue).await.unwrap();
            if (backlog.waiting, backlog.in_flight) == (0, 0) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "the queue never drained: {backlog:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // Let the survivors stop gracefully: closing stdin cancels them.
    for worker in &mut workers[1..] {
        drop(worker.stdin.take());
        let status = worker.wait().unwrap();
        assert!(status.success(), "a surviving worker failed: {status}");
    }
    // Everything printed meanwhile (redelivered jobs) counts too; the
    // channel ends when every worker's output has.
    for line in rx {
        if let Line::Done(w, id) = line {
            done.entry(w).or_default().push(id);
        }
    }

    let mut times: BTreeMap<u32, u32> = BTreeMap::new();
    for id in done.values().flatten() {
        *times.entry(*id).or_default() += 1;
    }
    let duplicates: u32 = times.values().map(|n| n - 1).sum();
    let survivors: BTreeSet<u32> = done
        .iter()
        .filter(|(w, _)| **w != 0)
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    eprintln!(
        "kill -9 accounting: submitted {JOBS}, processed {} distinct, {duplicates} duplicates, \
         {} in flight in the killed worker, all redelivered to the survivors",
        times.len(),
        in_flight_at_kill.len()
    );
    assert_eq!(times.len() as u32, JOBS, "a job was lost");
    for id in &in_flight_at_kill {
        assert!(
            survivors.contains(id),
            "job {id}, in flight when its worker was killed, was not redelivered"
        );
    }

    rt.block_on(nats::delete_queue(&client, &queue)).unwrap();
}

/// A worker process (only when run by `kill_9_mid_batch_loses_nothing`):
/// processes jobs until its stdin closes, printing `start <id>` and
/// `done <id>` for each; after `KILL_TEST_FINISHES` jobs it starts jobs
/// and never finishes them (the victim, waiting for its SIGKILL).
#[test]
fn worker_process() {
    let Ok(queue) = std::env::var("KILL_TEST_QUEUE") else {
        return;
    };
    let url = std::env::var("GOKIO_NATS_URL").unwrap();
    gokio::run(async move {
        let stop = tokio_util::sync::CancellationToken::new();
        let on_eof = stop.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            on_eof.cancel();
        });
        let client = nats::connect(&url).await.unwrap();
        let jobs = nats::consume::<u32>(&client, &queue, options().cancel(stop))
            .await
            .unwrap();
        let finishes: usize = std::env::var("KILL_TEST_FINISHES")
            .unwrap()
            .parse()
            .unwrap();
        let finished = Arc::new(AtomicUsize::new(0));
        let results = gokio_patterns::worker_pool(WORKERS_PER_PROCESS, jobs, move |job| {
            let finished = Arc::clone(&finished);
            async move {
                // SeqCst: a plain counter; the order among workers is free.
                let hang = finished.fetch_add(1, Ordering::SeqCst) >= finishes;
                println!("start {}", job.payload());
                if hang {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(JOB_TIME).await;
                println!("done {}", job.payload());
                job.ack().await
            }
        });
        while let Some(acked) = results.recv().await {
            acked.unwrap();
        }
        // Acks are published asynchronously: flush them before exiting.
        client.flush().await.unwrap();
    });
}
