//! Runs the tour example (`examples/tour.rs`) and checks its key lines: every
//! numbered section in order and the output each section's point rests on.
//! The examples are built once with `cargo build --examples`, as in
//! `tests/seeds.rs`, and the binary is run directly.

mod common;

/// The section headings, in the order the tour prints them.
const SECTIONS: [&str; 19] = [
    "1. goroutines: main does not wait",
    "2. unbuffered handoff",
    "3. buffered channel len/cap",
    "4. close and comma-ok",
    "5. range over a channel",
    "6. WaitGroup",
    "7. Gosched",
    "8. sum split over two goroutines",
    "9. fibonacci generator",
    "10. loop-variable capture",
    "11. racy counter vs Mutex",
    "12. RWMutex",
    "13. workers receiving from one channel",
    "14. squares pipeline",
    "15. directional channels",
    "16. select with default",
    "17. worker pool",
    "18. GOMAXPROCS and NumGoroutine",
    "19. gokio extras: dump and the deadlock report",
];

/// Builds the examples (once per test binary), runs the tour with `GOMAXPROCS` set to `procs`,
/// checks that it exits with status 0 and returns its stdout lines.
fn run_tour(procs: &str) -> Vec<String> {
    let out = common::example("tour")
        .env("GOMAXPROCS", procs)
        .env_remove("RUST_LOG")
        .output()
        .expect("running the tour");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    assert!(
        out.status.success(),
        "tour exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// The body lines of the section whose heading starts with `number.`,
/// without their indentation.
fn section(lines: &[String], number: usize) -> Vec<&str> {
    let heading = SECTIONS[number - 1];
    let start = lines
        .iter()
        .position(|l| l == heading)
        .unwrap_or_else(|| panic!("no heading {heading:?} in {lines:?}"));
    lines[start + 1..]
        .iter()
        .take_while(|l| l.starts_with("   "))
        .map(|l| l.trim_start())
        .collect()
}

fn check(lines: &[String]) {
    // Every heading, in order, and nothing else unindented.
    let headings: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with(' '))
        .map(String::as_str)
        .collect();
    assert_eq!(headings, SECTIONS, "{lines:?}");

    assert_eq!(section(lines, 1)[1], "after wg.wait(): total = 6");
    // The handoff: "written" only once main has taken the value.
    assert_eq!(
        section(lines, 2),
        ["ready to read", "written", "received 42"]
    );
    assert_eq!(
        section(lines, 3)[1..],
        [
            "len = 2, cap = 3",
            "len = 3, cap = 3, try_send when full fails: true"
        ]
    );
    assert_eq!(
        section(lines, 4),
        [
            "buffered value after close: v = 7, ok = true",
            "closed and drained:         v = 0, ok = false",
            "send after close: send on closed channel (the value 8 comes back)",
        ]
    );
    assert_eq!(section(lines, 5), ["[1, 4, 9, 16, 25]"]);
    assert_eq!(section(lines, 6), ["all 3 done (count = 0): [10, 20, 30]"]);
    let gosched = section(lines, 7);
    assert_eq!(gosched[0], "main:      hello hello hello hello hello");
    assert_eq!(gosched[1], "goroutine: world world world world world");
    assert_eq!(section(lines, 8), ["halves (sorted): -12 33, total = 21"]);
    assert_eq!(section(lines, 9), ["cap(ch) = 10: 1 1 2 3 5 8 13 21 34 55"]);
    assert_eq!(
        section(lines, 10)[1],
        "gokio, the i each goroutine saw (sorted): 0 1 2 3 4 5 6 7 8 9"
    );
    assert_eq!(
        section(lines, 11)[1],
        "Mutex counter after 5000 goroutines = 5000"
    );
    assert_eq!(
        section(lines, 12),
        [
            "3 readers hold the read lock at once, each sees [0, 0, 0]",
            "then one writer alone sets 1",
        ]
    );
    let values: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(
        section(lines, 13),
        [format!(
            "5 workers, each value once (sorted): {}",
            values.join(" ")
        )]
    );
    assert_eq!(section(lines, 14), ["0 1 4 9 16 25 36 49 64 81"]);
    assert_eq!(section(lines, 15)[0], "printer(Receiver) got 1 2 3");
    // The select never takes its default.
    assert_eq!(section(lines, 16), ["0 2 4 6 8"]);
    assert_eq!(
        section(lines, 17),
        ["3 workers, 5 jobs, results (sorted): 0 2 4 6 8"]
    );
    assert_eq!(
        section(lines, 18)[1],
        "num_goroutine() = 4 (main and 3 waiting)"
    );

    let extras = section(lines, 19);
    let header = extras[0]
        .strip_prefix("dump(): goroutine ")
        .expect("a dump header");
    let (id, state) = header.split_once(' ').expect("id and state");
    assert!(id.parse::<u64>().is_ok(), "{header}");
    assert_eq!(state, "[chan receive]:");
    assert!(
        extras[1].starts_with("gokio::Receiver::recv() at examples/tour.rs:"),
        "{extras:?}"
    );
    assert!(extras[2].contains("cargo run --example deadlock"));
}

#[test]
fn tour() {
    let lines = run_tour("2");
    check(&lines);
    assert_eq!(
        section(&lines, 18)[0],
        "gomaxprocs() = 2 (worker threads; set GOMAXPROCS=n to change it)"
    );
}

#[test]
fn tour_on_one_worker() {
    // One worker thread interleaves the goroutines differently; the checked
    // lines do not depend on it.
    check(&run_tour("1"));
}
