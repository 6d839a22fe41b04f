//! The one error type of the crate.

use std::fmt;

/// What went wrong talking to a queue.
///
/// Settling a job (ack, nak, term) can fail only on the NATS backend, when
/// the connection is gone; the job is then redelivered after the ack wait,
/// which is the at-least-once contract, so most callers log the error and go
/// on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The NATS server at `url` could not be reached.
    Connect {
        /// The server URL as given.
        url: String,
        /// What the client reported.
        reason: String,
    },
    /// A JetStream request failed (`op` names it, e.g. "create stream").
    Server {
        /// The request that failed.
        op: &'static str,
        /// What the server or client reported.
        reason: String,
    },
    /// A job could not be encoded as JSON.
    Encode(serde_json::Error),
    /// An option or a queue name was refused before anything was sent.
    Invalid(String),
    /// The queue is closed (memory backend) or the connection is gone.
    Closed,
}

impl Error {
    pub(crate) fn server(op: &'static str, err: impl fmt::Display) -> Error {
        Error::Server {
            op,
            reason: err.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect { url, reason } => {
                write!(f, "cannot connect to the NATS server at {url}: {reason}")
            }
            Error::Server { op, reason } => write!(f, "jetstream {op}: {reason}"),
            Error::Encode(err) => write!(f, "job does not encode as JSON: {err}"),
            Error::Invalid(what) => write!(f, "invalid queue setting: {what}"),
            Error::Closed => f.write_str("queue closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Encode(err) => Some(err),
            _ => None,
        }
    }
}
