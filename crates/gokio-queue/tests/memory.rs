//! The in-memory backend: each delivery rule of the module docs, tested so
//! that it fails without the rule, plus a stress test that counts every job.
//!
//! Time is Tokio's paused clock (`start_paused`): a timer fires exactly
//! when virtual time reaches it, and the clock jumps forward only when
//! every task waits, so "not before the delay" and "after the ack wait"
//! are exact statements, not races. The stress test runs on real threads
//! and asserts only counts, never timings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gokio_queue::memory::Queue;
use gokio_queue::{durable_worker_pool, Error, Job, Options, Receiver, Submitted};
use serde::{Deserialize, Serialize};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Task {
    n: u32,
}

const ACK_WAIT: Duration = Duration::from_secs(10);

/// A queue whose timings are easy to reason about: ack wait 10 s, 3
/// deliveries, retries after 1 s, 2 s, ...
fn opts() -> Options {
    Options::new()
        .ack_wait(ACK_WAIT)
        .max_deliver(3)
        .retry_backoff(Duration::from_secs(1))
}

/// A queue holding a job per id, in order, the `n`th with task number `n`.
async fn queue_with(opts: &Options, ids: &[impl AsRef<str>]) -> Queue<Task> {
    let queue = Queue::new("test", opts).unwrap();
    let producer = queue.producer();
    for (n, id) in ids.iter().enumerate() {
        let submitted = producer
            .submit(id.as_ref(), &Task { n: n as u32 })
            .await
            .unwrap();
        assert_eq!(submitted, Submitted::Queued);
    }
    queue
}

/// A queue holding `ids` (see [`queue_with`]) and a consumer of it.
async fn queue_and_jobs(
    opts: &Options,
    ids: &[impl AsRef<str>],
) -> (Queue<Task>, Receiver<Job<Task>>) {
    let queue = queue_with(opts, ids).await;
    let jobs = queue.consume(opts.clone()).unwrap();
    (queue, jobs)
}

/// Like [`queue_and_jobs`], but the queue is closed first, so the receiver
/// closes once every job is settled.
async fn closed_queue_and_jobs(
    opts: &Options,
    ids: &[impl AsRef<str>],
) -> (Queue<Task>, Receiver<Job<Task>>) {
    let queue = queue_with(opts, ids).await;
    queue.close();
    let jobs = queue.consume(opts.clone()).unwrap();
    (queue, jobs)
}

/// The ids `job-0`, `job-1`, ... of `count` jobs.
fn job_ids(count: u32) -> Vec<String> {
    (0..count).map(|n| format!("job-{n}")).collect()
}

/// The queue's backlog as `(waiting, in_flight)`.
fn backlog(queue: &Queue<Task>) -> (u64, u64) {
    let backlog = queue.backlog();
    (backlog.waiting, backlog.in_flight)
}

/// The next job, which must come within an hour (of virtual time).
async fn recv(jobs: &Receiver<Job<Task>>) -> Job<Task> {
    next(jobs).await.expect("the receiver closed")
}

/// The next job, after checking that it is delivery `count` of job `id`.
async fn recv_delivery(jobs: &Receiver<Job<Task>>, id: &str, count: u32) -> Job<Task> {
    let job = recv(jobs).await;
    assert_eq!((job.id(), job.delivery_count()), (id, count));
    job
}

/// The next value, or `None` once `rx` closes; an hour of (virtual)
/// silence fails the test instead of hanging it.
async fn next<T>(rx: &Receiver<T>) -> Option<T> {
    timeout(Duration::from_secs(3600), rx.recv())
        .await
        .expect("neither a value nor the close within an hour")
}

/// Whether `jobs` stays silent (no job, not closed) for `d`.
async fn silent_for(jobs: &Receiver<Job<Task>>, d: Duration) -> bool {
    timeout(d, jobs.recv()).await.is_err()
}

/// Lets the other tasks run until `done` holds (on the test's one
/// thread, each yield runs every task that is ready).
async fn yield_until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("still not done after 1000 yields");
}

