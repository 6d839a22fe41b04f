//! A tour of gokio: every concept of the Go tutorials gokio was built from
//! (the seed programs, each ported in full in `examples/seeds/`), in the
//! tutorials' order, one short numbered section each:
//!
//!  1. goroutines: main does not wait
//!  2. unbuffered handoff
//!  3. buffered channel len/cap
//!  4. close and comma-ok
//!  5. range over a channel
//!  6. WaitGroup
//!  7. Gosched
//!  8. sum split over two goroutines
//!  9. fibonacci generator
//! 10. loop-variable capture
//! 11. racy counter vs Mutex
//! 12. RWMutex
//! 13. workers receiving from one channel
//! 14. squares pipeline
//! 15. directional channels
//! 16. select with default
//! 17. worker pool
//! 18. GOMAXPROCS and NumGoroutine
//! 19. gokio extras: dump and the deadlock report
//!
//! Where goroutines race to produce results, the tour sorts them before
//! printing, so every line is the same on every run except `gomaxprocs()`,
//! which is the machine's.
//!
//! Run it with `cargo run --release --example tour`. Set `RUST_LOG=trace` (or
//! any tracing-subscriber filter) to see gokio's tracing output on stderr;
//! `RUST_LOG=info` shows what the workers of sections 13 and 17 do.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gokio::sync::{Mutex, RwMutex};
use gokio::{chan, go, gosched, sleep, Receiver, Sender, WaitGroup};
use gokio_patterns::generate;
use tracing_subscriber::EnvFilter;

fn main() {
    // Tracing is off unless RUST_LOG asks for it.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    gokio::run(async {
        goroutines().await;
        unbuffered_handoff().await;
        buffered_len_cap().await;
        close_and_comma_ok().await;
        range_over_channel().await;
        wait_group().await;
        gosched_say().await;
        split_sum().await;
        fibonacci().await;
        loop_capture().await;
        mutex_counter().await;
        rw_mutex().await;
        worker_struct().await;
        squares().await;
        directional().await;
        select_default().await;
        worker_pool().await;
        gomaxprocs().await;
        extras().await;
    });
}

/// The values, space separated.
fn joined<T: Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every value until the channel is closed and drained: `for v := range ch`.
async fn collect<T>(rx: Receiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(v) = rx.recv().await {
        all.push(v);
    }
    all
}

/// `go f()` starts a goroutine; main does not wait for it unless told to.
async fn goroutines() {
    println!("1. goroutines: main does not wait");
    let wg = WaitGroup::new();
    let total = Arc::new(AtomicU64::new(0));
    for i in 1..=3u64 {
        wg.add(1);
        let (wg, total) = (wg.clone(), total.clone());
        // The handle is dropped at once: the goroutine runs on, detached, as
        // the goroutine of a Go `go` statement does.
        go(async move {
            sleep(Duration::from_millis(i)).await;
            // Relaxed: wg.wait() below orders this add before main's load.
            total.fetch_add(i, Ordering::Relaxed);
            wg.done();
        });
    }
    println!("   3 goroutines started; without wg.wait() main would end them");
    wg.wait().await;
    let total = total.load(Ordering::Relaxed);
    println!("   after wg.wait(): total = {total}");
}

/// `make(chan int)`: a send completes only when a receiver takes the value.
async fn unbuffered_handoff() {
    println!("2. unbuffered handoff");
    let ch = chan::<i32>(0);
    let tx = ch.sender();
    let writer = go(async move {
        tx.send(42).await.expect("main receives");
        // Only reached once main has taken the value.
        println!("   written");
    });
    // The writer is blocked in send all this time; the sleep only makes the
    // wait visible, the handoff alone fixes the order of the lines.
    sleep(Duration::from_millis(20)).await;
    println!("   ready to read");
    let v = ch.recv().await.expect("the writer sends");
    writer.await.expect("the writer finishes");
    println!("   received {v}");
}

/// `make(chan string, 3)`: sends complete at once while there is room.
async fn buffered_len_cap() {
    println!("3. buffered channel len/cap");
    let ch = chan::<&str>(3);
    let tx = ch.sender();
    // No receiver is needed: the writer finishes before main reads anything.
    go(async move {
        tx.send("a").await.expect("room");
        tx.send("b").await.expect("room");
    })
    .await
    .expect("the writer finishes");
    println!("   a writer sent 2 and finished, nobody received yet");
    println!("   len = {}, cap = {}", ch.len(), ch.cap());
    ch.send("c").await.expect("room");
    let full = ch.try_send("d").is_err();
    println!(
        "   len = {}, cap = {}, try_send when full fails: {full}",
        ch.len(),
        ch.cap()
    );
}

