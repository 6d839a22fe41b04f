//! The NATS JetStream backend: nats.go's `js.PullSubscribe` and its `Fetch`
//! loop, turned into a gokio [`Receiver`] of [`Job`]s. Unlike Go, the pull
//! loop is ours (one goroutine per consumer, bounded by the prefetch), and
//! jobs that die on their last delivery are dead-lettered for you.
//!
//! ```text
//! Producer ──pub gokio.jobs.{q}──▶ stream GOKIO_{q} (work queue) ──pull──▶ consumer gokio-{q} ──▶ Receiver<Job<J>>
//!                                                                              │ dead_letter
//!                                  stream GOKIO_{q}_DLQ  ◀──pub gokio.dead.{q}─┘
//! ```
//!
//! # Layout on the server
//!
//! - Stream `GOKIO_{queue}`, subject `gokio.jobs.{queue}`, work-queue
//!   retention (a job leaves the stream when it is acked or terminated), file
//!   storage, duplicate window [`Options::dedup_window`]. A job travels as its
//!   JSON payload with its id in the `Gokio-Job-Id` header and, as the dedup
//!   key, in `Nats-Msg-Id`.
//! - Stream `GOKIO_{queue}_DLQ`, subject `gokio.dead.{queue}`, limits
//!   retention: dead letters, with the headers `Gokio-Job-Id`, `Gokio-Reason`
//!   and `Gokio-Deliveries`, and `Nats-Msg-Id: dead-{seq}` (the job's sequence
//!   in the job stream), so that a delivery dead-lettered twice is stored
//!   once.
//! - A durable pull consumer `gokio-{queue}`, explicit acks, with the ack wait
//!   of the [`Options`] it was first declared with, and no delivery limit on
//!   the server: the queue's `max_deliver` is written into the consumer's
//!   description and enforced by the consumers (see below). Every process
//!   that calls [`consume`] on the queue shares the consumer, so each job
//!   goes to one of them.
//!
//! Only JetStream APIs of nats-server 2.9 are used.
//!
//! # The pull goroutine
//!
//! [`consume`] starts one goroutine that owns `prefetch` permits. It waits
//! for a free permit, takes every other free one too (up to
//! [`Options::batch`]), and asks the server for that many jobs in one pull
//! request that expires after 5 seconds, so that an idle consumer
//! sends one request every few seconds rather than spinning. Each job it
//! gets carries one permit until it is settled, so at most `prefetch` jobs
//! are delivered and unsettled at once.
//!
//! A job's ack-wait clock starts when the server delivers it to this
//! goroutine, not when a worker receives it from the [`Receiver`]. So that
//! a job waiting for a free worker is not redelivered behind the
//! consumer's back, the goroutine reports every job it holds in progress
//! every third of the ack wait until a worker takes it.
//!
//! # Giving up on a job
//!
//! A job that fails on its last allowed delivery is dead-lettered by
//! [`Job::nak`] and [`Job::retry`]. A job whose worker died, hung, or dropped
//! it on that delivery never reaches that code. JetStream's own
//! `max_deliver` would then leave the message in the work-queue stream,
//! never delivered again, and tell only through a one-shot advisory that a
//! process may miss (measured on 2.9.10). So the server delivers without
//! limit, and a consumer that receives a job *past* its last allowed
//! delivery dead-letters it at once instead of handing it out, with the
//! reason "not settled on its last delivery". If storing the dead letter
//! fails, the job simply comes back and is given up on again: no job is ever
//! stuck. A `+TERM` removes the message from a work-queue stream (as an ack
//! does; measured on 2.9.10).
//!
//! # Exiting a process
//!
//! Acks are published without waiting for the server (unless
//! [`Options::confirm_acks`]); call [`Client::flush`] before the process
//! exits, or the last acks may be lost and their jobs run again.
//!
//! # Differences from Go
//!
//! In Go you call `sub.Fetch(n)` in a loop and track in-flight messages and
//! retries yourself. Here the loop, the prefetch bound, heartbeats and the
//! dead-letter policy are the crate's, and the consumer side is a channel.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_nats::header::{HeaderMap, NATS_MESSAGE_ID};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, stream, AckKind};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use gokio::{Receiver, Sender};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

