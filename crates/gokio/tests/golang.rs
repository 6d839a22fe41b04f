//! Go's own channel test programs, ported to gokio.
//!
//! One `mod` per Go file, named after it (crossbeam-channel's
//! `tests/golang.rs` is the model). Each port keeps the Go program's
//! structure and its assertions; where gokio's contract differs from Go the
//! port says so in a comment and asserts gokio's behaviour instead:
//!
//! - A send on a closed channel returns `Err(SendError(v))` (the value comes
//!   back) where Go panics; a closed channel's send case in a `select!` is
//!   ready and yields that error. Closing a closed channel panics, as in Go.
//! - A receive yields `Option<T>` (`None` once closed and drained) where Go
//!   yields the zero value; `recv_ok` is Go's comma-ok form.
//! - A nil channel is `None` in a `select!` case (or `gokio::never()` for a
//!   plain receive). There is no nil `Chan` to send on or close.
//! - Go's tests sleep to let a goroutine block first. Here the outcome never
//!   depends on that: the ports yield instead (`gosched`), and where the
//!   order matters they poll futures by hand (`futures::poll!`) so the order
//!   is forced.
//!
//! Loop counts are scaled down to run in seconds in debug builds on two
//! cores; `GOKIO_STRESS=N` multiplies them.
//!
//! Sources: <https://github.com/golang/go> (`test/chan/*.go`,
//! `test/closedchan.go`, `test/ken/chan1.go`, `src/runtime/chan_test.go`,
//! `src/reflect/all_test.go`). Copyright (c) 2009 The Go Authors; used under
//! the BSD-style license at <https://golang.org/LICENSE>.

use std::alloc::{GlobalAlloc, Layout, System};
use std::any::Any;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::poll;
use gokio::runtime::gosched;
use gokio::{
    chan, go, never, select, Chan, Goroutine, Receiver, Select, Selected, SendError, Sender,
    TryRecvError, TrySendError, WaitGroup,
};

