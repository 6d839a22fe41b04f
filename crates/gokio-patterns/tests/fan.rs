//! fan_in, fan_out, broadcast and generate: every value counted in and out,
//! bounded back-pressure, and no goroutine left behind.
//!
//! Nothing here sleeps to decide an outcome. A test that must see a producer
//! blocked waits (yielding) until its send counter reaches the documented
//! bound, then yields many more times and checks that it did not grow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gokio::{chan, go, gosched, num_goroutine, Receiver, Sender};
use gokio_patterns::{broadcast, fan_in, fan_in_buffered, fan_out, generate};

/// How long a test waits for something that must happen before it declares
/// a hang. Only a failing test ever waits this long.
const PATIENCE: Duration = Duration::from_secs(20);

/// Yields until `cond` holds; panics with a goroutine dump if it never does.
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < PATIENCE,
            "timed out waiting for {what}\n{}",
            gokio::dump()
        );
        gosched().await;
    }
}

/// Waits until only the goroutines counted in `baseline` are left.
async fn settle(baseline: usize) {
    wait_until("num_goroutine to return to baseline", || {
        num_goroutine() == baseline
    })
    .await;
}

/// Yields often enough that a producer that could still send would have.
async fn let_others_run() {
    for _ in 0..2_000 {
        gosched().await;
    }
}

/// A sender that counts its successful sends of 0, 1, 2, ... until `n` or
/// until a send fails; returns how many sends succeeded.
fn counting_producer(
    tx: Sender<usize>,
    n: usize,
    sent: Arc<AtomicUsize>,
) -> gokio::Goroutine<usize> {
    go(async move {
        for i in 0..n {
            if tx.send(i).await.is_err() {
                return i;
            }
            // Relaxed: the counter is only compared with the bound; the
            // values themselves travel through the channel.
            sent.fetch_add(1, Ordering::Relaxed);
        }
        n
    })
}

/// Receives everything until the channel closes.
async fn drain<T>(rx: &Receiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(v) = rx.recv().await {
        all.push(v);
    }
    all
}

mod fan_in {
    use super::*;

    #[gokio::test]
    async fn merges_every_value_once_keeping_each_inputs_order() {
        const PRODUCERS: usize = 8;
        const PER: usize = 10_000;
        let baseline = num_goroutine();

        let mut inputs = Vec::new();
        for p in 0..PRODUCERS {
            let ch = chan::<(usize, usize)>(16);
            inputs.push(ch.receiver());
            let tx = ch.sender();
            go(async move {
                for i in 0..PER {
                    tx.send((p, i)).await.unwrap();
                }
            });
        }
        let merged = fan_in(inputs);

        let mut counts = vec![vec![0u32; PER]; PRODUCERS];
        let mut next = [0usize; PRODUCERS];
        while let Some((p, i)) = merged.recv().await {
            counts[p][i] += 1;
            assert_eq!(i, next[p], "input {p} out of order");
            next[p] += 1;
        }
        assert!(merged.is_closed());
        for (p, c) in counts.iter().enumerate() {
            assert!(
                c.iter().all(|&n| n == 1),
                "input {p}: a value lost or duplicated"
            );
        }
        settle(baseline).await;
    }

    #[gokio::test]
    async fn no_inputs_is_closed_at_once() {
        let merged = fan_in(Vec::<Receiver<u8>>::new());
        assert!(merged.is_closed());
        assert_eq!(merged.recv().await, None);
    }

    #[gokio::test]
    async fn back_pressure_stops_each_producer_after_cap_plus_one() {
        const CAP: usize = 4;
        const N: usize = 100;
        let baseline = num_goroutine();

        let counters: Vec<_> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let mut inputs = Vec::new();
        let mut producers = Vec::new();
        for sent in &counters {
            let ch = chan(CAP);
            inputs.push(ch.receiver());
            producers.push(counting_producer(ch.sender(), N, Arc::clone(sent)));
        }
        let merged = fan_in(inputs);

        // The input's buffer plus the one value its forwarder holds.
        let bound = CAP + 1;
        for sent in &counters {
            wait_until("producer to fill its bound", || {
                sent.load(Ordering::Relaxed) == bound
            })
            .await;
        }
        let_others_run().await;
        for sent in &counters {
            assert_eq!(sent.load(Ordering::Relaxed), bound);
        }

        let all = drain(&merged).await;
        assert_eq!(all.len(), 3 * N);
        for producer in producers {
            assert_eq!(producer.await.unwrap(), N);
        }
        settle(baseline).await;
    }

