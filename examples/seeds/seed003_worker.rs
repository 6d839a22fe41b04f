//! Seed `003_911a7cc3433aa516.txt`, the channel program: `type Worker struct {
//! id int }` with `func (w *Worker) process(c chan int)`; main starts 5
//! workers on one channel and sends 20 values, sleeping 50ms after each.
//!
//! Go guarantees each value reaches exactly one worker. The seed sends
//! `rand.Int()`; this sends 0..19 so the output can be checked, and sleeps
//! 10ms instead of 50ms.

use std::time::Duration;

use gokio::{chan, go, sleep, Chan};

struct Worker {
    id: i32,
}

impl Worker {
    async fn process(&self, c: Chan<i32>) {
        loop {
            let Some(data) = c.recv().await else { return }; // data := <-c
            println!("worker {} got {data}", self.id);
        }
    }
}

fn main() {
    gokio::run(async {
        let c = chan::<i32>(0); // c := make(chan int)
        for i in 0..5 {
            let worker = Worker { id: i }; // worker := &Worker{id: i}
            let c = c.clone();
            go(async move { worker.process(c).await }); // go worker.process(c)
        }

        for i in 0..20 {
            c.send(i).await.unwrap(); // c <- rand.Int()
            sleep(Duration::from_millis(10)).await; // time.Sleep(time.Millisecond * 50)
        }
    })
}