/// The `GOKIO_STRESS` multiplier (1 unless set).
fn stress() -> usize {
    std::env::var("GOKIO_STRESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// `n` times the `GOKIO_STRESS` multiplier.
fn scaled(n: usize) -> usize {
    n * stress()
}

/// Awaits `f`, turning a hang (a deadlock in the code under test) into a
/// failure that names the test. The limit never decides a passing outcome.
async fn deadline<F: Future>(what: &str, f: F) -> F::Output {
    let limit = Duration::from_secs(60 * stress() as u64);
    match tokio::time::timeout(limit, f).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: still blocked after {limit:?} (deadlock?)"),
    }
}

/// Awaits a goroutine and re-raises its panic, so an assertion inside a
/// goroutine fails the test.
async fn join<T>(g: Goroutine<T>) -> T {
    match g.await {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("goroutine did not finish: {e}"),
    }
}

/// Yields `n` times: Go's `time.Sleep` before a check whose outcome does not
/// depend on it, only made more likely to exercise the blocked path.
async fn yield_n(n: usize) {
    for _ in 0..n {
        gosched().await;
    }
}

// A global allocator that counts the bytes each thread holds, so `select2`
// can port Go's memory check. Thread-local counts keep other tests (running
// on other threads) out of the measurement.
struct CountingAlloc;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn note_bytes(delta: isize) {
    // `try_with`: a thread being torn down may still free memory.
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
}

/// Bytes allocated minus bytes freed on this thread so far.
fn live_bytes_on_this_thread() -> isize {
    LIVE_BYTES.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counting touches only a const-initialised thread-local
// `Cell` without a destructor, which never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_bytes(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note_bytes(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        note_bytes(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note_bytes(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

// https://github.com/golang/go/blob/master/src/runtime/chan_test.go
mod chan_test {
    use super::*;

    // TestChan. Go runs capacities 0..200 (0..20 with -short).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_chan() {
        let n = (20 * stress()).min(200);
        deadline("TestChan", async {
            for cap in 0..n {
                test_chan_cap(cap).await;
            }
        })
        .await;
    }

    async fn test_chan_cap(cap: usize) {
        {
            // Ensure that receive from empty chan blocks.
            let c = chan::<i32>(cap);
            let recv1 = Arc::new(AtomicBool::new(false));
            let recv2 = Arc::new(AtomicBool::new(false));
            let g1 = go({
                let (c, recv1) = (c.clone(), recv1.clone());
                async move {
                    let _ = c.recv().await;
                    recv1.store(true, SeqCst);
                }
            });
            let g2 = go({
                let (c, recv2) = (c.clone(), recv2.clone());
                async move {
                    let _ = c.recv_ok().await;
                    recv2.store(true, SeqCst);
                }
            });
            // Go sleeps 1ms; nothing has been sent, so no schedule can let
            // either receiver finish.
            yield_n(10).await;
            assert!(
                !recv1.load(SeqCst) && !recv2.load(SeqCst),
                "chan[{cap}]: receive from empty chan"
            );
            // Ensure that non-blocking receive does not block.
            select! {
                recv(&c) -> _ => panic!("chan[{cap}]: receive from empty chan"),
                default => {}
            }
            select! {
                recv(&c) -> _ => panic!("chan[{cap}]: receive from empty chan"),
                default => {}
            }
            c.send(0).await.unwrap();
            c.send(0).await.unwrap();
            join(g1).await;
            join(g2).await;
            assert!(recv1.load(SeqCst) && recv2.load(SeqCst));
        }

        {
            // Ensure that send to full chan blocks.
            let c = chan::<i32>(cap);
            for i in 0..cap {
                c.send(i as i32).await.unwrap();
            }
            let sent = Arc::new(AtomicBool::new(false));
            let g = go({
                let (c, sent) = (c.clone(), sent.clone());
                async move {
                    c.send(0).await.unwrap();
                    sent.store(true, SeqCst);
                }
            });
            yield_n(10).await;
            assert!(!sent.load(SeqCst), "chan[{cap}]: send to full chan");
            // Ensure that non-blocking send does not block (at cap 0 a
            // parked sender is no receiver).
            select! {
                send(&c, 0) -> _ => panic!("chan[{cap}]: send to full chan"),
                default => {}
            }
            assert_eq!(c.recv().await, Some(0));
            join(g).await;
            assert!(sent.load(SeqCst));
        }

        {
            // Ensure that we receive 0 from closed chan.
            let c = chan::<i32>(cap);
            for i in 0..cap {
                c.send(i as i32).await.unwrap();
            }
            c.close();
            for i in 0..cap {
                assert_eq!(c.recv().await, Some(i as i32), "chan[{cap}]");
            }
            // Go: `<-c` yields 0; gokio: `None`, and comma-ok gives (0, false).
            assert_eq!(c.recv().await, None, "chan[{cap}]");
            assert_eq!(c.recv_ok().await, (0, false), "chan[{cap}]");
        }

        {
            // Ensure that close unblocks receive.
            let c = chan::<i32>(cap);
            let done = chan::<bool>(0);
            go({
                let (c, done) = (c.clone(), done.clone());
                async move {
                    let (v, ok) = c.recv_ok().await;
                    done.send(v == 0 && !ok).await.unwrap();
                }
            });
            // Go sleeps so the receiver blocks first; either order must work.
            yield_n(10).await;
            c.close();
            assert_eq!(
                done.recv().await,
                Some(true),
                "chan[{cap}]: received non zero from closed chan"
            );
        }

        {
            // Send 100 integers,
            // ensure that we receive them non-corrupted in FIFO order.
            let c = chan::<i32>(cap);
            let sender = |c: Chan<i32>| async move {
                for i in 0..100 {
                    c.send(i).await.unwrap();
                }
            };
            go(sender(c.clone()));
            for i in 0..100 {
                assert_eq!(c.recv().await, Some(i), "chan[{cap}]");
            }

            // Same, but using recv2.
            go(sender(c.clone()));
            for i in 0..100 {
                let (v, ok) = c.recv_ok().await;
                assert!(ok, "chan[{cap}]: receive failed, expected {i}");
                assert_eq!(v, i, "chan[{cap}]");
            }

            // Send 1000 integers in 4 goroutines,
            // ensure that we receive what we send.
            const P: usize = 4;
            const L: i32 = 1000;
            for _ in 0..P {
                let c = c.clone();
                go(async move {
                    for i in 0..L {
                        c.send(i).await.unwrap();
                    }
                });
            }
            let done = chan::<HashMap<i32, usize>>(0);
            for _ in 0..P {
                let (c, done) = (c.clone(), done.clone());
                go(async move {
                    let mut recv = HashMap::new();
                    for _ in 0..L {
                        let v = c.recv().await.unwrap();
                        *recv.entry(v).or_insert(0) += 1;
                    }
                    done.send(recv).await.unwrap();
                });
            }
            let mut recv = HashMap::new();
            for _ in 0..P {
                for (k, v) in done.recv().await.unwrap() {
                    *recv.entry(k).or_insert(0) += v;
                }
            }
            assert_eq!(recv.len(), L as usize, "chan[{cap}]: distinct values");
            for (k, v) in recv {
                assert_eq!(v, P, "chan[{cap}]: value {k} received {v} times");
            }
        }

        {
            // Test len/cap.
            let c = chan::<i32>(cap);
            assert_eq!((c.len(), c.cap()), (0, cap), "chan[{cap}]: bad len/cap");
            for i in 0..cap {
                c.send(i as i32).await.unwrap();
            }
            assert_eq!((c.len(), c.cap()), (cap, cap), "chan[{cap}]: bad len/cap");
        }
    }

    // TestNonblockRecvRace
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_nonblock_recv_race() {
        for _ in 0..scaled(1000) {
            let c = chan::<i32>(1);
            c.send(1).await.unwrap();
            let g = go({
                let c = c.clone();
                async move {
                    select! {
                        recv(&c) -> _ => (),
                        default => panic!("chan is not ready"),
                    }
                }
            });
            c.close();
            let _ = c.recv().await;
            join(g).await;
        }
    }

    // TestNonblockSelectRace: a select acts on the state of its channels at
    // one moment, not over a smeared time window. From the time the
    // goroutine starts, c1 or c2 is always ready, so its non-blocking select
    // must never run the default case.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_nonblock_select_race() {
        let done = chan::<bool>(1);
        for _ in 0..scaled(1000) {
            let c1 = chan::<i32>(1);
            let c2 = chan::<i32>(1);
            c1.send(1).await.unwrap();
            go({
                let (c1, c2, done) = (c1.clone(), c2.clone(), done.clone());
                async move {
                    let ready = select! {
                        recv(&c1) -> _ => true,
                        recv(&c2) -> _ => true,
                        default => false,
                    };
                    done.send(ready).await.unwrap();
                }
            });
            c2.send(1).await.unwrap();
            select! {
                recv(&c1) -> _ => (),
                default => {}
            }
            assert_eq!(done.recv().await, Some(true), "no chan is ready");
        }
    }

    // TestNonblockSelectRace2: the same, with close(c2) for c2 <- 1.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_nonblock_select_race2() {
        let done = chan::<bool>(1);
        for _ in 0..scaled(1000) {
            let c1 = chan::<i32>(1);
            let c2 = chan::<i32>(0);
            c1.send(1).await.unwrap();
            go({
                let (c1, c2, done) = (c1.clone(), c2.clone(), done.clone());
                async move {
                    let ready = select! {
                        recv(&c1) -> _ => true,
                        recv(&c2) -> _ => true,
                        default => false,
                    };
                    done.send(ready).await.unwrap();
                }
            });
            c2.close();
            select! {
                recv(&c1) -> _ => (),
                default => {}
            }
            assert_eq!(done.recv().await, Some(true), "no chan is ready");
        }
    }

    // TestNonblockSelectRace, sustained: the Go test opens its race window
    // once per iteration, so a select that tries its cases one after the
    // other fails it only rarely. Here a flipper moves a value between c1
    // and c2 for as long as the checker runs, always filling one before
    // draining the other, so at every instant at least one of them holds a
    // value; the checker's non-blocking select (which puts back what it
    // takes before it selects again) must never find neither ready. Both run
    // on plain threads, so they truly run at the same time on two cores,
    // whatever the runtime's scheduling.
    #[test]
    fn test_nonblock_select_race_sustained() {
        let checks = scaled(200_000);
        // Two values in all (one in c1, one held by the flipper), so a
        // capacity of 2 never blocks a send.
        let c1 = chan::<i32>(2);
        let c2 = chan::<i32>(2);
        c1.try_send(1).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flipper = std::thread::spawn({
            let (c1, c2, stop) = (c1.clone(), c2.clone(), stop.clone());
            move || {
                let mut spare = 2;
                let mut flips = 0u64;
                // Spins rather than parks while the checker holds a value,
                // so that it keeps flipping at full speed.
                let take = |c: &Chan<i32>| loop {
                    match c.try_recv() {
                        Ok(v) => return v,
                        Err(TryRecvError::Empty) => std::hint::spin_loop(),
                        Err(TryRecvError::Closed) => unreachable!(),
                    }
                };
                while !stop.load(SeqCst) {
                    c2.try_send(spare).unwrap();
                    spare = take(&c1);
                    c1.try_send(spare).unwrap();
                    spare = take(&c2);
                    flips += 1;
                }
                flips
            }
        });
        // Never-ready cases widen the gap between the tries of c1 and c2 in
        // a select that tries its cases one at a time.
        let idle: Vec<Chan<i32>> = (0..14).map(|_| chan(1)).collect();
        let mut ran_default = false;
        let mut check = 0;
        while check < checks && !ran_default {
            check += 1;
            let mut sel = Select::new().recv(&c1).recv(&c2);
            for ch in &idle {
                sel = sel.recv(ch);
            }
            match sel.try_select() {
                Some(Selected::Recv { index: 0, value }) => c1.try_send(value.unwrap()).unwrap(),
                Some(Selected::Recv { index: 1, value }) => c2.try_send(value.unwrap()).unwrap(),
                Some(other) => panic!("an idle channel was ready: {other:?}"),
                None => ran_default = true,
            }
        }
        stop.store(true, SeqCst);
        let flips = flipper.join().unwrap();
        assert!(
            !ran_default,
            "no chan is ready: non-blocking select {check} of {checks} ran default \
             while c1 or c2 always held a value ({flips} flips so far)"
        );
    }

    // TestSelfSelect: send/recv on the same chan in one select neither
    // crashes nor deadlocks, and at cap 0 never pairs with itself. Each
    // goroutine sends its own id, so a self-pairing shows as receiving it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_self_select() {
        let n = scaled(1000);
        for cap in [0, 10] {
            let wg = WaitGroup::new();
            let c = chan::<i32>(cap);
            let mut handles = Vec::new();
            for p in 0..2i32 {
                let c = c.clone();
                handles.push(wg.go(async move {
                    let (mut sent, mut received) = (0usize, 0usize);
                    for i in 0..n {
                        // `None`: this goroutine's send proceeded.
                        let got = if p == 0 || i % 2 == 0 {
                            select! {
                                send(&c, p) -> r => r.map(|()| None).unwrap(),
                                recv(&c) -> v => Some(v),
                            }
                        } else {
                            select! {
                                recv(&c) -> v => Some(v),
                                send(&c, p) -> r => r.map(|()| None).unwrap(),
                            }
                        };
                        match got {
                            None => sent += 1,
                            Some(v) => {
                                let v = v.expect("never closed");
                                if cap == 0 {
                                    assert_ne!(v, p, "self receive (goroutine {p}, iteration {i})");
                                }
                                received += 1;
                            }
                        }
                    }
                    (sent, received)
                }));
            }
            deadline("TestSelfSelect", wg.wait()).await;
            let (s1, r1) = join(handles.pop().unwrap()).await;
            let (s0, r0) = join(handles.pop().unwrap()).await;
            if cap == 0 {
                // Every pairing is one goroutine's send and the other's receive.
                assert_eq!((s0, r0), (r1, s1), "cap 0: the two goroutines exchanged");
            }
            assert_eq!(
                s0 + s1,
                r0 + r1 + c.len(),
                "cap {cap}: every value sent was received or is still buffered"
            );
        }
    }

    // TestSelectStress: 4 goroutines send N values on each of the chans,
    // 4 receive N values from each, one sends N values on each in a single
    // select and one receives N values from each in a single select.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_select_stress() {
        let n = scaled(5_000);
        let c = [chan::<i32>(0), chan(0), chan(2), chan(3)];
        let wg = WaitGroup::new();
        for ck in &c {
            let tx = ck.clone();
            wg.go(async move {
                for _ in 0..n {
                    tx.send(0).await.unwrap();
                }
            });
            let ck = ck.clone();
            wg.go(async move {
                for _ in 0..n {
                    ck.recv().await.unwrap();
                }
            });
        }
        let sender = wg.go({
            let mut c1 = c.clone().map(Some);
            async move {
                let mut cnt = [0; 4];
                for _ in 0..4 * n {
                    // Go's case order; a finished channel becomes nil.
                    let k = select! {
                        send(c1[3].as_ref(), 0) -> r => r.map(|()| 3).unwrap(),
                        send(c1[2].as_ref(), 0) -> r => r.map(|()| 2).unwrap(),
                        send(c1[0].as_ref(), 0) -> r => r.map(|()| 0).unwrap(),
                        send(c1[1].as_ref(), 0) -> r => r.map(|()| 1).unwrap(),
                    };
                    cnt[k] += 1;
                    if cnt[k] == n {
                        c1[k] = None;
                    }
                }
                cnt
            }
        });
        let receiver = wg.go({
            let mut c1 = c.clone().map(Some);
            async move {
                let mut cnt = [0; 4];
                for _ in 0..4 * n {
                    let k = select! {
                        recv(c1[0].as_ref()) -> v => v.map(|_| 0).unwrap(),
                        recv(c1[1].as_ref()) -> v => v.map(|_| 1).unwrap(),
                        recv(c1[2].as_ref()) -> v => v.map(|_| 2).unwrap(),
                        recv(c1[3].as_ref()) -> v => v.map(|_| 3).unwrap(),
                    };
                    cnt[k] += 1;
                    if cnt[k] == n {
                        c1[k] = None;
                    }
                }
                cnt
            }
        });
        deadline("TestSelectStress", wg.wait()).await;
        assert_eq!(join(sender).await, [n; 4]);
        assert_eq!(join(receiver).await, [n; 4]);
        for ch in &c {
            assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "nothing left over");
        }
    }

    // TestSelectStress again with the select goroutines written with the
    // dynamic `Select` (Go's reflect.Select): nil channels are `None` cases
    // and the case index is the channel index.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_select_stress_dynamic() {
        let n = scaled(5_000);
        let c = [chan::<i32>(0), chan(0), chan(2), chan(3)];
        let wg = WaitGroup::new();
        for ck in &c {
            let tx = ck.clone();
            wg.go(async move {
                for _ in 0..n {
                    tx.send(0).await.unwrap();
                }
            });
            let ck = ck.clone();
            wg.go(async move {
                for _ in 0..n {
                    ck.recv().await.unwrap();
                }
            });
        }
        let sender = wg.go({
            let mut c1 = c.clone().map(Some);
            async move {
                let mut cnt = [0; 4];
                for _ in 0..4 * n {
                    let mut sel = Select::new();
                    for ch in &c1 {
                        sel = sel.send(ch.as_ref(), 0);
                    }
                    let k = match sel.await {
                        Selected::Send { index, result } => {
                            result.unwrap();
                            index
                        }
                        other => panic!("a send-only select chose {other:?}"),
                    };
                    cnt[k] += 1;
                    if cnt[k] == n {
                        c1[k] = None;
                    }
                }
                cnt
            }
        });
        let receiver = wg.go({
            let mut c1 = c.clone().map(Some);
            async move {
                let mut cnt = [0; 4];
                for _ in 0..4 * n {
                    let mut sel = Select::new();
                    for ch in &c1 {
                        sel = sel.recv(ch.as_ref());
                    }
                    let k = match sel.await {
                        Selected::Recv {
                            index,
                            value: Some(0),
                        } => index,
                        other => panic!("a recv-only select chose {other:?}"),
                    };
                    cnt[k] += 1;
                    if cnt[k] == n {
                        c1[k] = None;
                    }
                }
                cnt
            }
        });
        deadline("TestSelectStress (dynamic)", wg.wait()).await;
        assert_eq!(join(sender).await, [n; 4]);
        assert_eq!(join(receiver).await, [n; 4]);
        for ch in &c {
            assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "nothing left over");
        }
    }

    // TestSelectFairness: two always-ready buffered channels (and two never
    // ready unbuffered ones); each must be chosen about half the time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_select_fairness() {
        const TRIALS: usize = 10_000;
        let c1 = chan::<u8>(TRIALS + 1);
        let c2 = chan::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1.send(1).await.unwrap();
            c2.send(2).await.unwrap();
        }
        let c3 = chan::<u8>(0);
        let c4 = chan::<u8>(0);
        let out = chan::<u8>(0);
        let done = chan::<u8>(0);
        let wg = WaitGroup::new();
        wg.go({
            let (c1, c2, c3, c4, out, done) = (
                c1.clone(),
                c2.clone(),
                c3.clone(),
                c4.clone(),
                out.clone(),
                done.clone(),
            );
            async move {
                loop {
                    let b = select! {
                        recv(&c3) -> m => m,
                        recv(&c4) -> m => m,
                        recv(&c1) -> m => m,
                        recv(&c2) -> m => m,
                    };
                    let b = b.expect("c1 and c2 never run dry");
                    select! {
                        send(&out, b) -> r => r.unwrap(),
                        recv(&done) -> _ => return,
                    }
                }
            }
        });
        let (mut cnt1, mut cnt2) = (0usize, 0usize);
        for _ in 0..TRIALS {
            match out.recv().await {
                Some(1) => cnt1 += 1,
                Some(2) => cnt2 += 1,
                b => panic!("unexpected value {b:?} on channel"),
            }
        }
        // If the select in the goroutine is fair, cnt1 and cnt2 should be
        // about the same value. Go fails beyond 10 sigma: with 10,000 trials
        // that is [4500, 5500], i.e. [0.45, 0.55] * TRIALS.
        let mean = TRIALS as f64 / 2.0;
        let sigma = (TRIALS as f64 / 4.0).sqrt();
        assert!(
            (cnt1 as f64 - mean).abs() <= 10.0 * sigma,
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        done.close();
        deadline("TestSelectFairness", wg.wait()).await;
    }

    // TestChanSendInterface
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_chan_send_interface() {
        struct Mt;
        let c = chan::<Box<dyn Any + Send>>(1);
        c.send(Box::new(Mt)).await.unwrap();
        let sent = select! {
            send(&c, Box::new(Mt)) -> _ => true,
            default => false,
        };
        assert!(!sent, "the buffer is full");
        let sent = select! {
            send(&c, Box::new(Mt)) -> _ => true,
            send(&c, Box::new(Mt)) -> _ => true,
            default => false,
        };
        assert!(!sent, "the buffer is full");
        assert!(c.recv().await.unwrap().is::<Mt>());
    }

    // TestPseudoRandomSend: a select over two ready sends on one channel
    // picks each often.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_pseudo_random_send() {
        let n = 100;
        for cap in [0, n] {
            let c = chan::<i32>(cap);
            let g = go({
                let c = c.clone();
                async move {
                    let mut l = vec![0; n];
                    for x in l.iter_mut() {
                        gosched().await;
                        *x = c.recv().await.unwrap();
                    }
                    l
                }
            });
            for _ in 0..n {
                select! {
                    send(&c, 1) -> r => r.unwrap(),
                    send(&c, 0) -> r => r.unwrap(),
                }
            }
            let l = join(g).await;
            let n1: i32 = l.iter().sum();
            let n0 = n as i32 - n1;
            assert!(
                n0 > n as i32 / 10 && n1 > n as i32 / 10,
                "Want pseudorandom, got {n0} zeros and {n1} ones (chan cap {cap})"
            );
        }
    }

    // TestMultiConsumer: 23 workers range over one queue. Go checks the
    // count and the sum; the port also sends each item's index and checks
    // that every item arrives exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_multi_consumer() {
        const NWORK: usize = 23;
        let niter = scaled(20_000); // Go: 271828
        const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];

        let q = chan::<usize>(NWORK * 3);
        let r = chan::<usize>(NWORK * 3);

        // workers
        let wg = WaitGroup::new();
        for w in 0..NWORK {
            let (q, r) = (q.clone(), r.clone());
            wg.go(async move {
                while let Some(i) = q.recv().await {
                    // mess with the fifo-ish nature of range
                    if PN[w % PN.len()] == PN[i % PN.len()] {
                        gosched().await;
                    }
                    r.send(i).await.unwrap();
                }
            });
        }

        // feeder & closer
        let feeder = go({
            let (q, r, wg) = (q.clone(), r.clone(), wg.clone());
            async move {
                let mut expect = 0;
                for i in 0..niter {
                    expect += PN[i % PN.len()];
                    q.send(i).await.unwrap();
                }
                q.close(); // no more work
                wg.wait().await; // workers done
                r.close(); // ... so there can be no more results
                expect
            }
        });

        // consume & check
        let mut seen = vec![false; niter];
        let (mut n, mut s) = (0, 0);
        deadline("TestMultiConsumer", async {
            while let Some(i) = r.recv().await {
                assert!(!std::mem::replace(&mut seen[i], true), "item {i} twice");
                n += 1;
                s += PN[i % PN.len()];
            }
        })
        .await;
        let expect = join(feeder).await;
        assert_eq!(
            (n, s),
            (niter, expect),
            "Expected sum {expect} (got {s}) from {niter} iter (saw {n})"
        );
    }

    // TestSelectDuplicateChannel: a select may queue one goroutine on the
    // same channel several times. Go sleeps so that goroutine A is queued on
    // c before goroutine B; the outcome does not depend on that order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_select_duplicate_channel() {
        let c = chan::<i32>(0);
        let d = chan::<i32>(0);
        let e = chan::<i32>(0);

        // goroutine A
        let a = go({
            let (c, d, e) = (c.clone(), d.clone(), e.clone());
            async move {
                let got = select! {
                    recv(&c) -> v => ("c", v),
                    recv(&c) -> v => ("c", v),
                    recv(&d) -> v => ("d", v),
                };
                e.send(9).await.unwrap();
                got
            }
        });
        yield_n(10).await; // make sure goroutine A gets queued first on c

        // goroutine B
        let b = go({
            let c = c.clone();
            async move { c.recv().await }
        });
        yield_n(10).await; // make sure goroutine B gets queued on c before continuing

        d.send(7).await.unwrap(); // wake up A, it dequeues itself from c
        assert_eq!(e.recv().await, Some(9)); // A tells us it's done
        c.send(8).await.unwrap(); // wake up B
        assert_eq!(join(a).await, ("d", Some(7)));
        assert_eq!(join(b).await, Some(8));
    }

    // TestSelectDuplicateChannel with the order forced: the futures are
    // polled by hand, so A is queued (twice) on c before B for certain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_select_duplicate_channel_forced_order() {
        let c = chan::<i32>(0);
        let d = chan::<i32>(0);

        let mut a = Box::pin(async {
            select! {
                recv(&c) -> v => ("c", v),
                recv(&c) -> v => ("c", v),
                recv(&d) -> v => ("d", v),
            }
        });
        assert!(poll!(a.as_mut()).is_pending(), "A waits on c, c and d");
        let mut b = Box::pin(c.recv());
        assert!(poll!(b.as_mut()).is_pending(), "B waits on c behind A");

        // A is parked on d: the handoff completes without waiting.
        d.try_send(7).unwrap();
        assert_eq!(poll!(a.as_mut()), Poll::Ready(("d", Some(7))));
        // A's two entries on c must not swallow B's value.
        c.try_send(8).unwrap();
        assert_eq!(poll!(b.as_mut()), Poll::Ready(Some(8)));
    }
}

