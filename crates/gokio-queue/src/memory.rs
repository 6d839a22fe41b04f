//! The in-memory backend: Go's buffered channel of jobs, plus what a
//! channel lacks: redelivery, an ack-wait clock, dedup and dead letters.
//!
//! Go has no durable queue in its standard library; a Go program either
//! passes jobs through a `chan Job` (lost on a crash or a failed handler)
//! or embeds nats.go's JetStream. [`Queue`] is the second, in-process: a
//! faithful model of a JetStream work-queue stream with one pull consumer,
//! so code and tests written against it hold on the [`nats`](crate::nats)
//! backend. It differs from JetStream only where memory forces it to:
//!
//! - Jobs live in this process: they are gone when it exits, and only this
//!   process can consume them.
//! - [`close`](Queue::close) ends the queue: a stream has no end, but a
//!   channel does, and tests and batch programs want their worker pool to
//!   finish once every job is settled.
//! - Settling never fails: there is no connection to lose.
//!
//! # Model
//!
//! Every submitted job gets a sequence number (JetStream's stream
//! sequence) and is, at any moment, in one of three states:
//!
//! ```text
//!             submit / nak(0) / ack wait expired
//!   ┌─────────────────────────────────────────────┐
//!   ▼                                             │
//! ready ──take (deliveries + 1)──▶ in flight ─────┤ ack / term / dead letter ──▶ gone
//!   ▲                              (deadline)     │ nak(delay)
//!   └──────────── delayed (until) ◀───────────────┘
//! ```
//!
//! A consumer takes the ready job with the lowest sequence number (FIFO by
//! submit order; a nak'd job goes back to its place, ahead of later
//! submits, as JetStream redeliveries do), and its ack-wait deadline starts
//! then, at delivery. While the job waits in the consumer's hand-off for a
//! free worker, the consumer reports it in progress every third of the ack
//! wait, as the NATS backend does, so it is not redelivered behind the
//! consumer's back.
//!
//! A job given back on its last allowed delivery (its worker dropped it, or
//! the ack wait expired) is delivered once more, past `max_deliver`, and
//! the consumer that receives it dead-letters it at once with the reason
//! "not settled on its last delivery" (`job::admit` does this for both
//! backends). This is exactly what the NATS backend does, where the server
//! delivers without limit; the dead letter records `max_deliver`
//! deliveries.
//!
//! A delivery is named by its job's sequence number and its delivery
//! count. JetStream acks by stream sequence, so an ack, term or dead
//! letter from an old delivery (one whose ack wait expired) still removes
//! the job if it is stored; a nak or heartbeat from an old delivery is
//! ignored, because a newer delivery owns the job's clock.
//!
//! Timers are lazy: there is no timer task. Each consumer, when it finds
//! nothing ready, sleeps until the earliest deadline and then sweeps the
//! expired ones; [`Queue::backlog`] and [`Queue::dead_letters`] sweep too,
//! so they are exact even when no consumer runs.
//!
//! # Invariants
//!
//! 1. Every stored job is in exactly one place: its sequence number is in
//!    `ready` (state `Ready`), or `(until, seq)` is in `timers` (state
//!    `Delayed { until }`), or `(deadline, seq)` is in `timers` (state
//!    `InFlight { deadline, .. }`). Nothing else is in `ready` or `timers`.
//! 2. `in_flight` is the number of jobs in state `InFlight`.
//! 3. Sequence numbers grow with submit order, and `ready` is ordered by
//!    them: delivery is FIFO among ready jobs.
//! 4. A nak or heartbeat acts only if the job is `InFlight` with the
//!    delivery count it names; ack, term and dead letter act if the job is
//!    stored at all.
//! 5. The state lock (a `std::sync::Mutex`) is never held across an
//!    `.await`, nor while notifying or calling into a `Job`.
//! 6. A consumer registers for the wake-up (`Notified::enable`) before it
//!    looks at the state, and every change that can make a job ready or
//!    finish a closed queue notifies all waiters after it, so no wake-up
//!    is lost.
//! 7. A consumer takes a job from the store only while it holds one of its
//!    `prefetch` permits, and the `Job` keeps that permit until it is
//!    dropped: a consumer never holds more than `prefetch` unsettled
//!    deliveries.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use gokio::{Receiver, Sender};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::job::{self, BoxFuture, ConsumerCtx, Delivery, Heartbeat};
use crate::options::{check_id, check_name};
use crate::producer::Publish;
use crate::{Backlog, DeadLetter, Error, Job, Options, Producer, Submitted};

