//! The `select!` macro surface; the engine is in `select/mod.rs`.

/// Go's `select` statement: waits until one of several channel operations
/// can proceed, then runs exactly that one.
///
/// # Grammar
///
/// ```text
/// select! {
///     recv(RX) -> PAT => BODY,          // RX: &Chan<T>, &Receiver<T>, an owned Receiver<T>
///                                       //     (e.g. gokio::after(d)), or Option<_> (None: nil)
///     send(TX, VALUE) -> PAT => BODY,   // TX: &Chan<T>, &Sender<T>, or Option<_> (None: nil)
///     default => BODY,                  // optional: never wait
/// }
/// ```
///
/// `PAT` binds the case's outcome: `Option<T>` for a receive (`None` once
/// the channel is closed and drained), `Result<(), SendError<T>>` for a send
/// (the value comes back if the channel is closed). `BODY` is an expression
/// (followed by a comma unless it is the last arm) or a block. The whole
/// macro is an expression whose value is the chosen arm's value; `break`,
/// `continue`, `return` and `?` in an arm act on the enclosing loop or
/// function. Without `default` it must be used inside async code.
///
/// # Semantics (Go's)
///
/// - Channel and value expressions are evaluated once, in source order, on
///   entry. A send value whose case is not chosen is dropped. The channels
///   stay borrowed until the `select!` expression ends (temporaries such as
///   `&make_chan()` live that long too).
/// - Exactly one case proceeds. If several are ready, one is chosen
///   uniformly at random. Without `default` the select waits until one is
///   ready; with `default` it never waits.
/// - A closed channel's receive case is ready (`None`); a closed channel's
///   send case is ready and yields `Err(SendError(v))`. A `None` case (a
///   nil channel) is never ready. `select! {}` waits forever.
/// - A case that is not chosen has no effect on its channel, even at
///   capacity 0 against another `select!`.
///
/// # Go -> gokio
///
/// | Go | gokio |
/// |---|---|
/// | `case v, ok := <-ch:` | `recv(&ch) -> v =>` (`v: Option<T>`) |
/// | `case ch <- x:` | `send(&ch, x) -> res =>` |
/// | `case <-time.After(d):` (timeout) | `recv(gokio::after(d)) -> _ =>` |
/// | `default:` (non-blocking) | `default =>` |
/// | a nil channel disables a case | `recv(None::<&Chan<T>>) -> _ =>`, or `opt.as_ref()` |
/// | `case <-quit: return` | `recv(&quit) -> _ => return,` |
/// | `select {}` | `select! {}` |
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// use gokio::{chan, select};
///
/// let jobs = chan::<u32>(4);
/// let results = chan::<u32>(4);
/// jobs.send(3).await.unwrap();
/// jobs.close();
///
/// let mut done = 0;
/// loop {
///     select! {
///         recv(&jobs) -> job => match job {
///             Some(j) => results.send(j * 2).await.unwrap(),
///             None => break,
///         },
///         recv(gokio::after(Duration::from_secs(1))) -> _ => println!("idle"),
///     }
///     done += 1;
/// }
/// assert_eq!((done, results.try_recv()), (1, Ok(6)));
///
/// // Non-blocking send:
/// let full = chan::<u8>(0);
/// let sent = select! {
///     send(&full, 1) -> _ => true,
///     default => false,
/// };
/// assert!(!sent);
/// # }
/// ```
///
/// # Cancel safety
///
/// Cancel-safe: dropping a waiting `select!` (in `tokio::select!` or
/// `tokio::time::timeout`) has no effect on any channel. At capacity 0 a
/// value handed to its receive case goes back to the channel.
///
/// # Differences from Go
///
/// - A closed channel's send case yields the value back instead of
///   panicking.
/// - The cases' element types must be `Send` (the select's future is then
///   `Send`, so it can run inside `go`).
/// - Go's `break` inside a select leaves the select; here `break` acts on
///   the enclosing loop, as in any Rust expression.
#[macro_export]
macro_rules! select {
    // recv arms: a block body (comma optional) or an expression body.
    (@parse [$($cases:tt)*] [$($def:tt)*]
        recv($rx:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (__case (recv $rx) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($cases:tt)*] [$($def:tt)*]
        recv($rx:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (__case (recv $rx) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($cases:tt)*] [$($def:tt)*]
        recv($rx:expr) -> $p:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($cases)* (__case (recv $rx) ($p) ($body))] [$($def)*] $($($rest)*)?)
    };
    // send arms.
    (@parse [$($cases:tt)*] [$($def:tt)*]
        send($tx:expr, $v:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (__case (send $tx, $v) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($cases:tt)*] [$($def:tt)*]
        send($tx:expr, $v:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (__case (send $tx, $v) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($cases:tt)*] [$($def:tt)*]
        send($tx:expr, $v:expr) -> $p:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($cases)* (__case (send $tx, $v) ($p) ($body))] [$($def)*] $($($rest)*)?)
    };
    // default arm.
    (@parse [$($cases:tt)*] []
        default => $body:block, $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)*] [($body)] $($rest)*)
    };
    (@parse [$($cases:tt)*] []
        default => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)*] [($body)] $($rest)*)
    };
    (@parse [$($cases:tt)*] []
        default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($cases)*] [($body)] $($($rest)*)?)
    };

    // No cases at all.
    (@parse [] []) => {
        match $crate::__private::forever().await {}
    };
    (@parse [] [($def:expr)]) => {
        $def
    };

    // Waiting form. Each `__case` comes from a different expansion, so
    // hygiene keeps them apart. The cases are built in a `match` scrutinee
    // so that temporaries in the channel expressions (`&make_chan()`) live
    // until the select is over.
    (@parse [$(($c:ident ($($op:tt)*) ($p:pat) ($body:expr)))+] []) => {{
        // A `let`, not a tail expression: the scrutinee's temporaries must
        // die before the enclosing block's locals (Rust 2021 tail rules).
        let __outcome = match ($($crate::select!(@case $($op)*),)+) {
            ($(mut $c,)+) => {
                {
                    let mut __cases: [&mut (dyn $crate::__private::Case + ::std::marker::Send); $crate::select!(@count $($c)+)] = [$(&mut $c),+];
                    $crate::__private::select(&mut __cases).await;
                }
                // Take each outcome and drop the cases (ending their
                // borrows) before any arm runs, so arms may use the
                // channels freely.
                $( let $c = { let mut __case = $c; __case.take_result() }; )+
                $crate::select!(@dispatch [$(($c ($p) ($body)))+] { ::std::unreachable!("select: no case chosen") })
            }
        };
        // Unreachable when every arm diverges; say nothing in that case.
        #[allow(unreachable_code)]
        let __value = __outcome;
        __value
    }};

    // Non-blocking form.
    (@parse [$(($c:ident ($($op:tt)*) ($p:pat) ($body:expr)))+] [($def:expr)]) => {{
        let __outcome = match ($($crate::select!(@case $($op)*),)+) {
            ($(mut $c,)+) => {
                let __chosen = {
                    let mut __cases: [&mut (dyn $crate::__private::Case + ::std::marker::Send); $crate::select!(@count $($c)+)] = [$(&mut $c),+];
                    $crate::__private::try_select(&mut __cases).is_some()
                };
                $( let $c = { let mut __case = $c; __case.take_result() }; )+
                if __chosen {
                    $crate::select!(@dispatch [$(($c ($p) ($body)))+] { ::std::unreachable!("select: no case chosen") })
                } else {
                    $def
                }
            }
        };
        // Unreachable when every arm diverges; say nothing in that case.
        #[allow(unreachable_code)]
        let __value = __outcome;
        __value
    }};

    (@case recv $rx:expr) => { $crate::__private::recv_case($rx) };
    (@case send $tx:expr, $v:expr) => { $crate::__private::send_case($tx, $v) };

    (@count) => { 0usize };
    (@count $head:ident $($tail:ident)*) => { 1usize + $crate::select!(@count $($tail)*) };

    // The chosen case is the one holding a result.
    (@dispatch [] $otherwise:block) => { $otherwise };
    (@dispatch [($c:ident ($p:pat) ($body:expr)) $($rest:tt)*] $otherwise:block) => {
        if let ::std::option::Option::Some(__outcome) = $c {
            let $p = __outcome;
            $body
        } else {
            $crate::select!(@dispatch [$($rest)*] $otherwise)
        }
    };

    (@parse $($bad:tt)*) => {
        ::std::compile_error!(
            "select! arms are `recv(rx) -> pat => body`, `send(tx, value) -> pat => body` or `default => body` (at most one default), separated by commas"
        )
    };

    // Entry (last, so the internal `@` rules above match first).
    ($($arms:tt)*) => {
        $crate::select!(@parse [] [] $($arms)*)
    };
}