pub use async_nats::Client;

use crate::job::{self, BoxFuture, ConsumerCtx, Delivery, Heartbeat};
use crate::options::{check_id, check_name};
use crate::producer::Publish;
use crate::{Backlog, DeadLetter, Error, Job, Options, Producer, Submitted};

/// How long one pull request waits on the server for jobs before it
/// expires and the consumer sends a new one: an idle consumer sends one
/// request per period.
const PULL_EXPIRES: Duration = Duration::from_secs(5);

/// How long [`connect`] waits for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The first pause after a failed pull request; it doubles up to
/// [`MAX_RETRY_PAUSE`] while the failures go on.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(250);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

const JOB_ID: &str = "Gokio-Job-Id";
const REASON: &str = "Gokio-Reason";
const DELIVERIES: &str = "Gokio-Deliveries";

/// Marks the queue's `max_deliver` in the consumer's description (2.9 has
/// no consumer metadata).
const MAX_DELIVER_TAG: &str = "max_deliver=";

/// Connects to the NATS server at `url` (e.g. `nats://127.0.0.1:4222`).
///
/// The first connect is tried once, so a wrong URL fails at once; once
/// connected, the client reconnects on its own whenever the connection is
/// lost, and consumers retry their pulls meanwhile.
///
/// # Errors
///
/// [`Error::Connect`], naming `url`, when the server cannot be reached
/// within 5 seconds or refuses the connection.
pub async fn connect(url: &str) -> Result<Client, Error> {
    async_nats::ConnectOptions::new()
        .name("gokio-queue")
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await
        .map_err(|err| Error::Connect {
            url: url.to_owned(),
            reason: err.to_string(),
        })
}

/// Declares the queue's streams (if they do not exist yet) and returns a
/// producer for it.
///
/// # Errors
///
/// [`Error::Invalid`] for a bad queue name or options, [`Error::Server`]
/// when the streams cannot be declared.
pub async fn producer<J: Serialize>(
    client: &Client,
    queue: &str,
    opts: &Options,
) -> Result<Producer<J>, Error> {
    check_name(queue)?;
    opts.validate()?;
    let names = Names::new(queue);
    let js = jetstream::new(client.clone());
    declare_streams(&js, &names, opts).await?;
    let publish = NatsPublish {
        js,
        subject: names.subject,
    };
    Ok(Producer::new(queue, Arc::new(publish)))
}

