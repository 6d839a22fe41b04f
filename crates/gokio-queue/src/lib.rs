//! Durable job queues whose consumer side is a gokio [`Receiver`]: the Go
//! worker pool, scaled out across processes and machines.
//!
//! ```text
//! producer ──submit(id, job)──▶ queue ──▶ consume() ─▶ Receiver<Job<J>> ─▶ worker_pool(n, jobs, f)
//!                                 ▲                                          │ ack / nak / term
//!                                 └──────────── redelivery ◀─────────────────┘ dead letter
//! ```
//!
//! Two backends with one API ([`Job`], [`Producer`], [`Options`]):
//!
//! - [`nats`]: NATS JetStream, the messaging system of the Go world. Jobs
//!   survive crashes of producers and workers, and any number of processes
//!   on any number of machines share one queue.
//! - [`memory`]: plain gokio channels and a timer, in one process: the
//!   embedded default for tests and single-process deployments, with the
//!   same redelivery, dedup and dead-letter behaviour.
//!
//! Delivery is at least once: a job is delivered again if its worker naks
//! it, drops it (a panic), dies, or stays silent longer than the ack wait.
//! After `max_deliver` deliveries a failing job is dead-lettered, never
//! retried forever. A payload that does not decode is dead-lettered at
//! once with the decode error.
//!
//! ```
//! use gokio_queue::{memory, Options};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct Resize { path: String, width: u32 }
//!
//! gokio::run(async {
//!     let opts = Options::new().prefetch(8);
//!     let queue = memory::Queue::<Resize>::new("resize", &opts).unwrap();
//!     let producer = queue.producer();
//!     producer.submit("img-1", &Resize { path: "a.png".into(), width: 64 }).await.unwrap();
//!     queue.close();
//!
//!     let jobs = queue.consume(opts).unwrap();
//!     let widths = gokio_patterns::worker_pool(8, jobs, |job| async move {
//!         let width = job.payload().width; // the work
//!         job.ack().await.unwrap();
//!         width
//!     });
//!     assert_eq!(widths.recv().await, Some(64));
//! });
//! ```
//!
//! # Differences from Go
//!
//! Go programs reach for nats.go's `js.PullSubscribe` and a loop of
//! `Fetch`, `Ack`, and hand-written retry counting. Here the consumer is a
//! channel, so gokio-patterns' worker pool runs on it unchanged; settling
//! is checked by the type system (a job is settled once, and a dropped job
//! is nak'd, never lost); and the retry and dead-letter policy is one call
//! ([`Job::retry`], [`durable_worker_pool`]).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod counters;
mod dead_letter;
mod error;
mod job;
mod options;
mod pool;
mod producer;

pub mod memory;
pub mod nats;

pub use counters::{Backlog, Counters, Stats};
pub use dead_letter::DeadLetter;
pub use error::Error;
pub use gokio::Receiver;
pub use job::{Job, KeepAlive};
pub use options::Options;
pub use pool::durable_worker_pool;
pub use producer::{Producer, Submitted};