/// An in-memory job queue: submit with a [`Producer`], consume as a gokio
/// [`Receiver`] of [`Job`]s.
///
/// `Queue` is a handle: clones share one queue, and every
/// [`consume`](Queue::consume) on any of them is a competing consumer of
/// the same jobs (each job is in flight to at most one consumer at a time).
/// See the [module docs](self) for the model and how it mirrors JetStream.
///
/// The queue lives while any handle, producer, consumer or job of it does.
/// Its consumers run until it is [closed](Queue::close) and drained, until
/// their [cancel token](Options::cancel) fires, or until their receiver is
/// dropped.
///
/// # Examples
///
/// ```
/// use gokio_queue::memory::Queue;
/// use gokio_queue::Options;
///
/// gokio::run(async {
///     let queue = Queue::<String>::new("greetings", &Options::new()).unwrap();
///     queue.producer().submit("g-1", &"hello".to_string()).await.unwrap();
///     queue.close();
///
///     let jobs = queue.consume(Options::new()).unwrap();
///     while let Some(job) = jobs.recv().await {
///         assert_eq!(job.payload(), "hello");
///         job.ack().await.unwrap();
///     }
///     // The receiver closed: the queue is closed and every job settled.
///     assert_eq!(queue.backlog().waiting, 0);
/// });
/// ```
pub struct Queue<J> {
    shared: Arc<Shared>,
    _job: PhantomData<fn(J) -> J>,
}

impl<J> Clone for Queue<J> {
    fn clone(&self) -> Self {
        Queue {
            shared: Arc::clone(&self.shared),
            _job: PhantomData,
        }
    }
}

impl<J> fmt::Debug for Queue<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (backlog, dead, closed) = self
            .shared
            .update(|state, _, _| ((state.backlog(), state.dead.len(), state.closed), false));
        f.debug_struct("Queue")
            .field("name", &self.shared.settings.name)
            .field("waiting", &backlog.waiting)
            .field("in_flight", &backlog.in_flight)
            .field("dead_letters", &dead)
            .field("closed", &closed)
            .finish()
    }
}

