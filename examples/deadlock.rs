//! Seed `001_0bd0b5e289e5c55d.txt`: the buffered `main` with the buffer too
//! small, `ch := make(chan int, 1)`, then `ch <- 1; ch <- 2`.
//!
//! The second send can never complete: the buffer is full and no other
//! goroutine will ever receive. Go ends the program with
//! `fatal error: all goroutines are asleep - deadlock!`, a dump of every
//! goroutine and exit status 2. So does gokio, and the dump points at the
//! line of the send that waits:
//!
//! ```text
//! fatal error: all goroutines are asleep - deadlock!
//!
//! goroutine 1 [chan send]:
//! gokio::Chan::send(..), waiting 200.0ms
//!         examples/deadlock.rs:26:12
//! created by gokio::run
//!         examples/deadlock.rs:23:5
//! ```
//!
//! Run it with `cargo run --example deadlock` (exit status 2).

use gokio::chan;

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(1); // ch := make(chan int, 1)
        ch.send(1).await.unwrap(); // ch <- 1
        ch.send(2).await.unwrap(); // ch <- 2: blocks forever

        println!("{}", ch.recv().await.unwrap()); // fmt.Println(<-ch)
        println!("{}", ch.recv().await.unwrap()); // fmt.Println(<-ch)
    })
}
