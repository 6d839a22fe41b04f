//! Seed `001_0bd0b5e289e5c55d.txt`: `func sum(a []int, ch chan int)` run as two
//! goroutines over the halves of a slice, and main's `x, y := <-ch, <-ch`.
//!
//! Which half arrives first varies; the total, 21, does not.

use gokio::{chan, go, Chan};

async fn sum(a: Vec<i32>, ch: Chan<i32>) {
    let mut sum = 0;
    for v in a {
        sum += v;
    }
    ch.send(sum).await.unwrap(); // ch <- sum
}

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(0); // ch := make(chan int)
        let s = [1, -4, -9, 20, 4, 9]; // s := []int{1, -4, -9, 20, 4, 9}
        let (lo, hi) = s.split_at(s.len() / 2);
        go(sum(lo.to_vec(), ch.clone())); // go sum(s[:len(s)/2], ch)
        go(sum(hi.to_vec(), ch.clone())); // go sum(s[len(s)/2:], ch)
        let (x, y) = (ch.recv().await.unwrap(), ch.recv().await.unwrap()); // x, y := <-ch, <-ch
        println!("({x})+({y})={}", x + y);
    })
}
