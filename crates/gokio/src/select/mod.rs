//! Go's `select`: the [`select!`](crate::select!) macro and the dynamic
//! [`Select`] (Go's `reflect.Select`).
//!
//! # The protocol
//!
//! One engine serves both forms (see DESIGN.md and `chan/case.rs`):
//!
//! 1. **Try.** In a fresh random order, try each case without waiting. The
//!    select is not visible to anyone yet, so a success is exclusively
//!    ours. With `default`, no success means the default.
//! 2. **Publish.** Make one token for this attempt and register every case
//!    under it: a listener on buffered channels, a parked waiter (carrying
//!    the value, for sends) on unbuffered ones, a timer for `after`/`tick`.
//!    A listener is registered before its channel is re-checked, so if a
//!    case looks ready now, go to 4 and retry.
//! 3. **Wait.** A counterpart completes an unbuffered case only by winning
//!    the token (`WAITING -> DONE(case)`); anything else only wakes us.
//! 4. **Withdraw.** Abort the token (`WAITING -> ABORTED`). If that fails, a
//!    counterpart completed a case: that case is the result. Otherwise
//!    unregister everything and go back to 1.
//!
//! Exactly one case proceeds: a try commits only while the select is
//! unpublished, and once published only the token's single winner commits.
//! Dropping a waiting select withdraws every case (and gives back a value
//! already handed to it), so it has no effect on any channel.
//!
//! At capacity 0 a waiting select never takes a parked sender's value: it
//! parks its receive and wakes the sender, which delivers in its own poll.
//! That keeps sends cancel-safe and breaks the symmetry between two selects
//! on opposite sides of one channel (Go's `TestSelfSelect`): the receiving
//! side stays parked, the sending side withdraws, retries and delivers.
//!
//! # Differences from Go
//!
//! - A closed channel's send case is ready and yields `Err(SendError(v))`
//!   with the value, where Go panics.
//! - A `select!` can be cancelled (dropped while it waits) with no effect on
//!   any channel; Go's cannot be cancelled at all.
//! - Go picks uniformly among ready cases with one random permutation per
//!   select; so does gokio, per try phase.

mod macros;

use std::cell::Cell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::task::coop::poll_proceed;

use crate::chan::case::{AnyCase, Case, RecvSource, Reg, SendTarget};
use crate::chan::token::Token;
use crate::runtime::registry::{poll_op, Op, OpKind};
use crate::SendError;

/// Items the `select!` macro expands to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    use std::panic::Location;

    pub use crate::chan::case::{Case, RecvCase, RecvSource, SendCase, SendTarget};
    use crate::runtime::registry::{track, Op, OpKind};

    /// `recv(rx)`: evaluates the channel expression into a case.
    pub fn recv_case<'a, T>(rx: impl RecvSource<'a, T>) -> RecvCase<'a, T> {
        rx.into_recv_case()
    }

    /// `send(tx, v)`: evaluates the channel and value into a case.
    pub fn send_case<'a, T>(tx: impl SendTarget<'a, T>, value: T) -> SendCase<'a, T> {
        tx.into_send_case(value)
    }

    /// The waiting form: the index of the chosen case.
    #[track_caller]
    pub fn select<'a>(
        cases: &'a mut [&'a mut (dyn Case + Send)],
    ) -> impl std::future::Future<Output = usize> + Send + 'a {
        let op = Op::new(OpKind::SelectMacro, Location::caller());
        super::Engine::new(cases, op)
    }

    /// The `default` form: `None` if no case was ready.
    pub fn try_select(mut cases: &mut [&mut (dyn Case + Send)]) -> Option<usize> {
        super::try_now(&mut cases)
    }

    /// Counts the deadlock watchdog's looks at the current runtime, so that
    /// tests wait for the watchdog instead of sleeping.
    #[derive(Clone)]
    pub struct WatchdogProbe(std::sync::Arc<crate::runtime::registry::Registry>);

    impl std::fmt::Debug for WatchdogProbe {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_tuple("WatchdogProbe")
                .field(&self.checks())
                .finish()
        }
    }

    impl WatchdogProbe {
        /// The probe of the runtime this thread belongs to.
        pub fn current() -> Self {
            WatchdogProbe(crate::runtime::registry::current())
        }

        /// How many times the watchdog has looked so far.
        pub fn checks(&self) -> u64 {
            self.0.checks.load(std::sync::atomic::Ordering::Acquire)
        }
    }

    /// `select! {}`: waits forever.
    #[track_caller]
    pub fn forever() -> impl std::future::Future<Output = std::convert::Infallible> {
        let op = Op::new(OpKind::SelectNoCases, Location::caller());
        track(op, true, std::future::pending())
    }
}

