//! The deadlock watchdog never fires while something it cannot see could
//! still wake a goroutine, and does fire (as a panic, for tests) when
//! nothing can.
//!
//! Every quiet scenario parks main where the watchdog must stay quiet, lets
//! the watchdog look several times (counted through a probe, not timed with
//! a sleep: a false alarm would fire by the second look), then releases main
//! from outside: a plain thread, a Tokio task, a blocking-pool job, a TCP
//! connection. The runtime panics on a deadlock, so a false alarm fails the
//! test.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use gokio::__private::WatchdogProbe;
use gokio::runtime::{Builder, OnDeadlock};
use gokio::{chan, select};

/// Looks the watchdog takes before a scenario is released: 200 ms at the
/// 10 ms interval below, twice what a deadlock must last to be reported.
const LOOKS: u64 = 20;

const HOUR: Duration = Duration::from_secs(3600);

/// Runs `fut` on a runtime whose watchdog looks every 10 ms and panics on a
/// deadlock.
fn run_watched<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    Builder::new()
        .worker_threads(2)
        .on_deadlock(OnDeadlock::Panic)
        .deadlock_check_interval(Duration::from_millis(10))
        .run(fut)
}

/// Blocks the calling (non-runtime) thread until the watchdog of `probe`'s
/// runtime has looked `LOOKS` more times.
fn wait_for_looks(probe: &WatchdogProbe) {
    let target = probe.checks() + LOOKS;
    while probe.checks() < target {
        // Polling a counter: how long this waits decides nothing.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Starts a plain thread that waits for the watchdog's looks, then runs
/// `release`.
fn release_after_looks(release: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    let probe = WatchdogProbe::current();
    std::thread::spawn(move || {
        wait_for_looks(&probe);
        release();
    })
}

#[test]
fn waiting_on_after_in_a_select_is_not_a_deadlock() {
    run_watched(async {
        let done = chan::<()>(0);
        let tx = done.clone();
        let thread = release_after_looks(move || tx.send_blocking(()).unwrap());
        select! {
            recv(gokio::after(HOUR)) -> _ => panic!("an hour passed"),
            recv(&done) -> v => assert_eq!(v, Some(())),
        }
        thread.join().unwrap();
    });
}

#[test]
fn waiting_on_tick_is_not_a_deadlock() {
    run_watched(async {
        let done = chan::<()>(0);
        let tx = done.clone();
        let thread = release_after_looks(move || tx.send_blocking(()).unwrap());
        let ticker = gokio::tick(HOUR);
        select! {
            recv(&ticker) -> _ => panic!("an hour passed"),
            recv(&done) -> v => assert_eq!(v, Some(())),
        }
        thread.join().unwrap();
    });
}

#[test]
fn waiting_on_a_timer_receive_is_not_a_deadlock() {
    run_watched(async {
        // Main waits on nothing but the timer channel; the thread only
        // releases the test by closing a channel main checks afterwards.
        let probe = WatchdogProbe::current();
        let start = probe.checks();
        let timer = gokio::after(Duration::from_millis(300));
        assert!(timer.recv().await.is_some());
        assert!(probe.checks() > start, "the watchdog looked meanwhile");
    });
}

#[test]
fn gokio_sleep_is_not_a_deadlock() {
    run_watched(async {
        let done = chan::<()>(0);
        let tx = done.clone();
        let thread = release_after_looks(move || tx.send_blocking(()).unwrap());
        tokio::select! {
            _ = gokio::sleep(HOUR) => panic!("an hour passed"),
            v = done.recv() => assert_eq!(v, Some(())),
        }
        thread.join().unwrap();
    });
}

#[test]
fn tokio_sleep_is_not_a_deadlock() {
    run_watched(async {
        let done = chan::<()>(0);
        let tx = done.clone();
        let thread = release_after_looks(move || tx.send_blocking(()).unwrap());
        tokio::select! {
            _ = tokio::time::sleep(HOUR) => panic!("an hour passed"),
            v = done.recv() => assert_eq!(v, Some(())),
        }
        thread.join().unwrap();
    });
}

#[test]
fn tcp_accept_on_loopback_is_not_a_deadlock() {
    run_watched(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = release_after_looks(move || {
            std::net::TcpStream::connect(addr).unwrap();
        });
        // A gokio receive nobody will complete, next to the accept.
        let never_sent = chan::<()>(0);
        tokio::select! {
            accepted = listener.accept() => assert!(accepted.is_ok()),
            _ = never_sent.recv() => panic!("nobody sends"),
        }
        thread.join().unwrap();
    });
}

#[test]
fn a_live_tokio_spawn_task_is_not_a_deadlock() {
    run_watched(async {
        let ch = chan::<u32>(0);
        let tx = ch.clone();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        // A plain Tokio task, invisible to the registry, will send.
        tokio::spawn(async move {
            released.await.unwrap();
            tx.send(7).await.unwrap();
        });
        let thread = release_after_looks(move || release.send(()).unwrap());
        assert_eq!(ch.recv().await, Some(7));
        thread.join().unwrap();
    });
}

#[test]
fn awaiting_spawn_blocking_is_not_a_deadlock() {
    run_watched(async {
        let probe = WatchdogProbe::current();
        let job = tokio::task::spawn_blocking(move || {
            wait_for_looks(&probe);
            5
        });
        assert_eq!(job.await.unwrap(), 5);
    });
}

#[test]
fn a_channel_fed_by_spawn_blocking_is_not_a_deadlock() {
    run_watched(async {
        let ch = chan::<u32>(0);
        let tx = ch.clone();
        let probe = WatchdogProbe::current();
        // Nobody awaits the job: the blocking-pool thread alone keeps the
        // watchdog quiet.
        drop(tokio::task::spawn_blocking(move || {
            wait_for_looks(&probe);
            tx.send_blocking(9).unwrap();
        }));
        assert_eq!(ch.recv().await, Some(9));
    });
}

#[test]
fn a_future_gokio_cannot_see_is_not_a_deadlock() {
    run_watched(async {
        // A hand-written future woken by a plain thread, next to a gokio
        // receive nobody will complete.
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let ready = Arc::new(AtomicBool::new(false));
        let (slot2, ready2) = (Arc::clone(&slot), Arc::clone(&ready));
        let thread = release_after_looks(move || {
            ready2.store(true, Ordering::SeqCst);
            if let Some(waker) = slot2.lock().unwrap().take() {
                waker.wake();
            }
        });
        let foreign = poll_fn(|cx| {
            *slot.lock().unwrap() = Some(cx.waker().clone());
            if ready.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let never_sent = chan::<()>(0);
        tokio::select! {
            () = foreign => {}
            _ = never_sent.recv() => panic!("nobody sends"),
        }
        thread.join().unwrap();
    });
}

#[test]
fn a_busy_program_is_not_a_deadlock() {
    run_watched(async {
        // Ping-pong over capacity-0 channels until the watchdog has looked
        // many times: goroutines block and wake constantly.
        let probe = WatchdogProbe::current();
        let target = probe.checks() + LOOKS;
        let (ping, pong) = (chan::<u64>(0), chan::<u64>(0));
        let (ping_rx, pong_tx) = (ping.clone(), pong.clone());
        gokio::go(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v + 1).await.unwrap();
            }
        });
        let mut v = 0;
        while probe.checks() < target {
            ping.send(v).await.unwrap();
            v = pong.recv().await.unwrap();
        }
        assert!(v > 0);
    });
}

