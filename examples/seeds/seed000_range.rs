//! Seed `000_12cc8931e0be7f45.txt`, the second "实例": the same producer, and
//! a consumer that uses `for data := range ch`.
//!
//! `for v := range ch` is `while let Some(v) = ch.recv().await`. The Go
//! program waits with `time.Sleep(time.Second)`; main waits on a WaitGroup.

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
            while let Some(data) = rx.recv().await {
                // for data := range ch
                println!("{data}");
            }
        });
        wg.wait().await; // time.Sleep(time.Second)
        println!("Main to End");
    })
}