/// `close(ch)` and `v, ok := <-ch`.
async fn close_and_comma_ok() {
    println!("4. close and comma-ok");
    let ch = chan::<i32>(2);
    ch.send(7).await.expect("room");
    ch.close();
    let (v, ok) = ch.recv_ok().await;
    println!("   buffered value after close: v = {v}, ok = {ok}");
    let (v, ok) = ch.recv_ok().await;
    println!("   closed and drained:         v = {v}, ok = {ok}");
    if let Err(err) = ch.send(8).await {
        let value = err.0;
        println!("   send after close: {err} (the value {value} comes back)");
    }
}

/// `for v := range ch`: receive until the channel is closed and drained.
async fn range_over_channel() {
    println!("5. range over a channel");
    let ch = chan::<u32>(2);
    let tx = ch.sender();
    go(async move {
        for i in 1..=5 {
            tx.send(i * i).await.expect("main receives");
        }
        // Dropping the last sending handle closes the channel, like close(ch).
    });
    // Main keeps only the receiving side, so the producer's drop closes it.
    let rx = ch.receiver();
    drop(ch);
    println!("   {:?}", collect(rx).await);
}

/// `sync.WaitGroup` with Go 1.25's `wg.Go`.
async fn wait_group() {
    println!("6. WaitGroup");
    let wg = WaitGroup::new();
    let results = chan::<u64>(3);
    for i in 1..=3u64 {
        let tx = results.sender();
        // wg.go is add(1) + go + done when the goroutine ends.
        wg.go(async move {
            tx.send(i * 10).await.expect("room");
        });
    }
    wg.wait().await;
    results.close();
    let mut got = collect(results.receiver()).await;
    got.sort_unstable();
    println!("   all 3 done (count = {}): {got:?}", wg.count());
}

