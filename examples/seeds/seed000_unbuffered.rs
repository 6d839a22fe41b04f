//! Seed `000_12cc8931e0be7f45.txt`, "无缓冲实例" (the unbuffered example):
//! `ch := make(chan int)`, a goroutine that writes 1, and main reading it.
//!
//! A send on an unbuffered channel completes only once main has taken the
//! value, so "写入完毕" (written) can never come before main's receive.

use gokio::{chan, go};

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(0); // ch := make(chan int)
        let tx = ch.sender();
        go(async move {
            println!("准备向通道写入"); // about to write
            tx.send(1).await.unwrap(); // ch <- 1
            println!("写入完毕"); // written
        });
        println!("准备从通道读出"); // about to read
        let data = ch.recv().await.unwrap(); // data := <-ch
        println!("读出完毕"); // read done
        println!("{data}");
    })
}
