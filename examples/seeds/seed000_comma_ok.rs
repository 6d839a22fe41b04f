//! Seed `000_12cc8931e0be7f45.txt`, "实例": a producer goroutine sends 0..4 and
//! calls `close(ch)`; a consumer goroutine loops on `data, ok := <-ch` and
//! prints "管道空了" (the channel is empty) when `ok` is false.
//!
//! The Go program waits with `time.Sleep(time.Second)`; here main waits on a
//! WaitGroup instead, so "Main to End" always comes last.

use gokio::{chan, go, WaitGroup};

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(0); // ch := make(chan int)
        let wg = WaitGroup::new();

        let tx = ch.sender();
        go(async move {
            for i in 0..5 {
                tx.send(i).await.unwrap(); // ch <- i
            }
            tx.close(); // close(ch)
        });

        let rx = ch.receiver();
        wg.go(async move {
            loop {
                let (data, ok) = rx.recv_ok().await; // data, ok := <-ch
                if !ok {
                    println!("管道空了"); // the channel is empty
                    break;
                } else {
                    println!("{data}");
                }
            }
        });
        wg.wait().await; // time.Sleep(time.Second)
        println!("Main to End");
    })
}
