//! Go's channel plumbing idioms: the merge function ([`fan_in`]), several
//! workers reading one channel ([`fan_out`]), a broadcast to every reader
//! ([`broadcast`]) and the generator function that returns `<-chan T`
//! ([`generate`]).
//!
//! # Differences from Go
//!
//! - **Close on drop.** Go's merge needs a `sync.WaitGroup` and one more
//!   goroutine to `close(out)` after the last forwarder; a generator must
//!   remember `close(ch)`. Here every forwarder owns a [`Sender`] of the
//!   output and the channel closes when the last one is dropped, so the
//!   sender count *is* the WaitGroup: the output closes exactly when every
//!   forwarder has ended, with no closer goroutine, and a generator's channel
//!   closes when its body returns (or panics).
//! - **No leaked goroutines.** In Go, a consumer that stops reading leaves
//!   every goroutine upstream blocked in `out <- v` forever. In gokio a send
//!   fails with [`SendError`](gokio::SendError) once every receiver is gone,
//!   so dropping the [`Receiver`]s these functions return winds the plumbing
//!   down: a forwarder whose send fails stops and drops its input, so the
//!   producers upstream see their own sends fail in turn. A `fan_in`
//!   forwarder waiting on a silent input also stops at once (it waits for
//!   [`Sender::closed`](gokio::Sender::closed) too); `broadcast` notices at
//!   its next value or when its input closes.
//! - **Bounded, like Go's unbuffered idiom.** The channels made here are
//!   unbuffered (capacity 0) unless a capacity is passed ([`generate`],
//!   [`fan_in_buffered`]), and
//!   each forwarding goroutine holds at most one value in flight, so a slow
//!   consumer slows the producers by a bounded, documented amount (see each
//!   function's `# Back-pressure`).
//!
//! # Design choices
//!
//! - [`fan_out`] returns `n` handles of the input channel itself, not `n` new
//!   channels fed by forwarding goroutines. Forwarders would each hold one
//!   value hostage while their output is not read, and would need a
//!   hand-over protocol to re-deliver that value when the output is dropped.
//!   Competing receivers on one channel are exactly what "fan-out" means in
//!   Go (several workers ranging over the same channel), and the channel
//!   already guarantees everything wanted: each value to exactly one reader,
//!   whichever is ready; an unread or dropped output holds nothing back.
//! - [`broadcast`] offers each value to every output concurrently and waits
//!   for all of them before taking the next one (lock-step). A consumer may
//!   therefore read the outputs in any order, but the slowest output sets
//!   the pace of all of them. That is the price of a bounded broadcast: the
//!   alternative, buffering for the slow output, is unbounded memory.
//!
//! Every goroutine started here is named (`fan_in-3`, `broadcast`,
//! `generate`), so [`gokio::dump`] shows where it waits, and runs inside the
//! `tracing` span `goroutine` that carries the name.

use std::future::Future;

use futures::future::join_all;
use gokio::{chan, go_named, Chan, Receiver, Sender};

use crate::next::{next_or_gone, Next};

