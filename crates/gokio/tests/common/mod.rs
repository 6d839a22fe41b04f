//! Helpers shared by the integration tests (`mod common;` in each test).

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::ArcWake;
use futures::FutureExt;

/// Records whether the waker it backs was woken.
#[derive(Default)]
pub struct WakeFlag(AtomicBool);

impl ArcWake for WakeFlag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

impl WakeFlag {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Whether it was woken since the last call.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

/// Polls `fut` once with a waker that sets `flag`.
pub fn poll_with<F: Future + Unpin>(fut: &mut F, flag: &Arc<WakeFlag>) -> Poll<F::Output> {
    let waker = futures::task::waker(Arc::clone(flag));
    fut.poll_unpin(&mut Context::from_waker(&waker))
}

/// The 1-based number of the line of `source` that ends with the comment
/// `// @<name>`: tests mark the call a goroutine dump must point at.
pub fn marked_line(source: &str, name: &str) -> u32 {
    let marker = format!("// @{name}");
    let index = source
        .lines()
        .position(|line| line.trim_end().ends_with(&marker))
        .unwrap_or_else(|| panic!("no line marked {marker}"));
    u32::try_from(index + 1).expect("a small line number")
}
