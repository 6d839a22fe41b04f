//! `#[gokio::test]` and `#[gokio::main]`.

use gokio::chan;

#[gokio::test]
async fn a_healthy_test_passes() {
    // The body is the main goroutine of its own runtime.
    assert_eq!(gokio::num_goroutine(), 1);
    let ch = chan(0);
    let tx = ch.clone();
    gokio::go(async move { tx.send("handoff").await.unwrap() });
    assert_eq!(ch.recv().await, Some("handoff"));
}

#[gokio::test]
#[should_panic(expected = "fatal error: all goroutines are asleep - deadlock!")]
async fn a_deadlocked_test_fails_with_the_report() {
    let ch = chan::<i32>(1);
    ch.send(1).await.unwrap();
    ch.send(2).await.unwrap(); // the buffer is full and nobody receives
}

#[test]
#[allow(unnameable_test_items)]
fn the_deadlock_report_names_the_test_s_goroutines() {
    // Inside a function, the generated `#[test]` is not registered: `stuck`
    // is a plain function that this test calls.
    #[gokio::test]
    async fn stuck() {
        let wg = gokio::WaitGroup::new();
        wg.add(1);
        wg.wait().await;
    }
    let payload = std::panic::catch_unwind(stuck).expect_err("the deadlock panics");
    let message = payload.downcast_ref::<String>().expect("a message");
    assert!(
        message.contains("goroutine 1 [sync.WaitGroup.Wait]:\ngokio::WaitGroup::wait()"),
        "{message}"
    );
    assert!(message.contains(file!()), "{message}");
}

#[gokio::test(worker_threads = 1)]
async fn options_reach_the_builder() {
    let names = std::thread::current().name().map(str::to_string);
    assert_eq!(names.as_deref(), Some("gokio-worker"));
    // With one worker, a new goroutine cannot run before main awaits.
    let ch = chan::<u8>(1);
    let tx = ch.clone();
    gokio::go(async move { tx.send(1).await.unwrap() });
    assert!(ch.is_empty());
    assert_eq!(ch.recv().await, Some(1));
}

#[gokio::test]
async fn tests_return_results() -> Result<(), String> {
    let ch = chan::<i32>(1);
    ch.send(5).await.map_err(|e| e.to_string())?;
    match ch.recv().await {
        Some(5) => Ok(()),
        other => Err(format!("got {other:?}")),
    }
}

mod main_attribute {
    // `#[gokio::main]` on a function that is not the binary's entry point:
    // the expansion is an ordinary `fn` that runs the body under gokio::run.
    #[gokio::main(detect_deadlocks = false)]
    async fn main() -> u32 {
        let goroutine = gokio::go(async { 40 + 2 });
        goroutine.await.unwrap() - 2
    }

    #[test]
    fn main_runs_the_body_under_run() {
        assert_eq!(main(), 40);
    }
}