/// Declares the queue's streams and its durable consumer (if they do not
/// exist yet) and starts pulling jobs from it; the returned receiver closes
/// when [`Options::cancel`] fires (it is also dropped when the receiver
/// is).
///
/// The ack wait and `max_deliver` are those the consumer was first declared
/// with; if `opts` asks for others, a warning is logged and the server's
/// are used.
///
/// # Errors
///
/// [`Error::Invalid`] for a bad queue name or options, [`Error::Server`]
/// when the streams or the consumer cannot be declared.
///
/// # Panics
///
/// Panics outside a Tokio runtime (it starts goroutines).
pub async fn consume<J: DeserializeOwned + Send + 'static>(
    client: &Client,
    queue: &str,
    opts: Options,
) -> Result<Receiver<Job<J>>, Error> {
    check_name(queue)?;
    opts.validate()?;
    let names = Names::new(queue);
    let js = jetstream::new(client.clone());
    let stream = declare_streams(&js, &names, &opts).await?;
    let config = pull::Config {
        durable_name: Some(names.durable.clone()),
        // The queue's `max_deliver` lives here: the server itself delivers
        // without limit (see "Giving up on a job" in the module docs).
        description: Some(format!(
            "gokio-queue consumer of {queue}; {MAX_DELIVER_TAG}{}",
            opts.max_deliver
        )),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: opts.ack_wait,
        max_deliver: -1,
        ..pull::Config::default()
    };
    let consumer: PullConsumer = stream
        .get_or_create_consumer(&names.durable, config)
        .await
        .map_err(|err| Error::server("create consumer", err))?;

    // The first declaration wins: heartbeats must beat within the server's
    // ack wait, and every process must give up on a job at the same count.
    let mut opts = opts;
    let declared = &consumer.cached_info().config;
    let max_deliver = declared
        .description
        .as_deref()
        .and_then(|d| d.split_once(MAX_DELIVER_TAG))
        .and_then(|(_, n)| n.parse::<u32>().ok())
        .unwrap_or(opts.max_deliver);
    if declared.ack_wait != opts.ack_wait || max_deliver != opts.max_deliver {
        tracing::warn!(
            queue,
            ack_wait = ?declared.ack_wait,
            max_deliver,
            "the consumer was declared with other settings; using those"
        );
        opts.ack_wait = declared.ack_wait;
        opts.max_deliver = max_deliver;
    }

    let jobs = gokio::chan(0);
    let puller = Puller {
        consumer,
        js,
        names: Arc::new(names),
        ctx: ConsumerCtx::new(queue, &opts),
        permits: Arc::new(Semaphore::new(opts.prefetch)),
        batch: opts.batch.unwrap_or(opts.prefetch).min(opts.prefetch),
        cancel: opts.cancel.clone(),
        tx: jobs.sender(),
    };
    gokio::go_named(format!("gokio-queue {queue} consumer"), puller.run());
    Ok(jobs.receiver())
}

/// Lists the queue's dead letters, oldest first.
///
/// # Errors
///
/// [`Error::Invalid`] for a bad queue name, [`Error::Server`] when the
/// dead-letter stream cannot be read. A queue never declared has none.
pub async fn dead_letters(client: &Client, queue: &str) -> Result<Vec<DeadLetter>, Error> {
    check_name(queue)?;
    let js = jetstream::new(client.clone());
    let letters = read_dead_letters(&js, &Names::new(queue)).await?;
    Ok(letters.into_iter().map(|(_, letter)| letter).collect())
}

/// Submits every dead letter to the queue again, under its job id and as a
/// first delivery, and removes it from the dead-letter queue; returns how
/// many were replayed.
///
/// Each replay is stored with the dedup key `{id}/replay/{dead-letter seq}`,
/// so a replay is not mistaken for a duplicate of the original submit, and
/// two processes replaying at once store each job once.
///
/// # Errors
///
/// [`Error::Invalid`] for a bad queue name, [`Error::Server`] when a job
/// cannot be stored or a dead letter removed; dead letters not yet replayed
/// stay.
pub async fn replay_dead_letters(client: &Client, queue: &str) -> Result<usize, Error> {
    check_name(queue)?;
    let names = Names::new(queue);
    let js = jetstream::new(client.clone());
    let letters = read_dead_letters(&js, &names).await?;
    if letters.is_empty() {
        return Ok(0);
    }
    let dlq = js
        .get_stream_no_info(&names.dlq_stream)
        .await
        .map_err(|err| Error::server("get dead-letter stream", err))?;
    for (seq, letter) in &letters {
        let mut headers = HeaderMap::new();
        headers.insert(JOB_ID, letter.id.as_str());
        headers.insert(NATS_MESSAGE_ID, format!("{}/replay/{seq}", letter.id));
        js.publish_with_headers(
            names.subject.clone(),
            headers,
            Bytes::from(letter.payload.clone()),
        )
        .await
        .map_err(|err| Error::server("replay", err))?
        .await
        .map_err(|err| Error::server("replay", err))?;
        delete_message(&dlq, *seq, "delete dead letter").await?;
    }
    Ok(letters.len())
}

