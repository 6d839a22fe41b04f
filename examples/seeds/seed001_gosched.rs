//! Seed `001_0bd0b5e289e5c55d.txt`, the first program: `func say(msg string)`
//! calling `runtime.Gosched()` before each print, with `go say("world")` and
//! `say("hello")` in main.
//!
//! "hello" is printed exactly 5 times; "world" anywhere from 0 to 5 times,
//! because main does not wait for the goroutine.

use gokio::{go, gosched};

async fn say(msg: &str) {
    for _ in 0..5 {
        gosched().await; // runtime.Gosched()
        println!("{msg}");
    }
}

fn main() {
    gokio::run(async {
        go(say("world")); // go say("world")
        say("hello").await; // say("hello")
    })
}
