//! Seed `004_48e1de2280589ec8.txt`, "关闭后的通道有以下特点" (a closed channel):
//! the seed lists four rules without a program; this shows each one.
//!
//! 1. Sending on a closed channel panics in Go; gokio hands the value back in
//!    `Err(SendError(v))`.
//! 2. Receiving from a closed channel still gets the buffered values.
//! 3. Once closed and empty, a receive gets the zero value (`ok == false`).
//! 4. Closing a closed channel panics ("close of closed channel"), as in Go.

use gokio::chan;

fn main() {
    gokio::run(async {
        let ch = chan::<i32>(2);
        ch.send(1).await.unwrap();
        ch.send(2).await.unwrap();
        println!("len = {}, cap = {}", ch.len(), ch.cap()); // len(ch), cap(ch)
        ch.close(); // close(ch)

        let err = ch.send(3).await.unwrap_err(); // ch <- 3: panics in Go
        println!("send: {err} (value {} handed back)", err.0);

        let (v, ok) = ch.recv_ok().await; // v, ok := <-ch
        println!("recv: {v} {ok}");
        let (v, ok) = ch.recv_ok().await;
        println!("recv: {v} {ok}");
        let (v, ok) = ch.recv_ok().await;
        println!("recv: {v} {ok}"); // zero value, ok == false

        // close(ch) again: panics. Catch it (quietly) to print Go's message.
        std::panic::set_hook(Box::new(|_| {}));
        let again = std::panic::catch_unwind(|| ch.close());
        let _ = std::panic::take_hook();
        let payload = again.unwrap_err();
        let msg = payload.downcast_ref::<&str>().copied().unwrap_or_default();
        let msg = payload.downcast_ref::<String>().map_or(msg, String::as_str);
        println!("close again: panic: {msg}");
    })
}
