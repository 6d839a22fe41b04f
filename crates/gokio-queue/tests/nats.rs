//! The NATS JetStream backend against a real nats-server (see
//! `common/mod.rs` for where the server comes from; without one these
//! tests skip).
//!
//! Ack waits are about a second so that redelivery tests stay fast; a test
//! whose outcome must not depend on the ack wait uses 30 seconds.

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use gokio_queue::{
    durable_worker_pool, nats, DeadLetter, Error, Job, Options, Receiver, Submitted,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Task {
    n: u32,
}

/// Generous: only a broken queue takes this long.
const WITHIN: Duration = Duration::from_secs(20);

const LONG_ACK_WAIT: Duration = Duration::from_secs(30);

/// A client and a fresh queue; `None` when there is no server (skip).
async fn setup(test: &str) -> Option<(nats::Client, String)> {
    let url = common::server()?;
    let client = nats::connect(&url)
        .await
        .expect("connect to the test server");
    Some((client, common::unique_queue(test)))
}

async fn recv<J>(jobs: &Receiver<Job<J>>) -> Job<J> {
    tokio::time::timeout(WITHIN, jobs.recv())
        .await
        .expect("a job within the timeout")
        .expect("the consumer is running")
}

/// The next job, after checking that it is delivery `count` of job `id`.
async fn recv_delivery<J>(jobs: &Receiver<Job<J>>, id: &str, count: u32) -> Job<J> {
    let job = recv(jobs).await;
    assert_eq!((job.id(), job.delivery_count()), (id, count));
    job
}

/// Polls `check` until it holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WITHIN;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn backlog(client: &nats::Client, queue: &str) -> (u64, u64) {
    let b = nats::backlog(client, queue).await.unwrap();
    (b.waiting, b.in_flight)
}

async fn dead(client: &nats::Client, queue: &str) -> Vec<DeadLetter> {
    nats::dead_letters(client, queue).await.unwrap()
}

/// The server's count of redelivered messages of the queue's consumer.
async fn num_redelivered(client: &nats::Client, queue: &str) -> usize {
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream(format!("GOKIO_{queue}")).await.unwrap();
    let info = stream
        .consumer_info(format!("gokio-{queue}"))
        .await
        .unwrap();
    info.num_redelivered
}

/// Declares `queue`, submits `jobs` (each an id and its task's number) in
/// order, and starts a consumer of it with `opts`.
async fn submit_then_consume<I: Into<String>>(
    client: &nats::Client,
    queue: &str,
    opts: &Options,
    jobs: impl IntoIterator<Item = (I, u32)>,
) -> Receiver<Job<Task>> {
    let producer = nats::producer::<Task>(client, queue, opts).await.unwrap();
    for (id, n) in jobs {
        producer.submit(id, &Task { n }).await.unwrap();
    }
    nats::consume(client, queue, opts.clone()).await.unwrap()
}

/// The queue's only dead letter, once there is one, after checking its id,
/// its deliveries and that its reason contains `reason`.
async fn only_dead_letter(
    client: &nats::Client,
    queue: &str,
    id: &str,
    deliveries: u32,
    reason: &str,
) -> DeadLetter {
    eventually("a dead letter", || async {
        !dead(client, queue).await.is_empty()
    })
    .await;
    let mut letters = dead(client, queue).await;
    assert_eq!(letters.len(), 1);
    let letter = letters.remove(0);
    assert_eq!((letter.id.as_str(), letter.deliveries), (id, deliveries));
    assert!(letter.reason.contains(reason), "{}", letter.reason);
    letter
}

/// Drops what the test still holds (stopping its consumers), then deletes
/// the queue.
/// Waits until the queue holds nothing, waiting or in flight.
async fn drained(client: &nats::Client, queue: &str) {
    eventually("the queue drains", || async {
        backlog(client, queue).await == (0, 0)
    })
    .await;
}

