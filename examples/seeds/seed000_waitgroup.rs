//! Seed `000_12cc8931e0be7f45.txt`, "WaitGroup同步": `var wg sync.WaitGroup`,
//! `func show(msg string)` with `defer wg.Done()`, and a `main` that starts
//! five `go show("This is " + strconv.Itoa(i))` and calls `wg.Wait()`.
//!
//! Go's global `wg` becomes a `WaitGroup` clone passed to each goroutine
//! (clones share one counter, like `*sync.WaitGroup`).

use gokio::{go, WaitGroup};

fn show(wg: WaitGroup, msg: String) {
    println!("{msg}");
    wg.done(); // defer wg.Done()
}

fn main() {
    gokio::run(async {
        let wg = WaitGroup::new(); // var wg sync.WaitGroup
        for i in 0..5 {
            wg.add(1);
            let wg = wg.clone();
            go(async move { show(wg, format!("This is {i}")) });
        }
        wg.wait().await; // wg.Wait()
        println!("All finished");
        println!("main exit");
    })
}