/// Merges several channels into one: Go's `merge(cs ...<-chan T) <-chan T`.
///
/// Starts one goroutine per input (named `fan_in-<index>`) that forwards the
/// input's values, in order, into the returned channel. The output closes
/// when every input is closed and drained; with no inputs it is closed at
/// once.
///
/// Values from one input arrive in that input's order; values from
/// different inputs interleave in no promised order. No value is lost or
/// duplicated while the output is read to the end.
///
/// # Back-pressure
///
/// The output is unbuffered (capacity 0), as in Go's merge idiom, and each
/// forwarder holds at most one value it has received but not yet delivered.
/// So a consumer that stops reading stops each producer after
/// `input.cap() + 1` sends: its channel's buffer plus the forwarder's value.
///
/// # Cancellation
///
/// Dropping the output ends every forwarder at once: one waiting on its
/// input also waits for [`Sender::closed`](gokio::Sender::closed) on the
/// output, and one holding a value sees its send fail and drops the value.
/// A forwarder that ends drops its input, and once no other handle can
/// receive from an input, that input's producer sees its sends fail with
/// [`SendError`](gokio::SendError).
///
/// # Differences from Go
///
/// Go's merge closes the output from an extra goroutine after
/// `wg.Wait()`. Here each forwarder owns a [`Sender`] of the output, which
/// closes when the last one is dropped: the same moment, one goroutine
/// fewer. And Go's forwarders leak, blocked forever, when the consumer stops
/// reading; these end (see Cancellation).
///
/// # Examples
///
/// ```
/// use gokio_patterns::fan_in;
///
/// gokio::run(async {
///     let (a, b) = (gokio::chan(1), gokio::chan(1));
///     let merged = fan_in([a.receiver(), b.receiver()]);
///     let (ta, tb) = (a.sender(), b.sender());
///     drop((a, b)); // the forwarders and these senders now own the channels
///     gokio::go(async move {
///         for i in 0..3 {
///             ta.send(i).await.unwrap();
///         }
///     });
///     gokio::go(async move {
///         for i in 10..13 {
///             tb.send(i).await.unwrap();
///         }
///     });
///     let mut all = Vec::new();
///     while let Some(v) = merged.recv().await {
///         all.push(v);
///     }
///     all.sort();
///     assert_eq!(all, [0, 1, 2, 10, 11, 12]);
/// });
/// ```
pub fn fan_in<T: Send + 'static>(inputs: impl IntoIterator<Item = Receiver<T>>) -> Receiver<T> {
    fan_in_buffered(0, inputs)
}

/// [`fan_in`] with an output buffer of `cap` values.
///
/// Go's merge idiom uses an unbuffered output, so every value is a handoff
/// between a forwarder and the consumer. For many small values a buffer is
/// much faster (the forwarders run ahead of the consumer by up to `cap`
/// values); everything else is as for [`fan_in`].
///
/// # Back-pressure
///
/// With no reader, the producers stop after `cap` values in the output
/// plus, per input, its buffer and the one value its forwarder holds.
///
/// # Examples
///
/// ```
/// use gokio_patterns::{fan_in_buffered, generate};
///
/// gokio::run(async {
///     let inputs = (0..4u64).map(|p| {
///         generate(16, move |tx| async move {
///             for i in 0..100 {
///                 if tx.send(p * 100 + i).await.is_err() {
///                     return;
///                 }
///             }
///         })
///     });
///     let merged = fan_in_buffered(64, inputs);
///     let mut sum = 0;
///     while let Some(v) = merged.recv().await {
///         sum += v;
///     }
///     assert_eq!(sum, (0..400).sum::<u64>());
/// });
/// ```
pub fn fan_in_buffered<T: Send + 'static>(
    cap: usize,
    inputs: impl IntoIterator<Item = Receiver<T>>,
) -> Receiver<T> {
    let (tx, rx) = split(chan(cap));
    for (index, input) in inputs.into_iter().enumerate() {
        let out = tx.clone();
        go_named(format!("fan_in-{index}"), async move {
            let mut forwarded: u64 = 0;
            while let Next::Job(v) = next_or_gone(&input, &out).await {
                if out.send(v).await.is_err() {
                    // The consumer is gone: the value has nowhere to go, and
                    // dropping `input` on return lets the producer's sends
                    // fail too.
                    tracing::debug!(forwarded, "fan_in output dropped; forwarder stops");
                    return;
                }
                forwarded += 1;
            }
            tracing::debug!(forwarded, "fan_in input closed and drained");
        });
    }
    // The forwarders own the only senders now: the output closes when the
    // last of them ends.
    drop(tx);
    rx
}