async fn teardown<T>(client: &nats::Client, queue: &str, held: T) {
    drop(held);
    nats::delete_queue(client, queue).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_consume_ack_empties_the_queue() {
    let Some((client, queue)) = setup("ack").await else {
        return;
    };
    let opts = Options::new().confirm_acks(true);
    let producer = nats::producer::<Task>(&client, &queue, &opts)
        .await
        .unwrap();
    assert_eq!(
        producer.submit("t1", &Task { n: 7 }).await.unwrap(),
        Submitted::Queued
    );
    assert_eq!(backlog(&client, &queue).await, (1, 0));

    let jobs = nats::consume::<Task>(&client, &queue, opts.clone())
        .await
        .unwrap();
    let job = recv(&jobs).await;
    assert_eq!(
        (job.id(), job.payload(), job.delivery_count()),
        ("t1", &Task { n: 7 }, 1)
    );
    assert_eq!(job.queue(), queue);
    assert_eq!(backlog(&client, &queue).await, (0, 1));
    job.ack().await.unwrap();
    assert_eq!(backlog(&client, &queue).await, (0, 0));
    let stats = opts.counters().stats();
    assert_eq!((stats.delivered, stats.acked), (1, 1));

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resubmit_within_the_dedup_window_is_a_duplicate() {
    let Some((client, queue)) = setup("dedup").await else {
        return;
    };
    let opts = Options::new().confirm_acks(true);
    let producer = nats::producer::<Task>(&client, &queue, &opts)
        .await
        .unwrap();
    assert_eq!(
        producer.submit("same", &Task { n: 1 }).await.unwrap(),
        Submitted::Queued
    );
    assert_eq!(
        producer.submit("same", &Task { n: 2 }).await.unwrap(),
        Submitted::Duplicate
    );
    assert_eq!(backlog(&client, &queue).await, (1, 0), "one job stored");

    let jobs = nats::consume::<Task>(&client, &queue, opts).await.unwrap();
    let job = recv(&jobs).await;
    assert_eq!(job.payload(), &Task { n: 1 });
    job.ack().await.unwrap();
    assert_eq!(backlog(&client, &queue).await, (0, 0));

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nak_redelivers() {
    let Some((client, queue)) = setup("nak").await else {
        return;
    };
    // A long ack wait: the redelivery below must come from the nak.
    let opts = Options::new().ack_wait(LONG_ACK_WAIT).confirm_acks(true);
    let jobs = submit_then_consume(&client, &queue, &opts, [("n1", 1)]).await;

    let first = recv(&jobs).await;
    assert_eq!(first.delivery_count(), 1);
    first.nak(Duration::ZERO).await.unwrap();
    let second = recv_delivery(&jobs, "n1", 2).await;
    second.ack().await.unwrap();
    let stats = opts.counters().stats();
    assert_eq!(
        (
            stats.delivered,
            stats.redelivered,
            stats.nacked,
            stats.acked
        ),
        (2, 1, 1, 1)
    );

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_job_is_redelivered_at_once() {
    let Some((client, queue)) = setup("drop").await else {
        return;
    };
    let opts = Options::new().ack_wait(LONG_ACK_WAIT);
    let jobs = submit_then_consume(&client, &queue, &opts, [("d1", 1)]).await;

    drop(recv(&jobs).await); // a worker that panicked
    let again = recv_delivery(&jobs, "d1", 2).await;
    again.ack().await.unwrap();
    assert_eq!(opts.counters().stats().nacked, 1);

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_ack_wait_redelivers_to_another_consumer() {
    let Some((client, queue)) = setup("expire").await else {
        return;
    };
    let opts = Options::new().ack_wait(Duration::from_secs(1)).prefetch(1);
    let a = submit_then_consume(&client, &queue, &opts, [("e1", 1)]).await;

    // A hung worker: it holds the job (and consumer a's only permit) and
    // never settles it.
    let hung = recv(&a).await;
    let b = nats::consume::<Task>(
        &client,
        &queue,
        Options::new().ack_wait(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    let again = recv_delivery(&b, "e1", 2).await;
    again.ack().await.unwrap();

    teardown(&client, &queue, (hung, a, b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keep_alive_holds_a_long_job() {
    let Some((client, queue)) = setup("alive").await else {
        return;
    };
    let ack_wait = Duration::from_secs(1);
    // Prefetch 2: a redelivery would have a free permit to arrive on.
    let opts = Options::new()
        .ack_wait(ack_wait)
        .prefetch(2)
        .confirm_acks(true);
    let jobs = submit_then_consume(&client, &queue, &opts, [("long", 1)]).await;

    let job = recv(&jobs).await;
    let heartbeat = job.keep_alive();
    tokio::time::sleep(ack_wait * 7 / 2).await; // the long job
    drop(heartbeat);
    assert!(
        jobs.try_recv().is_err(),
        "no redelivery reached the consumer"
    );
    assert_eq!(
        num_redelivered(&client, &queue).await,
        0,
        "the server redelivered nothing"
    );
    job.ack().await.unwrap();
    assert_eq!(backlog(&client, &queue).await, (0, 0));
    assert_eq!(opts.counters().stats().redelivered, 0);

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_waiting_in_the_hand_off_is_not_redelivered() {
    let Some((client, queue)) = setup("handoff").await else {
        return;
    };
    let ack_wait = Duration::from_secs(1);
    let opts = Options::new().ack_wait(ack_wait).prefetch(2);
    let jobs = submit_then_consume(&client, &queue, &opts, [("busy", 1), ("next", 2)]).await;

    // The only worker is busy with the first job for 3.5 ack waits; the
    // second job, delivered to the consumer at the start, waits in the
    // hand-off all that time.
    let busy = recv(&jobs).await;
    let heartbeat = busy.keep_alive();
    eventually("both jobs delivered to the consumer", || async {
        backlog(&client, &queue).await == (0, 2)
    })
    .await;
    tokio::time::sleep(ack_wait * 7 / 2).await;
    drop(heartbeat);
    busy.ack().await.unwrap();
    let next = recv_delivery(&jobs, "next", 1).await;
    assert_eq!(
        num_redelivered(&client, &queue).await,
        0,
        "the consumer kept the waiting job alive"
    );
    next.ack().await.unwrap();

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_on_every_delivery_ends_in_the_dead_letter_queue() {
    let Some((client, queue)) = setup("retry").await else {
        return;
    };
    let opts = Options::new()
        .ack_wait(LONG_ACK_WAIT)
        .max_deliver(3)
        .retry_backoff(Duration::from_millis(10));
    let jobs = submit_then_consume(&client, &queue, &opts, [("r1", 5)]).await;

    for delivery in 1..=3 {
        let job = recv(&jobs).await;
        assert_eq!(job.delivery_count(), delivery);
        assert_eq!(job.is_last_attempt(), delivery == 3);
        job.retry(format!("boom {delivery}")).await.unwrap();
    }
    let letter = only_dead_letter(&client, &queue, "r1", 3, "last delivery (3 of 3): boom 3").await;
    assert_eq!(letter.payload_as::<Task>().unwrap(), Task { n: 5 });
    // Removed from the queue: nothing waits, nothing is in flight.
    assert_eq!(backlog(&client, &queue).await, (0, 0));
    assert!(jobs.try_recv().is_err());
    let stats = opts.counters().stats();
    assert_eq!(
        (stats.delivered, stats.nacked, stats.dead_lettered),
        (3, 2, 1)
    );

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_never_settled_on_its_last_delivery_is_dead_lettered() {
    let Some((client, queue)) = setup("hung").await else {
        return;
    };
    let opts = Options::new()
        .ack_wait(Duration::from_secs(1))
        .max_deliver(2)
        .prefetch(4);
    let jobs = submit_then_consume(&client, &queue, &opts, [("h1", 9)]).await;

    // A worker that hangs on both deliveries: no handler ever reports the
    // last one failed. The server delivers it a third time, and the
    // consumer gives up on it instead of handing it out.
    let first = recv(&jobs).await;
    let last = recv(&jobs).await;
    assert_eq!((last.delivery_count(), last.is_last_attempt()), (2, true));
    only_dead_letter(
        &client,
        &queue,
        "h1",
        2,
        "not settled on its last delivery (2 of 2)",
    )
    .await;
    drained(&client, &queue).await;
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream(format!("GOKIO_{queue}")).await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        0,
        "deleted from the stream"
    );

    teardown(&client, &queue, (first, last, jobs)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_undecodable_payload_is_dead_lettered_and_nothing_hangs() {
    let Some((client, queue)) = setup("undecodable").await else {
        return;
    };
    // Prefetch 1: the next job arrives only if the bad one gave its permit
    // back.
    let opts = Options::new().prefetch(1).confirm_acks(true);
    let producer = nats::producer::<Task>(&client, &queue, &opts)
        .await
        .unwrap();
    producer
        .submit_raw("bad", b"not json".to_vec())
        .await
        .unwrap();
    producer.submit("good", &Task { n: 2 }).await.unwrap();
    let jobs = nats::consume::<Task>(&client, &queue, opts.clone())
        .await
        .unwrap();

    let job = recv(&jobs).await;
    assert_eq!(job.id(), "good");
    job.ack().await.unwrap();
    let letter = only_dead_letter(&client, &queue, "bad", 1, "does not decode").await;
    assert_eq!(letter.payload, b"not json");
    assert_eq!(backlog(&client, &queue).await, (0, 0));
    assert_eq!(opts.counters().stats().dead_lettered, 1);

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replayed_dead_letters_are_delivered_again() {
    let Some((client, queue)) = setup("replay").await else {
        return;
    };
    let opts = Options::new().confirm_acks(true);
    let jobs = submit_then_consume(&client, &queue, &opts, [("p1", 3)]).await;

    recv(&jobs).await.dead_letter("bad input").await.unwrap();
    assert_eq!(dead(&client, &queue).await[0].reason, "bad input");
    assert_eq!(nats::replay_dead_letters(&client, &queue).await.unwrap(), 1);
    assert!(dead(&client, &queue).await.is_empty());
    let job = recv(&jobs).await;
    assert_eq!(
        (job.id(), job.payload(), job.delivery_count()),
        ("p1", &Task { n: 3 }, 1)
    );
    job.ack().await.unwrap();
    assert_eq!(nats::replay_dead_letters(&client, &queue).await.unwrap(), 0);
    assert_eq!(backlog(&client, &queue).await, (0, 0));

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prefetch_bounds_the_jobs_in_flight() {
    let Some((client, queue)) = setup("prefetch").await else {
        return;
    };
    let opts = Options::new().prefetch(2).ack_wait(LONG_ACK_WAIT);
    let five = (0..5).map(|n| (format!("j{n}"), n));
    let jobs = submit_then_consume(&client, &queue, &opts, five).await;

    let slow = [recv(&jobs).await, recv(&jobs).await];
    eventually("two jobs in flight, three waiting", || async {
        backlog(&client, &queue).await == (3, 2)
    })
    .await;
    // Without the bound, the consumer would pull the waiting jobs too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(backlog(&client, &queue).await, (3, 2));
    assert!(jobs.try_recv().is_err());

    let mut seen: HashSet<String> = slow.iter().map(|j| j.id().to_owned()).collect();
    for job in slow {
        job.ack().await.unwrap();
    }
    for _ in 0..3 {
        let job = recv(&jobs).await;
        seen.insert(job.id().to_owned());
        job.ack().await.unwrap();
    }
    assert_eq!(seen.len(), 5);

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_consumer_does_not_spin() {
    let Some((client, queue)) = setup("idle").await else {
        return;
    };
    // Pull requests are plain NATS messages on this subject, so a core
    // subscriber sees each one.
    let mut requests = client
        .subscribe(format!(
            "$JS.API.CONSUMER.MSG.NEXT.GOKIO_{queue}.gokio-{queue}"
        ))
        .await
        .unwrap();
    let jobs = nats::consume::<Task>(&client, &queue, Options::new())
        .await
        .unwrap();
    let mut count = 0;
    let window = tokio::time::sleep(Duration::from_secs(3));
    tokio::pin!(window);
    loop {
        tokio::select! {
            () = &mut window => break,
            Some(_) = requests.next() => count += 1,
        }
    }
    assert!((1..=2).contains(&count), "{count} pull requests in 3 s");

    teardown(&client, &queue, jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_closes_the_receiver() {
    let Some((client, queue)) = setup("cancel").await else {
        return;
    };
    let cancel = CancellationToken::new();
    let opts = Options::new()
        .ack_wait(LONG_ACK_WAIT)
        .cancel(cancel.clone());
    let jobs = submit_then_consume(&client, &queue, &opts, [("c1", 1), ("c2", 2)]).await;

    let job = recv(&jobs).await;
    cancel.cancel();
    let closed = tokio::time::timeout(WITHIN, jobs.recv())
        .await
        .expect("the receiver closes");
    assert!(closed.is_none());
    // The job delivered before the cancel is still valid.
    job.ack().await.unwrap();

    teardown(&client, &queue, jobs).await;
}

#[tokio::test]
async fn connect_to_nothing_fails_fast_naming_the_url() {
    let started = Instant::now();
    let err = nats::connect("nats://127.0.0.1:1").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("nats://127.0.0.1:1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn durable_worker_pool_processes_every_job() {
    let Some((client, queue)) = setup("pool").await else {
        return;
    };
    const JOBS: u32 = 200;
    let cancel = CancellationToken::new();
    let opts = Options::new()
        .prefetch(8)
        .ack_wait(LONG_ACK_WAIT)
        .retry_backoff(Duration::from_millis(10))
        .cancel(cancel.clone());
    let all = (0..JOBS).map(|n| (format!("job-{n}"), n));
    let jobs = submit_then_consume(&client, &queue, &opts, all).await;

    // Every tenth job fails its first delivery.
    let failed_once = Arc::new(Mutex::new(HashSet::new()));
    let results = durable_worker_pool(8, jobs, move |task: Task| {
        let failed_once = Arc::clone(&failed_once);
        async move {
            if task.n % 10 == 0 && failed_once.lock().unwrap().insert(task.n) {
                return Err(format!("flaky {}", task.n));
            }
            Ok(task.n)
        }
    });
    let mut done = HashSet::new();
    let mut errors = 0;
    while done.len() < JOBS as usize {
        match tokio::time::timeout(WITHIN, results.recv())
            .await
            .expect("progress")
        {
            Some(Ok(n)) => assert!(done.insert(n), "job {n} done twice"),
            Some(Err(_)) => errors += 1,
            None => panic!("results closed early"),
        }
    }
    cancel.cancel();
    let after = tokio::time::timeout(WITHIN, results.recv())
        .await
        .expect("the pool ends");
    assert!(
        after.is_none(),
        "a result after every job was done: {after:?}"
    );
    assert_eq!(errors, JOBS / 10);
    let stats = opts.counters().stats();
    assert_eq!(stats.acked, u64::from(JOBS));
    assert_eq!(stats.nacked, u64::from(JOBS / 10));
    assert_eq!(
        stats.delivered,
        stats.acked + stats.nacked + stats.terminated + stats.dead_lettered
    );
    drained(&client, &queue).await;

    teardown(&client, &queue, results).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn durable_worker_pool_dead_letters_a_job_that_always_fails() {
    let Some((client, queue)) = setup("always-fails").await else {
        return;
    };
    let opts = Options::new()
        .prefetch(2)
        .max_deliver(3)
        .retry_backoff(Duration::from_millis(20))
        .ack_wait(Duration::from_secs(5));
    let jobs = submit_then_consume(&client, &queue, &opts, [("bad", 7)]).await;
    let results = durable_worker_pool(2, jobs, |task: Task| async move {
        Err::<(), _>(format!("task {} cannot be done", task.n))
    });

    // One failure per delivery, then the job is given up on.
    for _ in 0..3 {
        let failed = tokio::time::timeout(WITHIN, results.recv())
            .await
            .expect("a result within the timeout")
            .expect("the pool is running");
        assert_eq!(failed, Err("task 7 cannot be done".to_string()));
    }
    only_dead_letter(
        &client,
        &queue,
        "bad",
        3,
        "failed on its last delivery (3 of 3): task 7 cannot be done",
    )
    .await;
    drained(&client, &queue).await;
    assert!(results.try_recv().is_err(), "no fourth delivery");
    let stats = opts.counters().stats();
    assert_eq!(
        (stats.delivered, stats.nacked, stats.dead_lettered),
        (3, 2, 1)
    );

    teardown(&client, &queue, results).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_receiver_gives_the_held_jobs_back() {
    let Some((client, queue)) = setup("receiver-drop").await else {
        return;
    };
    // The ack wait is long: only the consumer's nak brings the jobs back
    // quickly, but a job still on its way when the consumer stopped comes
    // back after it, so the test waits for every job whichever way.
    let opts = Options::new().prefetch(4).ack_wait(Duration::from_secs(3));
    let jobs =
        submit_then_consume(&client, &queue, &opts, (0..4).map(|n| (format!("j{n}"), n))).await;
    let first = recv(&jobs).await;
    eventually("all four jobs delivered to the consumer", || async {
        backlog(&client, &queue).await == (0, 4)
    })
    .await;
    // Three jobs wait in the consumer for a worker that never comes.
    drop(jobs);
    let first_id = first.id().to_owned();
    first.ack().await.unwrap();

    let again = nats::consume::<Task>(&client, &queue, opts.clone())
        .await
        .unwrap();
    let mut ids = HashSet::new();
    for _ in 0..3 {
        let job = recv(&again).await;
        assert!(job.delivery_count() >= 2, "{} came back", job.id());
        ids.insert(job.id().to_owned());
        job.ack().await.unwrap();
    }
    assert_eq!(ids.len(), 3, "each held job came back once");
    assert!(!ids.contains(&first_id), "the acked job stays done");

    teardown(&client, &queue, again).await;
}
