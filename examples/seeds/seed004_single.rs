//! Seed `004_48e1de2280589ec8.txt`, "单个" (one goroutine): `func hello()`
//! with `wg.Done()` and `func singe()`: `wg.Add(1)`, `go hello()`, print
//! "hello main", `wg.Wait()`.

use gokio::{go, WaitGroup};

fn hello(wg: WaitGroup) {
    println!("hello");
    wg.done(); // wg.Done()
}

fn main() {
    gokio::run(async {
        let wg = WaitGroup::new(); // var wg sync.WaitGroup
        wg.add(1);
        let w = wg.clone();
        go(async move { hello(w) }); // go hello()
        println!("hello main");
        wg.wait().await; // wg.Wait()
    })
}