/// The seed's `say`: `runtime.Gosched()` before each word.
async fn say(word: &'static str) -> Vec<&'static str> {
    let mut said = Vec::new();
    for _ in 0..5 {
        gosched().await; // runtime.Gosched(): let the other goroutines run
        said.push(word);
    }
    said
}

/// `go say("world"); say("hello")`. Each side collects its words instead of
/// printing them, because how they interleave depends on GOMAXPROCS.
async fn gosched_say() {
    println!("7. Gosched");
    let world = go(say("world"));
    let hello = say("hello").await;
    // Unlike the seed's main, wait for the goroutine, so all its words count.
    let world = world.await.expect("say returns");
    println!("   main:      {}", hello.join(" "));
    println!("   goroutine: {}", world.join(" "));
    println!("   (each word after a gosched().await that let the other side run)");
}

/// The seed's `sum(a []int, ch chan int)`.
async fn sum(a: Vec<i32>, ch: Sender<i32>) {
    ch.send(a.iter().sum()).await.expect("main receives"); // ch <- sum
}

/// `go sum(s[:len(s)/2], ch); go sum(s[len(s)/2:], ch); x, y := <-ch, <-ch`.
async fn split_sum() {
    println!("8. sum split over two goroutines");
    let s = [1, -4, -9, 20, 4, 9];
    let ch = chan::<i32>(0);
    let (lo, hi) = s.split_at(s.len() / 2);
    go(sum(lo.to_vec(), ch.sender()));
    go(sum(hi.to_vec(), ch.sender()));
    let (x, y) = (
        ch.recv().await.expect("a sum"),
        ch.recv().await.expect("a sum"),
    );
    // Which half arrives first varies; the total does not.
    let mut halves = [x, y];
    halves.sort_unstable();
    println!("   halves (sorted): {}, total = {}", joined(&halves), x + y);
}

/// `go fibonacci(cap(ch), ch)` and `for v := range ch`, with the generator
/// pattern: `generate` starts the goroutine and hands back the receiver.
async fn fibonacci() {
    println!("9. fibonacci generator");
    let fib = generate(10, |ch| async move {
        let (mut x, mut y) = (1u64, 1u64);
        for _ in 0..ch.cap() {
            if ch.send(x).await.is_err() {
                return; // the consumer is gone
            }
            (x, y) = (y, x + y);
        }
        // Returning drops the last sender, which closes the channel: close(ch).
    });
    let cap = fib.cap();
    println!("   cap(ch) = {cap}: {}", joined(&collect(fib).await));
}

/// `for i := 0; i < 10; i++ { go func() { fmt.Println(i) }() }`.
async fn loop_capture() {
    println!("10. loop-variable capture");
    println!("   Go before 1.22 shared one i: e.g. 3 7 4 8 8 8 9 10 10 10");
    let seen = chan::<i32>(10);
    let wg = WaitGroup::new();
    for i in 0..10 {
        let tx = seen.sender();
        // `async move` copies this iteration's i into the goroutine. Borrowing
        // the loop's i instead does not compile: a goroutine must be 'static.
        wg.go(async move { tx.send(i).await.expect("room") });
    }
    wg.wait().await;
    seen.close();
    let mut seen = collect(seen.receiver()).await;
    seen.sort_unstable();
    println!(
        "   gokio, the i each goroutine saw (sorted): {}",
        joined(&seen)
    );
}

/// Seed 002's `TestCounter` (racy) and `TestCounterWaitGroup` (a Mutex).
async fn mutex_counter() {
    println!("11. racy counter vs Mutex");
    println!("   racy `counter += 1` from many goroutines does not compile in Rust");
    let counter = Arc::new(Mutex::new(0)); // var mut sync.Mutex; counter := 0
    let wg = WaitGroup::new();
    for _ in 0..5000 {
        let counter = counter.clone();
        // mut.Lock(); counter++; the guard drops at once: mut.Unlock()
        wg.go(async move { *counter.lock().await += 1 });
    }
    wg.wait().await;
    println!(
        "   Mutex counter after 5000 goroutines = {}",
        *counter.lock().await
    );
}

/// `sync.RWMutex`: many readers at once, then one writer alone.
async fn rw_mutex() {
    println!("12. RWMutex");
    let rw = Arc::new(RwMutex::new(0));
    let (in_read, release) = (chan::<i32>(0), chan::<()>(0));
    let wg = WaitGroup::new();
    for _ in 0..3 {
        let (rw, in_read, release) = (rw.clone(), in_read.clone(), release.clone());
        wg.go(async move {
            let v = rw.read().await; // rw.RLock(); defer rw.RUnlock()
            in_read.send(*v).await.expect("main receives");
            release.recv().await; // hold the read lock until main says so
        });
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(in_read.recv().await.expect("a reader"));
    }
    println!("   3 readers hold the read lock at once, each sees {seen:?}");
    release.close();
    wg.wait().await;
    *rw.write().await += 1; // rw.Lock(); v++; rw.Unlock()
    println!("   then one writer alone sets {}", *rw.read().await);
}

/// The seed's `type Worker struct { id int }`.
struct Worker {
    id: i32,
}

impl Worker {
    /// `func (w *Worker) process(c chan int)`, returning what it got.
    async fn process(self, c: Receiver<i32>) -> Vec<i32> {
        let mut got = Vec::new();
        while let Some(data) = c.recv().await {
            tracing::info!(worker = self.id, data, "got");
            got.push(data);
        }
        got
    }
}

/// Five workers on one channel: each value reaches exactly one of them.
async fn worker_struct() {
    println!("13. workers receiving from one channel");
    let c = chan::<i32>(0); // c := make(chan int)
    let workers: Vec<_> = (0..5)
        .map(|id| go(Worker { id }.process(c.receiver())))
        .collect();
    for i in 0..20 {
        c.send(i).await.expect("a worker receives"); // c <- i
    }
    c.close();
    let mut got = Vec::new();
    for worker in workers {
        got.extend(worker.await.expect("the worker returns"));
    }
    got.sort_unstable();
    println!("   5 workers, each value once (sorted): {}", joined(&got));
}

/// The squares pipeline: numbers -> squarer -> main.
async fn squares() {
    println!("14. squares pipeline");
    let (ch1, ch2) = (chan::<i32>(0), chan::<i32>(0));
    let tx1 = ch1.sender();
    go(async move {
        for i in 0..10 {
            tx1.send(i).await.expect("the squarer receives"); // ch1 <- i
        }
        tx1.close(); // close(ch1)
    });
    let (rx1, tx2) = (ch1.receiver(), ch2.sender());
    go(async move {
        // for { i, ok := <-ch1; if !ok { break }; ch2 <- i * i }
        while let (i, true) = rx1.recv_ok().await {
            tx2.send(i * i).await.expect("main receives");
        }
        tx2.close(); // close(ch2)
    });
    println!("   {}", joined(&collect(ch2.receiver()).await)); // for i2 := range ch2
}

/// Go's `func counter(out chan<- int)`: a [`Sender`] can only send.
async fn counter(out: Sender<i32>) {
    for i in 1..=3 {
        out.send(i).await.expect("the printer receives");
    }
    out.close();
}

/// Go's `func printer(in <-chan int)`: a [`Receiver`] can only receive.
/// Sending on it is a compile error, as in Go:
///
/// ```compile_fail
/// async fn printer(input: gokio::Receiver<i32>) {
///     input.send(1).await; // error[E0599]: no method named `send`
/// }
/// ```
async fn printer(input: Receiver<i32>) {
    println!("   printer(Receiver) got {}", joined(&collect(input).await));
}

/// `chan<- int` and `<-chan int`: `Sender<T>` and `Receiver<T>`.
async fn directional() {
    println!("15. directional channels");
    let ch = chan::<i32>(0);
    go(counter(ch.sender()));
    printer(ch.receiver()).await;
    println!("   Receiver has no send, Sender has no recv: misuse does not compile");
}

/// The seed's `selectIo`: select with send, receive and default on a
/// channel of capacity 1. Even rounds send, odd rounds receive.
async fn select_default() {
    println!("16. select with default");
    let ch = chan::<i32>(1);
    let mut out = Vec::new();
    for i in 0..10 {
        gokio::select! {
            send(&ch, i) -> _ => {}
            recv(&ch) -> x => out.push(x.expect("open")),
            default => println!("   no case ready"),
        }
    }
    println!("   {}", joined(&out));
}

/// The seed's `work(id int, jobs <-chan int, results chan<- int)`.
async fn work(id: i32, jobs: Receiver<i32>, results: Sender<i32>) {
    while let Some(job) = jobs.recv().await {
        tracing::info!(worker = id, job, "start");
        sleep(Duration::from_millis(10)).await; // time.Sleep(time.Second)
        results.send(job * 2).await.expect("room");
    }
}

/// The seed's `workPool`: 3 workers, 5 jobs, 5 results.
async fn worker_pool() {
    println!("17. worker pool");
    let (jobs, results) = (chan::<i32>(0), chan::<i32>(5));
    for id in 0..3 {
        go(work(id, jobs.receiver(), results.sender()));
    }
    for job in 0..5 {
        jobs.send(job).await.expect("a worker receives");
    }
    jobs.close();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(results.recv().await.expect("a result"));
    }
    // Results arrive in completion order; sort them.
    got.sort_unstable();
    println!("   3 workers, 5 jobs, results (sorted): {}", joined(&got));
}

