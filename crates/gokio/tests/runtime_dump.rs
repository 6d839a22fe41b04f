//! `gokio::dump()` and `gokio::num_goroutine()`.
//!
//! Goroutines are observed through the dump itself: a test polls it (yielding
//! in between) until each goroutine shows the state it is known to reach, so
//! no sleep decides the outcome.

use std::time::Duration;

use gokio::{chan, dump, go, go_named, gosched, num_goroutine, select, WaitGroup};

mod common;

/// The line of this file marked with the comment `// @<name>`.
fn line_of(name: &str) -> u32 {
    common::marked_line(include_str!("runtime_dump.rs"), name)
}

/// `file:line:` of this test file, as the dump prints it.
fn at(name: &str) -> String {
    format!("{}:{}:", file!(), line_of(name))
}

/// The dump block of goroutine `id`.
fn block(dump: &str, id: u64) -> Option<String> {
    let header = format!("goroutine {id} ");
    let start = dump.find(&header)?;
    let rest = &dump[start..];
    Some(rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string())
}

/// Yields until goroutine `id`'s block starts with `header`; returns it.
async fn wait_for_state(id: u64, header: &str) -> String {
    loop {
        if let Some(block) = block(&dump(), id) {
            if block.starts_with(header) {
                return block;
            }
        }
        gosched().await;
    }
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn dump_shows_each_goroutine_s_state_location_and_origin() {
    gokio::run(async {
        let ch = chan::<i32>(0);
        let rx = ch.receiver();
        let receiver = go_named("receiver", async move {
            rx.recv().await // @recv
        });
        let wg = WaitGroup::new();
        wg.add(1);
        let waiter_wg = wg.clone();
        let waiter = go(async move {
            waiter_wg.wait().await; // @wait
        });
        let (a, b) = (chan::<i32>(0), chan::<i32>(0));
        let (a2, b2) = (a.clone(), b.clone());
        let selector = go(async move {
            select! { // @select
                recv(&a2) -> v => v,
                recv(&b2) -> v => v,
            }
        });
        let sleeper = go(async {
            gokio::sleep(HOUR).await; // @sleep
        });
        let nothing = go(async {
            select! {} // @nothing
        });
        let sender = go(async {
            let full = chan::<i32>(0);
            full.send(1).await // @send
        });

        let header = format!("goroutine {} \"receiver\" [chan receive]:", receiver.id());
        let block = wait_for_state(receiver.id(), &header).await;
        assert!(block.contains("gokio::Receiver::recv()"), "{block}");
        assert!(block.contains(&at("recv")), "{block}");
        assert!(
            block.contains("created by gokio::go_named in goroutine 1"),
            "{block}"
        );
        // Under `run` the watchdog's clock times the wait.
        assert!(block.contains(", waiting "), "{block}");

        let cases = [
            (
                waiter.id(),
                "[sync.WaitGroup.Wait]",
                "gokio::WaitGroup::wait()",
                "wait",
            ),
            (selector.id(), "[select]", "gokio::select!", "select"),
            (sleeper.id(), "[sleep]", "gokio::sleep(..)", "sleep"),
            (
                nothing.id(),
                "[select (no cases)]",
                "gokio::select! {}",
                "nothing",
            ),
            (sender.id(), "[chan send]", "gokio::Chan::send(..)", "send"),
        ];
        for (id, state, call, mark) in cases {
            let block = wait_for_state(id, &format!("goroutine {id} {state}:")).await;
            assert!(block.contains(call), "{block}");
            assert!(block.contains(&at(mark)), "{block}");
            assert!(
                block.contains("created by gokio::go in goroutine 1"),
                "{block}"
            );
        }

        // Main is the goroutine calling dump, and comes first.
        let all = dump();
        assert!(
            all.starts_with("goroutine 1 [running]:\n\t(this goroutine is the one calling dump)\ncreated by gokio::run\n"),
            "{all}"
        );
        // Ordered by id, separated by empty lines.
        let ids: Vec<u64> = all
            .split("\n\n")
            .map(|b| b.split_whitespace().nth(1).unwrap().parse().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
        assert_eq!(ids.len(), 7);

        // Let the waiters go; the rest end with main.
        ch.send(5).await.unwrap();
        wg.done();
        a.send(1).await.unwrap();
        assert_eq!(receiver.await.unwrap(), Some(5));
        waiter.await.unwrap();
        assert_eq!(selector.await.unwrap(), Some(1));
        drop(b);
    });
}

#[test]
fn a_goroutine_awaiting_another_is_in_goroutine_join() {
    gokio::run(async {
        let ch = chan::<i32>(0);
        let rx = ch.clone();
        let inner = go(async move { rx.recv().await });
        let inner_id = inner.id();
        let outer = go(async move { inner.await.unwrap() });
        let block = wait_for_state(
            outer.id(),
            &format!("goroutine {} [goroutine join]:", outer.id()),
        )
        .await;
        assert!(block.contains("gokio::Goroutine.await"), "{block}");
        wait_for_state(inner_id, &format!("goroutine {inner_id} [chan receive]:")).await;
        ch.send(3).await.unwrap();
        assert_eq!(outer.await.unwrap(), Some(3));
    });
}

#[test]
fn num_goroutine_counts_main_and_live_goroutines() {
    gokio::run(async {
        assert_eq!(num_goroutine(), 1);
        let gate = chan::<()>(0);
        let mut handles = Vec::new();
        for _ in 0..10 {
            let gate = gate.receiver();
            handles.push(go(async move { gate.recv().await }));
        }
        assert_eq!(num_goroutine(), 11);
        gate.close();
        for h in handles.drain(..) {
            assert_eq!(h.await.unwrap(), None);
        }
        // A goroutine's future is dropped before its handle completes.
        assert_eq!(num_goroutine(), 1);

        // An aborted goroutine stops counting once it is dropped.
        let stuck = go(std::future::pending::<()>());
        assert_eq!(num_goroutine(), 2);
        stuck.abort();
        assert!(stuck.await.unwrap_err().is_cancelled());
        assert_eq!(num_goroutine(), 1);
    });
}

#[test]
fn many_goroutines_come_and_go() {
    // Exercises the registry's purge of finished goroutines.
    gokio::run(async {
        for round in 0..5 {
            let handles: Vec<_> = (0..1_000).map(|i| go(async move { i })).collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            assert_eq!(sum, 999 * 1_000 / 2);
            assert_eq!(num_goroutine(), 1, "round {round}");
        }
    });
}

#[test]
fn dump_from_a_plain_thread_sees_the_runtime_s_goroutines() {
    gokio::run(async {
        let ch = chan::<i32>(0);
        let rx = ch.clone();
        let named = go_named("seen from outside", async move { rx.recv().await });
        wait_for_state(
            named.id(),
            &format!(
                "goroutine {} \"seen from outside\" [chan receive]:",
                named.id()
            ),
        )
        .await;
        let from_thread = std::thread::spawn(dump).join().unwrap();
        assert!(
            from_thread.contains("\"seen from outside\" [chan receive]:"),
            "{from_thread}"
        );
        ch.send(1).await.unwrap();
        named.await.unwrap();
    });
}
