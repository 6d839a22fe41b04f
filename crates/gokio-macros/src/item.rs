//! The annotated function: `#[attrs] vis async fn name() -> Type { body }`.

use proc_macro::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};

use crate::error::Error;
use crate::expand::Kind;

/// The parts of the annotated function that the expansion keeps.
#[derive(Debug)]
pub(crate) struct Function {
    /// Outer attributes (doc comments included), as `#` `[...]` pairs.
    pub(crate) attrs: Vec<TokenTree>,
    /// `pub`, `pub(crate)` and the like, or nothing.
    pub(crate) vis: Vec<TokenTree>,
    /// The `fn` keyword, kept for its span.
    pub(crate) fn_token: Ident,
    /// The function's name.
    pub(crate) name: Ident,
    /// `-> Type`, arrow included, or nothing.
    pub(crate) output: Vec<TokenTree>,
    /// The `{ ... }` body.
    pub(crate) body: Group,
}

/// Why the function cannot be expanded, and its name if parsing got that far
/// (so the expansion can still define something by that name).
#[derive(Debug)]
pub(crate) struct ParseError {
    pub(crate) error: Error,
    pub(crate) name: Option<Ident>,
}

impl Function {
    /// Parses the item the attribute is placed on.
    pub(crate) fn parse(kind: Kind, item: TokenStream) -> Result<Function, ParseError> {
        Parser {
            kind,
            tokens: item.into_iter().collect(),
            pos: 0,
            name: None,
        }
        .function()
    }
}

struct Parser {
    kind: Kind,
    tokens: Vec<TokenTree>,
    pos: usize,
    name: Option<Ident>,
}

impl Parser {
    fn function(mut self) -> Result<Function, ParseError> {
        let attrs = self.attrs()?;
        let vis = self.vis();

        // Qualifiers come in the order `const async unsafe extern "abi"`;
        // accept any order and judge them once `fn` is found.
        let mut is_async = false;
        let mut other_qualifier = None;
        while let Some(TokenTree::Ident(ident)) = self.peek() {
            match ident.to_string().as_str() {
                "async" => is_async = true,
                "const" | "unsafe" | "extern" => {
                    other_qualifier.get_or_insert_with(|| ident.clone());
                }
                _ => break,
            }
            self.pos += 1;
            if let Some(TokenTree::Literal(_)) = self.peek() {
                // The ABI string of `extern "C"`.
                self.pos += 1;
            }
        }

        let fn_token = match self.peek() {
            Some(TokenTree::Ident(ident)) if ident.to_string() == "fn" => ident.clone(),
            other => {
                let span = other.map_or_else(Span::call_site, TokenTree::span);
                return Err(self.error(
                    span,
                    format!("{} can only be applied to an `async fn`", self.kind),
                ));
            }
        };
        self.pos += 1;
        if let Some(TokenTree::Ident(name)) = self.peek() {
            self.name = Some(name.clone());
        }
        if !is_async {
            return Err(self.error(
                fn_token.span(),
                format!("{} requires an `async fn`", self.kind),
            ));
        }
        if let Some(qualifier) = other_qualifier {
            return Err(self.error(
                qualifier.span(),
                format!("{} functions cannot be `{qualifier}`", self.kind),
            ));
        }

        let name = match self.next() {
            Some(TokenTree::Ident(name)) => name,
            other => {
                let span = other.map_or(fn_token.span(), |t| t.span());
                return Err(self.error(span, "expected the function's name after `fn`"));
            }
        };

        match self.next() {
            Some(TokenTree::Group(params)) if params.delimiter() == Delimiter::Parenthesis => {
                if !params.stream().is_empty() {
                    return Err(self.error(
                        params.span(),
                        format!("{} functions take no arguments", self.kind),
                    ));
                }
            }
            Some(TokenTree::Punct(p)) if p.as_char() == '<' => {
                return Err(self.generic(p.span()));
            }
            other => {
                let span = other.map_or(name.span(), |t| t.span());
                return Err(self.error(span, format!("expected `()` after `{name}`")));
            }
        }

        let output = self.output()?;

        let body = match self.next() {
            Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => body,
            Some(TokenTree::Ident(ident)) if ident.to_string() == "where" => {
                return Err(self.generic(ident.span()));
            }
            other => {
                let span = other.map_or(name.span(), |t| t.span());
                return Err(self.error(span, "expected the function body `{ ... }`"));
            }
        };
        if let Some(extra) = self.next() {
            return Err(self.error(extra.span(), "unexpected token after the function body"));
        }

        Ok(Function {
            attrs,
            vis,
            fn_token,
            name,
            output,
            body,
        })
    }

