//! Seed `003_911a7cc3433aa516.txt`, the first program: `main` prints "start",
//! runs `go process()`, sleeps 10ms ("this is bad, don't do this!") and prints
//! "done"; `func process()` prints "processing".
//!
//! Main does not wait for goroutines; the sleep only makes "processing" likely.
//! The WaitGroup examples show the right way to wait.

use std::time::Duration;

use gokio::{go, sleep};

fn process() {
    println!("processing");
}

fn main() {
    gokio::run(async {
        println!("start");
        go(async { process() });
        sleep(Duration::from_millis(10)).await; // this is bad, don't do this!
        println!("done");
    })
}