/// Distributes one channel's values over `n` receivers, each value to
/// exactly one of them: Go's fan-out, several workers reading one channel.
///
/// The returned receivers are `n` handles of `input`'s channel (competing
/// receivers): each value goes to whichever receiver asks for it first. An
/// output that is not read holds nothing back and stalls no other; dropping
/// an output loses nothing, since values still in the channel stay there for
/// the remaining outputs. Every output ends (`recv` returns `None`) once the
/// input is closed and drained. No goroutine is started.
///
/// # Back-pressure
///
/// There is no buffer besides `input`'s own: with no reader, the producer
/// stops after `input.cap()` sends.
///
/// # Cancellation
///
/// Dropping every output (and every other receiving handle of `input`)
/// makes the producer's sends fail with [`SendError`](gokio::SendError).
///
/// # Panics
///
/// Panics if `n == 0`.
///
/// # Examples
///
/// ```
/// use gokio_patterns::fan_out;
///
/// gokio::run(async {
///     let jobs = gokio::chan(0);
///     let workers = fan_out(jobs.receiver(), 3);
///     let ch = gokio::chan(0);
///     for rx in workers {
///         let results = ch.sender();
///         gokio::go(async move {
///             while let Some(job) = rx.recv().await {
///                 results.send(job * 2).await.unwrap();
///             }
///         });
///     }
///     let results = ch.receiver();
///     drop(ch); // only the workers send now: results close when they end
///     gokio::go(async move {
///         for job in 1..=4 {
///             jobs.send(job).await.unwrap();
///         }
///     });
///     let mut all = Vec::new();
///     while let Some(r) = results.recv().await {
///         all.push(r);
///     }
///     all.sort();
///     assert_eq!(all, [2, 4, 6, 8]);
/// });
/// ```
pub fn fan_out<T: Send + 'static>(input: Receiver<T>, n: usize) -> Vec<Receiver<T>> {
    assert!(n > 0, "fan_out: n must be at least 1");
    let mut outputs = Vec::with_capacity(n);
    outputs.extend(std::iter::repeat_with(|| input.clone()).take(n - 1));
    outputs.push(input);
    outputs
}

/// Copies each value of `input` to each of `n` outputs, in order.
///
/// Starts one goroutine, named `broadcast`, that receives a value, offers a
/// clone to every output at once and waits until each has taken it before
/// it receives the next. Each output therefore sees the input's full
/// sequence in order (from the moment it was made). An output that is
/// dropped is skipped from then on; that is not an error. The outputs close
/// once the input is closed and drained, or early if cloning a value panics
/// (the panic ends the goroutine, which drops every output's sender).
///
/// # Back-pressure
///
/// Lock-step: the outputs are unbuffered (capacity 0) and the goroutine holds
/// one value until every live output has taken it, so the slowest output
/// sets the pace of all of them. Outputs may be read in any order (the value
/// is offered to all concurrently), but an output that is never read and
/// never dropped stops the whole broadcast, and the producer after
/// `input.cap() + 1` sends.
///
/// # Cancellation
///
/// When every output is dropped, the goroutine ends and drops `input` at
/// its next step: when the next value arrives (it has nowhere to go) or the
/// input closes. A silent, open input keeps the goroutine waiting until
/// then (unlike [`fan_in`], it does not also wait on
/// [`Sender::closed`](gokio::Sender::closed) for every output).
///
/// # Panics
///
/// Panics if `n == 0`.
///
/// # Examples
///
/// ```
/// use gokio_patterns::broadcast;
///
/// gokio::run(async {
///     let ch = gokio::chan(0);
///     let outs = broadcast(ch.receiver(), 2);
///     gokio::go(async move {
///         for word in ["ready", "set", "go"] {
///             ch.send(word).await.unwrap();
///         }
///     });
///     let readers: Vec<_> = outs
///         .into_iter()
///         .map(|rx| {
///             gokio::go(async move {
///                 let mut seen = Vec::new();
///                 while let Some(w) = rx.recv().await {
///                     seen.push(w);
///                 }
///                 seen
///             })
///         })
///         .collect();
///     for reader in readers {
///         assert_eq!(reader.await.unwrap(), ["ready", "set", "go"]);
///     }
/// });
/// ```
pub fn broadcast<T: Clone + Send + 'static>(input: Receiver<T>, n: usize) -> Vec<Receiver<T>> {
    assert!(n > 0, "broadcast: n must be at least 1");
    let (mut senders, receivers): (Vec<Sender<T>>, Vec<Receiver<T>>) =
        (0..n).map(|_| split(chan(0))).unzip();
    go_named("broadcast", async move {
        let mut broadcast: u64 = 0;
        while let Some(v) = input.recv().await {
            // One clone per output but the last, which gets `v` itself.
            let mut v = Some(v);
            let last = senders.len() - 1;
            let sends = senders.iter().enumerate().map(|(i, tx)| {
                let v = if i == last {
                    v.take().expect("the last output takes the original")
                } else {
                    v.as_ref().expect("clones come first").clone()
                };
                tx.send(v)
            });
            let results = join_all(sends).await;
            let mut results = results.into_iter();
            // A failed send means that output's receiver is gone: skip it
            // from now on. Its value is a clone nobody else needed.
            senders.retain(|_| results.next().is_some_and(|r| r.is_ok()));
            if senders.is_empty() {
                tracing::debug!(broadcast, "every broadcast output dropped; stopping");
                return;
            }
            broadcast += 1;
        }
        tracing::debug!(broadcast, "broadcast input closed and drained");
    });
    receivers
}