    #[gokio::test]
    async fn buffered_back_pressure_adds_the_output_buffer() {
        const CAP: usize = 4;
        const OUT: usize = 7;
        const N: usize = 100;
        let baseline = num_goroutine();

        let counters: Vec<_> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let mut inputs = Vec::new();
        let mut producers = Vec::new();
        for sent in &counters {
            let ch = chan(CAP);
            inputs.push(ch.receiver());
            producers.push(counting_producer(ch.sender(), N, Arc::clone(sent)));
        }
        let merged = fan_in_buffered(OUT, inputs);

        // Every input's buffer and forwarder, plus the output's buffer: how
        // the output's share splits among the producers varies.
        let bound = 3 * (CAP + 1) + OUT;
        let total = || {
            counters
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum::<usize>()
        };
        wait_until("producers to fill the bound", || total() == bound).await;
        let_others_run().await;
        assert_eq!(total(), bound);
        assert_eq!(merged.len(), OUT);

        let all = drain(&merged).await;
        assert_eq!(all.len(), 3 * N);
        for producer in producers {
            assert_eq!(producer.await.unwrap(), N);
        }
        settle(baseline).await;
    }

    #[gokio::test]
    async fn dropping_the_output_stops_forwarders_and_producers() {
        let baseline = num_goroutine();
        let mut inputs = Vec::new();
        let mut producers = Vec::new();
        for _ in 0..4 {
            let ch = chan(2);
            inputs.push(ch.receiver());
            producers.push(counting_producer(
                ch.sender(),
                usize::MAX,
                Arc::new(AtomicUsize::new(0)),
            ));
        }
        let merged = fan_in(inputs);
        for _ in 0..50 {
            merged.recv().await.unwrap();
        }
        drop(merged);

        // Every producer's sends fail once its forwarder is gone.
        for producer in producers {
            assert!(producer.await.unwrap() < usize::MAX);
        }
        settle(baseline).await;
    }
}

mod fan_out {
    use super::*;

    const N: usize = 40_000;

    /// Starts a goroutine that sends 0..N into a channel of `cap` and
    /// returns its receiving side.
    fn numbers(cap: usize) -> Receiver<usize> {
        let ch = chan(cap);
        let tx = ch.sender();
        go(async move {
            for i in 0..N {
                tx.send(i).await.unwrap();
            }
        });
        ch.receiver()
    }

    fn collector(rx: Receiver<usize>) -> gokio::Goroutine<Vec<usize>> {
        go(async move { drain(&rx).await })
    }

    fn assert_each_once(parts: &[Vec<usize>]) {
        let mut counts = vec![0u32; N];
        for part in parts {
            for &v in part {
                counts[v] += 1;
            }
        }
        assert!(counts.iter().all(|&c| c == 1), "a value lost or duplicated");
    }

    #[gokio::test]
    async fn each_value_goes_to_exactly_one_output() {
        let baseline = num_goroutine();
        let outputs = fan_out(numbers(8), 4);
        assert_eq!(outputs.len(), 4);
        let keep: Vec<_> = outputs.iter().map(Receiver::clone).collect();
        let collectors: Vec<_> = outputs.into_iter().map(collector).collect();
        let mut parts = Vec::new();
        for c in collectors {
            parts.push(c.await.unwrap());
        }
        assert_each_once(&parts);
        assert!(keep.iter().all(|rx| rx.is_closed() && rx.is_empty()));
        drop(keep);
        settle(baseline).await;
    }

    #[gokio::test]
    async fn a_dropped_or_unread_output_loses_nothing_and_stalls_nothing() {
        const EARLY: usize = 100;
        let baseline = num_goroutine();
        let mut outputs = fan_out(numbers(0), 4);

        // Output 3 is kept but never read; output 0 reads EARLY values and is
        // dropped.
        let unread = outputs.pop().unwrap();
        let early = outputs.remove(0);
        let mut first = Vec::new();
        for _ in 0..EARLY {
            first.push(early.recv().await.unwrap());
        }
        drop(early);

        let collectors: Vec<_> = outputs.into_iter().map(collector).collect();
        let mut parts = vec![first];
        for c in collectors {
            parts.push(c.await.unwrap());
        }
        assert_eq!(
            parts[1..].iter().map(Vec::len).sum::<usize>(),
            N - EARLY,
            "the remaining outputs receive everything not yet delivered"
        );
        assert_each_once(&parts);
        assert_eq!(unread.recv().await, None);
        settle(baseline).await;
    }

    #[gokio::test]
    async fn back_pressure_is_the_input_buffer() {
        const CAP: usize = 8;
        let baseline = num_goroutine();
        let ch = chan(CAP);
        let sent = Arc::new(AtomicUsize::new(0));
        let producer = counting_producer(ch.sender(), 1_000, Arc::clone(&sent));
        let outputs = fan_out(ch.receiver(), 2);
        drop(ch);

        wait_until("producer to fill the buffer", || {
            sent.load(Ordering::Relaxed) == CAP
        })
        .await;
        let_others_run().await;
        assert_eq!(sent.load(Ordering::Relaxed), CAP);

        // Dropping every output makes the blocked send fail.
        drop(outputs);
        assert_eq!(producer.await.unwrap(), CAP);
        settle(baseline).await;
    }

