//! A cap on how deeply a request's JSON nests, checked on the raw bytes before anything parses
//! them.
//!
//! hive-router decodes `variables` and `extensions` into recursive values and walks them
//! recursively: a body of about 70 KB whose `variables` nest 10,000 levels overflowed a worker's
//! stack in a release build (killing the whole process) and spun a debug build's worker
//! forever. This plugin runs in `on_graphql_params`, the hook hive-router calls with the raw
//! body before decoding it, and scans the bytes once, iteratively, in constant memory: a POST
//! body, or the `variables` and `extensions` of a GET's query string. Past the limit the client
//! gets `BAD_USER_INPUT` (HTTP 400, `extensions.reason` `JSON_TOO_DEEP`) and nothing is parsed.
//!
//! A WebSocket `subscribe` message is decoded by hive-router before this hook, which then gets
//! its parameters decoded: their `variables` and `extensions` are measured the same way,
//! iteratively, before anything else walks them.

use hive_router::sonic_rs::{self, JsonContainerTrait};
use hive_router::{
    async_trait,
    http::StatusCode,
    plugins::{
        hooks::on_graphql_params::{
            OnGraphQLParamsStartHookPayload, OnGraphQLParamsStartHookResult,
        },
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
    GraphQLError,
};
use serde::Deserialize;

use super::error_codes::{refusal, BAD_USER_INPUT};

/// Refuses requests whose JSON nests deeper than the configured depth.
pub struct JsonDepthLimit {
    max_depth: usize,
}

/// `plugins.emporium_json_depth_limit.config`.
#[derive(Debug, Deserialize)]
pub struct JsonDepthLimitConfig {
    /// Deepest nesting of objects and arrays accepted; the body's own object is level 1.
    pub max_depth: usize,
}

/// The precise reason, kept in `extensions.reason`.
const JSON_TOO_DEEP: &str = "JSON_TOO_DEEP";

/// How deep `{` and `[` nest, counted one byte at a time by the scanners of the request's JSON
/// and of the GraphQL document (each skips its own strings and comments first).
pub(crate) struct Nesting {
    depth: usize,
    max: usize,
}

impl Nesting {
    pub(crate) fn new(max: usize) -> Self {
        Self { depth: 0, max }
    }

    /// Counts `byte`; true once the nesting is deeper than the limit.
    pub(crate) fn deeper_after(&mut self, byte: u8) -> bool {
        match byte {
            b'{' | b'[' => {
                self.depth += 1;
                self.depth > self.max
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                false
            }
            _ => false,
        }
    }
}

/// Whether `{`/`[` nest deeper than `max` in `json`, outside strings; stops at the first level
/// past it. Malformed JSON is measured as far as it goes; the parser reports what is wrong.
pub fn exceeds_depth(json: &[u8], max: usize) -> bool {
    let mut nesting = Nesting::new(max);
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if byte == b'"' {
            in_string = true;
        } else if nesting.deeper_after(byte) {
            return true;
        }
    }
    false
}

/// Whether any of `values` (the members of a request's `variables` or `extensions`, level 3 of
/// the request's JSON) nests past `max`; iterative, so a deep value cannot exhaust the stack.
pub fn values_exceed_depth<'a>(
    values: impl Iterator<Item = &'a sonic_rs::Value>,
    max: usize,
) -> bool {
    let mut pending: Vec<(&sonic_rs::Value, usize)> = values.map(|value| (value, 3)).collect();
    while let Some((value, level)) = pending.pop() {
        if let Some(array) = value.as_array() {
            if level > max {
                return true;
            }
            pending.extend(array.iter().map(|item| (item, level + 1)));
        } else if let Some(object) = value.as_object() {
            if level > max {
                return true;
            }
            pending.extend(object.iter().map(|(_, item)| (item, level + 1)));
        }
    }
    false
}

/// The value of each `variables` and `extensions` parameter of a query string, decoded.
fn json_query_parameters(query: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    query.split('&').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        matches!(name, "variables" | "extensions").then(|| percent_decoded(value))
    })
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XY` a byte; a malformed
/// escape is kept as it is (hive-router refuses it later).
fn percent_decoded(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    out
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

impl JsonDepthLimit {
    fn error(&self) -> GraphQLError {
        let message = format!(
            "The request's JSON nests deeper than {} levels",
            self.max_depth
        );
        refusal(BAD_USER_INPUT, JSON_TOO_DEEP, message)
    }
}

#[async_trait]
impl RouterPlugin for JsonDepthLimit {
    plugin_setup!(
        "emporium_json_depth_limit",
        JsonDepthLimitConfig,
        |config| {
            Ok(Self {
                max_depth: config.max_depth,
            })
        }
    );

    async fn on_graphql_params<'exec>(
        &'exec self,
        payload: OnGraphQLParamsStartHookPayload<'exec>,
    ) -> OnGraphQLParamsStartHookResult<'exec> {
        let decoded_too_deep = payload.graphql_params.as_ref().is_some_and(|params| {
            values_exceed_depth(params.variables.values(), self.max_depth)
                || params
                    .extensions
                    .as_ref()
                    .is_some_and(|e| values_exceed_depth(e.values(), self.max_depth))
        });
        let too_deep = decoded_too_deep
            || exceeds_depth(&payload.body, self.max_depth)
            || json_query_parameters(payload.router_http_request.query_string)
                .any(|json| exceeds_depth(&json, self.max_depth));
        if too_deep {
            let error = self.error();
            return payload.end_with_graphql_error(error, StatusCode::BAD_REQUEST);
        }
        payload.proceed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert!(!exceeds_depth(br#"{"a":{"b":[1,2]}}"#, 3));
        assert!(exceeds_depth(br#"{"a":{"b":[[1]]}}"#, 3));
        assert!(!exceeds_depth(br#"{"a":"[[[[{{{{"}"#, 1));
        assert!(!exceeds_depth(br#"{"a":"\"[[[[{{{{"}"#, 1));
    }

    #[test]
    fn ten_thousand_levels_are_refused_without_recursion() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(exceeds_depth(deep.as_bytes(), 64));
    }

    #[test]
    fn query_string_json_is_decoded_before_it_is_measured() {
        let query = "query=%7B+me+%7B+id+%7D+%7D&variables=%7B%22a%22%3A%5B%5B%5B1%5D%5D%5D%7D";
        let decoded: Vec<Vec<u8>> = json_query_parameters(query).collect();
        assert_eq!(decoded, vec![br#"{"a":[[[1]]]}"#.to_vec()]);
        assert!(decoded.iter().any(|json| exceeds_depth(json, 3)));
        assert_eq!(percent_decoded("%zz%4"), b"%zz%4".to_vec());
    }

    #[test]
    fn decoded_values_are_measured_from_the_requests_root() {
        let shallow: sonic_rs::Value = sonic_rs::from_str(r#"{"a":[1,{"b":2}]}"#).expect("JSON");
        // The value sits at level 3; its array at 4 and the inner object at 5.
        assert!(!values_exceed_depth([&shallow].into_iter(), 5));
        assert!(values_exceed_depth([&shallow].into_iter(), 4));
        let deep: sonic_rs::Value =
            sonic_rs::from_str(&format!("{}1{}", "[".repeat(40), "]".repeat(40))).expect("JSON");
        assert!(values_exceed_depth([&deep].into_iter(), 32));
    }
}