impl<J: Serialize + DeserializeOwned + Send + 'static> Queue<J> {
    /// Makes an empty queue named `name`, with the queue settings of
    /// `opts`: [`ack_wait`](Options::ack_wait),
    /// [`max_deliver`](Options::max_deliver) and
    /// [`dedup_window`](Options::dedup_window). They hold for every
    /// consumer, whatever its own `Options` say, as a JetStream stream's
    /// settings are fixed when it is declared.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a name that is not 1 to 64 ASCII letters,
    /// digits, `-` or `_` (the NATS backend's rule, so names carry over),
    /// or for settings [`Options`] refuses (such as an ack wait under
    /// 10 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use gokio_queue::{memory::Queue, Error, Options};
    ///
    /// let opts = Options::new().ack_wait(Duration::from_secs(5)).max_deliver(3);
    /// let queue = Queue::<u32>::new("thumbnails", &opts).unwrap();
    /// assert_eq!(queue.name(), "thumbnails");
    /// assert!(matches!(Queue::<u32>::new("no spaces", &opts), Err(Error::Invalid(_))));
    /// ```
    pub fn new(name: &str, opts: &Options) -> Result<Queue<J>, Error> {
        check_name(name)?;
        opts.validate()?;
        let settings = Settings {
            name: name.into(),
            ack_wait: opts.ack_wait,
            max_deliver: opts.max_deliver,
            dedup_window: opts.dedup_window,
        };
        Ok(Queue {
            shared: Arc::new(Shared {
                settings,
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
            _job: PhantomData,
        })
    }

    /// The queue's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = gokio_queue::memory::Queue::<u8>::new("q", &Default::default()).unwrap();
    /// assert_eq!(queue.name(), "q");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.settings.name
    }

    /// A producer that submits to this queue.
    ///
    /// Submitting stores the job at once (the returned future is ready
    /// when first polled). After [`close`](Queue::close), submits fail
    /// with [`Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_queue::{memory::Queue, Options, Submitted};
    ///
    /// gokio::run(async {
    ///     let queue = Queue::<u32>::new("q", &Options::new()).unwrap();
    ///     let producer = queue.producer();
    ///     assert_eq!(producer.submit("a", &1).await.unwrap(), Submitted::Queued);
    ///     // Same id within the dedup window: nothing new is stored.
    ///     assert_eq!(producer.submit("a", &2).await.unwrap(), Submitted::Duplicate);
    ///     assert_eq!(queue.backlog().waiting, 1);
    /// });
    /// ```
    pub fn producer(&self) -> Producer<J> {
        let publish: Arc<dyn Publish> = Arc::clone(&self.shared) as Arc<dyn Publish>;
        Producer::new(&self.shared.settings.name, publish)
    }

    /// Starts a consumer: a goroutine that delivers the queue's jobs on the
    /// returned channel, each as a [`Job`] to settle.
    ///
    /// The consumer holds at most `opts.prefetch` unsettled deliveries: it
    /// takes the next job from the queue only while one of its slots is
    /// free, and a job frees its slot when it is settled or dropped. It
    /// hands jobs over through an unbuffered channel; a job waiting there
    /// for a free worker is on its ack-wait clock, and the consumer
    /// reports it in progress until a worker takes it. Several consumers
    /// of one queue compete for its jobs.
    ///
    /// The receiver closes (the goroutine ends) when the queue is
    /// [closed](Queue::close) and holds no job any more (every job acked,
    /// terminated or dead-lettered), when `opts.cancel` is cancelled, or
    /// when every receiver of it is dropped. Jobs already delivered stay
    /// valid; a job taken from the queue but not yet handed over when the
    /// consumer stops is nak'd, which counts as a delivery, as it does on
    /// JetStream.
    ///
    /// The queue settings in `opts` (`ack_wait`, `max_deliver`,
    /// `dedup_window`) are ignored: the queue's own, from
    /// [`new`](Queue::new), hold.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for settings [`Options`] refuses (prefetch 0).
    ///
    /// # Panics
    ///
    /// Panics outside a Tokio runtime (it starts a goroutine).
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_queue::{memory::Queue, Options};
    ///
    /// gokio::run(async {
    ///     let queue = Queue::<u32>::new("q", &Options::new()).unwrap();
    ///     let producer = queue.producer();
    ///     for n in 0..3 {
    ///         producer.submit(format!("n-{n}"), &n).await.unwrap();
    ///     }
    ///     queue.close();
    ///     let jobs = queue.consume(Options::new()).unwrap();
    ///     let mut seen = Vec::new();
    ///     while let Some(job) = jobs.recv().await {
    ///         seen.push(*job.payload());
    ///         job.ack().await.unwrap();
    ///     }
    ///     assert_eq!(seen, [0, 1, 2]); // FIFO
    /// });
    /// ```
    #[track_caller]
    pub fn consume(&self, opts: Options) -> Result<Receiver<Job<J>>, Error> {
        opts.validate()?;
        let settings = &self.shared.settings;
        // The consumer's jobs judge "last attempt" and pace their
        // heartbeats by the queue's settings, not by what this consumer
        // was given.
        let ctx_opts = opts
            .clone()
            .ack_wait(settings.ack_wait)
            .max_deliver(settings.max_deliver)
            .dedup_window(settings.dedup_window);
        let ctx = ConsumerCtx::new(&settings.name, &ctx_opts);
        let chan = gokio::chan::<Job<J>>(0);
        let (tx, rx) = (chan.sender(), chan.receiver());
        // The goroutine's `tx` must be the last sending handle, and `rx`
        // (with its clones) the only receiving ones, so that its return
        // closes the channel and `Sender::closed` sees the receivers go.
        drop(chan);
        let consumer = Consumer {
            shared: Arc::clone(&self.shared),
            ctx,
            permits: Arc::new(Semaphore::new(opts.prefetch)),
            tx,
        };
        let cancel = opts.cancel;
        gokio::go_named(
            format!("queue {} consumer", settings.name),
            consumer.run(cancel),
        );
        Ok(rx)
    }

    /// Closes the queue: further submits fail with [`Error::Closed`], and
    /// every consumer's receiver closes once the queue holds no job (each
    /// one acked, terminated or dead-lettered). Jobs already stored are
    /// still delivered, and nak'd ones come back, until then. Closing twice
    /// is harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_queue::{memory::Queue, Error, Options};
    ///
    /// gokio::run(async {
    ///     let queue = Queue::<u32>::new("q", &Options::new()).unwrap();
    ///     queue.close();
    ///     assert!(matches!(queue.producer().submit("a", &1).await, Err(Error::Closed)));
    ///     let jobs = queue.consume(Options::new()).unwrap();
    ///     assert!(jobs.recv().await.is_none()); // closed and empty
    /// });
    /// ```
    pub fn close(&self) {
        self.shared.lock().closed = true;
        // Invariant 5: notify with the lock released.
        self.shared.changed.notify_waiters();
    }

    /// Whether [`close`](Queue::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = gokio_queue::memory::Queue::<u8>::new("q", &Default::default()).unwrap();
    /// queue.close();
    /// assert!(queue.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// The jobs set aside so far, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_queue::{memory::Queue, Options};
    ///
    /// gokio::run(async {
    ///     let queue = Queue::<u32>::new("q", &Options::new()).unwrap();
    ///     queue.producer().submit("bad", &7).await.unwrap();
    ///     queue.close();
    ///     let jobs = queue.consume(Options::new()).unwrap();
    ///     let job = jobs.recv().await.unwrap();
    ///     job.dead_letter("cannot handle 7").await.unwrap();
    ///
    ///     let dead = queue.dead_letters();
    ///     assert_eq!((dead[0].id.as_str(), dead[0].reason.as_str()), ("bad", "cannot handle 7"));
    ///     assert_eq!(dead[0].payload_as::<u32>().unwrap(), 7);
    /// });
    /// ```
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.shared
            .update(|state, _, _| (state.dead.clone(), false))
    }

    /// Puts every dead letter back in the queue as a fresh job under its
    /// original id (its delivery count starts again at 1), bypassing
    /// dedup, and empties the dead-letter list. Returns how many jobs were
    /// re-queued.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the queue is closed; nothing is moved then.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_queue::{memory::Queue, Options};
    ///
    /// gokio::run(async {
    ///     let queue = Queue::<u32>::new("q", &Options::new()).unwrap();
    ///     queue.producer().submit("a", &1).await.unwrap();
    ///     let jobs = queue.consume(Options::new()).unwrap();
    ///     jobs.recv().await.unwrap().dead_letter("bug #12").await.unwrap();
    ///
    ///     // Bug #12 is fixed: try again.
    ///     assert_eq!(queue.replay_dead_letters().await.unwrap(), 1);
    ///     let job = jobs.recv().await.unwrap();
    ///     assert_eq!((job.id(), job.delivery_count()), ("a", 1));
    ///     job.ack().await.unwrap();
    ///     assert!(queue.dead_letters().is_empty());
    /// });
    /// ```
    pub async fn replay_dead_letters(&self) -> Result<usize, Error> {
        self.shared.update(|state, _, _| {
            if state.closed {
                return (Err(Error::Closed), false);
            }
            let dead = std::mem::take(&mut state.dead);
            let n = dead.len();
            for letter in dead {
                state.store(letter.id, letter.payload.into());
            }
            (Ok(n), n > 0)
        })
    }

    /// How many jobs the queue holds: waiting for delivery (including
    /// those nak'd with a delay) and in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// use gokio_queue::{memory::Queue, Backlog, Options};
    ///
    /// gokio::run(async {
    ///     let queue = Queue::<u32>::new("q", &Options::new()).unwrap();
    ///     queue.producer().submit("a", &1).await.unwrap();
    ///     queue.producer().submit("b", &2).await.unwrap();
    ///     let jobs = queue.consume(Options::new()).unwrap();
    ///     let job = jobs.recv().await.unwrap();
    ///     let backlog = queue.backlog();
    ///     assert_eq!((backlog.waiting, backlog.in_flight), (1, 1));
    ///     job.ack().await.unwrap();
    /// });
    /// ```
    pub fn backlog(&self) -> Backlog {
        self.shared.update(|state, _, _| (state.backlog(), false))
    }
}