    #[test]
    #[should_panic(expected = "fan_out: n must be at least 1")]
    fn zero_outputs_panics() {
        let _ = fan_out(chan::<u8>(1).receiver(), 0);
    }
}

mod broadcast {
    use super::*;

    const N: usize = 10_000;

    fn numbers(cap: usize, n: usize) -> Receiver<usize> {
        let ch = chan(cap);
        let tx = ch.sender();
        go(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        ch.receiver()
    }

    #[gokio::test]
    async fn every_output_gets_the_full_sequence_in_order() {
        let baseline = num_goroutine();
        let readers: Vec<_> = broadcast(numbers(4, N), 3)
            .into_iter()
            .map(|rx| go(async move { drain(&rx).await }))
            .collect();
        let expected: Vec<usize> = (0..N).collect();
        for reader in readers {
            assert_eq!(reader.await.unwrap(), expected);
        }
        settle(baseline).await;
    }

    #[gokio::test]
    async fn outputs_may_be_read_in_any_order() {
        let baseline = num_goroutine();
        let outs = broadcast(numbers(0, 100), 2);
        // One goroutine reading the second output before the first, value by
        // value, must not deadlock the lock-step.
        for i in 0..100 {
            assert_eq!(outs[1].recv().await, Some(i));
            assert_eq!(outs[0].recv().await, Some(i));
        }
        assert_eq!(outs[0].recv().await, None);
        assert_eq!(outs[1].recv().await, None);
        settle(baseline).await;
    }

    #[gokio::test]
    async fn a_dropped_output_is_skipped_and_stalls_nothing() {
        const MIDWAY: usize = 500;
        let baseline = num_goroutine();
        let mut outs = broadcast(numbers(0, N), 3);
        let quitter = outs.remove(0);
        let readers: Vec<_> = outs
            .into_iter()
            .map(|rx| go(async move { drain(&rx).await }))
            .collect();
        for i in 0..MIDWAY {
            assert_eq!(quitter.recv().await, Some(i));
        }
        drop(quitter);
        let expected: Vec<usize> = (0..N).collect();
        for reader in readers {
            assert_eq!(reader.await.unwrap(), expected);
        }
        settle(baseline).await;
    }

    #[gokio::test]
    async fn back_pressure_is_lock_step() {
        const CAP: usize = 4;
        const TOTAL: usize = 50;
        let baseline = num_goroutine();
        let ch = chan(CAP);
        let sent = Arc::new(AtomicUsize::new(0));
        let producer = counting_producer(ch.sender(), TOTAL, Arc::clone(&sent));
        let mut outs = broadcast(ch.receiver(), 2);
        drop(ch);

        let stalled = outs.pop().unwrap();
        let reader_rx = outs.pop().unwrap();
        let got = Arc::new(AtomicUsize::new(0));
        let reader = {
            let got = Arc::clone(&got);
            go(async move {
                let mut all = Vec::new();
                while let Some(v) = reader_rx.recv().await {
                    all.push(v);
                    // Relaxed: compared with the bound only.
                    got.fetch_add(1, Ordering::Relaxed);
                }
                all
            })
        };

        // The input's buffer plus the value the broadcast holds; the reading
        // output got that one value and waits with the stalled one.
        wait_until("producer to fill its bound", || {
            sent.load(Ordering::Relaxed) == CAP + 1 && got.load(Ordering::Relaxed) == 1
        })
        .await;
        let_others_run().await;
        assert_eq!(sent.load(Ordering::Relaxed), CAP + 1);
        assert_eq!(got.load(Ordering::Relaxed), 1);

        // Dropping the stalled output releases the broadcast, even while it
        // waits on that output.
        drop(stalled);
        assert_eq!(reader.await.unwrap(), (0..TOTAL).collect::<Vec<_>>());
        assert_eq!(producer.await.unwrap(), TOTAL);
        settle(baseline).await;
    }

    #[gokio::test]
    async fn dropping_every_output_stops_the_broadcast_and_the_producer() {
        let baseline = num_goroutine();
        let ch = chan(1);
        let producer = counting_producer(ch.sender(), usize::MAX, Arc::default());
        let outs = broadcast(ch.receiver(), 3);
        drop(ch);
        for rx in &outs {
            assert_eq!(rx.recv().await, Some(0));
        }
        drop(outs);
        assert!(producer.await.unwrap() < usize::MAX);
        settle(baseline).await;
    }

    #[test]
    #[should_panic(expected = "broadcast: n must be at least 1")]
    fn zero_outputs_panics() {
        let _ = broadcast(chan::<u8>(1).receiver(), 0);
    }
}

mod generate {
    use super::*;

