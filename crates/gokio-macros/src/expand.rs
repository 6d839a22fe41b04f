//! Builds the plain `fn` that runs the async body on a gokio runtime.

use std::fmt;

use proc_macro::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

use crate::item::Function;
use crate::options::Options;

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Main => "#[gokio::main]",
            Kind::Test => "#[gokio::test]",
        })
    }
}

/// Expands `#[gokio::main(args)]` or `#[gokio::test(args)]` on `item`.
///
/// Errors are reported as `compile_error!` at the offending token. A bad
/// option still expands the function with the other options, so that the
/// option is the only error reported. A function that cannot be expanded is
/// replaced by the error alone, except that an entry point named `main` is
/// replaced by an empty `fn main() {}` so that rustc does not also report a
/// missing `main`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let options = Options::parse(kind, args);
    let mut out = TokenStream::new();
    if let Err(error) = &options {
        out.extend(error.to_compile_error());
    }
    match Function::parse(kind, item) {
        Ok(function) => {
            out.extend(function_tokens(
                kind,
                &options.unwrap_or_default(),
                function,
            ));
        }
        Err(failure) => {
            out.extend(failure.error.to_compile_error());
            if let Some(name) = failure.name {
                if kind == Kind::Main && name.to_string() == "main" {
                    out.extend(parse("fn main() {}"));
                }
            }
        }
    }
    out
}

/// The whole function:
///
/// ```text
/// #[::core::prelude::v1::test]                              // test only
/// #attrs #vis fn #name() #output {
///     ::gokio::runtime::Builder::new()
///         .on_deadlock(::gokio::runtime::OnDeadlock::Panic) // test only
///         .worker_threads(#n)                               // if given
///         .detect_deadlocks(#b)                             // if given
///         .run(#future)                                     // see `future_tokens`
/// }
/// ```
fn function_tokens(kind: Kind, options: &Options, function: Function) -> TokenStream {
    let mut runtime = parse("::gokio::runtime::Builder::new()");
    if kind == Kind::Test {
        runtime.extend(parse(".on_deadlock(::gokio::runtime::OnDeadlock::Panic)"));
    }
    if let Some(n) = &options.worker_threads {
        runtime.extend(method_call(
            "worker_threads",
            n.span(),
            TokenTree::Literal(n.clone()),
        ));
    }
    if let Some(b) = &options.detect_deadlocks {
        runtime.extend(method_call(
            "detect_deadlocks",
            b.span(),
            TokenTree::Ident(b.clone()),
        ));
    }
    let body_span = function.body.span();
    let future = future_tokens(&function.output, function.body);
    // `.run(...)` gets the body's span: an error about the future as a
    // whole (most often "future cannot be sent between threads safely")
    // then points at the user's body rather than at the attribute.
    runtime.extend(method_call_stream("run", body_span, future));

    let mut out = TokenStream::new();
    if kind == Kind::Test {
        out.extend(parse("#[::core::prelude::v1::test]"));
    }
    out.extend(function.attrs);
    out.extend(function.vis);
    out.extend([
        TokenTree::Ident(function.fn_token),
        TokenTree::Ident(function.name),
        TokenTree::Group(Group::new(Delimiter::Parenthesis, TokenStream::new())),
    ]);
    out.extend(function.output);
    out.extend([TokenTree::Group(Group::new(Delimiter::Brace, runtime))]);
    out
}

/// The future the runtime runs: `async move #body`, with the body's value
/// annotated with the function's return type when that type can be named
/// (it cannot if it contains `impl Trait`):
///
/// ```text
/// async move {
///     #[allow(clippy::diverging_sub_expression)]
///     let __gokio_output: #type = #body;
///     { #![allow(unreachable_code)] __gokio_output }
/// }
/// ```
///
/// The annotation makes a wrongly typed tail expression an error at that
/// expression instead of at the attribute (rustc infers an `async` block's
/// output from its body alone, so a bound on the future would not do).
/// The `allow`s keep a diverging body, such as a server's `loop {}` or a
/// `#[should_panic]` test's `panic!()`, from warning: rustc would call
/// `__gokio_output` unreachable (that `allow` covers only the name, not the
/// user's body), and clippy would call the body a diverging sub-expression
/// of the `let` (tokio's attributes allow that lint for the same reason).
/// `return` and `?` in the body still leave the `async` block, with the
/// same type.
fn future_tokens(output: &[TokenTree], body: Group) -> TokenStream {
    let span = body.span();
    let mut future = TokenStream::from_iter([
        TokenTree::Ident(Ident::new("async", span)),
        TokenTree::Ident(Ident::new("move", span)),
    ]);
    // `output` is `-> Type`; the arrow is two tokens.
    let ty: TokenStream = match output.get(2..) {
        Some(ty) => ty.iter().cloned().collect(),
        None => parse("()"),
    };
    if mentions_impl(ty.clone()) {
        future.extend([TokenTree::Group(body)]);
        return future;
    }
    // A mixed-site name cannot clash with anything the user wrote.
    let binding = Ident::new("__gokio_output", Span::mixed_site());
    let mut block = parse("#[allow(clippy::diverging_sub_expression)]");
    block.extend([
        TokenTree::Ident(Ident::new("let", span)),
        TokenTree::Ident(binding.clone()),
        TokenTree::Punct(Punct::new(':', Spacing::Alone)),
    ]);
    block.extend(ty);
    block.extend([
        TokenTree::Punct(Punct::new('=', Spacing::Alone)),
        TokenTree::Group(body),
        TokenTree::Punct(Punct::new(';', Spacing::Alone)),
    ]);
    let mut tail = parse("#![allow(unreachable_code)]");
    tail.extend([TokenTree::Ident(binding)]);
    block.extend([TokenTree::Group(Group::new(Delimiter::Brace, tail))]);
    let mut block = Group::new(Delimiter::Brace, block);
    block.set_span(span);
    future.extend([TokenTree::Group(block)]);
    future
}

/// Whether a type contains `impl`, at any depth.
fn mentions_impl(ty: TokenStream) -> bool {
    ty.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident.to_string() == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

/// `.method(arg)`, with the method name spanned at the option that asked
/// for it.
fn method_call(method: &str, span: Span, arg: TokenTree) -> TokenStream {
    method_call_stream(method, span, TokenStream::from(arg))
}

fn method_call_stream(method: &str, span: Span, args: TokenStream) -> TokenStream {
    let mut dot = Punct::new('.', Spacing::Alone);
    dot.set_span(span);
    let mut args = Group::new(Delimiter::Parenthesis, args);
    args.set_span(span);
    TokenStream::from_iter([
        TokenTree::Punct(dot),
        TokenTree::Ident(Ident::new(method, span)),
        TokenTree::Group(args),
    ])
}

/// Tokenizes fixed code; its tokens get the call-site span.
fn parse(code: &str) -> TokenStream {
    code.parse().expect("the macro's own code tokenizes")
}
