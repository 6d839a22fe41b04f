//! Seed `002_d60e4f12ed5e27b3.txt`: `func TestCounter` (5000 goroutines doing
//! `counter++` without a lock, giving e.g. 4760) and `func
//! TestCounterWaitGroup` (the same under `sync.Mutex`, waited with a
//! WaitGroup, always 5000).
//!
//! The racy `TestCounter` cannot be written in safe Rust: the goroutines would
//! need shared `&mut counter` from many threads, which the borrow checker
//! rejects (a data race is a compile error, not a wrong answer). Only the
//! Mutex version remains, and it always prints 5000.

use std::sync::Arc;

use gokio::sync::Mutex;
use gokio::{go, WaitGroup};

fn main() {
    gokio::run(async {
        let mut_counter = Arc::new(Mutex::new(0)); // var mut sync.Mutex; counter := 0
        let wg = WaitGroup::new(); // var wg sync.WaitGroup
        for _ in 0..5000 {
            wg.add(1);
            let (mut_counter, wg) = (mut_counter.clone(), wg.clone());
            go(async move {
                let mut counter = mut_counter.lock().await; // mut.Lock()
                *counter += 1; // counter++
                wg.done();
                // The guard drops here: defer mut.Unlock()
            });
        }
        wg.wait().await; // wg.Wait()
        println!("counter = {}", *mut_counter.lock().await);
    })
}
