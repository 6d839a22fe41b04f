//! Queue and consumer settings, shared by both backends.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{Counters, Error};

/// Settings of a queue and of one consumer of it.
///
/// The queue settings (`ack_wait`, `max_deliver`, `dedup_window`) are fixed
/// when a queue is first declared (by a producer or a consumer, whichever
/// comes first); the others are per consumer.
///
/// ```
/// use std::time::Duration;
/// let opts = gokio_queue::Options::new()
///     .prefetch(8)
///     .ack_wait(Duration::from_secs(30))
///     .max_deliver(5);
/// let counters = opts.counters(); // read them while the consumer runs
/// assert_eq!(counters.stats().delivered, 0);
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) prefetch: usize,
    pub(crate) batch: Option<usize>,
    pub(crate) ack_wait: Duration,
    pub(crate) max_deliver: u32,
    pub(crate) backoff: Duration,
    pub(crate) dedup_window: Duration,
    pub(crate) confirm_acks: bool,
    pub(crate) counters: Counters,
    pub(crate) cancel: Option<CancellationToken>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            prefetch: 1,
            batch: None,
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            backoff: Duration::from_secs(1),
            dedup_window: Duration::from_secs(120),
            confirm_acks: false,
            counters: Counters::new(),
            cancel: None,
        }
    }
}

impl Options {
    /// The defaults: prefetch 1, ack wait 30 s, 5 deliveries, retry backoff
    /// from 1 s, a 2-minute dedup window, asynchronous acks.
    pub fn new() -> Options {
        Options::default()
    }

    /// How many jobs this consumer may hold at once, delivered but not yet
    /// settled (default 1). Set it to the number of workers. A job's
    /// ack-wait clock starts when it is delivered to the consumer, not when
    /// a worker takes it; the consumer reports the jobs it holds for busy
    /// workers in progress, so they are not redelivered elsewhere, but they
    /// wait while other consumers could have run them. A prefetch of one
    /// job per worker keeps every delivered job in a worker's hands.
    pub fn prefetch(mut self, n: usize) -> Options {
        self.prefetch = n;
        self
    }

    /// NATS only: the most jobs asked for in one pull request (default: the
    /// free prefetch slots, so one request refills the consumer). `1` is
    /// one request per job.
    pub fn batch(mut self, n: usize) -> Options {
        self.batch = Some(n);
        self
    }

    /// How long a delivered job may go without being settled or reported
    /// [`in_progress`](crate::Job::in_progress) before the queue delivers it
    /// again (default 30 s). The clock starts when the job is delivered to
    /// the consumer, not when a worker picks it up.
    pub fn ack_wait(mut self, d: Duration) -> Options {
        self.ack_wait = d;
        self
    }

    /// How many times a job is delivered at most (default 5); a job that
    /// fails its last delivery is dead-lettered.
    pub fn max_deliver(mut self, n: u32) -> Options {
        self.max_deliver = n;
        self
    }

    /// The delay before the first retry of a failed job (default 1 s); it
    /// doubles with every further delivery, up to one minute. Used by
    /// [`Job::retry`](crate::Job::retry) and
    /// [`durable_worker_pool`](crate::durable_worker_pool).
    pub fn retry_backoff(mut self, d: Duration) -> Options {
        self.backoff = d;
        self
    }

    /// Re-submits of a job id within this window are dropped (default 2
    /// minutes).
    pub fn dedup_window(mut self, d: Duration) -> Options {
        self.dedup_window = d;
        self
    }

    /// Wait for the server to confirm each ack (NATS only; default off:
    /// acks are published asynchronously, which is faster and, since a lost
    /// ack only means a redelivery, still at-least-once).
    pub fn confirm_acks(mut self, on: bool) -> Options {
        self.confirm_acks = on;
        self
    }

    /// Counts into `counters` (for instance shared by several consumers)
    /// instead of fresh ones.
    pub fn with_counters(mut self, counters: Counters) -> Options {
        self.counters = counters;
        self
    }

    /// Stops pulling new jobs when `token` is cancelled: the consumer's
    /// receiver then closes, and jobs already delivered stay valid, so a
    /// worker pool on it drains and ends (a graceful shutdown).
    ///
    /// A job the consumer held for a busy worker when it stopped is given
    /// back at once; as on JetStream, that used up one of its deliveries,
    /// so a job on its last allowed delivery is dead-lettered without having
    /// run. Keep `max_deliver` above 1 if consumers stop often.
    pub fn cancel(mut self, token: CancellationToken) -> Options {
        self.cancel = Some(token);
        self
    }

    /// The counters this consumer counts into (a handle: read it any time).
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// Refuses settings no queue can work with.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !(1..=MAX_PREFETCH).contains(&self.prefetch) {
            return Err(Error::Invalid(format!(
                "prefetch {} is not within 1..={MAX_PREFETCH}",
                self.prefetch
            )));
        }
        if self.batch.is_some_and(|b| !(1..=MAX_PREFETCH).contains(&b)) {
            return Err(Error::Invalid(format!(
                "batch {:?} is not within 1..={MAX_PREFETCH}",
                self.batch
            )));
        }
        if self.max_deliver == 0 {
            return Err(Error::Invalid("max_deliver must be at least 1".into()));
        }
        if self.ack_wait < Duration::from_millis(10) {
            return Err(Error::Invalid(format!(
                "ack_wait {:?} is below the 10 ms minimum",
                self.ack_wait
            )));
        }
        Ok(())
    }

    /// The retry delay after a failed delivery number `delivery` (1-based).
    pub(crate) fn backoff_for(backoff: Duration, delivery: u32) -> Duration {
        let doublings = delivery.saturating_sub(1).min(16);
        backoff
            .saturating_mul(1 << doublings)
            .min(Duration::from_secs(60))
    }
}

/// The most jobs one consumer may hold (and ask for in one pull).
pub(crate) const MAX_PREFETCH: usize = 1 << 16;

/// Refuses job ids that cannot be a NATS header value or a dedup key as
/// given: empty, with control characters, or with leading or trailing
/// whitespace (which a header would trim). Both backends apply it, so they
/// accept the same ids.
pub(crate) fn check_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.chars().any(char::is_control) || id.trim() != id {
        return Err(Error::Invalid(format!(
            "job id {id:?}: use a non-empty id without control characters \
             or leading or trailing whitespace"
        )));
    }
    Ok(())
}

/// Checks a queue name: ASCII letters, digits, `-` and `_`, 1 to 64 of
/// them (it becomes part of NATS subject and stream names).
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "queue name {name:?}: use 1 to 64 ASCII letters, digits, '-' or '_'"
        )))
    }
}
