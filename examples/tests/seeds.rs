//! Runs every seed example (`examples/seeds/*.rs`) and checks its key output,
//! so none of them rots. The examples are built once, with one
//! `cargo build --examples`, then each binary is run directly.

use std::path::PathBuf;

mod common;

/// Builds the examples (once per test binary), runs `name`, checks that it
/// exits with status 0 and returns its stdout lines.
fn run(name: &str) -> Vec<String> {
    let out = run_raw(name);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    assert!(
        out.status.success(),
        "{name} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// Builds the examples (once per test binary) and runs `name`.
fn run_raw(name: &str) -> std::process::Output {
    run_raw_with(name, &[])
}

/// Runs the example `name` with `args`.
fn run_raw_with(name: &str, args: &[&str]) -> std::process::Output {
    common::example(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"))
}

fn pos(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no line {line:?} in {lines:?}"))
}

fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

/// The lines, sorted: for outputs whose order the Go program leaves open.
fn sorted(lines: &[String]) -> Vec<String> {
    let mut v = lines.to_vec();
    v.sort();
    v
}

fn strings(it: impl IntoIterator<Item = impl ToString>) -> Vec<String> {
    it.into_iter().map(|s| s.to_string()).collect()
}

#[test]
fn seed000_show() {
    let out = run("seed000_show");
    // Main does not wait for the goroutine: the sleep only makes its lines
    // likely, so assert just what is guaranteed.
    assert_eq!(count(&out, "hello world"), 5, "{out:?}");
    assert!(count(&out, "hello") <= 5, "{out:?}");
    assert_eq!(out.len(), 5 + count(&out, "hello"), "{out:?}");
}

/// The handoff: "written" can only follow main's receive of the value.
fn handoff(name: &str) {
    let out = run(name);
    assert_eq!(out.len(), 5, "{out:?}");
    assert!(pos(&out, "准备向通道写入") < pos(&out, "写入完毕"));
    assert!(pos(&out, "准备向通道写入") < pos(&out, "读出完毕"));
    assert!(pos(&out, "准备从通道读出") < pos(&out, "读出完毕"));
    assert_eq!(out.last().unwrap(), "1");
}

#[test]
fn seed000_unbuffered() {
    handoff("seed000_unbuffered");
}

#[test]
fn seed000_buffered() {
    handoff("seed000_buffered");
}

#[test]
fn seed000_comma_ok() {
    let out = run("seed000_comma_ok");
    assert_eq!(
        out,
        strings(["0", "1", "2", "3", "4", "管道空了", "Main to End"])
    );
}

#[test]
fn seed000_range() {
    let out = run("seed000_range");
    assert_eq!(out, strings(["0", "1", "2", "3", "4", "Main to End"]));
}

#[test]
fn seed000_waitgroup() {
    let out = run("seed000_waitgroup");
    assert_eq!(
        sorted(&out[..5]),
        strings((0..5).map(|i| format!("This is {i}")))
    );
    assert_eq!(out[5..], strings(["All finished", "main exit"]));
}

#[test]
fn seed001_gosched() {
    let out = run("seed001_gosched");
    assert_eq!(count(&out, "hello"), 5);
    assert!(count(&out, "world") <= 5);
    assert_eq!(out.len(), 5 + count(&out, "world"));
}

#[test]
fn seed001_sum() {
    let out = run("seed001_sum");
    assert!(
        out == ["(-12)+(33)=21"] || out == ["(33)+(-12)=21"],
        "{out:?}"
    );
}

#[test]
fn seed001_buffered() {
    assert_eq!(run("seed001_buffered"), strings(["1", "2"]));
}

#[test]
fn seed001_fibonacci() {
    let out = run("seed001_fibonacci");
    assert_eq!(out, strings([1, 1, 2, 3, 5, 8, 13, 21, 34, 55]));
}

#[test]
fn seed002_sleep_wait() {
    let out = run("seed002_sleep_wait");
    // The sleep is a guess (the seed's point): each goroutine prints its own
    // number at most once; whether all made it before main ended is luck.
    let mut got = sorted(&out);
    got.dedup();
    assert_eq!(got.len(), out.len(), "a number printed twice: {out:?}");
    let all = strings(0..10);
    assert!(got.iter().all(|v| all.contains(v)), "{out:?}");
}

#[test]
fn seed002_capture() {
    let out = run("seed002_capture");
    assert_eq!(out.len(), 20);
    // Each goroutine saw its own i: 0..9 exactly once in each half.
    assert_eq!(
        sorted(&out[..10]),
        strings((0..10).map(|i| format!("closure {i}")))
    );
    assert_eq!(
        sorted(&out[10..]),
        strings((0..10).map(|i| format!("param {i}")))
    );
}

#[test]
fn seed002_counter() {
    assert_eq!(run("seed002_counter"), ["counter = 5000"]);
}

#[test]
fn seed003_process() {
    let out = run("seed003_process");
    // "processing" usually comes before "done", but only the sleep says so.
    assert_eq!(out.first().unwrap(), "start");
    assert_eq!(count(&out, "done"), 1, "{out:?}");
    assert!(count(&out, "processing") <= 1, "{out:?}");
    assert_eq!(out.len(), 2 + count(&out, "processing"), "{out:?}");
}

#[test]
fn seed003_counter() {
    assert_eq!(run("seed003_counter"), strings(1..=20));
}

#[test]
fn seed003_rwmutex() {
    let out = run("seed003_rwmutex");
    assert_eq!(
        sorted(&out[..3]),
        strings((0..3).map(|i| format!("reader {i} sees 0")))
    );
    assert_eq!(out[3..], strings(["3 readers at once", "writer sets 1"]));
}

#[test]
fn seed003_worker() {
    let out = run("seed003_worker");
    // Each value reaches exactly one worker; main may exit before the last print.
    let mut values: Vec<i32> = out
        .iter()
        .map(|l| {
            let (head, v) = l.split_once(" got ").expect("worker line");
            assert!(head.starts_with("worker "), "{l}");
            v.parse().expect("a number")
        })
        .collect();
    values.sort_unstable();
    // Each of the 5 workers prints a value before it receives the next, so
    // at most 5 values can be received but not yet printed when main ends.
    assert!(values.len() >= 15, "{out:?}");
    assert!(values.iter().all(|v| (0..20).contains(v)));
    values.dedup();
    assert_eq!(
        values.len(),
        out.len(),
        "a value was received twice: {out:?}"
    );
}

#[test]
fn seed004_single() {
    assert_eq!(
        sorted(&run("seed004_single")),
        strings(["hello", "hello main"])
    );
}

#[test]
fn seed004_more() {
    let mut want = strings((0..100).map(|i| format!("hello {i}")));
    want.push("hello main".into());
    assert_eq!(run("seed004_more"), want);
}

#[test]
fn seed004_gomaxprocs() {
    let out = run("seed004_gomaxprocs");
    let n: usize = out[0]
        .strip_prefix("GOMAXPROCS = ")
        .expect("GOMAXPROCS line")
        .parse()
        .expect("a number");
    assert!(n >= 1);
}

#[test]
fn seed004_close_rules() {
    let out = run("seed004_close_rules");
    let want = [
        "len = 2, cap = 2",
        "send: send on closed channel (value 3 handed back)",
        "recv: 1 true",
        "recv: 2 true",
        "recv: 0 false",
        "close again: panic: close of closed channel",
    ];
    assert_eq!(out, strings(want));
}

#[test]
fn seed004_sync() {
    // Main may exit before a goroutine prints, as in Go: only main's lines
    // are certain.
    let out = run("seed004_sync");
    assert_eq!(count(&out, "发送成功"), 1, "{out:?}");
    assert!(count(&out, "10") >= 1, "{out:?}");
}

#[test]
fn seed004_squares() {
    assert_eq!(run("seed004_squares"), strings((0..10).map(|i| i * i)));
}

#[test]
fn seed004_select() {
    assert_eq!(run("seed004_select"), strings([0, 2, 4, 6, 8]));
}

#[test]
fn seed004_worker_pool() {
    let out = run("seed004_worker_pool");
    let results: Vec<String> = out
        .iter()
        .filter(|l| !l.starts_with("worker"))
        .cloned()
        .collect();
    assert_eq!(sorted(&results), strings([0, 2, 4, 6, 8]));
    for job in 0..5 {
        let start = out
            .iter()
            .position(|l| l.ends_with(&format!("start job {job}")));
        let end = out
            .iter()
            .position(|l| l.ends_with(&format!("end job {job}")));
        assert!(
            start.expect("job started") < end.expect("job ended"),
            "{out:?}"
        );
    }
}

#[test]
fn deadlock() {
    // Seed 001 with the buffer too small: Go's report, exit status 2.
    let out = run_raw("deadlock");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing is printed before the deadlock"
    );
    let send_line = include_str!("../deadlock.rs")
        .lines()
        .position(|l| l.contains("ch.send(2)"))
        .expect("the blocking send")
        + 1;
    let expected = "fatal error: all goroutines are asleep - deadlock!\n\n\
                    goroutine 1 [chan send]:\n\
                    gokio::Chan::send(..), waiting ";
    assert!(stderr.starts_with(expected), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("\texamples/deadlock.rs:{send_line}:")),
        "the dump points at the send on line {send_line}:\n{stderr}"
    );
    assert!(stderr.contains("created by gokio::run\n"), "{stderr}");
}

#[test]
fn file_hasher() {
    // The service example over a fixed directory: one line per file, then
    // the summary.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let files = std::fs::read_dir(&dir).unwrap().count();
    let out = run_raw_with("file_hasher", &[dir.to_str().unwrap(), "3"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), files + 1, "{stdout}");
    let summary = lines.last().unwrap();
    assert!(
        summary.starts_with(&format!("hashed {files} files (")),
        "{summary}"
    );
    assert!(summary.contains("with 3 workers"), "{summary}");
    assert!(summary.contains(", 0 unreadable"), "{summary}");
    for line in &lines[..files] {
        let (hash, path) = line.split_once("  ").unwrap();
        assert_eq!(hash.len(), 16, "{line}");
        assert!(path.ends_with(".rs"), "{line}");
    }
}

#[test]
fn worker_pool() {
    let lines = run("worker_pool");
    for job in 0..5 {
        assert_eq!(count(&lines, &format!("start job {job}")), 2, "{lines:?}");
        assert_eq!(count(&lines, &format!("end job {job}")), 2, "{lines:?}");
    }
    assert!(lines.contains(&"results (sorted): [0, 2, 4, 6, 8]".to_string()));
    assert!(lines.contains(&"results (in job order): [0, 2, 4, 6, 8]".to_string()));
}

#[test]
fn pipeline() {
    let lines = run("pipeline");
    let squares: Vec<String> = (0..10).map(|i: i32| (i * i).to_string()).collect();
    assert_eq!(lines[..10], squares[..], "{lines:?}");
    assert_eq!(lines[10], "sum = 285");
}

#[test]
fn throughput_runs_at_a_tiny_scale() {
    // The benchmark example, shrunk 1000 times so it only checks that the
    // program still runs and reports every variant (its figures mean
    // nothing at this scale).
    let out = common::example("throughput")
        .env("GOKIO_N", "0.001")
        .output()
        .expect("running throughput");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    for variant in [
        "spsc/gokio",
        "spsc/raw",
        "pingpong/gokio",
        "pingpong/raw-cap1",
        "pingpong/raw-ack",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(variant) && l.contains(" ns/op")),
            "no {variant} line in:\n{stdout}"
        );
    }
}
