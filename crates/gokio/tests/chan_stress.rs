//! Nothing lost, nothing duplicated: many producers and consumers at
//! capacities 0, 1 and 64, with sends and receives cancelled at random
//! through `tokio::time::timeout` and `tokio::select!`. Every value is
//! counted in and out.
//!
//! `GOKIO_STRESS=N` multiplies the number of values (default 1).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gokio::{chan, go, Chan};

/// A tiny xorshift generator: the tests need no `rand` dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
}

fn scale() -> u64 {
    std::env::var("GOKIO_STRESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// Sends `v`, retrying after every cancellation, until it is sent. Returns
/// how many attempts were cancelled.
async fn send_until_sent(ch: &Chan<u64>, v: u64, rng: &mut Rng) -> u64 {
    let mut cancelled = 0;
    loop {
        match rng.next() % 3 {
            0 => match tokio::time::timeout(Duration::from_micros(rng.next() % 50), ch.send(v))
                .await
            {
                Ok(res) => {
                    return res
                        .map(|()| cancelled)
                        .expect("channel open while producing")
                }
                Err(_) => cancelled += 1,
            },
            1 => {
                tokio::select! {
                    res = ch.send(v) => { res.expect("open"); return cancelled; }
                    _ = tokio::task::yield_now() => cancelled += 1,
                }
            }
            _ => return ch.send(v).await.map(|()| cancelled).expect("open"),
        }
    }
}

/// Receives one value, with random cancellations in between; `None` once the
/// channel is closed and drained.
async fn recv_with_cancels(ch: &Chan<u64>, rng: &mut Rng, cancelled: &AtomicU64) -> Option<u64> {
    loop {
        if rng.chance(3) {
            match tokio::time::timeout(Duration::from_micros(rng.next() % 50), ch.recv()).await {
                Ok(v) => return v,
                Err(_) => {
                    cancelled.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if rng.chance(2) {
            tokio::select! {
                v = ch.recv() => return v,
                _ = tokio::task::yield_now() => {
                    cancelled.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else {
            return ch.recv().await;
        }
    }
}

async fn stress(cap: usize, producers: u64, consumers: u64, per_producer: u64) {
    let ch = chan::<u64>(cap);
    let total = producers * per_producer;
    let cancelled = Arc::new(AtomicU64::new(0));

    let mut sending = Vec::new();
    for p in 0..producers {
        let ch = ch.clone();
        let cancelled = cancelled.clone();
        sending.push(go(async move {
            let mut rng = Rng::new(p + 1);
            for i in 0..per_producer {
                let c = send_until_sent(&ch, p * per_producer + i, &mut rng).await;
                cancelled.fetch_add(c, Ordering::Relaxed);
            }
        }));
    }
    let mut receiving = Vec::new();
    for c in 0..consumers {
        let ch = ch.clone();
        let cancelled = cancelled.clone();
        receiving.push(go(async move {
            let mut rng = Rng::new(1000 + c);
            let mut got = Vec::new();
            let mut last_per_producer = vec![None::<u64>; producers as usize];
            let mut in_order = true;
            while let Some(v) = recv_with_cancels(&ch, &mut rng, &cancelled).await {
                // FIFO per sender is promised only as observed by a single
                // receiver; with several, only exactly-once is.
                let p = (v / per_producer) as usize;
                in_order &= last_per_producer[p].is_none_or(|last| v > last);
                last_per_producer[p] = Some(v);
                got.push(v);
            }
            (got, in_order)
        }));
    }
    for s in sending {
        s.await.unwrap();
    }
    ch.close();
    drop(ch);
    let mut seen = vec![0u8; total as usize];
    let mut received = 0;
    for r in receiving {
        let (got, in_order) = r.await.unwrap();
        if consumers == 1 {
            assert!(in_order, "values of one producer arrived out of order");
        }
        for v in got {
            seen[v as usize] += 1;
            received += 1;
        }
    }
    let lost = seen.iter().filter(|&&n| n == 0).count();
    let duplicated = seen.iter().filter(|&&n| n > 1).count();
    println!(
        "cap {cap}: {total} sent, {received} received, {lost} lost, {duplicated} duplicated, {} operations cancelled",
        cancelled.load(Ordering::Relaxed)
    );
    assert_eq!((lost, duplicated), (0, 0));
    assert_eq!(received, total);
    assert!(
        cancelled.load(Ordering::Relaxed) > 0,
        "the test must actually cancel operations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_by_four_cap_0() {
    stress(0, 4, 4, 5_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_by_four_cap_1() {
    stress(1, 4, 4, 5_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_by_four_cap_64() {
    stress(64, 4, 4, 5_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_by_many_cap_0() {
    stress(0, 16, 16, 1_000 * scale()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_per_sender_with_one_receiver() {
    for cap in [0, 1, 64] {
        stress(cap, 4, 1, 2_000 * scale()).await;
    }
}