    /// Outer attributes: `#` followed by `[...]`, any number of times.
    fn attrs(&mut self) -> Result<Vec<TokenTree>, ParseError> {
        let mut attrs = Vec::new();
        while let (Some(TokenTree::Punct(hash)), Some(TokenTree::Group(group))) =
            (self.tokens.get(self.pos), self.tokens.get(self.pos + 1))
        {
            if hash.as_char() != '#' || group.delimiter() != Delimiter::Bracket {
                break;
            }
            if self.kind == Kind::Test && is_test_attr(group) {
                return Err(self.error(
                    group.span(),
                    "#[gokio::test] already adds `#[test]`; remove this attribute",
                ));
            }
            attrs.push(TokenTree::Punct(hash.clone()));
            attrs.push(TokenTree::Group(group.clone()));
            self.pos += 2;
        }
        Ok(attrs)
    }

    /// `pub` and an optional `(crate)`, `(super)`, `(in path)`.
    fn vis(&mut self) -> Vec<TokenTree> {
        let mut vis = Vec::new();
        if let Some(TokenTree::Ident(ident)) = self.peek() {
            if ident.to_string() == "pub" {
                vis.push(self.tokens[self.pos].clone());
                self.pos += 1;
                if let Some(TokenTree::Group(group)) = self.peek() {
                    if group.delimiter() == Delimiter::Parenthesis {
                        vis.push(self.tokens[self.pos].clone());
                        self.pos += 1;
                    }
                }
            }
        }
        vis
    }

    /// `-> Type` up to the body or a `where` clause; nothing if there is no
    /// arrow.
    fn output(&mut self) -> Result<Vec<TokenTree>, ParseError> {
        let mut output = Vec::new();
        if !self.at_arrow() {
            return Ok(output);
        }
        // Angle brackets are plain punctuation in a token stream, so a brace
        // group inside them (`Foo<{ N }>`) is part of the type, not the
        // body. Track their depth, minding that `->` (as in
        // `Box<dyn Fn() -> u8>`) is not a closing bracket.
        let mut depth = 0usize;
        loop {
            if self.at_arrow() {
                output.extend(self.tokens[self.pos..self.pos + 2].iter().cloned());
                self.pos += 2;
                continue;
            }
            match self.peek() {
                None => break,
                Some(TokenTree::Group(g)) if depth == 0 && g.delimiter() == Delimiter::Brace => {
                    break
                }
                Some(TokenTree::Ident(ident)) if depth == 0 && ident.to_string() == "where" => {
                    break
                }
                Some(TokenTree::Punct(p)) if p.as_char() == '<' => depth += 1,
                Some(TokenTree::Punct(p)) if p.as_char() == '>' => depth = depth.saturating_sub(1),
                Some(_) => {}
            }
            output.push(self.tokens[self.pos].clone());
            self.pos += 1;
        }
        Ok(output)
    }

    fn at_arrow(&self) -> bool {
        matches!(
            (self.tokens.get(self.pos), self.tokens.get(self.pos + 1)),
            (Some(TokenTree::Punct(minus)), Some(TokenTree::Punct(gt)))
                if minus.as_char() == '-'
                    && minus.spacing() == proc_macro::Spacing::Joint
                    && gt.as_char() == '>'
        )
    }

    fn peek(&self) -> Option<&TokenTree> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<TokenTree> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn generic(&self, span: Span) -> ParseError {
        self.error(span, format!("{} functions cannot be generic", self.kind))
    }

    fn error(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError {
            error: Error::new(span, message),
            name: self.name.clone(),
        }
    }
}

/// Whether `[...]` is `[test]` or a path to the built-in test attribute,
/// such as `[::core::prelude::v1::test]`.
fn is_test_attr(group: &Group) -> bool {
    let tokens: Vec<String> = group.stream().into_iter().map(|t| t.to_string()).collect();
    match tokens.as_slice() {
        [only] => only == "test",
        [.., colon, last] => {
            last == "test"
                && colon == ":"
                && matches!(
                    tokens.first().map(String::as_str),
                    Some(":" | "core" | "std")
                )
        }
        _ => false,
    }
}