/// The queue settings, fixed by [`Queue::new`].
struct Settings {
    name: Arc<str>,
    ack_wait: Duration,
    max_deliver: u32,
    dedup_window: Duration,
}

/// What every handle, producer, consumer and delivery of one queue shares.
struct Shared {
    settings: Settings,
    state: Mutex<State>,
    /// Wakes consumers waiting for a job (invariant 6).
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, and every change keeps
        // the invariants at each step that could be interrupted, so a
        // poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state, swept up to now, and wakes the consumers if
    /// it says so (or the sweep changed anything).
    fn update<R>(&self, f: impl FnOnce(&mut State, Instant, &Settings) -> (R, bool)) -> R {
        let now = Instant::now();
        let (out, changed) = {
            let mut state = self.lock();
            let swept = state.sweep(now, &self.settings);
            let (out, changed) = f(&mut state, now, &self.settings);
            (out, changed || swept)
        };
        // Invariant 5: notify with the lock released.
        if changed {
            self.changed.notify_waiters();
        }
        out
    }
}

impl Publish for Shared {
    fn publish(&self, id: String, payload: Vec<u8>) -> BoxFuture<Result<Submitted, Error>> {
        if let Err(err) = check_id(&id) {
            return Box::pin(std::future::ready(Err(err)));
        }
        let result = self.update(|state, now, settings| {
            if state.closed {
                return (Err(Error::Closed), false);
            }
            if state.is_duplicate(&id, now, settings.dedup_window) {
                return (Ok(Submitted::Duplicate), false);
            }
            state.store(id, payload.into());
            (Ok(Submitted::Queued), true)
        });
        Box::pin(std::future::ready(result))
    }
}

