//! Seed `000_12cc8931e0be7f45.txt`, "缓存实例" (the buffered example):
//! `ch := make(chan int, 1)` with `defer close(ch)`, a goroutine writing 1 and
//! main reading it.
//!
//! With room in the buffer the goroutine's send completes at once, without
//! waiting for main.

use gokio::{chan, go};

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(1); // ch := make(chan int, 1)
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
        ch.close(); // defer close(ch)
    })
}
