//! Compile errors that point at the user's code.

use proc_macro::{Delimiter, Group, Literal, Span, TokenStream, TokenTree};

/// One error to report, with the span of the token it is about.
#[derive(Debug)]
pub(crate) struct Error {
    span: Span,
    message: String,
}

impl Error {
    /// An error about the token at `span`.
    pub(crate) fn new(span: Span, message: impl Into<String>) -> Self {
        Error {
            span,
            message: message.into(),
        }
    }

    /// `::core::compile_error! { "message" }`, every token spanned at the
    /// offending token so that rustc underlines the user's code and not the
    /// attribute.
    pub(crate) fn to_compile_error(&self) -> TokenStream {
        let path: TokenStream = "::core::compile_error!"
            .parse()
            .expect("a path always tokenizes");
        let mut message = Literal::string(&self.message);
        message.set_span(self.span);
        let mut args = Group::new(
            Delimiter::Brace,
            TokenStream::from(TokenTree::Literal(message)),
        );
        args.set_span(self.span);
        path.into_iter()
            .map(|mut token| {
                token.set_span(self.span);
                token
            })
            .chain([TokenTree::Group(args)])
            .collect()
    }
}