/// `runtime.GOMAXPROCS(0)` and `runtime.NumGoroutine()`.
async fn gomaxprocs() {
    println!("18. GOMAXPROCS and NumGoroutine");
    println!(
        "   gomaxprocs() = {} (worker threads; set GOMAXPROCS=n to change it)",
        gokio::gomaxprocs()
    );
    let park = chan::<()>(0);
    for _ in 0..3 {
        let rx = park.receiver();
        go(async move { rx.recv().await });
    }
    // A finished goroutine counts until Tokio releases it: let those of the
    // earlier sections go before counting.
    while gokio::num_goroutine() > 4 {
        gosched().await;
    }
    let n = gokio::num_goroutine();
    println!("   num_goroutine() = {n} (main and 3 waiting)");
    park.close();
}

/// `gokio::dump()`, Go's goroutine traceback, and Go's deadlock report.
async fn extras() {
    println!("19. gokio extras: dump and the deadlock report");
    let ch = chan::<i32>(0);
    let rx = ch.receiver();
    let waiter = go(async move { rx.recv().await });
    let header = format!("goroutine {} [chan receive]:", waiter.id());
    // The waiter may not have reached its receive yet: yield until it has.
    let dump = loop {
        let dump = gokio::dump();
        if dump.lines().any(|line| line == header) {
            break dump;
        }
        gosched().await;
    };
    // The block's next lines are the call it waits in (with how long, which
    // varies) and where that call is in this file.
    let mut block = dump.lines().skip_while(|line| *line != header);
    let (call, site) = (block.nth(1).unwrap_or(""), block.next().unwrap_or(""));
    let call = call.split(", waiting").next().unwrap_or(call);
    println!("   dump(): {header}");
    println!("   {call} at {}", site.trim());
    ch.send(1).await.expect("the waiter receives");
    waiter.await.expect("the waiter returns");
    println!(
        "   all goroutines blocked: Go's deadlock report and exit status 2 \
         (cargo run --example deadlock)"
    );
}
