//! Seed `004_48e1de2280589ec8.txt`, "循环获取通道的值" (looping over a channel):
//! the squares pipeline. One goroutine sends 0..9 on `ch1` and closes it; a
//! second receives with `i, ok := <-ch1`, sends `i * i` on `ch2` and closes
//! it; main ranges over `ch2`.
//!
//! Prints 0 1 4 9 .. 81, one per line, in order.

use gokio::{chan, go};

fn main() {
    gokio::run(async {
        let ch1 = chan::<i32>(0); // ch1 := make(chan int)
        let ch2 = chan::<i32>(0); // ch2 := make(chan int)
        let tx1 = ch1.sender();
        go(async move {
            for i in 0..10 {
                tx1.send(i).await.unwrap(); // ch1 <- i
            }
            tx1.close(); // close(ch1)
        });

        let (rx1, tx2) = (ch1.receiver(), ch2.sender());
        go(async move {
            loop {
                let (i, ok) = rx1.recv_ok().await; // i, ok := <-ch1
                if !ok {
                    break;
                }
                tx2.send(i * i).await.unwrap(); // ch2 <- i * i
            }
            tx2.close(); // close(ch2)
        });

        while let Some(i2) = ch2.recv().await {
            // for i2 := range ch2
            println!("{i2}");
        }
    })
}