/// How many jobs the queue holds now, from the consumer's state on the
/// server: `waiting` is its pending count, `in_flight` its ack-pending
/// count, over all processes consuming the queue.
///
/// JetStream counts a job that waits out a retry delay, or that waits to be
/// redelivered after its ack wait expired, as ack-pending: such jobs show in
/// `in_flight`, not in `waiting` (the memory backend counts them as
/// waiting). Before any [`consume`], every stored job is `waiting`.
///
/// # Errors
///
/// [`Error::Invalid`] for a bad queue name, [`Error::Server`] when the
/// queue does not exist or the server does not answer.
pub async fn backlog(client: &Client, queue: &str) -> Result<Backlog, Error> {
    check_name(queue)?;
    let names = Names::new(queue);
    let js = jetstream::new(client.clone());
    let stream = js
        .get_stream_no_info(&names.stream)
        .await
        .map_err(|err| Error::server("get stream", err))?;
    match stream.consumer_info(&names.durable).await {
        Ok(info) => Ok(Backlog {
            waiting: info.num_pending,
            in_flight: info.num_ack_pending as u64,
        }),
        Err(err) if is_missing_consumer(&err) => {
            let info = stream
                .get_info()
                .await
                .map_err(|err| Error::server("stream info", err))?;
            Ok(Backlog {
                waiting: info.state.messages,
                in_flight: 0,
            })
        }
        Err(err) => Err(Error::server("consumer info", err)),
    }
}

/// Deletes the queue: its job stream (with the consumer) and its
/// dead-letter stream, with everything in them. For tests and benches;
/// deleting a queue that does not exist is not an error.
///
/// Consumers still running on the queue log warnings and retry until they
/// are stopped.
///
/// # Errors
///
/// [`Error::Invalid`] for a bad queue name, [`Error::Server`] when a stream
/// could not be deleted.
pub async fn delete_queue(client: &Client, queue: &str) -> Result<(), Error> {
    check_name(queue)?;
    let names = Names::new(queue);
    let js = jetstream::new(client.clone());
    for name in [&names.stream, &names.dlq_stream] {
        match js.delete_stream(name).await {
            Ok(_) => {}
            Err(err) if is_js_code(err.kind(), &[jetstream::ErrorCode::STREAM_NOT_FOUND]) => {}
            Err(err) => return Err(Error::server("delete stream", err)),
        }
    }
    Ok(())
}

/// The server-side names of one queue.
struct Names {
    queue: String,
    stream: String,
    dlq_stream: String,
    subject: String,
    dead_subject: String,
    durable: String,
}

impl Names {
    fn new(queue: &str) -> Names {
        Names {
            queue: queue.to_owned(),
            stream: format!("GOKIO_{queue}"),
            dlq_stream: format!("GOKIO_{queue}_DLQ"),
            subject: format!("gokio.jobs.{queue}"),
            dead_subject: format!("gokio.dead.{queue}"),
            durable: format!("gokio-{queue}"),
        }
    }
}

