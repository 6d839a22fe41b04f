//! The `#[gokio::main]` and `#[gokio::test]` attributes.
//!
//! Do not depend on this crate directly: the attributes are re-exported by
//! the `gokio` crate and used as `#[gokio::main]` and `#[gokio::test]`; they
//! are documented with runnable examples and tested there. The expansion
//! names `::gokio::runtime`, so it only compiles in a crate that depends on
//! `gokio`, which is also why the examples below are not compiled here.
//!
//! Both attributes turn an `async fn` with no parameters into a plain `fn`
//! that builds a [`gokio::runtime::Builder`], applies the options, and runs
//! the original body to completion on it:
//!
//! ```ignore
//! #[gokio::main(worker_threads = 4)]
//! async fn main() -> Result<(), String> {
//!     body
//! }
//!
//! // becomes
//!
//! fn main() -> Result<(), String> {
//!     ::gokio::runtime::Builder::new()
//!         .worker_threads(4)
//!         .run(async move { body })
//! }
//! ```
//!
//! The body becomes an `async move` block, so `return` and `?` inside it
//! leave the block with the function's return type, exactly as they left
//! the function before. (The real expansion also annotates the body's value
//! with the return type, so that a wrongly typed tail expression is reported
//! where it is written and not at the attribute.)
//!
//! # Options
//!
//! Both attributes take the same comma-separated options:
//!
//! | Option | Builder call |
//! |---|---|
//! | `worker_threads = N` (integer literal, at least 1) | `.worker_threads(N)` |
//! | `detect_deadlocks = true` or `false` | `.detect_deadlocks(bool)` |
//!
//! Options not given keep the builder's defaults.
//!
//! # Errors
//!
//! Anything the attributes cannot expand is a compile error pointing at the
//! offending token: an unknown or malformed option, a function that is not
//! `async`, that is also `const`, `unsafe` or `extern`, that has parameters,
//! generics or a `where` clause, or (for `#[gokio::test]`) that already
//! carries `#[test]`.
//!
//! [`gokio::runtime::Builder`]: https://docs.rs/gokio/latest/gokio/runtime/struct.Builder.html

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod error;
mod expand;
mod item;
mod options;

use proc_macro::TokenStream;

/// Runs `async fn main` on a gokio runtime.
///
/// The function must be an `async fn` without parameters or generics. It
/// keeps its attributes, visibility, name and return type, and its body runs
/// to completion on a runtime made by `gokio::runtime::Builder::new()` with
/// the given options applied (see the [crate docs](crate) for the options
/// and the exact expansion). Any function name is accepted, so a helper
/// binary entry point or a function called from a real `main` works too.
///
/// The body must be `Send + 'static` like any task given to the runtime: a
/// value that is not `Send` (an `Rc`, a `RefCell` borrow) must not be held
/// across an `.await`.
///
/// # Examples
///
/// ```ignore
/// use gokio::{chan, go};
///
/// #[gokio::main]
/// async fn main() {
///     let ch = chan::<&str>(0);
///     let tx = ch.sender();
///     go(async move { tx.send("ping").await.unwrap() });
///     println!("{}", ch.recv().await.unwrap());
/// }
/// ```
///
/// With options and a fallible body:
///
/// ```ignore
/// #[gokio::main(worker_threads = 2, detect_deadlocks = true)]
/// async fn main() -> Result<(), std::num::ParseIntError> {
///     let n: u32 = "42".parse()?;
///     println!("{n}");
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Main, args, item)
}

/// Runs an `async fn` test on a gokio runtime that panics on deadlock.
///
/// Like [`macro@main`], and the function additionally gets `#[test]` and a
/// runtime built with `on_deadlock(OnDeadlock::Panic)`, so a test whose
/// goroutines all block fails instead of exiting the test binary. Other
/// attributes such as `#[should_panic]` and `#[ignore]` are kept and may be
/// written above or below `#[gokio::test]`; writing `#[test]` as well is an
/// error.
///
/// # Examples
///
/// ```ignore
/// #[gokio::test]
/// async fn buffered_send_does_not_block() {
///     let ch = gokio::chan::<u8>(1);
///     ch.send(1).await.unwrap();
///     assert_eq!(ch.len(), 1);
/// }
///
/// #[gokio::test(worker_threads = 1)]
/// #[should_panic]
/// async fn receive_with_no_sender_deadlocks() {
///     let ch = gokio::chan::<u8>(0);
///     let _keep_open = ch.sender();
///     ch.recv().await;
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Test, args, item)
}
