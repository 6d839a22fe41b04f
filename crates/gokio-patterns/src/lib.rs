//! Go concurrency patterns built only on gokio's public API: worker pools,
//! fan-in, fan-out, broadcast, generators and Go's `errgroup`.
//!
//! Every pattern keeps its buffers bounded (a slow consumer slows the
//! producers), never loses or duplicates an item, reports a panicking task
//! instead of hanging, and runs its goroutines in `tracing` spans.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

// Modules (one per pattern family) are added below.

mod next;

mod worker_pool;
pub use worker_pool::{worker_pool, worker_pool_ordered, Pool, Progress, WorkerPool};

mod fan;
pub use fan::{broadcast, fan_in, fan_in_buffered, fan_out, generate};

mod err_group;
pub use err_group::ErrGroup;
