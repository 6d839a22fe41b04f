//! Dead letters: jobs that will not be retried, kept for inspection and
//! replay.

use serde::de::DeserializeOwned;

/// A job moved to the dead-letter queue, with why.
///
/// A job is dead-lettered when it failed on its last allowed delivery
/// (`max_deliver`), when its payload did not decode, or when a handler
/// called [`Job::dead_letter`](crate::Job::dead_letter). Its payload is
/// kept byte for byte, so it can be replayed once the cause is fixed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The job id given to `submit`.
    pub id: String,
    /// How many times the job was delivered before it was given up.
    pub deliveries: u32,
    /// Why it was given up (the handler's error, the decode error, ...).
    pub reason: String,
    /// The payload as submitted (JSON).
    pub payload: Vec<u8>,
}

impl DeadLetter {
    /// Decodes the payload.
    ///
    /// # Errors
    ///
    /// The decode error, when the payload is not a `J` (which may be why it
    /// was dead-lettered).
    pub fn payload_as<J: DeserializeOwned>(&self) -> Result<J, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}
