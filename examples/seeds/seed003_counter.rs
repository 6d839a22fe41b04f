//! Seed `003_911a7cc3433aa516.txt`: `var counter = 0` with `func incr()`
//! (`counter++; fmt.Println(counter)`) run as 20 goroutines, first racy, then
//! with `lock sync.Mutex` (`lock.Lock(); defer lock.Unlock()`).
//!
//! The racy version cannot be written in safe Rust: a global mutable `counter`
//! touched from many threads is rejected at compile time. Under the Mutex each
//! goroutine increments and prints while holding the lock, so the output is
//! exactly 1, 2, .., 20 in order. The Go program waits with
//! `time.Sleep(time.Millisecond * 10)`; here a WaitGroup waits instead.

use std::sync::Arc;

use gokio::sync::Mutex;
use gokio::WaitGroup;

async fn incr(lock: Arc<Mutex<i32>>) {
    let mut counter = lock.lock().await; // lock.Lock(); defer lock.Unlock()
    *counter += 1; // counter++
    println!("{}", *counter);
}

fn main() {
    gokio::run(async {
        let lock = Arc::new(Mutex::new(0)); // counter = 0; lock sync.Mutex
        let wg = WaitGroup::new();
        for _ in 0..20 {
            wg.go(incr(lock.clone())); // go incr()
        }
        wg.wait().await; // time.Sleep(time.Millisecond * 10)
    })
}