// https://github.com/golang/go/blob/master/test/chan/select.go
mod select {
    use super::*;

    // Send values (1 << shift) to a and b with a non-blocking select until
    // neither is ready; every case's value is evaluated on entry, even for a
    // nil channel.
    #[tokio::test]
    async fn main() {
        let counter = Cell::new(0u32);
        let shift = Cell::new(0u32);
        let get_value = || {
            counter.set(counter.get() + 1);
            1u32 << shift.get()
        };
        let send = |mut a: Option<&Chan<u32>>, mut b: Option<&Chan<u32>>| {
            let mut i = 0;
            loop {
                let sent_a = select! {
                    send(a, get_value()) -> r => r.map(|()| true),
                    send(b, get_value()) -> r => r.map(|()| false),
                    default => break,
                };
                i += 1;
                if sent_a.unwrap() {
                    a = None;
                } else {
                    b = None;
                }
                shift.set(shift.get() + 1);
            }
            i
        };

        let a = chan::<u32>(1);
        let b = chan::<u32>(1);
        assert_eq!(send(Some(&a), Some(&b)), 2);
        let av = a.recv().await.unwrap();
        let bv = b.recv().await.unwrap();
        assert_eq!(av | bv, 3, "bad values {av} {bv}");
        assert_eq!(send(Some(&a), None), 1);
        assert_eq!(counter.get(), 10);
    }
}