/// Where a stored job is (invariant 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Deliverable now.
    Ready,
    /// Nak'd with a delay: deliverable from `until`.
    Delayed { until: Instant },
    /// Delivered (for the `delivery`-th time) and not settled; given back
    /// at `deadline` unless settled or reported in progress.
    InFlight { delivery: u32, deadline: Instant },
}

struct Stored {
    id: String,
    payload: Arc<[u8]>,
    /// Deliveries so far; the next one is `deliveries + 1`.
    deliveries: u32,
    slot: Slot,
}

#[derive(Default)]
struct State {
    /// Stored jobs by sequence number.
    jobs: HashMap<u64, Stored>,
    /// Ready jobs, lowest sequence number (oldest submit) first.
    ready: BTreeSet<u64>,
    /// Delayed jobs' `until` and in-flight jobs' `deadline`, soonest first.
    timers: BTreeSet<(Instant, u64)>,
    in_flight: usize,
    next_seq: u64,
    /// First submit time of each id within the dedup window, and the same
    /// in submit order, for pruning.
    dedup: HashMap<String, Instant>,
    dedup_order: VecDeque<(Instant, String)>,
    dead: Vec<DeadLetter>,
    closed: bool,
}

/// A job taken from the store for delivery.
struct Taken {
    seq: u64,
    id: String,
    payload: Arc<[u8]>,
    delivery: u32,
}

/// What a consumer finds when it looks for a job.
enum Next {
    Job(Taken),
    /// Nothing ready; something may become ready at this instant (or,
    /// with `None`, only after a change that notifies).
    Wait(Option<Instant>),
    /// Closed and empty: nothing will ever be delivered again.
    Finished,
}

impl State {
    fn backlog(&self) -> Backlog {
        Backlog {
            waiting: (self.jobs.len() - self.in_flight) as u64,
            in_flight: self.in_flight as u64,
        }
    }

    fn finished(&self) -> bool {
        self.closed && self.jobs.is_empty()
    }

    /// Whether `id` was first submitted within `window` before `now`;
    /// records it as submitted now if not. Forgets ids older than the
    /// window on the way.
    fn is_duplicate(&mut self, id: &str, now: Instant, window: Duration) -> bool {
        while let Some((first, _)) = self.dedup_order.front() {
            if now.duration_since(*first) < window {
                break;
            }
            let (first, old) = self.dedup_order.pop_front().expect("front exists");
            // Only forget the entry this record made: a later submit of
            // the same id, after an earlier window ran out, has its own.
            if self.dedup.get(&old) == Some(&first) {
                self.dedup.remove(&old);
            }
        }
        if self.dedup.contains_key(id) {
            return true;
        }
        self.dedup.insert(id.to_owned(), now);
        self.dedup_order.push_back((now, id.to_owned()));
        false
    }

