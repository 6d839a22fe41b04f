//! The attribute arguments: `worker_threads = N, detect_deadlocks = bool`.

use proc_macro::{Delimiter, Ident, Literal, Span, TokenStream, TokenTree};

use crate::error::Error;
use crate::expand::Kind;

/// The options given to the attribute, each kept with the user's span so
/// that type errors in the expansion still point at the attribute argument.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// Argument for `Builder::worker_threads`, already checked to be >= 1.
    pub(crate) worker_threads: Option<Literal>,
    /// `true` or `false`, for `Builder::detect_deadlocks`.
    pub(crate) detect_deadlocks: Option<Ident>,
}

impl Options {
    /// Parses the attribute's arguments, stopping at the first error.
    pub(crate) fn parse(kind: Kind, args: TokenStream) -> Result<Options, Error> {
        let mut options = Options::default();
        let mut option = Vec::new();
        for token in args {
            match token {
                TokenTree::Punct(ref p) if p.as_char() == ',' => {
                    if option.is_empty() {
                        return Err(Error::new(
                            p.span(),
                            format!("expected an option before `,` in {kind}: {EXPECTED}"),
                        ));
                    }
                    options.add(kind, std::mem::take(&mut option))?;
                }
                token => option.push(token),
            }
        }
        // A trailing comma leaves `option` empty, which is fine.
        if !option.is_empty() {
            options.add(kind, option)?;
        }
        Ok(options)
    }

    /// Adds one `name = value` option.
    fn add(&mut self, kind: Kind, tokens: Vec<TokenTree>) -> Result<(), Error> {
        let mut tokens = tokens.into_iter();
        let name = match tokens.next() {
            Some(TokenTree::Ident(name)) => name,
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    format!("expected an option name in {kind}: {EXPECTED}"),
                ))
            }
            None => unreachable!("`parse` never passes an empty option"),
        };
        let key = name.to_string();
        if key != "worker_threads" && key != "detect_deadlocks" {
            return Err(Error::new(
                name.span(),
                format!("unknown option `{key}` for {kind}: {EXPECTED}"),
            ));
        }
        match tokens.next() {
            Some(TokenTree::Punct(ref p)) if p.as_char() == '=' => {}
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    format!("expected `=` after `{key}` in {kind}"),
                ))
            }
            None => {
                return Err(Error::new(
                    name.span(),
                    format!("expected `=` and a value after `{key}` in {kind}"),
                ))
            }
        }
        let value = match tokens.next() {
            Some(value) => unwrap_none_group(value),
            None => {
                return Err(Error::new(
                    name.span(),
                    format!("expected a value after `{key} =` in {kind}"),
                ))
            }
        };
        if key == "worker_threads" {
            if self.worker_threads.is_some() {
                return Err(given_twice(kind, &name));
            }
            self.worker_threads = Some(worker_threads(kind, value)?);
        } else {
            if self.detect_deadlocks.is_some() {
                return Err(given_twice(kind, &name));
            }
            self.detect_deadlocks = Some(detect_deadlocks(kind, value)?);
        }
        // Checked after the value, so that `worker_threads = -1` is reported
        // as a bad value rather than as a stray `1`.
        if let Some(extra) = tokens.next() {
            return Err(Error::new(
                extra.span(),
                format!(
                    "unexpected token after `{key} = ...` in {kind}; options are separated by `,`"
                ),
            ));
        }
        Ok(())
    }
}

/// The list of valid options, for error messages.
const EXPECTED: &str = "expected `worker_threads = N` or `detect_deadlocks = bool`";

fn given_twice(kind: Kind, name: &Ident) -> Error {
    Error::new(
        name.span(),
        format!("option `{name}` is given twice in {kind}"),
    )
}

/// Checks `N` in `worker_threads = N`: a decimal integer literal, optionally
/// suffixed `usize`, at least 1. It is re-emitted unsuffixed, with its span.
fn worker_threads(kind: Kind, value: TokenTree) -> Result<Literal, Error> {
    let invalid = |span: Span| {
        Error::new(
            span,
            format!("`worker_threads` in {kind} expects a positive integer literal, like `worker_threads = 4`"),
        )
    };
    let TokenTree::Literal(literal) = value else {
        return Err(invalid(value.span()));
    };
    let text = literal.to_string();
    let digits = text.strip_suffix("usize").unwrap_or(&text).replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(literal.span()));
    }
    match digits.parse::<usize>() {
        Ok(0) => Err(Error::new(
            literal.span(),
            format!("`worker_threads` in {kind} must be at least 1"),
        )),
        Ok(n) => {
            let mut out = Literal::usize_unsuffixed(n);
            out.set_span(literal.span());
            Ok(out)
        }
        Err(_) => Err(Error::new(
            literal.span(),
            format!("`worker_threads` in {kind} is too large"),
        )),
    }
}

/// Checks `b` in `detect_deadlocks = b`: the keyword `true` or `false`.
fn detect_deadlocks(kind: Kind, value: TokenTree) -> Result<Ident, Error> {
    match value {
        TokenTree::Ident(ident) if ident.to_string() == "true" || ident.to_string() == "false" => {
            Ok(ident)
        }
        other => Err(Error::new(
            other.span(),
            format!("`detect_deadlocks` in {kind} expects `true` or `false`"),
        )),
    }
}

/// A value passed through a `macro_rules!` fragment (`$n:literal`) arrives
/// wrapped in an invisible group; look through it.
fn unwrap_none_group(token: TokenTree) -> TokenTree {
    if let TokenTree::Group(ref group) = token {
        if group.delimiter() == Delimiter::None {
            let mut inner = group.stream().into_iter();
            if let (Some(only), None) = (inner.next(), inner.next()) {
                return unwrap_none_group(only);
            }
        }
    }
    token
}
