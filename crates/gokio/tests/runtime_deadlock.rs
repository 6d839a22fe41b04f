//! Go's deadlock report: `fatal error: all goroutines are asleep -
//! deadlock!`, the goroutine dump, exit status 2.
//!
//! Each scenario runs in a child process: this test binary re-executes itself
//! with `GOKIO_DEADLOCK_SCENARIO` set, and the `child` test runs that
//! scenario under `gokio::run`, which exits the process. The parent checks the
//! exit status and stderr. In a normal run `child` returns at once.
//!
//! The line of each waiting operation is recorded with `line!()` just above
//! it, so the tests check that the dump points at the user's call.

use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use gokio::{chan, go, go_named, select, Select, WaitGroup};

mod common;

const SCENARIO_VAR: &str = "GOKIO_DEADLOCK_SCENARIO";

const MESSAGE: &str = "fatal error: all goroutines are asleep - deadlock!\n\n";

/// What a scenario's child printed and how it ended.
struct Report {
    status: Option<i32>,
    stderr: String,
}

fn run_scenario(name: &str) -> Report {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_VAR, name)
        .output()
        .expect("the test binary runs as a child");
    Report {
        status: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `name`, checks Go's message and exit status 2, and returns stderr.
fn expect_deadlock(name: &str) -> String {
    let report = run_scenario(name);
    assert_eq!(
        report.status,
        Some(2),
        "scenario {name} should exit with status 2; stderr:\n{}",
        report.stderr
    );
    assert!(
        report.stderr.starts_with(MESSAGE),
        "scenario {name}: stderr should start with Go's message:\n{}",
        report.stderr
    );
    report.stderr
}

/// The dump block of goroutine `id` (from its header to the empty line).
fn block(stderr: &str, id: u64) -> &str {
    let header = format!("goroutine {id} ");
    let start = stderr
        .find(&header)
        .unwrap_or_else(|| panic!("no goroutine {id} in:\n{stderr}"));
    let rest = &stderr[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// The line of this file marked with the comment `// @<name>`.
fn line_of(name: &str) -> u32 {
    common::marked_line(include_str!("runtime_deadlock.rs"), name)
}

/// `file:line:` of this test file at `line`, as the dump prints it.
fn at(line: u32) -> String {
    format!("{}:{line}:", file!())
}

/// How long the dump says goroutine `id` has waited.
fn waited(block: &str) -> Duration {
    let text = block
        .split(", waiting ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no wait time in:\n{block}"));
    parse_debug_duration(text)
}

fn parse_debug_duration(text: &str) -> Duration {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().expect("a number");
    let seconds = match unit {
        "s" => number,
        "ms" => number / 1e3,
        "µs" => number / 1e6,
        "ns" => number / 1e9,
        other => panic!("unknown unit {other:?} in {text:?}"),
    };
    Duration::from_secs_f64(seconds)
}

fn main_send() {
    gokio::run(async {
        let ch = chan::<i32>(1);
        ch.send(1).await.unwrap();
        ch.send(2).await.unwrap(); // @main_send
    });
}

fn main_recv() {
    gokio::run(async {
        let ch = chan::<i32>(0);
        ch.recv().await; // @main_recv
    });
}

fn cycle() {
    gokio::run(async {
        let (a, b) = (chan::<i32>(0), chan::<i32>(0));
        let wg = WaitGroup::new();
        let (a1, b1) = (a.clone(), b.clone());
        wg.go(async move {
            let v = a1.recv().await.unwrap(); // @cycle_a
            b1.send(v).await.unwrap();
        });
        let (a2, b2) = (a.clone(), b.clone());
        wg.add(1);
        let done = wg.clone();
        go_named("second", async move {
            let v = b2.recv().await.unwrap(); // @cycle_b
            a2.send(v).await.unwrap();
            done.done();
        });
        wg.wait().await; // @cycle_wait
    });
}

fn wait_group() {
    gokio::run(async {
        let wg = WaitGroup::new();
        wg.add(1);
        wg.wait().await; // @wait_group
    });
}

fn select_empty() {
    gokio::run(async {
        select! {} // @select_empty
    });
}

fn select_blocked() {
    gokio::run(async {
        let (a, b) = (chan::<i32>(0), chan::<i32>(0));
        select! { // @select
            recv(&a) -> v => println!("{v:?}"),
            send(&b, 1) -> r => println!("{r:?}"),
        }
    });
}

fn dynamic_select() {
    gokio::run(async {
        let (a, b) = (chan::<i32>(0), chan::<i32>(0));
        let chosen = Select::new().recv(&a).send(&b, 1).await;
        println!("{}", chosen.index());
    });
}

fn join() {
    gokio::run(async {
        let ch = chan::<i32>(0);
        let rx = ch.clone();
        let waiter = go(async move { rx.recv().await }); // @join_recv
        waiter.await.unwrap();
    });
}

fn stream() {
    gokio::run(async {
        let ch = chan::<i32>(0);
        let mut rx = ch.receiver();
        while let Some(v) = rx.next().await {
            println!("{v}");
        }
        drop(ch);
    });
}

fn never() {
    gokio::run(async {
        gokio::never::<i32>().recv().await;
    });
}

fn tokio_select() {
    gokio::run(async {
        let (a, b) = (chan::<i32>(0), chan::<i32>(0));
        tokio::select! {
            v = a.recv() => println!("{v:?}"),
            r = b.send(1) => println!("{r:?}"),
        }
    });
}

/// The child side: runs the scenario named in the environment, if any.
#[test]
fn child() {
    let Ok(name) = std::env::var(SCENARIO_VAR) else {
        return;
    };
    match name.as_str() {
        "main_send" => main_send(),
        "main_recv" => main_recv(),
        "cycle" => cycle(),
        "wait_group" => wait_group(),
        "select_empty" => select_empty(),
        "select_blocked" => select_blocked(),
        "dynamic_select" => dynamic_select(),
        "join" => join(),
        "stream" => stream(),
        "never" => never(),
        "tokio_select" => tokio_select(),
        other => panic!("unknown scenario {other}"),
    }
    panic!("scenario {name} returned instead of deadlocking");
}

#[test]
fn main_blocked_on_send_to_a_full_buffer() {
    let stderr = expect_deadlock("main_send");
    let main = block(&stderr, 1);
    assert!(main.starts_with("goroutine 1 [chan send]:\n"), "{main}");
    assert!(main.contains("gokio::Chan::send(..)"), "{main}");
    assert!(main.contains(&at(line_of("main_send"))), "{main}");
    assert!(main.contains("created by gokio::run\n"), "{main}");
    // Detected within about two watchdog intervals (100 ms each).
    let waited = waited(main);
    eprintln!("main_send: detected after {waited:?}");
    assert!(waited < Duration::from_secs(1), "took {waited:?}");
    // Only main exists.
    assert_eq!(stderr.matches("goroutine ").count(), 1, "{stderr}");
}

#[test]
fn main_blocked_on_receive_with_no_other_goroutine() {
    let stderr = expect_deadlock("main_recv");
    let main = block(&stderr, 1);
    assert!(main.starts_with("goroutine 1 [chan receive]:\n"), "{main}");
    assert!(main.contains("gokio::Chan::recv()"), "{main}");
    assert!(main.contains(&at(line_of("main_recv"))), "{main}");
    assert!(waited(main) < Duration::from_secs(1));
}

#[test]
fn goroutines_blocked_on_each_other() {
    let stderr = expect_deadlock("cycle");
    let main = block(&stderr, 1);
    assert!(
        main.starts_with("goroutine 1 [sync.WaitGroup.Wait]:\n"),
        "{main}"
    );
    assert!(main.contains(&at(line_of("cycle_wait"))), "{main}");
    let first = block(&stderr, 2);
    assert!(
        first.starts_with("goroutine 2 [chan receive]:\n"),
        "{first}"
    );
    assert!(first.contains(&at(line_of("cycle_a"))), "{first}");
    assert!(
        first.contains("created by gokio::go in goroutine 1"),
        "{first}"
    );
    let second = block(&stderr, 3);
    assert!(
        second.starts_with("goroutine 3 \"second\" [chan receive]:\n"),
        "{second}"
    );
    assert!(second.contains(&at(line_of("cycle_b"))), "{second}");
    assert!(
        second.contains("created by gokio::go_named in goroutine 1"),
        "{second}"
    );
}

#[test]
fn wait_group_that_never_reaches_zero() {
    let stderr = expect_deadlock("wait_group");
    let main = block(&stderr, 1);
    assert!(
        main.starts_with("goroutine 1 [sync.WaitGroup.Wait]:\n"),
        "{main}"
    );
    assert!(main.contains(&at(line_of("wait_group"))), "{main}");
}

#[test]
fn select_with_no_cases() {
    let stderr = expect_deadlock("select_empty");
    let main = block(&stderr, 1);
    assert!(
        main.starts_with("goroutine 1 [select (no cases)]:\n"),
        "{main}"
    );
    assert!(main.contains(&at(line_of("select_empty"))), "{main}");
}

#[test]
fn select_whose_cases_never_proceed() {
    let stderr = expect_deadlock("select_blocked");
    let main = block(&stderr, 1);
    assert!(main.starts_with("goroutine 1 [select]:\n"), "{main}");
    assert!(main.contains("gokio::select!"), "{main}");
    assert!(main.contains(&at(line_of("select"))), "{main}");
}

#[test]
fn dynamic_select_whose_cases_never_proceed() {
    let stderr = expect_deadlock("dynamic_select");
    let main = block(&stderr, 1);
    assert!(main.starts_with("goroutine 1 [select]:\n"), "{main}");
    assert!(main.contains("gokio::Select.await"), "{main}");
    assert!(main.contains(file!()), "{main}");
}

#[test]
fn awaiting_a_blocked_goroutine() {
    let stderr = expect_deadlock("join");
    let main = block(&stderr, 1);
    assert!(
        main.starts_with("goroutine 1 [goroutine join]:\n"),
        "{main}"
    );
    let waiter = block(&stderr, 2);
    assert!(
        waiter.starts_with("goroutine 2 [chan receive]:\n"),
        "{waiter}"
    );
    assert!(waiter.contains(&at(line_of("join_recv"))), "{waiter}");
}

#[test]
fn receiving_through_stream() {
    let stderr = expect_deadlock("stream");
    let main = block(&stderr, 1);
    assert!(main.starts_with("goroutine 1 [chan receive]:\n"), "{main}");
    assert!(main.contains("gokio::Receiver as Stream"), "{main}");
}

#[test]
fn receiving_from_a_nil_channel() {
    let stderr = expect_deadlock("never");
    assert!(block(&stderr, 1).starts_with("goroutine 1 [chan receive]:\n"));
}

#[test]
fn gokio_operations_inside_tokio_select() {
    let stderr = expect_deadlock("tokio_select");
    let main = block(&stderr, 1);
    // The last operation polled names the state.
    assert!(
        main.starts_with("goroutine 1 [chan send]:\n")
            || main.starts_with("goroutine 1 [chan receive]:\n"),
        "{main}"
    );
}