    /// Stores a fresh job, ready, behind every job stored before it.
    fn store(&mut self, id: String, payload: Arc<[u8]>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.jobs.insert(
            seq,
            Stored {
                id,
                payload,
                deliveries: 0,
                slot: Slot::Ready,
            },
        );
        self.ready.insert(seq);
    }

    /// Moves every job whose timer is due: delayed ones become ready, and
    /// expired deliveries are given back. Returns whether anything moved.
    fn sweep(&mut self, now: Instant, settings: &Settings) -> bool {
        let mut moved = false;
        while let Some(&(at, seq)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            moved = true;
            let slot = self.jobs.get(&seq).map(|job| job.slot);
            match slot {
                Some(Slot::Delayed { until }) => {
                    debug_assert_eq!(until, at, "invariant 1");
                    self.set_ready(seq);
                }
                Some(Slot::InFlight { delivery, deadline }) => {
                    debug_assert_eq!(deadline, at, "invariant 1");
                    self.in_flight -= 1;
                    tracing::debug!(queue = %settings.name, id = %self.jobs[&seq].id, delivery, "ack wait expired: redelivering");
                    self.set_ready(seq);
                }
                Some(Slot::Ready) | None => debug_assert!(false, "invariant 1: stale timer"),
            }
        }
        moved
    }

    /// Takes the oldest ready job for delivery, or says how long to wait.
    fn take(&mut self, now: Instant, settings: &Settings) -> Next {
        if let Some(seq) = self.ready.pop_first() {
            let job = self.jobs.get_mut(&seq).expect("invariant 1");
            debug_assert_eq!(job.slot, Slot::Ready, "invariant 1");
            job.deliveries += 1;
            let deadline = later(now, settings.ack_wait);
            job.slot = Slot::InFlight {
                delivery: job.deliveries,
                deadline,
            };
            self.timers.insert((deadline, seq));
            self.in_flight += 1;
            return Next::Job(Taken {
                seq,
                id: job.id.clone(),
                payload: Arc::clone(&job.payload),
                delivery: job.deliveries,
            });
        }
        if self.finished() {
            return Next::Finished;
        }
        Next::Wait(self.next_timer())
    }