/// Declares both streams, idempotently; the first declaration fixes the
/// settings, later ones use the streams as they are. Returns the job
/// stream.
async fn declare_streams(
    js: &jetstream::Context,
    names: &Names,
    opts: &Options,
) -> Result<stream::Stream, Error> {
    js.get_or_create_stream(stream::Config {
        name: names.dlq_stream.clone(),
        description: Some(format!("gokio-queue dead letters of {}", names.queue)),
        subjects: vec![names.dead_subject.clone()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        // A delivery is dead-lettered twice only if its term was lost after
        // the letter was stored; it then comes back after the ack wait, and
        // this window makes the second store a no-op.
        duplicate_window: opts.ack_wait + Duration::from_secs(120),
        ..stream::Config::default()
    })
    .await
    .map_err(|err| Error::server("create dead-letter stream", err))?;
    js.get_or_create_stream(stream::Config {
        name: names.stream.clone(),
        description: Some(format!("gokio-queue jobs of {}", names.queue)),
        subjects: vec![names.subject.clone()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: opts.dedup_window,
        ..stream::Config::default()
    })
    .await
    .map_err(|err| Error::server("create stream", err))
}

/// Submits jobs to the job stream and waits for the server to store them.
struct NatsPublish {
    js: jetstream::Context,
    subject: String,
}

impl Publish for NatsPublish {
    fn publish(&self, id: String, payload: Vec<u8>) -> BoxFuture<Result<Submitted, Error>> {
        let js = self.js.clone();
        let subject = self.subject.clone();
        Box::pin(async move {
            check_id(&id)?;
            let mut headers = HeaderMap::new();
            headers.insert(JOB_ID, id.as_str());
            headers.insert(NATS_MESSAGE_ID, id.as_str());
            let ack = js
                .publish_with_headers(subject, headers, Bytes::from(payload))
                .await
                .map_err(|err| Error::server("publish", err))?
                .await
                .map_err(|err| Error::server("publish", err))?;
            Ok(if ack.duplicate {
                Submitted::Duplicate
            } else {
                Submitted::Queued
            })
        })
    }
}

/// One job delivered by the durable consumer.
struct NatsDelivery {
    acker: Arc<Acker>,
    js: jetstream::Context,
    names: Arc<Names>,
    id: String,
    stream_seq: u64,
    deliveries: u32,
    payload: Bytes,
}

impl Delivery for NatsDelivery {
    fn ack(self: Box<Self>, confirm: bool) -> BoxFuture<Result<(), Error>> {
        Box::pin(async move {
            let acked = if confirm {
                self.acker.double_ack().await
            } else {
                self.acker.ack().await
            };
            acked.map_err(|err| Error::server("ack", err))
        })
    }

    fn nak(self: Box<Self>, delay: Duration) -> BoxFuture<Result<(), Error>> {
        Box::pin(async move {
            let delay = (!delay.is_zero()).then_some(delay);
            self.acker
                .ack_with(AckKind::Nak(delay))
                .await
                .map_err(|err| Error::server("nak", err))
        })
    }

    fn term(self: Box<Self>) -> BoxFuture<Result<(), Error>> {
        Box::pin(async move {
            self.acker
                .ack_with(AckKind::Term)
                .await
                .map_err(|err| Error::server("term", err))
        })
    }

    fn dead_letter(self: Box<Self>, reason: String) -> BoxFuture<Result<(), Error>> {
        Box::pin(async move {
            store_dead_letter(
                &self.js,
                &self.names,
                &self.id,
                self.stream_seq,
                self.deliveries,
                &reason,
                self.payload.clone(),
            )
            .await?;
            // Only once the dead letter is stored: a term removes the job
            // from the work-queue stream (measured on 2.9), and it is
            // confirmed so that the queue is settled when this returns.
            self.acker
                .double_ack_with(AckKind::Term)
                .await
                .map_err(|err| Error::server("term", err))
        })
    }

    fn heartbeat(&self) -> Heartbeat {
        let acker = Arc::clone(&self.acker);
        Arc::new(move || -> BoxFuture<Result<(), Error>> {
            let acker = Arc::clone(&acker);
            Box::pin(async move {
                acker
                    .ack_with(AckKind::Progress)
                    .await
                    .map_err(|err| Error::server("in progress", err))
            })
        })
    }

    /// Sends the nak from a task on the current Tokio runtime. Outside one
    /// (a job dropped after its runtime shut down) nothing can be sent, and
    /// the server redelivers the job when its ack wait expires.
    fn nak_now(self: Box<Self>) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(err) = self.acker.ack_with(AckKind::Nak(None)).await {
                    tracing::debug!(%err, "nak of a dropped job failed; it is redelivered after the ack wait");
                }
            });
        }
    }
}

