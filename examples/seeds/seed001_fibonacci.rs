//! Seed `001_0bd0b5e289e5c55d.txt`: `func fibonacci(n int, ch chan int)` that
//! sends n Fibonacci numbers and calls `close(ch)`, run as
//! `go fibonacci(cap(ch), ch)` with main ranging over `ch`.
//!
//! Without the `close(ch)` Go's range would deadlock; in gokio the channel
//! also closes when the last sending handle is dropped.

use gokio::{chan, go, Sender};

async fn fibonacci(n: usize, ch: Sender<u64>) {
    let (mut x, mut y) = (1, 1);
    for _ in 0..n {
        ch.send(x).await.unwrap(); // ch <- x
        (x, y) = (y, x + y);
    }
    ch.close(); // close(ch)
}

fn main() {
    gokio::run(async {
        let ch = chan::<u64>(10); // ch := make(chan int, 10)
        go(fibonacci(ch.cap(), ch.sender())); // go fibonacci(cap(ch), ch)
        while let Some(v) = ch.recv().await {
            // for v := range ch
            println!("{v}");
        }
    })
}