/// The cases of one select, as the engine sees them.
trait Cases {
    fn len(&self) -> usize;
    fn case(&mut self, i: usize) -> &mut dyn Case;
}

impl Cases for &mut [&mut (dyn Case + Send)] {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn case(&mut self, i: usize) -> &mut dyn Case {
        &mut *self[i]
    }
}

impl<T> Cases for Vec<AnyCase<'_, T>> {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn case(&mut self, i: usize) -> &mut dyn Case {
        &mut self[i]
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        use std::hash::{BuildHasher, Hasher};
        // RandomState is randomly keyed per thread: a seed without a
        // dependency.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x9E37_79B9_7F4A_7C15);
        h.finish() | 1
    });
}

/// A generator of random indices for one pass: the thread's xorshift64*
/// state, read once and written back when the pass ends, so a pass over
/// `n` cases costs one thread-local access, not `n`.
struct Rng {
    x: u64,
}

impl Rng {
    fn take() -> Rng {
        Rng { x: RNG.get() }
    }

    /// A uniformly random index below `n` (n is small).
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.x;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.x = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Multiply-shift: unbiased enough for n far below 2^32.
        ((u128::from(r >> 32) * n as u128) >> 32) as usize
    }
}

impl Drop for Rng {
    fn drop(&mut self) {
        RNG.set(self.x);
    }
}

/// Step 1: tries every case once, in a uniformly random order (a fresh
/// Fisher-Yates permutation), so each ready case is equally likely to win.
fn try_phase<C: Cases>(cases: &mut C, nonblocking: bool) -> Option<usize> {
    let n = cases.len();
    let mut small = [0usize; 32];
    let mut large = Vec::new();
    let order: &mut [usize] = if n <= small.len() {
        &mut small[..n]
    } else {
        large.resize(n, 0);
        &mut large
    };
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i;
    }
    let mut rng = Rng::take();
    for i in 0..order.len() {
        let j = i + rng.below(order.len() - i);
        order.swap(i, j);
        let case = order[i];
        if cases.case(case).try_now(nonblocking) {
            return Some(case);
        }
    }
    None
}

/// The `default` form. Cases are tried one at a time, so an empty pass
/// alone does not prove that no case was ready at one instant (a case tried
/// early may fill while one tried late drains). So after an empty pass,
/// watch every case for changes that could make it ready, try again, and
/// choose `default` only after a pass during which nothing changed: then
/// every case was unready at the pass's end, as Go's locked select sees it.
fn try_now<C: Cases>(cases: &mut C) -> Option<usize> {
    if let Some(chosen) = try_phase(cases, true) {
        return Some(chosen);
    }
    if cases.len() < 2 {
        return None;
    }
    let changed = Arc::new(ChangeFlag(AtomicBool::new(false)));
    let waker = futures::task::waker(Arc::clone(&changed));
    loop {
        // A fresh token per pass: an AtomicWaker hands its waker out once.
        let reg = Reg {
            token: Token::new(&waker),
            index: 0,
        };
        // Relaxed: the flag only carries "something was signalled"; the
        // event's fences order the signal after the channel change.
        changed.0.store(false, Ordering::Relaxed);
        for i in 0..cases.len() {
            cases.case(i).watch(&reg);
        }
        let chosen = try_phase(cases, true);
        let mut moved = false;
        for i in 0..cases.len() {
            moved |= cases.case(i).unwatch();
        }
        if chosen.is_some() {
            return chosen;
        }
        if !moved && !changed.0.load(Ordering::SeqCst) {
            return None;
        }
    }
}

/// Set when an event listened to during a `default` pass fires.
struct ChangeFlag(AtomicBool);

impl futures::task::ArcWake for ChangeFlag {
    fn wake_by_ref(this: &Arc<Self>) {
        // SeqCst: read after the pass by `try_now`.
        this.0.store(true, Ordering::SeqCst);
    }
}

