//! Seed `002_d60e4f12ed5e27b3.txt`: the two WaitGroup loops, `go func() {
//! fmt.Println(i); wg.Done() }()` (which in old Go printed `3 7 4 8 8 8 9 10
//! 10 10`: every goroutine shared one `i`) and the fix `go func(j int) { .. }(i)`.
//!
//! In Rust the buggy version cannot be written: a goroutine must be `'static`,
//! so it cannot borrow the loop's `i`, and `async move` copies the current
//! value into each goroutine. Both forms therefore print 0..9 exactly once.

use gokio::{go, WaitGroup};

fn main() {
    gokio::run(async {
        // go func() { fmt.Println(i); wg.Done() }()
        let wg = WaitGroup::new(); // var wg sync.WaitGroup
        for i in 0..10 {
            wg.add(1);
            let wg = wg.clone();
            go(async move {
                // `move` captures this iteration's i, not a shared variable.
                println!("closure {i}");
                wg.done();
            });
        }
        wg.wait().await;

        // go func(j int) { fmt.Println(j); wg.Done() }(i)
        let wg = WaitGroup::new();
        for i in 0..10 {
            wg.add(1);
            let wg = wg.clone();
            // func(j int) { .. } as a closure, then go f(i): j is a copy of i.
            let f = move |j: i32| async move {
                println!("param {j}");
                wg.done();
            };
            go(f(i));
        }
        wg.wait().await;
    })
}
