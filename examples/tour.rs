//! A short tour of gokio, section by section, in the order of "A Tour of Go"'s
//! concurrency chapter (goroutines, channels, buffered channels, range and
//! close) plus `sync.WaitGroup`.
//!
//! Run it with `cargo run --release --example tour`. Set `RUST_LOG=trace` (or
//! any tracing-subscriber filter) to see gokio's tracing output on stderr.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gokio::{chan, go, sleep, WaitGroup};
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
        select_default().await;
    });
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
    // The writer is blocked in send all this time.
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
    ch.send("a").await.expect("room");
    ch.send("b").await.expect("room");
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
    let mut squares = Vec::new();
    while let Some(v) = rx.recv().await {
        squares.push(v);
    }
    println!("   {squares:?}");
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
    let mut got = Vec::new();
    while let Some(v) = results.recv().await {
        got.push(v);
    }
    got.sort_unstable();
    println!("   all 3 done (count = {}): {got:?}", wg.count());
}

/// The seed's `selectIo`: select with send, receive and default on a
/// channel of capacity 1. Even rounds send, odd rounds receive.
async fn select_default() {
    println!("7. select with default");
    let ch = chan::<i32>(1);
    let mut out = Vec::new();
    for i in 0..10 {
        gokio::select! {
            send(&ch, i) -> _ => {}
            recv(&ch) -> x => out.push(x.expect("open")),
            default => println!("   no case ready"),
        }
    }
    println!(
        "   {}",
        out.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