#[test]
fn a_deadlock_panics_with_the_report_when_asked_to() {
    let payload = std::panic::catch_unwind(|| {
        run_watched(async {
            let ch = chan::<i32>(0);
            let tx = ch.clone();
            gokio::go_named("stuck sender", async move { tx.send(1).await });
            // Main waits elsewhere: both block forever.
            let other = chan::<i32>(0);
            other.recv().await
        })
    })
    .expect_err("the deadlock panics");
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.starts_with(
            "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:"
        ),
        "{message}"
    );
    assert!(
        message.contains("\"stuck sender\" [chan send]:"),
        "{message}"
    );
}

#[test]
fn detection_can_be_turned_off() {
    // With detection off there is no watchdog: it never looks, so nothing
    // can report (a channel fed only by a plain thread is the case that
    // needs this, since plain threads are invisible to the watchdog).
    Builder::new().detect_deadlocks(false).run(async {
        let ch = chan::<i32>(0);
        let tx = ch.clone();
        let thread = std::thread::spawn(move || tx.send_blocking(3).unwrap());
        assert_eq!(ch.recv().await, Some(3));
        thread.join().unwrap();
        assert_eq!(WatchdogProbe::current().checks(), 0);
    });
}

#[test]
fn a_blocking_job_that_has_not_started_yet_is_not_a_deadlock() {
    // Regression: the blocking-pool thread used to be counted only once it
    // ran, so main, already waiting on the channel the job feeds, could look
    // deadlocked in between. One worker and a 1 ms interval make the window
    // as wide as it gets; each run ends as soon as the job sends.
    for _ in 0..50 {
        let got = Builder::new()
            .worker_threads(1)
            .on_deadlock(OnDeadlock::Panic)
            .deadlock_check_interval(Duration::from_millis(1))
            .run(async {
                let ch = chan::<u32>(0);
                let tx = ch.clone();
                drop(tokio::task::spawn_blocking(move || {
                    tx.send_blocking(9).unwrap();
                }));
                ch.recv().await
            });
        assert_eq!(got, Some(9));
    }
}
