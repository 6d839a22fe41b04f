//! `durable_worker_pool`: gokio-patterns' worker pool over a durable queue,
//! with the ack / retry / dead-letter policy applied for you.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use gokio::Receiver;
use tracing::Instrument;

use crate::Job;

/// Runs `workers` goroutines over `jobs` as
/// [`gokio_patterns::worker_pool`] does, and settles every job by its
/// handler's result:
///
/// - `Ok(r)`: the job is acked and `Ok(r)` is sent on the results channel;
/// - `Err(e)`: the job is retried after the backoff
///   ([`Job::retry`]), or dead-lettered with `e` as the reason if this was its
///   last allowed delivery; `Err(e)` is sent on the results channel;
/// - a panic: the job is dropped unsettled, hence nak'd and delivered again
///   (the pool's panic policy, see [`gokio_patterns::WorkerPool`]); after a
///   panic on its last allowed delivery it is dead-lettered.
///
/// While a handler runs, the job's heartbeat (as [`Job::keep_alive`], but
/// in the worker's own goroutine) keeps it from being redelivered, however
/// long it takes. The handler gets a
/// clone of the payload and runs inside the job's `job` span.
///
/// The results channel closes when `jobs` closes (see
/// [`Options::cancel`](crate::Options::cancel)) and every job in flight has
/// been settled. Set the consumer's [`prefetch`](crate::Options::prefetch)
/// to `workers`.
///
/// # Panics
///
/// Panics if `workers` is 0, or outside a Tokio runtime.
///
/// # Examples
///
/// ```
/// use gokio_queue::{memory, durable_worker_pool, Options};
///
/// gokio::run(async {
///     let opts = Options::new().prefetch(4);
///     let queue = memory::Queue::<u64>::new("squares", &opts).unwrap();
///     let producer = queue.producer();
///     for n in 1..=3u64 {
///         producer.submit(format!("n-{n}"), &n).await.unwrap();
///     }
///     queue.close(); // the consumer ends once every job is settled
///     let jobs = queue.consume(opts).unwrap();
///     let results = durable_worker_pool(4, jobs, |n: u64| async move { Ok::<_, String>(n * n) });
///     let mut sum = 0;
///     while let Some(r) = results.recv().await {
///         sum += r.unwrap();
///     }
///     assert_eq!(sum, 1 + 4 + 9);
/// });
/// ```
#[track_caller]
pub fn durable_worker_pool<J, R, E, F, Fut>(
    workers: usize,
    jobs: Receiver<Job<J>>,
    f: F,
) -> Receiver<Result<R, E>>
where
    J: Clone + Send + Sync + 'static,
    R: Send + 'static,
    E: fmt::Display + Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
{
    let f = Arc::new(f);
    gokio_patterns::worker_pool(workers, jobs, move |job: Job<J>| {
        let handler = f(job.payload().clone());
        async move {
            let span = job.span().clone();
            let outcome = tokio::select! {
                biased;
                outcome = handler.instrument(span.clone()) => outcome,
                never = job.heartbeats() => match never {},
            };
            let settled = match &outcome {
                Ok(_) => job.ack().await,
                Err(err) => {
                    // A String, so `E` need not be `Sync` across the await.
                    let reason = err.to_string();
                    job.retry(reason).await
                }
            };
            if let Err(err) = settled {
                tracing::warn!(parent: &span, %err, "could not settle the job; it will be redelivered");
            }
            outcome
        }
    })
}
