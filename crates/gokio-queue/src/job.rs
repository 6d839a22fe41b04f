//! `Job<J>`: one delivery of a job, and the trait each backend implements
//! to settle it.
//!
//! # Invariants
//!
//! 1. A delivery is settled at most once: the backend's [`Delivery`] lives
//!    in an `Option` that every settling method takes, and its methods
//!    consume it.
//! 2. A job dropped unsettled is nak'd at once (never acked): `Drop` sees
//!    the `Delivery` still there and calls [`Delivery::nak_now`].
//! 3. The consumer's prefetch slot (`permit`) is released only after the
//!    delivery is settled or given back, when the `Job` itself goes.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Span;

use crate::counters::Count;
use crate::{Counters, Error, Options};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Resets a delivery's ack-wait clock; cheap to clone into a heartbeat
/// goroutine.
pub(crate) type Heartbeat = Arc<dyn Fn() -> BoxFuture<Result<(), Error>> + Send + Sync>;

/// One delivery as its backend settles it. Exactly one of the consuming
/// methods (or `nak_now`) is called, once (invariant 1).
pub(crate) trait Delivery: Send + 'static {
    /// Done: remove the job from the queue.
    fn ack(self: Box<Self>, confirm: bool) -> BoxFuture<Result<(), Error>>;
    /// Failed: deliver it again after `delay`.
    fn nak(self: Box<Self>, delay: Duration) -> BoxFuture<Result<(), Error>>;
    /// Remove it without dead-lettering it.
    fn term(self: Box<Self>) -> BoxFuture<Result<(), Error>>;
    /// Store a [`DeadLetter`](crate::DeadLetter) with this `reason` (and the
    /// payload and delivery count), then remove the job.
    fn dead_letter(self: Box<Self>, reason: String) -> BoxFuture<Result<(), Error>>;
    /// Resets the ack-wait clock, from any goroutine, any number of times.
    fn heartbeat(&self) -> Heartbeat;
    /// Dropped unsettled: give it back for redelivery now, without waiting.
    fn nak_now(self: Box<Self>);
}

/// What a consumer shares with every job it delivers.
pub(crate) struct ConsumerCtx {
    pub(crate) queue: Arc<str>,
    pub(crate) max_deliver: u32,
    pub(crate) backoff: Duration,
    pub(crate) ack_wait: Duration,
    pub(crate) confirm_acks: bool,
    pub(crate) counters: Counters,
}

impl ConsumerCtx {
    /// How often a job held for a long time is reported in progress: a
    /// third of the ack wait, so two heartbeats may be lost or late before
    /// the queue gives up on it.
    pub(crate) fn heartbeat_every(&self) -> Duration {
        (self.ack_wait / 3).max(Duration::from_millis(3))
    }

    pub(crate) fn new(queue: &str, opts: &Options) -> Arc<ConsumerCtx> {
        Arc::new(ConsumerCtx {
            queue: queue.into(),
            max_deliver: opts.max_deliver,
            backoff: opts.backoff,
            ack_wait: opts.ack_wait,
            confirm_acks: opts.confirm_acks,
            counters: opts.counters.clone(),
        })
    }
}

/// Waits for the next heartbeat tick of a job held in a consumer's
/// hand-off, making the interval on the first call: an `async fn`, so a
/// `select!` branch that is never polled (a worker took the job at once)
/// costs no timer.
pub(crate) async fn next_tick(ticks: &mut Option<tokio::time::Interval>, every: Duration) {
    ticks
        .get_or_insert_with(|| tokio::time::interval_at(tokio::time::Instant::now() + every, every))
        .tick()
        .await;
}

/// Turns one delivery into a [`Job`]: counts it, opens its span and decodes
/// its payload. `None` comes back, and the job is dead-lettered here, when
///
/// - it comes past its last allowed delivery (`count > max_deliver`): its
///   last delivery was not settled (the ack wait expired, or its worker
///   died or dropped it). The NATS backend lets the server deliver without
///   limit and enforces `max_deliver` here, so giving up on a job never
///   depends on a one-shot server advisory: if storing the dead letter
///   fails, the job is simply delivered again and given up on again;
/// - its payload does not decode (the decode error is the reason: never a
///   panic, never a redelivery loop).
pub(crate) async fn admit<J: DeserializeOwned>(
    ctx: &Arc<ConsumerCtx>,
    delivery: Box<dyn Delivery>,
    id: String,
    count: u32,
    raw: &[u8],
    permit: Option<OwnedSemaphorePermit>,
) -> Option<Job<J>> {
    ctx.counters.add(Count::Delivered);
    if count > 1 {
        ctx.counters.add(Count::Redelivered);
    }
    let span = tracing::info_span!("job", queue = %ctx.queue, id = %id, delivery = count);
    if count > ctx.max_deliver {
        let reason = format!(
            "not settled on its last delivery ({max} of {max}): the ack wait expired, \
             or its worker died or dropped it",
            max = ctx.max_deliver
        );
        give_up(ctx, delivery, &span, reason).await;
        return None;
    }
    match serde_json::from_slice::<J>(raw) {
        Ok(payload) => {
            tracing::debug!(parent: &span, "delivered");
            Some(Job {
                payload,
                id,
                delivery: count,
                ctx: Arc::clone(ctx),
                inner: Some(delivery),
                span,
                _permit: permit,
            })
        }
        Err(err) => {
            give_up(
                ctx,
                delivery,
                &span,
                format!("payload does not decode: {err}"),
            )
            .await;
            None
        }
    }
}