    /// The seed's `fibonacci(n, ch)`, as a generator body that stops when
    /// the consumer is gone.
    async fn fibonacci(n: usize, tx: Sender<u64>) {
        let (mut x, mut y) = (1, 1);
        for _ in 0..n {
            if tx.send(x).await.is_err() {
                return;
            }
            (x, y) = (y, x + y);
        }
    }

    #[gokio::test]
    async fn fibonacci_then_closes() {
        let baseline = num_goroutine();
        let fib = generate(10, |tx| fibonacci(10, tx));
        assert_eq!(fib.cap(), 10);
        assert_eq!(drain(&fib).await, [1, 1, 2, 3, 5, 8, 13, 21, 34, 55]);
        assert!(fib.is_closed());
        settle(baseline).await;
    }

    #[gokio::test]
    async fn dropping_the_receiver_fails_the_bodys_send() {
        let baseline = num_goroutine();
        let stopped = chan::<usize>(1);
        let report = stopped.sender();
        let naturals = generate(3, |tx| async move {
            let mut i = 0usize;
            while tx.send(i).await.is_ok() {
                i += 1;
            }
            report.send(i).await.unwrap();
        });
        for want in 0..5 {
            assert_eq!(naturals.recv().await, Some(want));
        }
        drop(naturals);
        // The body saw its send fail and ended; besides the 5 values read,
        // at most the 3 buffered ones had gone out.
        let failed_at = stopped.recv().await.unwrap();
        assert!((5..=5 + 3).contains(&failed_at), "failed at {failed_at}");
        settle(baseline).await;
    }

    #[gokio::test]
    async fn back_pressure_is_the_capacity() {
        const CAP: usize = 10;
        let baseline = num_goroutine();
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&sent);
        let rx = generate(CAP, |tx| async move {
            for i in 0..100usize {
                if tx.send(i).await.is_err() {
                    return;
                }
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        wait_until("body to fill the buffer", || {
            sent.load(Ordering::Relaxed) == CAP
        })
        .await;
        let_others_run().await;
        assert_eq!(sent.load(Ordering::Relaxed), CAP);
        assert_eq!(drain(&rx).await, (0..100).collect::<Vec<_>>());
        settle(baseline).await;
    }

    #[gokio::test]
    async fn a_panicking_body_closes_the_channel() {
        let baseline = num_goroutine();
        let rx = generate(0, |tx| async move {
            for i in 0..3 {
                tx.send(i).await.unwrap();
            }
            panic!("generator body failed");
        });
        assert_eq!(drain(&rx).await, [0, 1, 2]);
        settle(baseline).await;
    }
}

/// The squares pipeline: generate 1..=100, square in two stages reading the
/// same channel, merge the stages with fan_in.
#[gokio::test]
async fn pipeline_generate_square_fan_in() {
    let baseline = num_goroutine();
    let numbers = generate(0, |tx| async move {
        for i in 1..=100u64 {
            if tx.send(i).await.is_err() {
                return;
            }
        }
    });
    let stage = |input: Receiver<u64>| {
        let out = chan(0);
        let tx = out.sender();
        go(async move {
            while let Some(i) = input.recv().await {
                if tx.send(i * i).await.is_err() {
                    return;
                }
            }
        });
        out.receiver()
    };
    let squares = fan_in([stage(numbers.clone()), stage(numbers)]);
    let all = drain(&squares).await;
    assert_eq!(all.len(), 100);
    assert_eq!(all.iter().sum::<u64>(), (1..=100u64).map(|i| i * i).sum());
    assert_eq!(all.iter().sum::<u64>(), 338_350);
    settle(baseline).await;
}

#[gokio::test]
async fn fan_in_forwarders_on_silent_inputs_stop_when_the_output_is_dropped() {
    let baseline = num_goroutine();
    // Open, silent inputs: the test keeps their senders and never sends.
    let chans: Vec<_> = (0..3).map(|_| chan::<u32>(1)).collect();
    let senders: Vec<Sender<u32>> = chans.iter().map(|c| c.sender()).collect();
    let merged = fan_in(chans.iter().map(|c| c.receiver()));
    drop(chans);
    assert_eq!(num_goroutine(), baseline + 3);
    drop(merged);
    settle(baseline).await;
    // The forwarders dropped their inputs: sends fail now.
    for tx in &senders {
        assert!(tx.send(1).await.is_err());
    }
}
