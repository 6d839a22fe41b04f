//! Seed `004_48e1de2280589ec8.txt`, "工作池" (worker pool): `func work(id int,
//! jobs <-chan int, results chan<- int)` and `func workPool()`: 3 workers, 5
//! jobs, then 5 results read back.
//!
//! Go's directional `<-chan int` and `chan<- int` are gokio's `Receiver<i32>`
//! and `Sender<i32>`: `work` cannot send on `jobs` or receive from `results`.
//! Each job sleeps 50ms instead of the seed's second. The results are
//! 0 2 4 6 8 in completion order.

use std::time::Duration;

use gokio::{chan, go, sleep, Receiver, Sender};

async fn work(id: i32, jobs: Receiver<i32>, results: Sender<i32>) {
    while let Some(i2) = jobs.recv().await {
        // for i2 := range jobs
        println!("worker {id} start job {i2}");
        sleep(Duration::from_millis(50)).await; // time.Sleep(time.Second)
        println!("worker {id} end job {i2}");
        results.send(i2 * 2).await.unwrap(); // results <- i2 * 2
    }
}

fn main() {
    gokio::run(async {
        let jobs = chan::<i32>(0); // jobs := make(chan int)
        let results = chan::<i32>(5); // results := make(chan int, 5)
        for i in 0..3 {
            go(work(i, jobs.receiver(), results.sender())); // go work(i, jobs, results)
        }
        for i in 0..5 {
            jobs.send(i).await.unwrap(); // jobs <- i
        }
        jobs.close(); // close(jobs)
        for _ in 0..5 {
            println!("{}", results.recv().await.unwrap()); // fmt.Println(<-results)
        }
    })
}