// https://github.com/golang/go/blob/master/test/chan/select2.go
//
// Selects must not consume undue memory. Go compares runtime.MemStats.Alloc
// after two rounds of 100,000 selects; here a counting allocator measures
// the bytes the test's thread holds, on a current-thread runtime so that
// every goroutine runs (and allocates and frees) on that thread. A select
// that left a waiter behind on the case it lost would grow by at least one
// allocation per select.
mod select2 {
    use super::*;

    const N: usize = 100_000;
    // Go's threshold for 100,000 selects.
    const MAX_GROWTH: isize = 110_000;

    async fn sender(c: Chan<i32>, n: usize) {
        for _ in 0..n {
            c.send(1).await.unwrap();
        }
    }

    async fn receiver(c: &Chan<i32>, dummy: &Chan<i32>, n: usize) {
        for _ in 0..n {
            select! {
                recv(c) -> v => assert_eq!(v, Some(1)),
                recv(dummy) -> _ => panic!("dummy"),
            }
        }
    }

    async fn round(c: &Chan<i32>, dummy: &Chan<i32>) {
        let g = go(sender(c.clone(), N));
        receiver(c, dummy, N).await;
        join(g).await;
    }

    async fn check(cap: usize) {
        // The meter works: memory held on this thread shows.
        let probe = live_bytes_on_this_thread();
        let held = vec![0u8; 4096];
        assert!(live_bytes_on_this_thread() - probe >= 4096);
        drop(held);

        let c = chan::<i32>(cap);
        let dummy = chan::<i32>(0);

        // warm up
        round(&c, &dummy).await;
        let alloc = live_bytes_on_this_thread();

        // second time shouldn't increase footprint by much
        round(&c, &dummy).await;
        let growth = live_bytes_on_this_thread() - alloc;
        assert!(
            growth <= MAX_GROWTH,
            "BUG: too much memory for {N} selects (c cap {cap}): {growth} bytes"
        );

        // No receive of a finished select is left parked on the channel it
        // lost: a non-blocking send finds no receiver.
        assert!(matches!(dummy.try_send(1), Err(TrySendError::Full(1))));
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn main() {
        check(0).await;
    }

    // The same with `c` buffered: the select listens on a buffered channel
    // and parks a waiter on the unbuffered dummy.
    #[tokio::test(flavor = "current_thread")]
    async fn main_buffered() {
        check(1).await;
    }

    // A select whose buffered case is ready at once, beside an unready
    // unbuffered case, must leave nothing behind either.
    #[tokio::test(flavor = "current_thread")]
    async fn ready_buffered_case_beside_unready_cap0_case() {
        let ready = chan::<usize>(1);
        let idle = chan::<usize>(0);
        let round = || async {
            for i in 0..N {
                ready.try_send(i).unwrap();
                let v = select! {
                    recv(&ready) -> v => v,
                    recv(&idle) -> _ => panic!("idle"),
                };
                assert_eq!(v, Some(i));
            }
        };
        round().await;
        let alloc = live_bytes_on_this_thread();
        round().await;
        let growth = live_bytes_on_this_thread() - alloc;
        assert!(
            growth <= MAX_GROWTH,
            "BUG: too much memory for {N} selects: {growth} bytes"
        );
        assert!(matches!(idle.try_send(1), Err(TrySendError::Full(1))));
    }
}

// https://github.com/golang/go/blob/master/test/chan/select3.go
//
// The blocking rules of channel operations and select: what must block and
// what must not. Go runs each function in a goroutine and waits 0.1s; here
// the function's future is polled directly: "blocks" means still pending
// after repeated polls with other goroutines given turns in between (nothing
// could ever make it ready), "does not block" means ready on the first poll.
mod select3 {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Signal {
        Always,
        Never,
    }
    use Signal::{Always, Never};