/// Stores one dead letter and waits for the server to confirm it. The
/// dedup key `dead-{seq}` makes a second store of the same delivery (by
/// another process, or after a lost term brought the job back) a no-op.
async fn store_dead_letter(
    js: &jetstream::Context,
    names: &Names,
    id: &str,
    stream_seq: u64,
    deliveries: u32,
    reason: &str,
    payload: Bytes,
) -> Result<(), Error> {
    // A header value is one line.
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert(JOB_ID, id);
    headers.insert(REASON, reason);
    headers.insert(DELIVERIES, deliveries.to_string());
    headers.insert(NATS_MESSAGE_ID, format!("dead-{stream_seq}"));
    js.publish_with_headers(names.dead_subject.clone(), headers, payload)
        .await
        .map_err(|err| Error::server("publish dead letter", err))?
        .await
        .map_err(|err| Error::server("publish dead letter", err))?;
    Ok(())
}

/// Reads every dead letter with its sequence in the dead-letter stream.
async fn read_dead_letters(
    js: &jetstream::Context,
    names: &Names,
) -> Result<Vec<(u64, DeadLetter)>, Error> {
    let dlq = match js.get_stream(&names.dlq_stream).await {
        Ok(dlq) => dlq,
        Err(err) if is_js_code(err.kind(), &[jetstream::ErrorCode::STREAM_NOT_FOUND]) => {
            return Ok(Vec::new())
        }
        Err(err) => return Err(Error::server("get dead-letter stream", err)),
    };
    let mut letters = Vec::new();
    let mut next = dlq.cached_info().state.first_sequence.max(1);
    loop {
        // STREAM.MSG.GET with next_by_subj skips deleted sequences (2.9).
        let found = dlq
            .raw_message_builder()
            .sequence(next)
            .next_by_subject(names.dead_subject.clone())
            .send()
            .await;
        let message = match found {
            Ok(message) => message,
            Err(err) if is_gone(err.kind()) => break,
            Err(err) => return Err(Error::server("read dead letter", err)),
        };
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        letters.push((
            message.sequence,
            DeadLetter {
                id: header(JOB_ID),
                deliveries: header(DELIVERIES).parse().unwrap_or(0),
                reason: header(REASON),
                payload: message.payload.to_vec(),
            },
        ));
        next = message.sequence + 1;
    }
    Ok(letters)
}

/// Deletes one message; one that is already gone is fine (another process
/// got there first).
async fn delete_message<I>(
    stream: &stream::Stream<I>,
    seq: u64,
    op: &'static str,
) -> Result<(), Error> {
    match stream.delete_message(seq).await {
        Ok(_) => Ok(()),
        Err(err) => match err.kind() {
            stream::DeleteMessageErrorKind::JetStream(js_err)
                if GONE.contains(&js_err.error_code()) =>
            {
                Ok(())
            }
            _ => Err(Error::server(op, err)),
        },
    }
}

/// The codes of "there is no such message (any more)": 10037 from a get,
/// 10043 from a delete of a sequence never stored or already deleted, and
/// 10057 ("no message found") from a delete of a message that acks removed.
const GONE: [jetstream::ErrorCode; 3] = [
    jetstream::ErrorCode::NO_MESSAGE_FOUND,
    jetstream::ErrorCode::SEQUENCE_NOT_FOUND,
    jetstream::ErrorCode::STREAM_MESSAGE_DELETE_FAILED,
];

fn is_gone(kind: stream::RawMessageErrorKind) -> bool {
    match kind {
        stream::RawMessageErrorKind::NoMessageFound => true,
        stream::RawMessageErrorKind::JetStream(err) => GONE.contains(&err.error_code()),
        _ => false,
    }
}

fn is_js_code(
    kind: jetstream::context::GetStreamErrorKind,
    codes: &[jetstream::ErrorCode],
) -> bool {
    matches!(kind, jetstream::context::GetStreamErrorKind::JetStream(err) if codes.contains(&err.error_code()))
}

fn is_missing_consumer(err: &jetstream::context::ConsumerInfoError) -> bool {
    match err.kind() {
        jetstream::context::ConsumerInfoErrorKind::NotFound => true,
        jetstream::context::ConsumerInfoErrorKind::JetStream(err) => {
            err.error_code() == jetstream::ErrorCode::CONSUMER_NOT_FOUND
        }
        _ => false,
    }
}

