//! Seed `001_0bd0b5e289e5c55d.txt`: the buffered `main` with
//! `ch := make(chan int, 2)`, two sends, then two prints of `<-ch`.
//!
//! Two sends fit in a buffer of 2 without any receiver. The seed's variant with
//! a buffer of 0 or 1 deadlocks (`fatal error: all goroutines are asleep -
//! deadlock!`); that variant is not part of this example.

use gokio::chan;

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(2); // ch := make(chan int, 2)
        ch.send(1).await.unwrap(); // ch <- 1
        ch.send(2).await.unwrap(); // ch <- 2

        println!("{}", ch.recv().await.unwrap()); // fmt.Println(<-ch)
        println!("{}", ch.recv().await.unwrap()); // fmt.Println(<-ch)
    })
}
