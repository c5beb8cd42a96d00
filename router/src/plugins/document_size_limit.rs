//! Caps on the size and the nesting of the GraphQL document, checked before it is parsed.
//!
//! The body limit bounds bytes on the wire; this bounds the work the parser, validator and
//! planner may be asked to do for one document. The nesting of `{` and `[` in the text (outside
//! strings and comments) bounds how deep the parser recurses and how deep the document is:
//! hive-router 0.2.19 normalises every parsed document before any limit applies, and on a debug
//! build an introspection query nested 46 levels wedged a worker there for good. It runs in `on_graphql_parse`, before the
//! parse cache is consulted. Over HTTP the client gets `QUERY_TOO_COMPLEX`; over WebSocket
//! hive-router 0.2.19 turns any early response from this hook into its own generic error
//! ("Unexpected early response during parse", `INTERNAL_SERVER_ERROR`), so the operation is
//! still refused but with that code (WebSocket frames are capped at 64 KiB anyway).

use hive_router::{
    async_trait,
    http::StatusCode,
    plugins::{
        hooks::on_graphql_parse::{OnGraphQLParseHookResult, OnGraphQLParseStartHookPayload},
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
    GraphQLError,
};
use serde::Deserialize;

use super::error_codes::{refusal, QUERY_TOO_COMPLEX};
use super::json_depth_limit::Nesting;

/// Rejects documents longer than the configured number of characters.
pub struct DocumentSizeLimit {
    max_chars: usize,
    max_nesting: usize,
}

/// `plugins.emporium_document_size_limit.config`.
#[derive(Debug, Deserialize)]
pub struct DocumentSizeLimitConfig {
    /// Most characters accepted in the `query` string.
    pub max_chars: usize,
    /// Deepest nesting of `{` and `[` accepted in the document's text.
    pub max_nesting: usize,
}

/// Whether `{`/`[` nest deeper than `max` in a GraphQL document, outside strings, block
/// strings and comments. One pass, constant memory.
pub fn nests_deeper_than(document: &str, max: usize) -> bool {
    let bytes = document.as_bytes();
    let mut nesting = Nesting::new(max);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            byte if nesting.deeper_after(byte) => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// The original reason, kept in `extensions.reason`.
const DOCUMENT_TOO_LARGE: &str = "DOCUMENT_TOO_LARGE";

impl DocumentSizeLimit {
    fn is_too_large(&self, document: &str) -> bool {
        // `len()` is bytes, which is at least the character count: count characters only
        // when the cheap check cannot decide.
        document.len() > self.max_chars && document.chars().count() > self.max_chars
    }

    fn nesting_error(&self) -> GraphQLError {
        let message = format!(
            "The GraphQL document nests deeper than {} levels",
            self.max_nesting
        );
        refusal(QUERY_TOO_COMPLEX, "MAX_DEPTH_EXCEEDED", message)
    }

    fn error(&self) -> GraphQLError {
        let message = format!(
            "The GraphQL document is longer than {} characters",
            self.max_chars
        );
        refusal(QUERY_TOO_COMPLEX, DOCUMENT_TOO_LARGE, message)
    }
}

#[async_trait]
impl RouterPlugin for DocumentSizeLimit {
    plugin_setup!(
        "emporium_document_size_limit",
        DocumentSizeLimitConfig,
        |config| {
            Ok(Self {
                max_chars: config.max_chars,
                max_nesting: config.max_nesting,
            })
        }
    );

    async fn on_graphql_parse<'exec>(
        &'exec self,
        payload: OnGraphQLParseStartHookPayload<'exec>,
    ) -> OnGraphQLParseHookResult<'exec> {
        let document = payload.graphql_params.query.as_deref().unwrap_or_default();
        if self.is_too_large(document) {
            let error = self.error();
            return payload.end_with_graphql_error(error, StatusCode::BAD_REQUEST);
        }
        if nests_deeper_than(document, self.max_nesting) {
            let error = self.nesting_error();
            return payload.end_with_graphql_error(error, StatusCode::BAD_REQUEST);
        }
        payload.proceed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_up_to_the_limit_pass_and_longer_ones_do_not() {
        let limit = DocumentSizeLimit {
            max_chars: 5,
            max_nesting: 3,
        };
        assert!(!limit.is_too_large("{ a }"));
        assert!(limit.is_too_large("{ ab }"));
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        let limit = DocumentSizeLimit {
            max_chars: 5,
            max_nesting: 3,
        };
        assert!(!limit.is_too_large("{ é }"));
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        assert!(!nests_deeper_than("{ a { b { c } } }", 3));
        assert!(nests_deeper_than("{ a { b { c { d } } } }", 3));
        assert!(nests_deeper_than("{ a(x: [[[[1]]]]) }", 3));
        assert!(!nests_deeper_than("{ a(x: \"{{{{[[\\\"{{\") }", 1));
        assert!(!nests_deeper_than(
            "{ a(x: \"\"\"{{{{ \\\"\"\" {{\"\"\") }",
            1
        ));
        assert!(!nests_deeper_than("{ a # {{{{{\n }", 1));
    }
}