/// The waiting select: steps 1 to 4 of the module docs.
struct Engine<C: Cases> {
    cases: C,
    token: Option<Arc<Token>>,
    /// The wait as `dump` shows it.
    op: Op,
    /// Whether the select has waited yet (for `dump`).
    parked: bool,
    /// Whether no case waits on a timer (only goroutines can complete the
    /// select); worked out when the select first publishes, since most
    /// selects find a case ready and never do.
    gokio_only: Option<bool>,
}

impl<C: Cases> Engine<C> {
    fn new(cases: C, op: Op) -> Self {
        Engine {
            cases,
            token: None,
            op,
            parked: false,
            gokio_only: None,
        }
    }

    fn gokio_only(&mut self) -> bool {
        let cases = &mut self.cases;
        *self
            .gokio_only
            .get_or_insert_with(|| (0..cases.len()).all(|i| !cases.case(i).uses_timer()))
    }

    /// Step 4. Returns the case a counterpart completed, if any.
    fn withdraw(&mut self) -> Option<usize> {
        let token = self.token.take()?;
        let won = token.abort().err();
        for i in 0..self.cases.len() {
            self.cases.case(i).withdraw(won == Some(i));
        }
        won
    }
}

// Nothing in an engine is pinned structurally: cases are moved freely and
// hold their timers boxed.
impl<C: Cases> Unpin for Engine<C> {}

impl<C: Cases> Future for Engine<C> {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let coop = ready!(poll_proceed(cx));
        let this = &mut *self;
        loop {
            if let Some(won) = this.withdraw() {
                coop.made_progress();
                return Poll::Ready(won);
            }
            if let Some(chosen) = try_phase(&mut this.cases, false) {
                coop.made_progress();
                return Poll::Ready(chosen);
            }
            // Publishing is the only step that stores wakers, so the only
            // one that goes through the goroutine's bookkeeping.
            let (op, gokio_only) = (this.op, this.gokio_only());
            let mut parked = this.parked;
            let published = poll_op(cx, &op, &mut parked, |park, user| {
                let looks_ready = if gokio_only {
                    this.publish(park)
                } else {
                    this.publish(user)
                };
                if looks_ready {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            this.parked = parked;
            if published.is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<C: Cases> Engine<C> {
    /// Step 2: registers every case under a fresh token waking `cx`; returns
    /// whether a case looked ready meanwhile (withdraw and try again).
    fn publish(&mut self, cx: &mut Context<'_>) -> bool {
        let token = Token::new(cx.waker());
        self.token = Some(Arc::clone(&token));
        let mut looks_ready = false;
        for index in 0..self.cases.len() {
            let reg = Reg {
                token: Arc::clone(&token),
                index,
            };
            looks_ready |= self.cases.case(index).publish(&reg, cx);
        }
        looks_ready
    }
}

impl<C: Cases> Drop for Engine<C> {
    fn drop(&mut self) {
        // A select dropped while it waits: the cases' own `Drop`s withdraw
        // them (a case may outlive the engine, as in the macro). Withdraw
        // here too when the cases are ours to reach, so nothing waits on a
        // token nobody polls.
        if let Some(token) = self.token.take() {
            let won = token.abort().err();
            for i in 0..self.cases.len() {
                if won == Some(i) {
                    // Leave it registered: the case's Drop gives its value back.
                    continue;
                }
                self.cases.case(i).withdraw(false);
            }
        }
    }
}

/// The outcome of a dynamic [`Select`]: which case proceeded, and its result.
#[derive(PartialEq, Eq)]
pub enum Selected<T> {
    /// Receive case `index` proceeded with `value` (`None`: the channel is
    /// closed and drained).
    Recv {
        /// The case's position in the order the cases were added.
        index: usize,
        /// The value received, or `None` if the channel is closed and drained.
        value: Option<T>,
    },
    /// Send case `index` proceeded: `Ok(())`, or the value handed back if
    /// the channel is closed.
    Send {
        /// The case's position in the order the cases were added.
        index: usize,
        /// `Ok(())` if sent; the value back if the channel is closed.
        result: Result<(), SendError<T>>,
    },
}

impl<T> Selected<T> {
    /// The index of the case that proceeded.
    pub fn index(&self) -> usize {
        match self {
            Selected::Recv { index, .. } | Selected::Send { index, .. } => *index,
        }
    }
}

impl<T> fmt::Debug for Selected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selected::Recv { index, value } => f
                .debug_struct("Recv")
                .field("index", index)
                .field("value", &value.as_ref().map(|_| ".."))
                .finish(),
            Selected::Send { index, result } => f
                .debug_struct("Send")
                .field("index", index)
                .field("result", result)
                .finish(),
        }
    }
}

/// A select over a runtime-sized set of cases of one element type: Go's
/// `reflect.Select`.
///
/// Build it by value, one case per call (index 0, 1, ... in call order),
/// then `.await` it to wait for one case, or call
/// [`try_select`](Select::try_select) for the `default` form. Same
/// atomicity, fairness and cancel safety as [`select!`](crate::select!);
/// the values of send cases not chosen are dropped.
///
/// # Examples
///
/// Fan-in over any number of channels:
///
/// ```
/// # #[tokio::main] async fn main() {
/// use gokio::{chan, Select, Selected};
///
/// let inputs: Vec<_> = (0..4).map(|_| chan::<u32>(1)).collect();
/// inputs[2].send(7).await.unwrap();
///
/// let mut sel = Select::new();
/// for ch in &inputs {
///     sel = sel.recv(ch);
/// }
/// match sel.await {
///     Selected::Recv { index, value } => assert_eq!((index, value), (2, Some(7))),
///     Selected::Send { .. } => unreachable!(),
/// }
/// # }
/// ```
///
/// # Cancel safety
///
/// Dropping the future while it waits has no effect on any channel.
pub struct Select<'a, T> {
    cases: Vec<AnyCase<'a, T>>,
}

impl<T> fmt::Debug for Select<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .finish()
    }
}

