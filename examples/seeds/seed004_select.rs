//! Seed `004_48e1de2280589ec8.txt`, "select多路复用": `func selectIo()`, a
//! select with `case ch <- i`, `case x := <-ch` and `default` on a channel of
//! capacity 1, ten times.
//!
//! Even rounds find the buffer empty (only the send is ready), odd rounds find
//! it full (only the receive is ready), so the output is always 0 2 4 6 8 and
//! the default never runs.

use gokio::chan;

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(1); // ch := make(chan int, 1)
        for i in 0..10 {
            gokio::select! {
                send(&ch, i) -> _ => {}                         // case ch <- i:
                recv(&ch) -> x => println!("{}", x.unwrap()),   // case x := <-ch:
                default => println!("没有任何操作"),              // default: nothing to do
            }
        }
    })
}
