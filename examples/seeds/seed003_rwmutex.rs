//! Seed `003_911a7cc3433aa516.txt`, "读写互斥锁" (the read-write lock): the
//! seed describes `sync.RWMutex` (`RLock`/`RUnlock` for many readers, `Lock`
//! for one writer) without a program; this is the smallest one.
//!
//! Three readers hold the read lock at the same time; the writer waits until
//! they are done, then it alone updates the value.

use std::sync::Arc;

use gokio::sync::RwMutex;
use gokio::{chan, WaitGroup};

fn main() {
    gokio::run(async {
        let rw = Arc::new(RwMutex::new(0)); // var rw sync.RWMutex
        let wg = WaitGroup::new();
        let in_read = chan::<()>(0);
        let release = chan::<()>(0);
        for id in 0..3 {
            let (rw, in_read, release) = (rw.clone(), in_read.clone(), release.clone());
            wg.go(async move {
                let v = rw.read().await; // rw.RLock(); defer rw.RUnlock()
                println!("reader {id} sees {}", *v);
                in_read.send(()).await.unwrap();
                release.recv().await; // hold the read lock until main says so
            });
        }
        for _ in 0..3 {
            in_read.recv().await; // all three readers hold the lock together
        }
        println!("3 readers at once");
        release.close();
        wg.wait().await;

        let mut v = rw.write().await; // rw.Lock(); defer rw.Unlock()
        *v += 1;
        println!("writer sets {}", *v);
    })
}