    async fn test_block<F: Future>(signal: Signal, what: &str, f: F) {
        // Unconstrained: an operation that is ready must not report Pending
        // only because the task's cooperative budget ran out.
        let mut f = Box::pin(tokio::task::unconstrained(f));
        match signal {
            Never => assert!(poll!(f.as_mut()).is_ready(), "{what}: function did block"),
            Always => {
                for _ in 0..5 {
                    assert!(
                        poll!(f.as_mut()).is_pending(),
                        "{what}: function did not block"
                    );
                    gosched().await;
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        let nilch: Option<&Chan<i32>> = None;
        let closedch = chan::<i32>(0);
        closedch.close();

        // sending/receiving from a nil channel blocks
        test_block(Always, "nil send", async {
            select! { send(nilch, 7) -> _ => unreachable!() }
        })
        .await;
        test_block(Always, "nil recv", async {
            never::<i32>().recv().await;
        })
        .await;

        // sending/receiving from a nil channel inside a select is never selected
        test_block(Never, "nil send with default", async {
            select! {
                send(nilch, 7) -> _ => unreachable!(),
                default => {}
            }
        })
        .await;
        test_block(Never, "nil recv with default", async {
            select! {
                recv(nilch) -> _ => unreachable!(),
                default => {}
            }
        })
        .await;

        // sending to an async channel with free buffer space never blocks
        test_block(Never, "send with room", async {
            let ch = chan::<i32>(1);
            ch.send(7).await.unwrap();
        })
        .await;

        // receiving from a closed channel never blocks
        test_block(Never, "recv from closed", async {
            for _ in 0..10 {
                // Go: `<-closedch` is the zero value; gokio: None.
                assert_eq!(closedch.recv().await, None);
                assert_eq!(closedch.recv_ok().await, (0, false));
            }
        })
        .await;

        // sending to a closed channel panics in Go; gokio hands the value
        // back, without blocking.
        test_block(Never, "send to closed", async {
            assert_eq!(closedch.send(7).await, Err(SendError(7)));
        })
        .await;

        // receiving from a non-ready channel always blocks
        test_block(Always, "recv from empty", async {
            let ch = chan::<i32>(0);
            ch.recv().await;
        })
        .await;

        // empty selects always block
        test_block(Always, "empty select", async {
            let () = select! {};
        })
        .await;

        // selects with only nil channels always block
        test_block(Always, "select nil recv", async {
            select! { recv(nilch) -> _ => unreachable!() }
        })
        .await;
        test_block(Always, "select nil send", async {
            select! { send(nilch, 7) -> _ => unreachable!() }
        })
        .await;
        test_block(Always, "select nil recv and send", async {
            select! {
                recv(nilch) -> _ => unreachable!(),
                send(nilch, 7) -> _ => unreachable!(),
            }
        })
        .await;

        // selects with non-ready non-nil channels always block
        test_block(Always, "select recv from empty", async {
            let ch = chan::<i32>(0);
            select! { recv(&ch) -> _ => unreachable!() }
        })
        .await;

        // selects with default cases don't block
        test_block(Never, "default only", async {
            select! { default => {} }
        })
        .await;
        test_block(Never, "nil recv and default", async {
            select! {
                recv(nilch) -> _ => unreachable!(),
                default => {}
            }
        })
        .await;
        test_block(Never, "nil send and default", async {
            select! {
                send(nilch, 7) -> _ => unreachable!(),
                default => {}
            }
        })
        .await;

        // selects with ready channels don't block
        test_block(Never, "select send with room", async {
            let ch = chan::<i32>(1);
            select! {
                send(&ch, 7) -> r => r.unwrap(),
                default => unreachable!(),
            }
        })
        .await;
        test_block(Never, "select recv of buffered", async {
            let ch = chan::<i32>(1);
            ch.send(7).await.unwrap();
            select! {
                recv(&ch) -> v => assert_eq!(v, Some(7)),
                default => unreachable!(),
            }
        })
        .await;

        // selects with closed channels behave like ordinary operations
        test_block(Never, "select recv from closed", async {
            select! { recv(&closedch) -> _ => {} }
        })
        .await;
        test_block(Never, "select recv value from closed", async {
            select! { recv(&closedch) -> x => assert_eq!(x, None) }
        })
        .await;
        // Go panics on a closed channel's send case; gokio's case is ready
        // and hands the value back.
        test_block(Never, "select send to closed", async {
            select! { send(&closedch, 7) -> r => assert_eq!(r, Err(SendError(7))) }
        })
        .await;

        // select should not get confused if it sees itself
        let c = chan::<i32>(0);
        test_block(Always, "select sees itself", async {
            select! {
                send(&c, 1) -> _ => unreachable!(),
                recv(&c) -> _ => unreachable!(),
            }
        })
        .await;
        // ... and, dropped, it leaves nothing on the channel.
        assert!(matches!(c.try_send(1), Err(TrySendError::Full(1))));
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    }
}

// https://github.com/golang/go/blob/master/test/chan/select4.go
//
// The receive expression of a case that is not chosen is not evaluated.
mod select4 {
    use super::*;

    #[tokio::test]
    async fn main() {
        let c = chan::<i32>(1);
        let c1 = chan::<i32>(0);
        c.send(42).await.unwrap();
        select! {
            recv(&c1) -> _ => panic!("BUG: ran the case of an unready channel"),
            recv(&c) -> v => assert_eq!(v, Some(42)),
        }
    }
}

// https://github.com/golang/go/blob/master/test/chan/select6.go
//
// Issue 2075: a select that lost on c1 must not stay queued on c1 and
// swallow a later send meant for a plain receiver.
mod select6 {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        let c1 = chan::<bool>(0);
        let c2 = chan::<bool>(0);
        let c3 = chan::<bool>(0);
        let g1 = go({
            let c1 = c1.clone();
            async move { c1.recv().await }
        });
        let g2 = go({
            let (c1, c2, c3) = (c1.clone(), c2.clone(), c3.clone());
            async move {
                select! {
                    recv(&c1) -> _ => panic!("dummy"),
                    recv(&c2) -> _ => c3.send(true).await.unwrap(),
                }
                c1.recv().await
            }
        });
        go({
            let c2 = c2.clone();
            async move { c2.send(true).await.unwrap() }
        });
        deadline("select6", async {
            c3.recv().await;
            c1.send(true).await.unwrap();
            c1.send(true).await.unwrap();
        })
        .await;
        assert_eq!(join(g1).await, Some(true));
        assert_eq!(join(g2).await, Some(true));
    }
}

// https://github.com/golang/go/blob/master/test/chan/select7.go
//
// Select when discarding a value: every combination of a plain or select
// receive and a plain or select send on an unbuffered channel.
mod select7 {
    use super::*;

    async fn recv1(c: Receiver<i32>) -> Option<i32> {
        c.recv().await
    }

    async fn recv2(c: Receiver<i32>) -> Option<i32> {
        select! { recv(&c) -> v => v }
    }

    async fn recv3(c: Receiver<i32>) -> Option<i32> {
        let c2 = chan::<i32>(0);
        select! {
            recv(&c) -> v => v,
            recv(&c2) -> _ => unreachable!(),
        }
    }

    async fn send1<F, Fut>(recv: F)
    where
        F: FnOnce(Receiver<i32>) -> Fut,
        Fut: Future<Output = Option<i32>> + Send + 'static,
    {
        let c = chan::<i32>(0);
        let g = go(recv(c.receiver()));
        gosched().await;
        c.send(1).await.unwrap();
        assert_eq!(join(g).await, Some(1));
    }

    async fn send2<F, Fut>(recv: F)
    where
        F: FnOnce(Receiver<i32>) -> Fut,
        Fut: Future<Output = Option<i32>> + Send + 'static,
    {
        let c = chan::<i32>(0);
        let g = go(recv(c.receiver()));
        gosched().await;
        select! { send(&c, 1) -> r => r.unwrap() }
        assert_eq!(join(g).await, Some(1));
    }

    async fn send3<F, Fut>(recv: F)
    where
        F: FnOnce(Receiver<i32>) -> Fut,
        Fut: Future<Output = Option<i32>> + Send + 'static,
    {
        let c = chan::<i32>(0);
        let g = go(recv(c.receiver()));
        gosched().await;
        let c2 = chan::<i32>(0);
        select! {
            send(&c, 1) -> r => r.unwrap(),
            send(&c2, 1) -> _ => unreachable!(),
        }
        assert_eq!(join(g).await, Some(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        deadline("select7", async {
            send1(recv1).await;
            send2(recv1).await;
            send3(recv1).await;
            send1(recv2).await;
            send2(recv2).await;
            send3(recv2).await;
            send1(recv3).await;
            send2(recv3).await;
            send3(recv3).await;
        })
        .await;
    }
}

// https://github.com/golang/go/blob/master/test/chan/doubleselect.go
//
// Flushes out the case where two cases of one select both run: the same
// counter value would then arrive twice.
mod doubleselect {
    use super::*;

    // sender sends a counter to one of four different channels. If two cases
    // both end up running in the same iteration, the same value will be sent
    // to two different channels.
    async fn sender(n: i32, c1: Sender<i32>, c2: Sender<i32>, c3: Sender<i32>, c4: Sender<i32>) {
        for i in 0..n {
            select! {
                send(&c1, i) -> r => r.unwrap(),
                send(&c2, i) -> r => r.unwrap(),
                send(&c3, i) -> r => r.unwrap(),
                send(&c4, i) -> r => r.unwrap(),
            }
        }
        // Go defers these closes.
        c1.close();
        c2.close();
        c3.close();
        c4.close();
    }

    // mux receives the values from sender and forwards them onto another
    // channel. It would be simpler to just have sender's four cases all be
    // the same channel, but this doesn't actually trigger the bug.
    async fn mux(out: Sender<i32>, inp: Receiver<i32>, done: Sender<bool>) {
        while let Some(v) = inp.recv().await {
            out.send(v).await.unwrap();
        }
        done.send(true).await.unwrap();
    }

    // recver gets a stream of values from the four muxes and checks for
    // duplicates.
    async fn recver(inp: Receiver<i32>) -> HashSet<i32> {
        let mut seen = HashSet::new();
        while let Some(v) = inp.recv().await {
            assert!(seen.insert(v), "got duplicate value: {v}");
        }
        seen
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        let iterations = scaled(10_000) as i32; // Go: 100,000
        let c1 = chan::<i32>(0);
        let c2 = chan::<i32>(0);
        let c3 = chan::<i32>(0);
        let c4 = chan::<i32>(0);
        let done = chan::<bool>(0);
        let cmux = chan::<i32>(0);
        go(sender(
            iterations,
            c1.sender(),
            c2.sender(),
            c3.sender(),
            c4.sender(),
        ));
        for c in [&c1, &c2, &c3, &c4] {
            go(mux(cmux.sender(), c.receiver(), done.sender()));
        }
        go({
            let cmux = cmux.sender();
            async move {
                for _ in 0..4 {
                    done.recv().await;
                }
                cmux.close();
            }
        });
        // We keep the recver because it might catch more bugs in the future.
        // However, the result of the bug linked to at the top is that we'll
        // end up panicking with: "throw: bad g->status in ready".
        let seen = deadline("doubleselect", recver(cmux.receiver())).await;
        assert_eq!(seen.len(), iterations as usize, "every value arrived");
    }
}

// https://github.com/golang/go/blob/master/test/chan/nonblock.go
//
// Channel operations that test for blocking, with several operand types.
// Go retries a non-blocking operation with a short sleep until the other
// goroutine is ready; here it yields between tries.
mod nonblock {
    use super::*;

    const MAX_TRIES: usize = 1_000_000;

    async fn retry<T>(what: &str, buffer: usize, mut attempt: impl FnMut() -> Option<T>) -> T {
        for _ in 0..MAX_TRIES {
            if let Some(v) = attempt() {
                return v;
            }
            gosched().await;
        }
        panic!("{what} buffer={buffer}: fail");
    }

    /// One type's part of the loop body: a receiver goroutine and a
    /// non-blocking send, then a sender goroutine and a non-blocking receive.
    async fn check<T>(buffer: usize, sync: &Chan<bool>, to_receiver: T, from_sender: T)
    where
        T: Clone + PartialEq + Debug + Send + 'static,
    {
        let c = chan::<T>(buffer);
        select! {
            recv(&c) -> _ => panic!("blocked sender"),
            default => {}
        }

        let receiver = go({
            let (c, sync, want) = (c.clone(), sync.clone(), to_receiver.clone());
            async move {
                assert_eq!(c.recv().await, Some(want), "receiver value");
                sync.send(true).await.unwrap();
            }
        });
        retry("receiver", buffer, || {
            select! {
                send(&c, to_receiver.clone()) -> r => r.ok(),
                default => None,
            }
        })
        .await;
        sync.recv().await;
        join(receiver).await;

        let sender = go({
            let (c, sync, v) = (c.clone(), sync.clone(), from_sender.clone());
            async move {
                c.send(v).await.unwrap();
                sync.send(true).await.unwrap();
            }
        });
        if buffer > 0 {
            sync.recv().await;
        }
        let v = retry("sender", buffer, || {
            select! {
                recv(&c) -> v => Some(v),
                default => None,
            }
        })
        .await;
        assert_eq!(v, Some(from_sender), "sender value");
        if buffer == 0 {
            sync.recv().await;
        }
        join(sender).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        let sync = chan::<bool>(0);
        deadline("nonblock", async {
            for buffer in 0..2 {
                check::<i32>(buffer, &sync, 123, 234).await;
                check::<i64>(buffer, &sync, 123456, 234567).await;
                check::<bool>(buffer, &sync, true, true).await;
                check::<String>(buffer, &sync, "hello".into(), "hello again".into()).await;
            }
        })
        .await;
    }
}

// https://github.com/golang/go/blob/master/test/chan/sieve1.go
//
// The concurrent prime sieve, with unbuffered channels. Go's program leaks
// its goroutines when main returns; in gokio a send fails once every
// receiving handle is gone, so after main drops its receiver the whole
// chain of goroutines unwinds, which the port checks as well.
mod sieve1 {
    use super::*;

    // Send the sequence 2, 3, 4, ... to channel 'ch'.
    async fn generate(ch: Sender<i32>) {
        let mut i = 2;
        while ch.send(i).await.is_ok() {
            i += 1;
        }
    }

    // Copy the values from channel 'in' to channel 'out',
    // removing those divisible by 'prime'.
    async fn filter(inp: Receiver<i32>, out: Sender<i32>, prime: i32) {
        while let Some(i) = inp.recv().await {
            if i % prime != 0 && out.send(i).await.is_err() {
                return;
            }
        }
    }

    // The prime sieve: Daisy-chain filter processes together.
    async fn sieve(primes: Sender<i32>, wg: WaitGroup) {
        let ch = chan::<i32>(0); // Create a new channel.
        wg.go(generate(ch.sender())); // Start generate() as a subprocess.
        let mut rx = ch.receiver();
        drop(ch);
        loop {
            // Note that rx is different on each iteration.
            let prime = rx
                .recv()
                .await
                .expect("the chain ends only downstream first");
            if primes.send(prime).await.is_err() {
                return;
            }
            let ch1 = chan::<i32>(0);
            wg.go(filter(rx, ch1.sender(), prime));
            rx = ch1.receiver();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        let primes = chan::<i32>(0);
        let wg = WaitGroup::new();
        wg.go(sieve(primes.sender(), wg.clone()));
        let rx = primes.receiver();
        drop(primes);

        let a = [
            2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
            89, 97,
        ];
        deadline("sieve1", async {
            for want in a {
                let x = rx.recv().await;
                assert_eq!(x, Some(want), "{x:?} != {want}");
            }
        })
        .await;

        // gokio: dropping the last receiver unwinds every goroutine.
        drop(rx);
        deadline("sieve1 unwinding", wg.wait()).await;
    }
}

// https://github.com/golang/go/blob/master/test/chan/fifo.go
//
// Channels are first-in first-out, buffered and unbuffered.
mod fifo {
    use super::*;

    const N: i32 = 10;

    #[tokio::test]
    async fn asynch_fifo() {
        let ch = chan::<i32>(N as usize);
        for i in 0..N {
            ch.send(i).await.unwrap();
        }
        for i in 0..N {
            assert_eq!(ch.recv().await, Some(i), "bad receive");
        }
    }

    async fn chain(ch: Chan<i32>, val: i32, inp: Chan<i32>, out: Chan<i32>) {
        inp.recv().await;
        assert_eq!(ch.recv().await, Some(val));
        out.send(1).await.unwrap();
    }

    // thread together a daisy chain to read the elements in sequence
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn synch_fifo() {
        let ch = chan::<i32>(0);
        let mut inp = chan::<i32>(0);
        let start = inp.clone();
        let mut links = Vec::new();
        for i in 0..N {
            let out = chan::<i32>(0);
            links.push(go(chain(ch.clone(), i, inp, out.clone())));
            inp = out;
        }
        deadline("SynchFifo", async {
            start.send(0).await.unwrap();
            for i in 0..N {
                ch.send(i).await.unwrap();
            }
            inp.recv().await;
        })
        .await;
        for link in links {
            join(link).await;
        }
    }
}

// https://github.com/golang/go/blob/master/test/chan/goroutines.go
//
// A long chain of goroutines, each passing one value on.
mod goroutines {
    use super::*;

    async fn f(left: Chan<i32>, right: Chan<i32>) {
        let v = right.recv().await.unwrap();
        left.send(v).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        let n = scaled(10_000);
        let leftmost = chan::<i32>(0);
        let mut right = leftmost.clone();
        let mut left = leftmost.clone();
        for _ in 0..n {
            right = chan::<i32>(0);
            go(f(left, right.clone()));
            left = right.clone();
        }
        go(async move { right.send(1).await.unwrap() });
        assert_eq!(deadline("goroutines", leftmost.recv()).await, Some(1));
    }
}

// https://github.com/golang/go/blob/master/test/chan/zerosize.go
//
// Making channels of a zero-sized type should not panic; the port also
// moves values through them.
mod zerosize {
    use super::*;

    #[tokio::test]
    async fn make() {
        let _ = chan::<[u8; 0]>(0);
        let _ = chan::<[u8; 0]>(1);
        let _ = chan::<()>(0);
        let _ = chan::<()>(1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn values_flow() {
        // Buffered: len counts zero-sized values like any other.
        let c = chan::<()>(3);
        for _ in 0..3 {
            c.try_send(()).unwrap();
        }
        assert!(matches!(c.try_send(()), Err(TrySendError::Full(()))));
        assert_eq!(c.len(), 3);
        c.close();
        for _ in 0..3 {
            assert_eq!(c.recv().await, Some(()));
        }
        assert_eq!(c.recv().await, None);

        // Unbuffered, across goroutines, through select!.
        let n = 1000;
        let c = chan::<[u8; 0]>(0);
        let g = go({
            let c = c.clone();
            async move {
                for _ in 0..n {
                    select! { send(&c, []) -> r => r.unwrap() }
                }
            }
        });
        for _ in 0..n {
            assert_eq!(c.recv().await, Some([]));
        }
        join(g).await;
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    }
}

// https://github.com/golang/go/blob/master/test/chan/sendstmt.go
//
// Go parsing cases around the send statement. In Rust they are ordinary
// expressions; the port keeps their meaning.
mod sendstmt {
    use super::*;

    // `case <-cc <- 2:` sends 2 on the channel received from cc; the receive
    // is part of evaluating the case's channel, so it runs (and may wait)
    // on entry even in a select with a default.
    #[tokio::test]
    async fn chanchan() {
        let cc = chan::<Chan<i32>>(1);
        let c = chan::<i32>(1);
        cc.send(c.clone()).await.unwrap();
        select! {
            send(&cc.recv().await.unwrap(), 2) -> r => r.unwrap(),
            default => panic!("nonblock"),
        }
        assert_eq!(c.recv().await, Some(2), "bad receive");
    }

    // `c <- false || true` is `c <- (false || true)`.
    #[tokio::test]
    async fn sendprec() {
        let c = chan::<bool>(1);
        let (f, t) = (false, true);
        c.send(f || t).await.unwrap();
        assert_eq!(c.recv().await, Some(true), "sent false");
    }
}

// https://github.com/golang/go/blob/master/test/closedchan.go
//
// close(c) and receiving from a closed channel, through plain operations
// (XChan), single-case selects (SChan) and selects with an extra never-ready
// case (SSChan).
mod closedchan {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Impl {
        /// Direct channel operations where possible.
        X,
        /// Indirect operations via select.
        S,
        /// Indirect operations via larger selects.
        SS,
    }

    struct C {
        c: Chan<i32>,
        how: Impl,
        // Never sent on, never closed.
        dummy: Chan<bool>,
    }

    impl C {
        fn new(c: Chan<i32>, how: Impl) -> Self {
            C {
                c,
                how,
                dummy: chan(0),
            }
        }

        // Go panics on a closed channel; gokio hands the value back.
        async fn send(&self, x: i32) -> Result<(), SendError<i32>> {
            match self.how {
                Impl::X => self.c.send(x).await,
                Impl::S => select! { send(&self.c, x) -> r => r },
                Impl::SS => select! {
                    send(&self.c, x) -> r => r,
                    recv(&self.dummy) -> _ => unreachable!(),
                },
            }
        }

        /// `None` if the send would block; else the send's result.
        fn nbsend(&self, x: i32) -> Option<Result<(), SendError<i32>>> {
            match self.how {
                Impl::X => match self.c.try_send(x) {
                    Ok(()) => Some(Ok(())),
                    Err(TrySendError::Full(_)) => None,
                    Err(TrySendError::Closed(v)) => Some(Err(SendError(v))),
                },
                Impl::S => select! {
                    default => None,
                    send(&self.c, x) -> r => Some(r),
                },
                Impl::SS => select! {
                    recv(&self.dummy) -> _ => unreachable!(),
                    default => None,
                    send(&self.c, x) -> r => Some(r),
                },
            }
        }

        /// Go's `<-c`: the zero value once closed.
        async fn recv(&self) -> i32 {
            match self.how {
                Impl::X => self.c.recv_ok().await.0,
                Impl::S => select! { recv(&self.c) -> x => x.unwrap_or_default() },
                Impl::SS => select! {
                    recv(&self.dummy) -> _ => unreachable!(),
                    recv(&self.c) -> x => x.unwrap_or_default(),
                },
            }
        }

        /// (value, selected).
        fn nbrecv(&self) -> (i32, bool) {
            match self.how {
                Impl::X => match self.c.try_recv() {
                    Ok(x) => (x, true),
                    Err(TryRecvError::Closed) => (0, true),
                    Err(TryRecvError::Empty) => (0, false),
                },
                Impl::S => select! {
                    default => (0, false),
                    recv(&self.c) -> x => (x.unwrap_or_default(), true),
                },
                Impl::SS => select! {
                    recv(&self.dummy) -> _ => unreachable!(),
                    default => (0, false),
                    recv(&self.c) -> x => (x.unwrap_or_default(), true),
                },
            }
        }

        /// (value, ok).
        async fn recv2(&self) -> (i32, bool) {
            let comma_ok = |x: Option<i32>| x.map_or((0, false), |x| (x, true));
            match self.how {
                Impl::X => self.c.recv_ok().await,
                Impl::S => select! { recv(&self.c) -> x => comma_ok(x) },
                Impl::SS => select! {
                    recv(&self.dummy) -> _ => unreachable!(),
                    recv(&self.c) -> x => comma_ok(x),
                },
            }
        }

        /// (value, ok, selected).
        fn nbrecv2(&self) -> (i32, bool, bool) {
            let comma_ok = |x: Option<i32>| x.map_or((0, false, true), |x| (x, true, true));
            match self.how {
                Impl::X => match self.c.try_recv() {
                    Ok(x) => (x, true, true),
                    Err(TryRecvError::Closed) => (0, false, true),
                    Err(TryRecvError::Empty) => (0, false, false),
                },
                Impl::S => select! {
                    default => (0, false, false),
                    recv(&self.c) -> x => comma_ok(x),
                },
                Impl::SS => select! {
                    recv(&self.dummy) -> _ => unreachable!(),
                    default => (0, false, false),
                    recv(&self.c) -> x => comma_ok(x),
                },
            }
        }
    }

    async fn test1(c: &C) {
        let how = c.how;
        for _ in 0..3 {
            // recv a close signal (a zero value)
            assert_eq!(c.recv().await, 0, "test1: recv on closed {how:?}");
            assert_eq!(
                c.recv2().await,
                (0, false),
                "test1: recv2 on closed {how:?}"
            );
            // should work with select: received a value without blocking, so selected == true.
            assert_eq!(c.nbrecv(), (0, true), "test1: recv on closed nb {how:?}");
            assert_eq!(
                c.nbrecv2(),
                (0, false, true),
                "test1: recv2 on closed nb {how:?}"
            );
        }

        // Go: shouldPanic(c.Nbsend(1)). gokio: the send does not block and
        // the value comes back.
        assert_eq!(c.nbsend(1), Some(Err(SendError(1))), "{how:?}");
        // the value should have been discarded.
        assert_eq!(
            c.recv().await,
            0,
            "test1: recv after send on closed {how:?}"
        );

        // similarly Send.
        assert_eq!(c.send(2).await, Err(SendError(2)), "{how:?}");
        assert_eq!(
            c.recv().await,
            0,
            "test1: recv after send on closed {how:?}"
        );
    }

    async fn testasync1(c: &C) {
        // should be able to get the last value via Recv
        assert_eq!(c.recv().await, 1, "testasync1 {:?}", c.how);
        test1(c).await;
    }

    async fn testasync2(c: &C) {
        // should be able to get the last value via Recv2
        assert_eq!(c.recv2().await, (1, true), "testasync2 {:?}", c.how);
        test1(c).await;
    }

    async fn testasync3(c: &C) {
        // should be able to get the last value via Nbrecv
        assert_eq!(c.nbrecv(), (1, true), "testasync3 {:?}", c.how);
        test1(c).await;
    }

    async fn testasync4(c: &C) {
        // should be able to get the last value via Nbrecv2
        assert_eq!(c.nbrecv2(), (1, true, true), "testasync4 {:?}", c.how);
        test1(c).await;
    }

    fn closedsync() -> Chan<i32> {
        let c = chan(0);
        c.close();
        c
    }

    fn closedasync() -> Chan<i32> {
        let c = chan(2);
        c.try_send(1).unwrap();
        c.close();
        c
    }

    fn panic_message(e: &(dyn Any + Send)) -> String {
        e.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn main() {
        let mks = [Impl::X, Impl::S, Impl::SS];
        for how in mks {
            test1(&C::new(closedsync(), how)).await;
        }
        for how in mks {
            testasync1(&C::new(closedasync(), how)).await;
            testasync2(&C::new(closedasync(), how)).await;
            testasync3(&C::new(closedasync(), how)).await;
            testasync4(&C::new(closedasync(), how)).await;
        }

        // Go: close(nil chan) panics. gokio has no nil Chan to close
        // (`never()` is a Receiver, which cannot close).

        // Closing a closed channel panics, as in Go.
        let ch = chan::<i32>(0);
        ch.close();
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ch.close()))
            .expect_err("second close did not panic");
        assert!(
            panic_message(&*err).contains("close of closed channel"),
            "panic message: {:?}",
            panic_message(&*err)
        );
    }
}

// https://github.com/golang/go/blob/master/test/ken/chan1.go
//
// Ten receivers, one sender, a buffer of two: every value is received
// exactly once, after it was sent. Go's receivers loop forever; the port
// closes the channel at the end and checks every value's final state.
mod chan1 {
    use super::*;

    const N: usize = 1000; // sent messages
    const M: usize = 10; // receiving goroutines
    const W: usize = 2; // channel buffering

    // h: marking of send/recv (0 untouched, 1 sent, 2 received).
    async fn r(c: Chan<usize>, m: usize, h: Arc<Vec<AtomicU8>>) {
        loop {
            select! {
                recv(&c) -> r => match r {
                    Some(r) => {
                        let was = h[r].swap(2, SeqCst);
                        assert_eq!(was, 1, "r m={m} r={r} h={was}");
                    }
                    None => return,
                },
            }
        }
    }

    async fn s(c: &Chan<usize>, h: &[AtomicU8]) {
        for (r, mark) in h.iter().enumerate() {
            assert_eq!(mark.swap(1, SeqCst), 0, "s");
            c.send(r).await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn main() {
        let h: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
        let c = chan::<usize>(W);
        let mut receivers = Vec::new();
        for m in 0..M {
            receivers.push(go(r(c.clone(), m, h.clone())));
            gosched().await;
        }
        gosched().await;
        gosched().await;
        deadline("chan1", s(&c, &h)).await;
        c.close();
        for g in receivers {
            join(g).await;
        }
        assert!(
            h.iter().all(|x| x.load(SeqCst) == 2),
            "every value received"
        );
    }
}

// https://github.com/golang/go/blob/master/src/reflect/all_test.go
//
// The reflect.Select tests that apply to gokio's dynamic `Select`.
mod reflect_all_test {
    use super::*;

    // TestSelectNop: "select { default: }" should always return the default
    // case.
    #[tokio::test]
    async fn test_select_nop() {
        assert_eq!(select! { default => 0 }, 0);
        assert!(Select::<i32>::new().try_select().is_none());
    }

    // TestSelectMaxCases: a select of 65536 cases (Go's maximum) works. Go
    // panics beyond that; gokio documents no limit, so that half is not
    // ported.
    #[tokio::test]
    async fn test_select_max_cases() {
        const MAX: usize = 65536;
        let channel = chan::<i32>(0);
        channel.close();
        let mut sel = Select::new();
        for _ in 0..MAX {
            sel = sel.recv(&channel);
        }
        assert!(matches!(sel.await, Selected::Recv { value: None, .. }));

        // Every case takes part: with only the last of 65536 ready, the
        // select must find it.
        let ready = chan::<i32>(1);
        let nil: Option<&Chan<i32>> = None;
        let last_ready = || {
            let mut sel = Select::new();
            for _ in 0..MAX - 1 {
                sel = sel.recv(nil);
            }
            sel.recv(&ready)
        };
        ready.try_send(7).unwrap();
        assert_eq!(
            last_ready().try_select(),
            Some(Selected::Recv {
                index: MAX - 1,
                value: Some(7)
            }),
            "non-blocking select of {MAX} cases missed the last one"
        );
        ready.try_send(8).unwrap();
        assert_eq!(
            last_ready().await,
            Selected::Recv {
                index: MAX - 1,
                value: Some(8)
            }
        );
    }
}