impl<T> Default for Select<'_, T> {
    fn default() -> Self {
        Select::new()
    }
}

impl<'a, T> Select<'a, T> {
    /// A select with no cases. Awaiting it waits forever, like Go's
    /// `reflect.Select` with no cases.
    pub fn new() -> Self {
        Select { cases: Vec::new() }
    }

    /// Adds a receive case: `&Chan<T>`, `&Receiver<T>`, an owned
    /// `Receiver<T>` (such as a timer) or `None` (a nil channel).
    pub fn recv(mut self, rx: impl RecvSource<'a, T>) -> Self {
        self.cases.push(AnyCase::Recv(rx.into_recv_case()));
        self
    }

    /// Adds a send case: `&Chan<T>`, `&Sender<T>` or `None`, with its value.
    pub fn send(mut self, tx: impl SendTarget<'a, T>, value: T) -> Self {
        self.cases.push(AnyCase::Send(tx.into_send_case(value)));
        self
    }

    /// The `default` form: the case that proceeded, or `None` if no case
    /// was ready (nothing happened on any channel).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gokio::chan::<i32>(1);
    /// assert!(gokio::Select::new().recv(&ch).try_select().is_none());
    /// let sent = gokio::Select::new().send(&ch, 1).try_select().unwrap();
    /// assert_eq!(sent.index(), 0);
    /// ```
    pub fn try_select(mut self) -> Option<Selected<T>> {
        let index = try_now(&mut self.cases)?;
        Some(outcome(&mut self.cases, index))
    }
}

fn outcome<T>(cases: &mut [AnyCase<'_, T>], index: usize) -> Selected<T> {
    match &mut cases[index] {
        AnyCase::Recv(c) => Selected::Recv {
            index,
            value: c.take_result().expect("the chosen case has a result"),
        },
        AnyCase::Send(c) => Selected::Send {
            index,
            result: c.take_result().expect("the chosen case has a result"),
        },
    }
}

impl<'a, T> IntoFuture for Select<'a, T> {
    type Output = Selected<T>;
    type IntoFuture = SelectFuture<'a, T>;

    #[track_caller]
    fn into_future(self) -> SelectFuture<'a, T> {
        let op = Op::new(OpKind::SelectAwait, Location::caller());
        SelectFuture {
            engine: Engine::new(self.cases, op),
        }
    }
}

/// The future of an awaited [`Select`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct SelectFuture<'a, T> {
    engine: Engine<Vec<AnyCase<'a, T>>>,
}

impl<T> fmt::Debug for SelectFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectFuture")
            .field("cases", &self.engine.cases.len())
            .finish()
    }
}

impl<T> Unpin for SelectFuture<'_, T> {}

impl<T> Future for SelectFuture<'_, T> {
    type Output = Selected<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Selected<T>> {
        let engine = &mut self.engine;
        let index = ready!(Pin::new(&mut *engine).poll(cx));
        Poll::Ready(outcome(&mut engine.cases, index))
    }
}
