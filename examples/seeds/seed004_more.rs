//! Seed `004_48e1de2280589ec8.txt`, "多个" (many): `func hello(i int)` and
//! `func more()`: `wg.Add(100)`, then a loop calling `hello(i)`, then "hello
//! main" and `wg.Wait()`.
//!
//! Note the seed calls `hello(i)` directly, not `go hello(i)`: everything runs
//! on main, in order, so the output is hello 0 .. hello 99, then hello main.

use gokio::WaitGroup;

fn hello(wg: &WaitGroup, i: i32) {
    println!("hello {i}");
    wg.done(); // wg.Done()
}

fn main() {
    gokio::run(async {
        let wg = WaitGroup::new(); // var wg sync.WaitGroup
        wg.add(100);
        for i in 0..100 {
            hello(&wg, i);
        }
        println!("hello main");
        wg.wait().await; // wg.Wait()
    })
}
