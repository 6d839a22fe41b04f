//! `go f()`: spawning goroutines.
//!
//! A goroutine is a Tokio task started with [`go`]. It runs on Tokio's
//! multi-threaded work-stealing scheduler, which plays the part of Go's M:N
//! scheduler.
//!
//! # Differences from Go
//!
//! - Go's `go` statement discards the function's result; [`go`] returns a
//!   [`Goroutine`] handle that can be awaited for the output (or the panic, as
//!   a [`JoinError`]). Dropping the handle detaches the goroutine, which is
//!   exactly Go's behaviour.
//! - A panic in a goroutine ends the whole Go program; in gokio it ends only
//!   that goroutine and is reported through its handle, as Tokio does.
//! - Go preempts long-running goroutines. Tokio cannot: a goroutine that never
//!   reaches an `.await` holds its worker thread. gokio's channel operations
//!   take part in Tokio's cooperative budget, so a goroutine that loops on
//!   always-ready channel operations still yields.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use std::panic::Location;
use std::sync::Weak;

use tokio::task::{JoinError, JoinHandle};
use tracing::Instrument;

use crate::runtime::registry::{self, poll_op, CreatedBy, Op, OpKind, Spawn};

/// The wait of an awaited [`Goroutine`]; `Future::poll` has no call site.
const JOIN: Op = Op::untracked(OpKind::Join);

/// The source of goroutine ids. Go numbers the main goroutine 1, so spawned
/// goroutines start at 2 (the runtime gives id 1 to main under `run`).
static NEXT_ID: AtomicU64 = AtomicU64::new(2);

/// Hands out the next goroutine id.
pub(crate) fn next_id() -> u64 {
    // Relaxed: ids only need to be unique and increasing per counter; no other
    // memory is published through this counter.
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Starts `fut` as a new goroutine: Go's `go f()`.
///
/// The goroutine runs concurrently with the caller, on Tokio's multi-threaded
/// scheduler, inside a `tracing` span named `goroutine` with the field `id`
/// (entered on every poll). It is listed by [`dump`](crate::dump) and
/// counted by [`num_goroutine`](crate::num_goroutine) until it ends.
/// The returned [`Goroutine`] may be dropped: the goroutine runs on, detached,
/// exactly like Go. Await it to get the future's output, or a
/// [`JoinError`] if the goroutine panicked or was aborted.
///
/// # Panics
///
/// Panics if called outside a Tokio runtime. Start the program with
/// `gokio::run`, or from inside `#[tokio::main]` / `#[tokio::test]`.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// let ch = gokio::chan::<&str>(0);
/// let tx = ch.clone();
/// gokio::go(async move {
///     tx.send("hello from a goroutine").await.unwrap();
/// });
/// assert_eq!(ch.recv().await, Some("hello from a goroutine"));
/// # }
/// ```
#[track_caller]
pub fn go<F>(fut: F) -> Goroutine<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn(None, CreatedBy::Go, Location::caller(), fut)
}

/// Starts `fut` as a new goroutine with a name: [`go`], plus a name that
/// [`dump`](crate::dump) shows (`goroutine 7 "resizer" [chan receive]:`) and
/// that the goroutine's `tracing` span carries as its `name` field.
///
/// Go has no goroutine names; this is gokio's addition. Names need not be
/// unique.
///
/// # Panics
///
/// As [`go`]: outside a Tokio runtime.
///
/// # Examples
///
/// ```
/// gokio::run(async {
///     let ch = gokio::chan::<u32>(0);
///     let tx = ch.clone();
///     let worker = gokio::go_named("squarer", async move {
///         tx.send(7 * 7).await.unwrap();
///     });
///     assert_eq!(ch.recv().await, Some(49));
///     worker.await.unwrap();
/// });
/// ```
#[track_caller]
pub fn go_named<F>(name: impl Into<String>, fut: F) -> Goroutine<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn(
        Some(name.into()),
        CreatedBy::GoNamed,
        Location::caller(),
        fut,
    )
}

fn spawn<F>(
    name: Option<String>,
    created_by: CreatedBy,
    created_at: &'static Location<'static>,
    fut: F,
) -> Goroutine<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle,
        Err(_) => panic!(
            "gokio::go called outside a runtime: start the program with gokio::run, \
             #[gokio::main] or #[tokio::main] (or call go from inside one)"
        ),
    };
    let id = next_id();
    let span = match &name {
        Some(name) => tracing::info_span!("goroutine", id, name = name.as_str()),
        None => tracing::info_span!("goroutine", id),
    };
    let spec = Spawn {
        id,
        name,
        created_by,
        created_at,
    };
    let fut = registry::spawn(None, spec, fut.instrument(span));
    let task = fut.task();
    Goroutine {
        id,
        join: handle.spawn(fut),
        parked: false,
        task,
    }
}

/// A handle to a goroutine started with [`go`].
///
/// Awaiting it yields the goroutine's output, or a [`JoinError`] if it
/// panicked or was aborted. Dropping it detaches the goroutine, which keeps
/// running.
pub struct Goroutine<T> {
    id: u64,
    join: JoinHandle<T>,
    /// Whether an await of this handle has waited yet (for `dump`).
    parked: bool,
    /// The goroutine's registry entry, told of an abort.
    task: Weak<registry::Task>,
}

impl<T> Goroutine<T> {
    /// The goroutine's id: unique and increasing across the process, like
    /// Go's goroutine ids (the main goroutine under `run` is 1).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Asks the goroutine to stop at its next `.await`; awaiting the handle
    /// afterwards yields a cancelled [`JoinError`] unless it had finished.
    ///
    /// Go has no way to kill a goroutine; this is Tokio's task abort.
    pub fn abort(&self) {
        registry::note_abort(&self.task);
        self.join.abort();
    }

    /// Whether the goroutine has finished (returned, panicked or been aborted).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

impl<T> Future for Goroutine<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // Awaiting a goroutine is a gokio wait: if the goroutine awaited is
        // itself blocked, so is this one.
        poll_op(cx, &JOIN, &mut this.parked, |park, user| {
            // A `JoinHandle` takes part in the cooperative budget: when it is
            // spent, the handle defers a wake-up of the waker it is given,
            // which must then be the caller's own (a way to be woken).
            if tokio::task::coop::has_budget_remaining() {
                Pin::new(&mut this.join).poll(park)
            } else {
                Pin::new(&mut this.join).poll(user)
            }
        })
    }
}

impl<T> fmt::Debug for Goroutine<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Goroutine")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
