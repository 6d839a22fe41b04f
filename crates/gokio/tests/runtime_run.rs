//! `gokio::run`, `gokio::gosched` and `GOMAXPROCS`.
//!
//! The `GOMAXPROCS` tests re-execute this test binary as a child process with
//! the variable set, because the value is read once per process and changing
//! the environment of a running multi-threaded test binary is not sound. A
//! `child_*` test does nothing unless `GOKIO_TEST_CHILD` is set, so in a normal
//! run it passes at once.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;

/// The environment variable that turns a `child_*` test into the child body.
const CHILD_VAR: &str = "GOKIO_TEST_CHILD";

fn is_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// Runs the single test `name` of this binary in a child process with
/// `GOMAXPROCS` set to `gomaxprocs`.
fn run_child(name: &str, gomaxprocs: &str) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, "1")
        .env("GOMAXPROCS", gomaxprocs)
        .output()
        .expect("the test binary runs as a child")
}

fn current_thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_string()
}

#[test]
fn run_returns_main_output() {
    assert_eq!(gokio::run(async { 6 * 7 }), 42);
    let owned = gokio::run(async { String::from("from main") });
    assert_eq!(owned, "from main");
}

#[test]
fn main_and_goroutines_run_on_worker_threads() {
    let caller = std::thread::current().id();
    let (main_thread, main_id, goroutine_thread) = gokio::run(async move {
        let goroutine = gokio::go(async { current_thread_name() });
        (
            current_thread_name(),
            std::thread::current().id(),
            goroutine.await.unwrap(),
        )
    });
    assert!(
        main_thread.starts_with("gokio-worker"),
        "main ran on {main_thread:?}"
    );
    assert_ne!(main_id, caller, "main must not run on the calling thread");
    assert!(
        goroutine_thread.starts_with("gokio-worker"),
        "goroutine ran on {goroutine_thread:?}"
    );
}

#[test]
fn run_returns_while_a_goroutine_is_blocked_forever() {
    let output = gokio::run(async {
        let (started_tx, started_rx) = oneshot::channel();
        let blocked = gokio::go(async move {
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        // Make sure the goroutine is really parked before main returns.
        started_rx.await.unwrap();
        assert!(!blocked.is_finished());
        "main returned"
    });
    assert_eq!(output, "main returned");
}

#[test]
fn main_panic_is_resumed_on_the_caller() {
    let caught = std::panic::catch_unwind(|| {
        gokio::run(async {
            panic!("main goroutine panicked");
        })
    });
    let payload = caught.expect_err("run must re-raise main's panic");
    assert_eq!(
        payload.downcast_ref::<&str>().copied(),
        Some("main goroutine panicked")
    );
}

#[test]
fn run_can_be_called_again_after_returning() {
    assert_eq!(gokio::run(async { 1 }), 1);
    assert_eq!(gokio::run(async { 2 }), 2);
}

#[test]
fn gomaxprocs_is_positive() {
    assert!(gokio::gomaxprocs() >= 1);
}

#[tokio::test]
async fn gosched_lets_another_goroutine_run() {
    // `#[tokio::test]` is a current-thread runtime: the spawned goroutine can
    // only run while this one has yielded.
    let flag = Arc::new(AtomicBool::new(false));
    let setter = {
        let flag = flag.clone();
        gokio::go(async move {
            // Relaxed: the flag is read on the same thread, after this task ran.
            flag.store(true, Ordering::Relaxed);
        })
    };
    assert!(!flag.load(Ordering::Relaxed), "nothing ran yet");
    gokio::gosched().await;
    assert!(
        flag.load(Ordering::Relaxed),
        "gosched let the goroutine run"
    );
    setter.await.unwrap();
}

#[test]
fn invalid_gomaxprocs_exits_2() {
    if is_child() {
        return;
    }
    let output = run_child("child_invalid_gomaxprocs", "abc");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("gokio: invalid GOMAXPROCS=abc: must be a positive integer"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic expected: {stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("main ran"),
        "main must not run"
    );
}

#[test]
fn child_invalid_gomaxprocs() {
    if !is_child() {
        return;
    }
    gokio::run(async {
        println!("main ran");
    });
    unreachable!("run must exit the process on an invalid GOMAXPROCS");
}

#[test]
fn gomaxprocs_env_sets_the_worker_count() {
    if is_child() {
        return;
    }
    let output = run_child("child_gomaxprocs_3", "3");
    assert!(
        output.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The child's test harness reports the one test it ran.
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
}

#[test]
fn child_gomaxprocs_3() {
    if !is_child() {
        return;
    }
    assert_eq!(gokio::gomaxprocs(), 3);
    let workers = gokio::run(async { tokio::runtime::Handle::current().metrics().num_workers() });
    assert_eq!(workers, 3);
}
