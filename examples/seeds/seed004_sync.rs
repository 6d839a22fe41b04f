//! Seed `004_48e1de2280589ec8.txt`, "无缓冲区的通道" (the synchronous channel):
//! `func recv(ch chan int)`, `func send(ch chan int)` and `func new()`, which
//! runs `go recv(ch)`, sends 10, prints "发送成功" (sent), then runs
//! `go send(ch)` and receives.
//!
//! An unbuffered send completes only when a receiver takes the value, so
//! "发送成功" always comes after `recv` has the 10. Main may end before the
//! goroutines print, exactly as in Go.

use gokio::{chan, go, Chan};

async fn recv(ch: Chan<i32>) {
    let x = ch.recv().await.unwrap(); // x := <-ch
    println!("{x}");
}

async fn send(ch: Chan<i32>) {
    ch.send(10).await.unwrap(); // ch <- 10
    println!("send success");
}

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(0); // ch := make(chan int)
        go(recv(ch.clone())); // go recv(ch)
        ch.send(10).await.unwrap(); // ch <- 10
        println!("发送成功"); // sent
        go(send(ch.clone())); // go send(ch)
        let x = ch.recv().await.unwrap(); // x := <-ch
        println!("{x}");
    })
}