/// Dead-letters a delivery no handler will see.
async fn give_up(ctx: &ConsumerCtx, delivery: Box<dyn Delivery>, span: &Span, reason: String) {
    tracing::warn!(parent: span, %reason, "dead-lettered");
    match delivery.dead_letter(reason).await {
        Ok(()) => ctx.counters.add(Count::DeadLettered),
        Err(err) => {
            tracing::warn!(parent: span, %err, "dead-lettering failed; the job will be redelivered");
        }
    }
}

/// One delivery of a job: its decoded payload and the means to settle it.
///
/// Settle every job exactly once: [`ack`](Job::ack) when done,
/// [`nak`](Job::nak) or [`retry`](Job::retry) to have it delivered again,
/// [`term`](Job::term) to drop it, [`dead_letter`](Job::dead_letter) to set
/// it aside. The settling methods take the job by value, so a second
/// settle does not compile.
///
/// A job dropped unsettled (a worker that panicked, a pool stopped early)
/// is nak'd at once: it is delivered again, never silently acked.
///
/// Jobs are delivered at least once: a worker killed between finishing a
/// job and acking it, or an ack lost with its connection, means the job runs
/// again. Make handlers idempotent, keyed by [`id`](Job::id).
///
/// # Differences from Go
///
/// In Go with nats.go you hold a `*nats.Msg` and call `msg.Ack()`; nothing
/// stops a second `Ack` or a forgotten one. Here the type system does.
pub struct Job<J> {
    payload: J,
    id: String,
    delivery: u32,
    ctx: Arc<ConsumerCtx>,
    inner: Option<Box<dyn Delivery>>,
    span: Span,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<J> Job<J> {
    /// The decoded payload.
    pub fn payload(&self) -> &J {
        &self.payload
    }

    /// The id given to `submit` (the dedup key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Which delivery this is: 1 the first time, 2 for the first
    /// redelivery, and so on up to `max_deliver`.
    pub fn delivery_count(&self) -> u32 {
        self.delivery
    }

    /// Whether this is the last delivery the queue allows: failing it
    /// dead-letters the job.
    pub fn is_last_attempt(&self) -> bool {
        self.delivery >= self.ctx.max_deliver
    }

    /// The queue's name.
    pub fn queue(&self) -> &str {
        &self.ctx.queue
    }

    /// The `job` tracing span (fields `queue`, `id`, `delivery`);
    /// [`durable_worker_pool`](crate::durable_worker_pool) runs each job in
    /// it.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Acknowledges the job: it is done and leaves the queue.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] or [`Error::Server`] when the ack could not be
    /// sent (or, with [`Options::confirm_acks`], not confirmed); the job
    /// is then delivered again after the ack wait.
    pub async fn ack(mut self) -> Result<(), Error> {
        let delivery = self.take();
        tracing::debug!(parent: &self.span, "acked");
        let result = delivery.ack(self.ctx.confirm_acks).await;
        self.settled(result, Count::Acked)
    }

    /// Counts a settle that went out (a failed one is not counted: the job
    /// will be delivered again).
    fn settled(&self, result: Result<(), Error>, what: Count) -> Result<(), Error> {
        if result.is_ok() {
            self.ctx.counters.add(what);
        }
        result
    }

    /// Gives the job back, to be delivered again after `delay` (to this
    /// consumer or another). On the last allowed delivery
    /// ([`is_last_attempt`](Job::is_last_attempt)) the job is dead-lettered
    /// instead, with the reason "failed on its last delivery", since the
    /// queue would never deliver it again.
    ///
    /// # Errors
    ///
    /// As for [`ack`](Job::ack); the job is then redelivered after the ack
    /// wait.
    pub async fn nak(self, delay: Duration) -> Result<(), Error> {
        if self.is_last_attempt() {
            let reason = format!(
                "failed on its last delivery ({} of {})",
                self.delivery, self.ctx.max_deliver
            );
            return self.dead_letter(reason).await;
        }
        self.nak_inner(delay).await
    }

    /// The retry policy: [`nak`](Job::nak) with the backoff for this
    /// delivery (see [`Options::retry_backoff`]), or, on the last allowed
    /// delivery, [`dead_letter`](Job::dead_letter) with `reason` (say, the
    /// handler's error).
    ///
    /// # Errors
    ///
    /// As for [`ack`](Job::ack).
    pub async fn retry(self, reason: impl fmt::Display) -> Result<(), Error> {
        if self.is_last_attempt() {
            let reason = format!(
                "failed on its last delivery ({} of {}): {reason}",
                self.delivery, self.ctx.max_deliver
            );
            return self.dead_letter(reason).await;
        }
        let delay = Options::backoff_for(self.ctx.backoff, self.delivery);
        tracing::debug!(parent: &self.span, %reason, ?delay, "retrying");
        self.nak_inner(delay).await
    }

    async fn nak_inner(mut self, delay: Duration) -> Result<(), Error> {
        let delivery = self.take();
        tracing::debug!(parent: &self.span, ?delay, "nak'd");
        let result = delivery.nak(delay).await;
        self.settled(result, Count::Nacked)
    }

    /// Removes the job without running it again and without
    /// dead-lettering it (JetStream's `AckTerm`).
    ///
    /// # Errors
    ///
    /// As for [`ack`](Job::ack).
    pub async fn term(mut self) -> Result<(), Error> {
        let delivery = self.take();
        tracing::debug!(parent: &self.span, "terminated");
        let result = delivery.term().await;
        self.settled(result, Count::Terminated)
    }

    /// Sets the job aside in the dead-letter queue with `reason`, where
    /// it can be listed and replayed, and removes it from the queue.
    ///
    /// # Errors
    ///
    /// As for [`ack`](Job::ack); if the dead letter could not be stored the
    /// job stays in the queue and is delivered again.
    pub async fn dead_letter(mut self, reason: impl Into<String>) -> Result<(), Error> {
        let reason = reason.into();
        let delivery = self.take();
        tracing::warn!(parent: &self.span, %reason, "dead-lettered");
        let result = delivery.dead_letter(reason).await;
        self.settled(result, Count::DeadLettered)
    }

    /// Tells the queue the job is still being worked on: its ack-wait clock
    /// starts again.
    ///
    /// # Errors
    ///
    /// As for [`ack`](Job::ack).
    pub async fn in_progress(&self) -> Result<(), Error> {
        let beat = self.delivery().heartbeat();
        beat().await
    }

    /// Starts a heartbeat: until the guard is dropped, a goroutine reports
    /// the job [`in_progress`](Job::in_progress) every third of the ack
    /// wait, so a long job is not redelivered while it runs.
    ///
    /// # Panics
    ///
    /// Panics outside a Tokio runtime (it starts a goroutine).
    #[track_caller]
    pub fn keep_alive(&self) -> KeepAlive {
        let beats = self.heartbeats();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        gokio::go_named(format!("keep-alive {}", self.id), async move {
            tokio::select! {
                _ = stopped => {}
                never = beats => match never {},
            }
        });
        KeepAlive { _stop: stop }
    }

    /// Reports the job in progress every third of the ack wait, for ever
    /// (until dropped): what [`keep_alive`](Job::keep_alive) runs, and what
    /// [`durable_worker_pool`](crate::durable_worker_pool) races against a
    /// handler without starting a goroutine per job.
    pub(crate) fn heartbeats(&self) -> impl Future<Output = Infallible> + Send + 'static {
        let beat = self.delivery().heartbeat();
        let every = self.ctx.heartbeat_every();
        let span = self.span.clone();
        async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(err) = beat().await {
                    tracing::warn!(parent: &span, %err, "heartbeat failed");
                }
            }
        }
    }

    /// The delivery's heartbeat, for a consumer that holds the job in its
    /// hand-off while no worker is free (see the backends' pull loops).
    pub(crate) fn heartbeat(&self) -> Heartbeat {
        self.delivery().heartbeat()
    }

    fn delivery(&self) -> &dyn Delivery {
        // Invariant 1: only the consuming methods take it.
        self.inner
            .as_deref()
            .expect("a job is settled only by value")
    }

    fn take(&mut self) -> Box<dyn Delivery> {
        self.inner.take().expect("a job is settled only by value")
    }
}

impl<J> Drop for Job<J> {
    fn drop(&mut self) {
        if let Some(delivery) = self.inner.take() {
            // Invariant 2.
            self.ctx.counters.add(Count::Nacked);
            tracing::debug!(parent: &self.span, "dropped unsettled: nak'd");
            delivery.nak_now();
        }
    }
}

impl<J: fmt::Debug> fmt::Debug for Job<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("queue", &self.ctx.queue)
            .field("id", &self.id)
            .field("delivery", &self.delivery)
            .field("payload", &self.payload)
            .finish()
    }
}

/// A running heartbeat for a job (see [`Job::keep_alive`]); dropping it
/// stops the heartbeat.
#[must_use = "the heartbeat stops when the guard is dropped"]
#[derive(Debug)]
pub struct KeepAlive {
    _stop: tokio::sync::oneshot::Sender<()>,
}