/// Runs `body` as a goroutine that sends into a new channel, and returns the
/// channel: Go's generator idiom.
///
/// ```go
/// func fib(n int) <-chan int {
///     ch := make(chan int, 10)
///     go func() { defer close(ch); /* ch <- x ... */ }()
///     return ch
/// }
/// ```
///
/// The channel has capacity `cap` (0 is unbuffered). `body` receives the
/// only [`Sender`]; the goroutine is named `generate`. The channel closes
/// when `body`'s future returns or panics, since that drops the sender (an
/// explicit [`Sender::close`] earlier is fine too). A panic in `body` is
/// reported as for any goroutine (the panic hook prints it) and shows to the
/// consumer as an early end of the sequence, never as a hang.
///
/// # Stopping early
///
/// If the consumer drops the returned [`Receiver`], `body`'s sends fail with
/// [`SendError`](gokio::SendError), even with room in the buffer. The body
/// should stop on `Err`: return, or propagate it with `?` from an inner
/// function. (Go's generator would block forever instead and leak its
/// goroutine.) A body that ignores the error and loops forever never ends.
///
/// # Back-pressure
///
/// With a consumer that does not read, `body` stops at its `cap + 1`-th
/// send, which waits for room.
///
/// # Examples
///
/// The Fibonacci generator:
///
/// ```
/// use gokio_patterns::generate;
///
/// gokio::run(async {
///     let fib = generate(10, |tx| async move {
///         let (mut x, mut y) = (1u64, 1u64);
///         for _ in 0..10 {
///             if tx.send(x).await.is_err() {
///                 return; // the consumer is gone
///             }
///             (x, y) = (y, x + y);
///         }
///     });
///     let mut seq = Vec::new();
///     while let Some(v) = fib.recv().await {
///         seq.push(v);
///     }
///     assert_eq!(seq, [1, 1, 2, 3, 5, 8, 13, 21, 34, 55]);
/// });
/// ```
///
/// The squares pipeline: a generator, two squaring stages reading it, and
/// their outputs merged:
///
/// ```
/// use gokio_patterns::{fan_in, generate};
///
/// gokio::run(async {
///     let numbers = generate(0, |tx| async move {
///         for i in 1..=10u64 {
///             if tx.send(i).await.is_err() {
///                 return;
///             }
///         }
///     });
///     let square = |input: gokio::Receiver<u64>| {
///         generate(0, move |tx| async move {
///             while let Some(i) = input.recv().await {
///                 if tx.send(i * i).await.is_err() {
///                     return;
///                 }
///             }
///         })
///     };
///     let squares = fan_in([square(numbers.clone()), square(numbers)]);
///     let mut sum = 0;
///     while let Some(s) = squares.recv().await {
///         sum += s;
///     }
///     assert_eq!(sum, 385);
/// });
/// ```
pub fn generate<T, F, Fut>(cap: usize, body: F) -> Receiver<T>
where
    F: FnOnce(Sender<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = split(chan(cap));
    go_named("generate", body(tx));
    rx
}

/// Splits a channel into its two directional handles, dropping the
/// bidirectional one so that only the returned handles keep it open.
fn split<T>(ch: Chan<T>) -> (Sender<T>, Receiver<T>) {
    (ch.sender(), ch.receiver())
}