/// The consumer goroutine's state.
struct Puller<J> {
    consumer: PullConsumer,
    js: jetstream::Context,
    names: Arc<Names>,
    ctx: Arc<ConsumerCtx>,
    /// One permit per job delivered and not yet settled (the prefetch).
    permits: Arc<Semaphore>,
    /// The most jobs asked for in one pull request.
    batch: usize,
    cancel: Option<CancellationToken>,
    tx: Sender<Job<J>>,
}

/// A pull request being answered, with the permits of the jobs it may still
/// bring.
struct Request {
    batch: pull::Batch,
    permits: OwnedSemaphorePermit,
}

/// The consumer was stopped (cancelled, or its receiver dropped).
struct Stopped;

impl<J: DeserializeOwned + Send + 'static> Puller<J> {
    async fn run(self) {
        let mut pause = FIRST_RETRY_PAUSE;
        // Jobs delivered but not handed out yet, oldest first; dropped (so
        // nak'd) if the consumer stops.
        let mut pending: VecDeque<Job<J>> = VecDeque::new();
        let mut request: Option<Request> = None;
        loop {
            while let Some(job) = pending.pop_front() {
                if self.offer(job, &mut request, &mut pending).await.is_err() {
                    return self.give_back(request).await;
                }
            }
            let Some(req) = request.as_mut() else {
                match self.request(&mut pause).await {
                    Ok(req) => request = Some(req),
                    Err(Stopped) => return,
                }
                continue;
            };
            let next = tokio::select! {
                next = req.batch.next() => next,
                () = self.stopped() => return self.give_back(request).await,
            };
            let message = match next {
                // The request expired or is filled: unused permits go back
                // with it, and a new request follows.
                None => {
                    request = None;
                    continue;
                }
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    tracing::warn!(queue = %self.ctx.queue, %err, ?pause, "pulling failed; retrying");
                    request = None;
                    if self.pause(&mut pause).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            pause = FIRST_RETRY_PAUSE;
            if let Some(job) = self.admit(message, req).await {
                pending.push_back(job);
            }
        }
    }

    /// Waits for at least one free permit, takes every other free one too
    /// (up to `batch`), and sends one pull request for that many jobs.
    async fn request(&self, pause: &mut Duration) -> Result<Request, Stopped> {
        loop {
            let mut permits = tokio::select! {
                permit = Arc::clone(&self.permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    // Never closed; but if it were, there is nothing to do.
                    Err(_) => return Err(Stopped),
                },
                () = self.stopped() => return Err(Stopped),
            };
            let more = self.permits.available_permits().min(self.batch - 1);
            if more > 0 {
                // `more` <= MAX_PREFETCH (options.rs), so it fits a u32.
                if let Ok(extra) = Arc::clone(&self.permits).try_acquire_many_owned(more as u32) {
                    permits.merge(extra);
                }
            }
            let sent = self
                .consumer
                .batch()
                .max_messages(permits.num_permits())
                .expires(PULL_EXPIRES)
                .messages();
            let sent = tokio::select! {
                sent = sent => sent,
                () = self.stopped() => return Err(Stopped),
            };
            match sent {
                Ok(batch) => return Ok(Request { batch, permits }),
                Err(err) => {
                    tracing::warn!(queue = %self.ctx.queue, %err, ?pause, "pull request failed; retrying");
                    drop(permits);
                    self.pause(pause).await.map_err(|()| Stopped)?;
                }
            }
        }
    }

    /// Hands `job` to a worker. While none is free, every third of the ack
    /// wait it reports `job`, and every job of the request that arrived
    /// meanwhile (moved into `pending`), in progress: a job waiting in the
    /// hand-off is never redelivered behind the consumer's back, however
    /// slow the workers are.
    async fn offer(
        &self,
        job: Job<J>,
        request: &mut Option<Request>,
        pending: &mut VecDeque<Job<J>>,
    ) -> Result<(), Stopped> {
        let every = self.ctx.heartbeat_every();
        let offered = job.heartbeat();
        let send = self.tx.send(job);
        tokio::pin!(send);
        // Made only if no worker takes the job at once (`next_tick` is
        // polled only after `send`): a timer per job would cost an
        // allocation on every hand-off.
        let mut ticks = None;
        loop {
            tokio::select! {
                biased;
                // `Err`: every receiver is gone; the job comes back in the
                // error and is dropped, hence nak'd.
                sent = &mut send => return sent.map_err(|_| Stopped),
                // The unsent job is dropped with the send, hence nak'd.
                () = self.stopped() => return Err(Stopped),
                () = job::next_tick(&mut ticks, every) => {
                    if let Some(req) = request.as_mut() {
                        while let Some(Some(Ok(message))) = req.batch.next().now_or_never() {
                            if let Some(job) = self.admit(message, req).await {
                                pending.push_back(job);
                            }
                        }
                    }
                    let beats: Vec<Heartbeat> = std::iter::once(offered.clone())
                        .chain(pending.iter().map(Job::heartbeat))
                        .collect();
                    for beat in beats {
                        if let Err(err) = beat().await {
                            tracing::debug!(queue = %self.ctx.queue, %err, "heartbeat of a waiting job failed");
                        }
                    }
                }
            }
        }
    }

    /// Naks the jobs of the current request that already arrived, so they
    /// are redelivered at once; jobs still on their way are redelivered
    /// after the ack wait.
    async fn give_back(&self, request: Option<Request>) {
        let Some(mut req) = request else { return };
        while let Some(Some(Ok(message))) = req.batch.next().now_or_never() {
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
    }

    /// Resolves when the consumer must stop: cancelled, or nobody can
    /// receive its jobs any more.
    async fn stopped(&self) {
        match &self.cancel {
            Some(cancel) => tokio::select! {
                () = cancel.cancelled() => {}
                () = self.tx.closed() => {}
            },
            None => self.tx.closed().await,
        }
    }

    /// Waits out a retry pause (and doubles the next one); `Err` if the
    /// consumer was stopped meanwhile.
    async fn pause(&self, pause: &mut Duration) -> Result<(), ()> {
        let wait = *pause;
        *pause = (*pause * 2).min(MAX_RETRY_PAUSE);
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(()),
            () = self.stopped() => Err(()),
        }
    }

    /// Turns one message of `req` into a job holding one of its permits.
    async fn admit(&self, message: jetstream::Message, req: &mut Request) -> Option<Job<J>> {
        let Some(permit) = req.permits.split(1) else {
            // The server sends at most the number asked for; if it sent
            // more, the job is given back rather than overrun the prefetch.
            let _ = message.ack_with(AckKind::Nak(None)).await;
            return None;
        };
        let (stream_seq, delivered) = match message.info() {
            Ok(info) => (info.stream_sequence, info.delivered),
            Err(err) => {
                // Not a JetStream delivery; it cannot be acked either.
                tracing::warn!(queue = %self.ctx.queue, %err, "dropped a message without delivery info");
                return None;
            }
        };
        let deliveries = u32::try_from(delivered).unwrap_or(u32::MAX).max(1);
        let (message, acker) = message.split();
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(name))
                .map(|value| value.as_str().to_owned())
        };
        // Jobs published by other tools may lack our header.
        let id = header(JOB_ID)
            .or_else(|| header(NATS_MESSAGE_ID.as_ref()))
            .unwrap_or_else(|| format!("seq-{stream_seq}"));
        let delivery = NatsDelivery {
            acker: Arc::new(acker),
            js: self.js.clone(),
            names: Arc::clone(&self.names),
            id: id.clone(),
            stream_seq,
            deliveries: deliveries.min(self.ctx.max_deliver),
            payload: message.payload.clone(),
        };
        job::admit(
            &self.ctx,
            Box::new(delivery),
            id,
            deliveries,
            &message.payload,
            Some(permit),
        )
        .await
    }
}