    /// When the next delayed job becomes ready or delivery expires.
    fn next_timer(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// The slot of `seq` if its current delivery is `delivery` (invariant
    /// 4), with the deadline to clear from `timers`.
    fn current(&self, seq: u64, delivery: u32) -> Option<Instant> {
        match self.jobs.get(&seq)?.slot {
            Slot::InFlight {
                delivery: current,
                deadline,
            } if current == delivery => Some(deadline),
            _ => None,
        }
    }

    /// Takes `seq` out of `ready` or `timers`, whichever holds it
    /// (invariant 1), and out of the in-flight count.
    fn unplace(&mut self, seq: u64) {
        match self.jobs[&seq].slot {
            Slot::Ready => {
                self.ready.remove(&seq);
            }
            Slot::Delayed { until } => {
                self.timers.remove(&(until, seq));
            }
            Slot::InFlight { deadline, .. } => {
                self.timers.remove(&(deadline, seq));
                self.in_flight -= 1;
            }
        }
    }

    fn set_ready(&mut self, seq: u64) {
        self.jobs.get_mut(&seq).expect("stored").slot = Slot::Ready;
        self.ready.insert(seq);
    }

    /// Moves a job that is out of `ready`, `timers` and the in-flight count
    /// into the dead letters.
    fn bury(&mut self, seq: u64, reason: String, settings: &Settings) {
        let job = self.jobs.remove(&seq).expect("stored");
        self.dead.push(DeadLetter {
            id: job.id,
            // A job dead-lettered past its last delivery was delivered
            // `max_deliver` times to a worker, as on NATS.
            deliveries: job.deliveries.min(settings.max_deliver),
            reason,
            payload: job.payload.to_vec(),
        });
    }

    /// Removes a stored job (ack, term), or dead-letters it; returns
    /// whether it was stored.
    fn remove(&mut self, seq: u64, dead_letter: Option<String>, settings: &Settings) -> bool {
        if !self.jobs.contains_key(&seq) {
            return false;
        }
        self.unplace(seq);
        match dead_letter {
            Some(reason) => self.bury(seq, reason, settings),
            None => {
                self.jobs.remove(&seq);
            }
        }
        true
    }

    /// Gives delivery `delivery` of `seq` back, deliverable at `until`.
    /// Returns whether anything changed.
    fn give_back(&mut self, seq: u64, delivery: u32, until: Instant, now: Instant) -> bool {
        if self.current(seq, delivery).is_none() {
            return false; // Invariant 4: an old delivery.
        }
        self.unplace(seq);
        if until <= now {
            self.set_ready(seq);
        } else {
            self.jobs.get_mut(&seq).expect("stored").slot = Slot::Delayed { until };
            self.timers.insert((until, seq));
        }
        true
    }

    /// Restarts the ack-wait clock of delivery `delivery` of `seq`.
    fn heartbeat(&mut self, seq: u64, delivery: u32, now: Instant, settings: &Settings) {
        let Some(old) = self.current(seq, delivery) else {
            return; // Invariant 4: an old delivery.
        };
        let deadline = later(now, settings.ack_wait);
        self.timers.remove(&(old, seq));
        self.timers.insert((deadline, seq));
        self.jobs.get_mut(&seq).expect("stored").slot = Slot::InFlight { delivery, deadline };
    }
}

/// `now + d`, with `d` capped at a century.
fn later(now: Instant, d: Duration) -> Instant {
    // A century is "never" for a queue, and adding it to a monotonic
    // clock's reading cannot overflow, where `Duration::MAX` would.
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now + d.min(CENTURY)
}

/// Sleeps until `at`, or forever with `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One delivery of one job: what a [`Job`] settles through.
struct MemDelivery {
    shared: Arc<Shared>,
    seq: u64,
    delivery: u32,
}

impl MemDelivery {
    fn remove(self, dead_letter: Option<String>) -> BoxFuture<Result<(), Error>> {
        let seq = self.seq;
        self.shared
            .update(|state, _, settings| ((), state.remove(seq, dead_letter, settings)));
        Box::pin(std::future::ready(Ok(())))
    }

    fn give_back(self, delay: Duration) {
        let (seq, delivery) = (self.seq, self.delivery);
        self.shared
            .update(|state, now, _| ((), state.give_back(seq, delivery, later(now, delay), now)));
    }
}

impl Delivery for MemDelivery {
    fn ack(self: Box<Self>, _confirm: bool) -> BoxFuture<Result<(), Error>> {
        (*self).remove(None)
    }

    fn nak(self: Box<Self>, delay: Duration) -> BoxFuture<Result<(), Error>> {
        (*self).give_back(delay);
        Box::pin(std::future::ready(Ok(())))
    }

    fn term(self: Box<Self>) -> BoxFuture<Result<(), Error>> {
        (*self).remove(None)
    }

    fn dead_letter(self: Box<Self>, reason: String) -> BoxFuture<Result<(), Error>> {
        (*self).remove(Some(reason))
    }

    fn heartbeat(&self) -> Heartbeat {
        let (shared, seq, delivery) = (Arc::clone(&self.shared), self.seq, self.delivery);
        Arc::new(move || {
            // A later deadline wakes no one: consumers that sleep until
            // the old one find nothing due and sleep again.
            let mut state = shared.lock();
            let now = Instant::now();
            state.heartbeat(seq, delivery, now, &shared.settings);
            Box::pin(std::future::ready(Ok(())))
        })
    }