#[tokio::test(start_paused = true)]
async fn ack_removes_the_job() {
    let opts = opts();
    let (queue, jobs) = queue_and_jobs(&opts, &["a"]).await;
    let job = recv_delivery(&jobs, "a", 1).await;
    job.ack().await.unwrap();

    // Long past the ack wait, nothing comes back.
    assert!(silent_for(&jobs, ACK_WAIT * 5).await);
    assert_eq!(backlog(&queue), (0, 0));
    queue.close();
    assert!(next(&jobs).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn delivery_is_fifo_by_submit_order() {
    let opts = opts();
    let (_queue, jobs) = closed_queue_and_jobs(&opts, &["a", "b", "c", "d"]).await;
    let mut order = Vec::new();
    while let Some(job) = next(&jobs).await {
        order.push(job.id().to_owned());
        job.ack().await.unwrap();
    }
    assert_eq!(order, ["a", "b", "c", "d"]);
}

#[tokio::test(start_paused = true)]
async fn nak_redelivers_after_the_delay_and_not_before() {
    let opts = opts();
    let (_queue, jobs) = queue_and_jobs(&opts, &["a"]).await;
    let job = recv(&jobs).await;
    let start = Instant::now();
    job.nak(Duration::from_secs(5)).await.unwrap();

    assert!(silent_for(&jobs, Duration::from_millis(4999)).await);
    let job = recv(&jobs).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!((job.id(), job.delivery_count()), ("a", 2));
    job.ack().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_nakd_job_goes_back_ahead_of_later_submits() {
    let opts = opts();
    let (_queue, jobs) = queue_and_jobs(&opts, &["a", "b"]).await;
    recv(&jobs).await.nak(Duration::ZERO).await.unwrap();
    let job = recv_delivery(&jobs, "a", 2).await;
    job.ack().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn dropping_an_unsettled_job_redelivers_it_at_once() {
    let opts = opts();
    let counters = opts.counters();
    let (_queue, jobs) = queue_and_jobs(&opts, &["a"]).await;
    let start = Instant::now();
    drop(recv(&jobs).await);

    let job = recv_delivery(&jobs, "a", 2).await;
    // At once, not after the ack wait.
    assert_eq!(start.elapsed(), Duration::ZERO);
    job.ack().await.unwrap();
    let stats = counters.stats();
    assert_eq!((stats.delivered, stats.nacked, stats.acked), (2, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_delivery_silent_past_the_ack_wait_is_redelivered() {
    let opts = opts();
    let (queue, first) = queue_and_jobs(&opts, &["a"]).await;
    let held = recv(&first).await;
    let start = Instant::now();
    // A competing consumer: the first one's only prefetch slot is held.
    let second = queue.consume(opts).unwrap();

    assert!(silent_for(&second, ACK_WAIT - Duration::from_millis(1)).await);
    let again = recv(&second).await;
    assert_eq!(start.elapsed(), ACK_WAIT);
    assert_eq!((again.id(), again.delivery_count()), ("a", 2));
    assert_eq!(queue.backlog().in_flight, 1);

    again.ack().await.unwrap();
    drop(held); // an old delivery's nak: ignored, the job is gone
    assert!(silent_for(&first, ACK_WAIT * 5).await);
    assert_eq!(queue.backlog().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn settling_a_superseded_delivery() {
    let opts = opts();
    let (queue, first) = queue_and_jobs(&opts, &["a"]).await;
    let old = recv(&first).await;
    let second = queue.consume(opts.clone()).unwrap();
    let current = recv(&second).await; // after the ack wait
    assert_eq!(current.delivery_count(), 2);

    // A heartbeat or nak from the old delivery does not touch the new
    // one's clock: it still expires one ack wait after its delivery.
    old.in_progress().await.unwrap();
    let start = Instant::now();
    let third = queue.consume(opts).unwrap();
    assert!(silent_for(&third, ACK_WAIT - Duration::from_millis(1)).await);
    let latest = recv(&third).await;
    assert_eq!(start.elapsed(), ACK_WAIT);
    assert_eq!(latest.delivery_count(), 3);

    // JetStream acks by stream sequence: the oldest delivery's ack still
    // removes the job, and the newer deliveries' settles find it gone.
    old.ack().await.unwrap();
    assert_eq!(queue.backlog().in_flight + queue.backlog().waiting, 0);
    current.nak(Duration::ZERO).await.unwrap();
    latest.ack().await.unwrap();
    queue.close();
    for jobs in [&first, &second, &third] {
        assert!(next(jobs).await.is_none());
    }
    assert!(queue.dead_letters().is_empty());
}

#[tokio::test(start_paused = true)]
async fn heartbeats_hold_off_redelivery() {
    let opts = opts();
    let (queue, first) = queue_and_jobs(&opts, &["a"]).await;
    let job = recv(&first).await;
    let second = queue.consume(opts).unwrap();

    // `in_progress` by hand, every 8 s, across four ack waits.
    for _ in 0..5 {
        assert!(silent_for(&second, Duration::from_secs(8)).await);
        job.in_progress().await.unwrap();
    }
    // `keep_alive`, across five more.
    let heartbeat = job.keep_alive();
    assert!(silent_for(&second, ACK_WAIT * 5).await);
    drop(heartbeat);

    // Silent now: redelivered within one ack wait.
    let again = timeout(ACK_WAIT + Duration::from_secs(1), second.recv())
        .await
        .expect("redelivered after the heartbeat stopped")
        .unwrap();
    assert_eq!(again.delivery_count(), 2);
    again.ack().await.unwrap();
    drop(job);
}

#[tokio::test(start_paused = true)]
async fn retry_backs_off_then_dead_letters_on_the_last_delivery() {
    let opts = opts();
    let counters = opts.counters();
    let (queue, jobs) = closed_queue_and_jobs(&opts, &["a"]).await;

    let mut last = Instant::now();
    let mut waits = Vec::new();
    for delivery in 1..=3 {
        let job = recv(&jobs).await;
        waits.push(last.elapsed());
        last = Instant::now();
        assert_eq!(job.delivery_count(), delivery);
        assert_eq!(job.is_last_attempt(), delivery == 3);
        job.retry("boom").await.unwrap();
    }
    // The backoff doubles: 1 s, then 2 s.
    assert_eq!(
        waits,
        [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(2)
        ]
    );
    // Dead-lettered, so the closed queue is empty and the receiver closes.
    assert!(next(&jobs).await.is_none());

    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id.as_str(), dead[0].deliveries), ("a", 3));
    assert_eq!(dead[0].reason, "failed on its last delivery (3 of 3): boom");
    assert_eq!(dead[0].payload_as::<Task>().unwrap(), Task { n: 0 });
    let stats = counters.stats();
    assert_eq!((stats.nacked, stats.dead_lettered), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_job_not_settled_on_its_last_delivery_is_dead_lettered() {
    let opts = opts().max_deliver(2).prefetch(3);
    let counters = opts.counters();
    let (queue, jobs) = closed_queue_and_jobs(&opts, &["a"]).await;
    let held_1 = recv(&jobs).await;
    let start = Instant::now();
    let held_2 = recv(&jobs).await; // the ack wait expired
    assert_eq!(held_2.delivery_count(), 2);
    assert_eq!(start.elapsed(), ACK_WAIT);

    // The last ack wait runs out too: the job comes back past its last
    // delivery and is dead-lettered, not handed out, as on NATS. The
    // queue is then empty, so the receiver closes, though its jobs are
    // still held.
    assert!(next(&jobs).await.is_none());
    assert_eq!(start.elapsed(), ACK_WAIT * 2);
    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id.as_str(), dead[0].deliveries), ("a", 2));
    assert_eq!(
        dead[0].reason,
        "not settled on its last delivery (2 of 2): the ack wait expired, \
         or its worker died or dropped it"
    );

    // Late settles of the lost deliveries change nothing.
    held_2.ack().await.unwrap();
    drop(held_1);
    assert_eq!(queue.dead_letters().len(), 1);
    let s = counters.stats();
    assert_eq!((s.delivered, s.redelivered, s.dead_lettered), (3, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_delivery_dead_letters_the_job() {
    let opts = opts().max_deliver(1);
    let (queue, jobs) = closed_queue_and_jobs(&opts, &["a"]).await;
    drop(recv(&jobs).await); // say, a handler that panicked
    assert!(next(&jobs).await.is_none());
    let dead = queue.dead_letters();
    assert_eq!(dead[0].deliveries, 1);
    assert!(dead[0]
        .reason
        .starts_with("not settled on its last delivery (1 of 1)"));
}

#[tokio::test(start_paused = true)]
async fn a_job_waiting_in_the_hand_off_is_kept_alive() {
    let opts = opts().prefetch(2);
    let (queue, first) = queue_and_jobs(&opts, &["a", "b"]).await;
    let a = recv(&first).await;
    let busy = a.keep_alive(); // the one worker is busy with "a"
                               // The consumer takes "b" too (its second slot) and holds it until a
                               // worker receives it; meanwhile a competing consumer must not get it.
    yield_until(|| queue.backlog().in_flight == 2).await;
    let second = queue.consume(opts).unwrap();
    assert!(silent_for(&second, ACK_WAIT * 5).await);
    let b = recv_delivery(&first, "b", 1).await;
    drop(busy);
    a.ack().await.unwrap();
    b.ack().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_undecodable_payload_is_dead_lettered_with_the_decode_error() {
    let opts = opts();
    let counters = opts.counters();
    let queue = Queue::<Task>::new("test", &opts).unwrap();
    let producer = queue.producer();
    producer
        .submit_raw("bad", b"not json".to_vec())
        .await
        .unwrap();
    producer.submit("good", &Task { n: 1 }).await.unwrap();
    queue.close();

    let jobs = queue.consume(opts).unwrap();
    let job = recv(&jobs).await;
    assert_eq!(job.id(), "good");
    job.ack().await.unwrap();
    assert!(next(&jobs).await.is_none());

    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id.as_str(), dead[0].deliveries), ("bad", 1));
    assert_eq!(dead[0].payload, b"not json");
    let decode_error = serde_json::from_slice::<Task>(b"not json").unwrap_err();
    assert_eq!(
        dead[0].reason,
        format!("payload does not decode: {decode_error}")
    );
    let stats = counters.stats();
    assert_eq!(
        (stats.delivered, stats.acked, stats.dead_lettered),
        (2, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_resubmit_within_the_dedup_window_is_a_duplicate() {
    let opts = opts().dedup_window(Duration::from_secs(60));
    let queue = Queue::<Task>::new("test", &opts).unwrap();
    let producer = queue.producer();
    assert_eq!(
        producer.submit("a", &Task { n: 1 }).await.unwrap(),
        Submitted::Queued
    );
    assert_eq!(
        producer.submit("a", &Task { n: 2 }).await.unwrap(),
        Submitted::Duplicate
    );
    assert_eq!(queue.backlog().waiting, 1);

    // The window runs from the first submit, whatever became of the job.
    let jobs = queue.consume(opts).unwrap();
    let job = recv(&jobs).await;
    assert_eq!(job.payload(), &Task { n: 1 });
    job.ack().await.unwrap();
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert_eq!(
        producer.submit("a", &Task { n: 3 }).await.unwrap(),
        Submitted::Duplicate
    );
    assert_eq!(queue.backlog().waiting, 0);

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        producer.submit("a", &Task { n: 4 }).await.unwrap(),
        Submitted::Queued
    );
    let job = recv(&jobs).await;
    assert_eq!((job.payload(), job.delivery_count()), (&Task { n: 4 }, 1));
    job.ack().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn replay_requeues_dead_letters_as_fresh_jobs() {
    let opts = opts();
    let (queue, jobs) = queue_and_jobs(&opts, &["a", "b"]).await;
    recv(&jobs).await.dead_letter("bug #1").await.unwrap();
    recv(&jobs).await.dead_letter("bug #2").await.unwrap();
    assert_eq!(queue.dead_letters().len(), 2);
    assert_eq!(queue.backlog().waiting, 0);

    // Within the dedup window, yet re-queued: replay bypasses dedup.
    assert_eq!(queue.replay_dead_letters().await.unwrap(), 2);
    assert!(queue.dead_letters().is_empty());
    for (id, n) in [("a", 0), ("b", 1)] {
        let job = recv(&jobs).await;
        assert_eq!(
            (job.id(), job.delivery_count(), job.payload().n),
            (id, 1, n)
        );
        job.ack().await.unwrap();
    }
    assert_eq!(queue.replay_dead_letters().await.unwrap(), 0);
    queue.close();
    assert!(matches!(
        queue.replay_dead_letters().await,
        Err(Error::Closed)
    ));
}

#[tokio::test(start_paused = true)]
async fn prefetch_bounds_the_jobs_in_flight() {
    let opts = opts().prefetch(2).max_deliver(1);
    let counters = opts.counters();
    let (queue, jobs) = closed_queue_and_jobs(&opts, &job_ids(10)).await;

    // Four slow workers, but only two jobs may be out at a time.
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (q, c) = (queue.clone(), counters.clone());
    let (r, m) = (running.clone(), most.clone());
    let done = gokio_patterns::worker_pool(4, jobs, move |job: Job<Task>| {
        let (queue, counters, running, most) = (q.clone(), c.clone(), r.clone(), m.clone());
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            assert!(queue.backlog().in_flight <= 2);
            let stats = counters.stats();
            assert!(stats.delivered - stats.acked <= 2, "{stats:?}");
            tokio::time::sleep(Duration::from_secs(1)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            job.ack().await.unwrap();
        }
    });
    let mut finished = 0;
    while next(&done).await.is_some() {
        finished += 1;
    }
    assert_eq!(finished, 10);
    assert_eq!(most.load(Ordering::SeqCst), 2);
    let stats = counters.stats();
    assert_eq!((stats.delivered, stats.acked), (10, 10));
}

#[tokio::test(start_paused = true)]
async fn after_close_the_receiver_closes_once_every_job_is_settled() {
    let opts = opts().prefetch(2);
    let queue = queue_with(&opts, &["a", "b"]).await;
    queue.close();
    assert!(queue.is_closed());
    assert!(matches!(
        queue.producer().submit("c", &Task { n: 2 }).await,
        Err(Error::Closed)
    ));
    let jobs = queue.consume(opts).unwrap();

    let a = recv(&jobs).await;
    let b = recv(&jobs).await;
    // Both in flight: either may still be nak'd, so the receiver stays open.
    assert!(silent_for(&jobs, Duration::from_secs(5)).await);
    a.nak(Duration::from_secs(1)).await.unwrap();
    b.ack().await.unwrap();
    let a = recv_delivery(&jobs, "a", 2).await; // the nak'd job comes back
    a.term().await.unwrap();
    assert!(next(&jobs).await.is_none());
    assert!(queue.dead_letters().is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_the_consumer_and_loses_nothing() {
    let token = CancellationToken::new();
    let opts = opts();
    let queue = queue_with(&opts, &["a", "b", "c"]).await;
    let jobs = queue.consume(opts.clone().cancel(token.clone())).unwrap();
    let a = recv(&jobs).await;
    token.cancel();
    assert!(next(&jobs).await.is_none());

    // Delivered jobs stay valid; the rest wait for the next consumer.
    // The receiver closed when the consumer returned, after it gave back
    // any job it held.
    a.ack().await.unwrap();
    assert_eq!(backlog(&queue), (2, 0));
    queue.close();
    let jobs = queue.consume(opts).unwrap();
    let mut rest = Vec::new();
    while let Some(job) = next(&jobs).await {
        rest.push((job.id().to_owned(), job.delivery_count()));
        job.ack().await.unwrap();
    }
    // "b" may have been taken before the cancel and given back (one
    // delivery counted, as on JetStream); "c" never was.
    assert_eq!(rest.len(), 2);
    assert_eq!((rest[0].0.as_str(), rest[1].0.as_str()), ("b", "c"));
    assert_eq!(rest[1].1, 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_receiver_stops_the_consumer_and_gives_its_job_back() {
    let opts = opts();
    let counters = opts.counters();
    let (queue, jobs) = queue_and_jobs(&opts, &["a"]).await;
    // The consumer takes "a" and waits to hand it over.
    yield_until(|| queue.backlog().in_flight == 1).await;
    drop(jobs);
    yield_until(|| queue.backlog().in_flight == 0).await;
    let stats = counters.stats();
    assert_eq!((stats.delivered, stats.nacked), (1, 1));

    let jobs = queue.consume(opts).unwrap();
    let job = recv_delivery(&jobs, "a", 2).await;
    job.ack().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_consumer_stops_when_its_receiver_is_dropped() {
    let opts = opts();
    let counters = opts.counters();
    let queue = Queue::<Task>::new("test", &opts).unwrap();
    let idle = queue.consume(opts.clone()).unwrap();
    tokio::task::yield_now().await; // it waits for a job
    drop(idle);

    // A consumer still running would take this job, fail to hand it over
    // and give it back with one delivery spent.
    queue.producer().submit("a", &Task { n: 0 }).await.unwrap();
    let jobs = queue.consume(Options::new()).unwrap();
    let job = recv(&jobs).await;
    assert_eq!(job.delivery_count(), 1);
    assert_eq!(counters.stats().delivered, 0);
    job.ack().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn competing_consumers_share_the_jobs() {
    let opts = opts().prefetch(2);
    let (queue, first) = queue_and_jobs(&opts, &job_ids(6)).await;
    let second = queue.clone().consume(opts).unwrap();

    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(recv(&first).await);
        held.push(recv(&second).await);
    }
    // Four distinct jobs out, two per consumer (their prefetch), two waiting.
    let mut ids: Vec<&str> = held.iter().map(Job::id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    assert_eq!(backlog(&queue), (2, 4));
    for job in held {
        job.ack().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn counters_add_up_when_idle() {
    let opts = opts().max_deliver(2);
    let counters = opts.counters();
    let (_queue, jobs) =
        closed_queue_and_jobs(&opts, &["ack", "nak", "term", "dead", "drop"]).await;
    while let Some(job) = next(&jobs).await {
        match (job.id(), job.delivery_count()) {
            ("nak", 1) => job.nak(Duration::from_secs(1)).await.unwrap(),
            ("term", _) => job.term().await.unwrap(),
            ("dead", _) => job.dead_letter("no").await.unwrap(),
            ("drop", 1) => drop(job),
            _ => job.ack().await.unwrap(),
        }
    }
    let s = counters.stats();
    assert_eq!(
        s.delivered,
        s.acked + s.nacked + s.terminated + s.dead_lettered
    );
    assert_eq!((s.delivered, s.redelivered), (7, 2));
    assert_eq!(
        (s.acked, s.nacked, s.terminated, s.dead_lettered),
        (3, 2, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn durable_worker_pool_acks_ok_and_retries_then_dead_letters_err() {
    let opts = opts().prefetch(4);
    let counters = opts.counters();
    let (queue, jobs) = closed_queue_and_jobs(&opts, &job_ids(10)).await;

    let results = durable_worker_pool(4, jobs, |task: Task| async move {
        if task.n % 2 == 0 {
            Ok(task.n)
        } else {
            Err(format!("{} is odd", task.n))
        }
    });
    let (mut ok, mut err) = (Vec::new(), 0);
    while let Some(result) = next(&results).await {
        match result {
            Ok(n) => ok.push(n),
            Err(_) => err += 1,
        }
    }
    ok.sort_unstable();
    assert_eq!(ok, [0, 2, 4, 6, 8]);
    assert_eq!(err, 5 * 3); // each odd job ran max_deliver times

    let mut dead = queue.dead_letters();
    dead.sort_by(|a, b| a.id.cmp(&b.id));
    let dead_ids: Vec<&str> = dead.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(dead_ids, ["job-1", "job-3", "job-5", "job-7", "job-9"]);
    assert_eq!(
        dead[0].reason,
        "failed on its last delivery (3 of 3): 1 is odd"
    );
    let s = counters.stats();
    assert_eq!(
        (s.delivered, s.acked, s.nacked, s.dead_lettered),
        (20, 5, 10, 5)
    );
}

#[tokio::test(start_paused = true)]
async fn durable_worker_pool_keeps_long_jobs_from_being_redelivered() {
    let opts = opts();
    let (queue, jobs) = closed_queue_and_jobs(&opts, &["slow"]).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let results = durable_worker_pool(1, jobs, move |_task: Task| {
        let runs = r.clone();
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(ACK_WAIT * 10).await;
            Ok::<_, String>(())
        }
    });
    // A competing consumer would get the job if it were redelivered.
    let other = queue.consume(opts).unwrap();
    assert!(next(&results).await.unwrap().is_ok());
    assert!(next(&results).await.is_none());
    assert!(next(&other).await.is_none());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// A small deterministic PRNG (SplitMix64), so the stress test needs no
/// dependency and an outcome depends only on the job and its attempt.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What a handler does with one run of a job.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Succeed,
    Fail,
    Panic,
    /// Manual pool only: drop the job unsettled.
    Drop,
    /// Manual pool only: a settle cut off by a timeout, dropping the job.
    TimeOut,
}

fn outcome(n: u32, attempt: u32) -> Outcome {
    match mix(u64::from(n) << 8 | u64::from(attempt)) % 100 {
        0..=54 => Outcome::Succeed,
        55..=79 => Outcome::Fail,
        80..=89 => Outcome::Panic,
        90..=94 => Outcome::Drop,
        _ => Outcome::TimeOut,
    }
}

const INJECTED: &str = "stress: injected panic";

/// What became of one job id, over all its runs.
#[derive(Default)]
struct Record {
    /// Handler runs, each one delivery (a delivery runs once).
    runs: u32,
    /// Delivery counts seen by the manual pool.
    deliveries: Vec<u32>,
    /// Acks, by either pool.
    acks: u32,
}

type Ledger = Arc<Mutex<HashMap<u32, Record>>>;

/// Records a run of job `n` and returns its attempt number (1-based).
fn ran(ledger: &Ledger, n: u32, delivery: Option<u32>) -> u32 {
    let mut ledger = ledger.lock().unwrap();
    let record = ledger.entry(n).or_default();
    record.runs += 1;
    record.deliveries.extend(delivery);
    record.runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_every_job_is_acked_or_dead_lettered_exactly_once() {
    // Injected panics are expected; keep them out of the test output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        let injected = message == Some(INJECTED);
        if !injected {
            default_hook(info);
        }
    }));

    let scale: u32 = std::env::var("GOKIO_STRESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let total = 2000 * scale;
    const MAX_DELIVER: u32 = 4;
    const WORKERS: usize = 4;
    let counters = gokio_queue::Counters::new();
    let opts = Options::new()
        .prefetch(WORKERS)
        .max_deliver(MAX_DELIVER)
        .retry_backoff(Duration::from_millis(1))
        .with_counters(counters.clone());
    let queue = Queue::<Task>::new("stress", &opts).unwrap();
    let ledger: Ledger = Arc::default();

    // Two consumers under durable_worker_pool, two under a hand-written
    // worker_pool, all started before the jobs are submitted.
    let mut durable = Vec::new();
    for _ in 0..2 {
        let jobs = queue.consume(opts.clone()).unwrap();
        let ledger = ledger.clone();
        durable.push(durable_worker_pool(WORKERS, jobs, move |task: Task| {
            let attempt = ran(&ledger, task.n, None);
            async move {
                tokio::task::yield_now().await;
                match outcome(task.n, attempt) {
                    Outcome::Succeed => Ok(task.n),
                    Outcome::Panic => panic!("{INJECTED}"),
                    _ => Err(format!("job {} failed", task.n)),
                }
            }
        }));
    }
    let mut manual = Vec::new();
    for _ in 0..2 {
        let jobs = queue.consume(opts.clone()).unwrap();
        let ledger = ledger.clone();
        manual.push(gokio_patterns::worker_pool(
            WORKERS,
            jobs,
            move |job: Job<Task>| {
                let n = job.payload().n;
                let attempt = ran(&ledger, n, Some(job.delivery_count()));
                let ledger = ledger.clone();
                async move {
                    tokio::task::yield_now().await;
                    match outcome(n, attempt) {
                        Outcome::Succeed => {
                            // A generous timeout around a settle that does finish.
                            timeout(Duration::from_secs(60), job.ack())
                                .await
                                .expect("the memory backend acks at once")
                                .unwrap();
                            ledger.lock().unwrap().get_mut(&n).unwrap().acks += 1;
                        }
                        Outcome::Fail => job.retry("failed").await.unwrap(),
                        Outcome::Panic => panic!("{INJECTED}"),
                        Outcome::Drop => drop(job),
                        Outcome::TimeOut => {
                            let settle = async move {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                job.ack().await
                            };
                            let cut = timeout(Duration::from_millis(1), settle).await;
                            assert!(cut.is_err(), "the timeout cancels the settle");
                        }
                    }
                }
            },
        ));
    }

    let producer = queue.producer();
    for n in 0..total {
        let submitted = producer
            .submit(format!("job-{n}"), &Task { n })
            .await
            .unwrap();
        assert_eq!(submitted, Submitted::Queued);
    }
    queue.close();

    // Drain every pool at once: a pool blocked on its results would hold
    // a job in its consumer's hand-off, out of reach of the others.
    let mut drains = Vec::new();
    for results in durable {
        let ledger = ledger.clone();
        drains.push(gokio::go(async move {
            while let Some(result) = results.recv().await {
                if let Ok(n) = result {
                    ledger.lock().unwrap().get_mut(&n).unwrap().acks += 1;
                }
            }
        }));
    }
    for results in manual {
        drains.push(gokio::go(
            async move { while results.recv().await.is_some() {} },
        ));
    }
    for drain in drains {
        drain.await.unwrap();
    }

    let ledger = ledger.lock().unwrap();
    let dead: HashMap<u32, gokio_queue::DeadLetter> = queue
        .dead_letters()
        .into_iter()
        .map(|d| (d.payload_as::<Task>().unwrap().n, d))
        .collect();
    assert_eq!(backlog(&queue), (0, 0));
    let mut total_runs = 0u64;
    let mut rerun = 0;
    for n in 0..total {
        let record = ledger
            .get(&n)
            .unwrap_or_else(|| panic!("job {n} never ran"));
        total_runs += u64::from(record.runs);
        // Exactly one end: acked once, or dead-lettered (and never acked).
        match dead.get(&n) {
            Some(letter) => {
                assert_eq!(record.acks, 0, "job {n} acked and dead-lettered");
                assert_eq!(letter.deliveries, MAX_DELIVER, "job {n}");
                assert_eq!(record.runs, MAX_DELIVER, "job {n}");
            }
            None => assert_eq!(record.acks, 1, "job {n} acked {} times", record.acks),
        }
        // A job runs again only after a delivery failed, and each
        // delivery runs once: the manual pool never sees a count twice.
        assert!(
            record.runs <= MAX_DELIVER,
            "job {n} ran {} times",
            record.runs
        );
        let mut seen = record.deliveries.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), record.deliveries.len(), "job {n}: {seen:?}");
        if record.runs > 1 {
            rerun += 1;
        }
    }
    assert_eq!(
        dead.len() + ledger.values().filter(|r| r.acks == 1).count(),
        total as usize
    );

    // A job dropped on its last delivery comes back once more, to be
    // dead-lettered by the consumer without running.
    let given_up = dead
        .values()
        .filter(|d| d.reason.starts_with("not settled"))
        .count() as u64;
    let s = counters.stats();
    assert_eq!(s.delivered, total_runs + given_up, "{s:?}");
    assert_eq!(
        s.delivered,
        s.acked + s.nacked + s.terminated + s.dead_lettered,
        "{s:?}"
    );
    assert_eq!(s.redelivered, s.delivered - u64::from(total), "{s:?}");
    assert_eq!(s.dead_lettered, dead.len() as u64, "{s:?}");
    // The mix exercised every path.
    assert!(rerun > 0 && !dead.is_empty(), "{s:?}");
}
