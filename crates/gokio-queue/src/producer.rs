//! `Producer<J>`: submits jobs, each under an id that dedups re-submits.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;

use crate::job::BoxFuture;
use crate::Error;

/// How a backend stores one submitted job.
pub(crate) trait Publish: Send + Sync + 'static {
    fn publish(&self, id: String, payload: Vec<u8>) -> BoxFuture<Result<Submitted, Error>>;
}

/// What became of a submitted job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Stored: it will be delivered.
    Queued,
    /// A job with this id was already submitted within the dedup window:
    /// nothing new was stored.
    Duplicate,
}

/// Submits jobs to one queue; cheap to clone.
///
/// Get one from [`memory::Queue::producer`](crate::memory::Queue::producer)
/// or [`nats::producer`](crate::nats::producer).
pub struct Producer<J> {
    inner: Arc<dyn Publish>,
    queue: Arc<str>,
    _job: PhantomData<fn(&J)>,
}

impl<J> Clone for Producer<J> {
    fn clone(&self) -> Self {
        Producer {
            inner: Arc::clone(&self.inner),
            queue: Arc::clone(&self.queue),
            _job: PhantomData,
        }
    }
}

impl<J> fmt::Debug for Producer<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("queue", &self.queue)
            .finish()
    }
}

impl<J: Serialize> Producer<J> {
    pub(crate) fn new(queue: &str, inner: Arc<dyn Publish>) -> Producer<J> {
        Producer {
            inner,
            queue: queue.into(),
            _job: PhantomData,
        }
    }

    /// Submits `job` under `id`. A re-submit of the same id within the
    /// dedup window (a producer retrying after a timeout, say) stores
    /// nothing and returns [`Submitted::Duplicate`].
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] if `job` does not encode as JSON; [`Error::Server`]
    /// or [`Error::Closed`] if it could not be stored, in which case
    /// submitting it again under the same id is safe.
    pub async fn submit(&self, id: impl Into<String>, job: &J) -> Result<Submitted, Error> {
        let payload = serde_json::to_vec(job).map_err(Error::Encode)?;
        self.inner.publish(id.into(), payload).await
    }

    /// Submits an already-encoded payload, unchecked: for replaying dead
    /// letters and for testing how consumers handle payloads that do not
    /// decode.
    ///
    /// # Errors
    ///
    /// As for [`submit`](Producer::submit).
    pub async fn submit_raw(
        &self,
        id: impl Into<String>,
        payload: Vec<u8>,
    ) -> Result<Submitted, Error> {
        self.inner.publish(id.into(), payload).await
    }

    /// The queue's name.
    pub fn queue(&self) -> &str {
        &self.queue
    }
}
