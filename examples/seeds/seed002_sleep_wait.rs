//! Seed `002_d60e4f12ed5e27b3.txt`: the first program, ten `go func() {
//! fmt.Println(i) }()` and a `time.Sleep(time.Millisecond * 1000)` to wait.
//!
//! Sleeping is a guess at how long the goroutines take (the seed's point; see
//! `seed002_capture` for the WaitGroup version). `move` copies `i` into each
//! goroutine, so each prints its own number: 0..9 in some order.

use std::time::Duration;

use gokio::{go, sleep};

fn main() {
    gokio::run(async {
        for i in 0..10 {
            go(async move {
                println!("{i}");
            });
        }
        sleep(Duration::from_millis(200)).await; // time.Sleep(time.Millisecond * 1000)
    })
}
