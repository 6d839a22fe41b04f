//! Seed `000_12cc8931e0be7f45.txt`, the first program: `func show(msg string)`
//! and a `main` that runs `go show("hello")`, sleeps, then calls
//! `show("hello world")`.
//!
//! Main does not wait for goroutines; the Go program sleeps so the goroutine
//! gets to print. (A shorter sleep here keeps the example fast.)

use std::time::Duration;

use gokio::{go, sleep};

fn show(msg: &str) {
    for _ in 0..5 {
        println!("{msg}");
    }
}

fn main() {
    gokio::run(async {
        go(async { show("hello") });
        sleep(Duration::from_millis(200)).await; // time.Sleep(1 * time.Second)
        show("hello world");
    })
}