    fn nak_now(self: Box<Self>) {
        (*self).give_back(Duration::ZERO);
    }
}

/// One consumer's goroutine state.
struct Consumer<J> {
    shared: Arc<Shared>,
    ctx: Arc<ConsumerCtx>,
    /// The prefetch slots (invariant 7).
    permits: Arc<Semaphore>,
    tx: Sender<Job<J>>,
}

impl<J: DeserializeOwned + Send + 'static> Consumer<J> {
    async fn run(self, cancel: Option<CancellationToken>) {
        let cancel = cancel.unwrap_or_default();
        loop {
            let Some(permit) = self.permit(&cancel).await else {
                return;
            };
            let Some(taken) = self.next(&cancel).await else {
                return; // `permit` goes back unused.
            };
            let delivery = Box::new(MemDelivery {
                shared: Arc::clone(&self.shared),
                seq: taken.seq,
                delivery: taken.delivery,
            });
            let admitted = job::admit::<J>(
                &self.ctx,
                delivery,
                taken.id,
                taken.delivery,
                &taken.payload,
                Some(permit),
            )
            .await;
            let Some(job) = admitted else {
                continue; // Undecodable: `admit` dead-lettered it.
            };
            if self.offer(&cancel, job).await.is_none() {
                return;
            }
        }
    }

    /// Waits for a free prefetch slot. Meanwhile it keeps the queue's
    /// timers running (a consumer whose slots are all held may be the only
    /// one left to expire a delivery) and watches for the end of the
    /// queue: a consumer whose slots are held by lost deliveries (expired,
    /// and settled elsewhere) still ends with the queue. `None` if the
    /// consumer is to stop.
    async fn permit(&self, cancel: &CancellationToken) -> Option<OwnedSemaphorePermit> {
        loop {
            let mut notified = std::pin::pin!(self.shared.changed.notified());
            // Invariant 6: register, then look.
            notified.as_mut().enable();
            let (finished, wake_at) = self
                .shared
                .update(|state, _, _| ((state.finished(), state.next_timer()), false));
            if finished {
                return None;
            }
            let acquire = Arc::clone(&self.permits).acquire_owned();
            let woken = self
                .stoppable(cancel, async {
                    tokio::select! {
                        permit = acquire => Some(permit.expect("the semaphore is never closed")),
                        () = notified => None,
                        () = sleep_until(wake_at) => None,
                    }
                })
                .await?;
            if let Some(permit) = woken {
                return Some(permit);
            }
        }
    }

    /// Takes the next job from the store, waiting until one is ready.
    /// `None` if the consumer is to stop.
    async fn next(&self, cancel: &CancellationToken) -> Option<Taken> {
        loop {
            let mut notified = std::pin::pin!(self.shared.changed.notified());
            // Invariant 6: register, then look.
            notified.as_mut().enable();
            let next = self
                .shared
                .update(|state, now, settings| (state.take(now, settings), false));
            let wake_at = match next {
                Next::Job(taken) => return Some(taken),
                Next::Finished => return None,
                Next::Wait(at) => at,
            };
            self.stoppable(cancel, async {
                tokio::select! {
                    () = notified => {}
                    () = sleep_until(wake_at) => {}
                }
            })
            .await?;
        }
    }

    /// Hands `job` to a worker. While none is free, it reports the job in
    /// progress every third of the ack wait, so a job waiting in the
    /// hand-off is not redelivered behind the consumer's back, however slow
    /// the workers are (the NATS backend does the same). `None` if the
    /// consumer is to stop; the unsent job is then dropped, hence nak'd.
    async fn offer(&self, cancel: &CancellationToken, job: Job<J>) -> Option<()> {
        let every = self.ctx.heartbeat_every();
        let beat = job.heartbeat();
        // Made only if no worker takes the job at once (`next_tick` is
        // polled only after `send`): a timer per job would cost an
        // allocation on every hand-off.
        let mut ticks = None;
        let send = self.tx.send(job);
        let mut send = std::pin::pin!(send);
        loop {
            let sent = self
                .stoppable(cancel, async {
                    tokio::select! {
                        biased;
                        // `Err`: every receiver is gone; the job comes back
                        // in the error and is dropped, hence nak'd.
                        sent = &mut send => Some(sent.is_ok()),
                        () = job::next_tick(&mut ticks, every) => None,
                    }
                })
                .await?;
            match sent {
                Some(true) => return Some(()),
                Some(false) => return None,
                // The memory backend's heartbeat cannot fail.
                None => {
                    let _ = beat().await;
                }
            }
        }
    }

    /// Runs `fut` unless the consumer is cancelled or its receivers are
    /// all gone first (`None` then).
    async fn stoppable<T>(
        &self,
        cancel: &CancellationToken,
        fut: impl Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            () = self.tx.closed() => None,
            out = fut => Some(out),
        }
    }
}
