//! The public edge under hostile input: every request gets a clear answer (never a 5xx, a reset
//! or a hang), the next ordinary request is answered, and the platform's memory stays bounded.
//! Each input goes through the router and straight at a subgraph (products), which defends
//! itself too. Also: operation cost, per-client rate limits, timeouts and circuit breaking.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// Longest any single hostile request may take to be answered before the test calls it a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// The platform process (router, every subgraph, relays and consumers) must stay under this
/// resident size throughout; the 80-level introspection query once grew it to 23.8 GB.
const MAX_RSS_BYTES: u64 = 3 * 1024 * 1024 * 1024;

/// GraphiQL's own introspection query (graphql-js `getIntrospectionQuery()`, as GraphiQL 3.8
/// sends it): the playground needs it to pass every limit.
const GRAPHIQL_INTROSPECTION: &str = r#"query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}"#;

/// Resident memory of a process, from `/proc`.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// A request with a raw body; the answer's status and body, or why there was none.
async fn send(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, String), String> {
    let sent = http
        .post(url)
        .header("content-type", content_type)
        .header(
            "accept",
            "application/graphql-response+json, application/json",
        )
        .body(body)
        .timeout(ANSWER_WITHIN)
        .send()
        .await
        .map_err(|e| format!("no answer: {e:?}"))?;
    let status = sent.status().as_u16();
    let text = sent.text().await.map_err(|e| format!("no body: {e:?}"))?;
    Ok((status, text))
}

fn json_body(query: &str, variables: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "query": query, "variables": variables })).expect("JSON")
}

/// `{ __schema { types { fields { type { fields { type ... } } } } } }`, `levels` deep.
fn deep_introspection(levels: usize) -> String {
    let mut query = String::from("{ __schema { types { ");
    for i in 0..levels {
        query.push_str(if i % 2 == 0 { "fields { " } else { "type { " });
    }
    query.push_str("name ");
    query.push_str(&"} ".repeat(levels + 3));
    query
}

/// A JSON value nested `levels` deep: `{"a":{"a":...}}`.
fn nested_json(levels: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels))
}

/// One hostile input: its name, content type and body.
struct Case {
    name: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

fn case(name: &'static str, body: Vec<u8>) -> Case {
    Case {
        name,
        content_type: "application/json",
        body,
    }
}

/// The inputs every target gets.
fn hostile_inputs() -> Vec<Case> {
    let aliases = format!(
        "{{ {} }}",
        (0..5_000)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let duplicates = format!("{{ {} }}", "__typename ".repeat(20_000));
    let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let mut fan_out = String::from("query { ...F0 } ");
    for i in 0..30 {
        fan_out.push_str(&format!(
            "fragment F{i} on Query {{ ...F{next} ...F{next} }} ",
            next = i + 1
        ));
    }
    fan_out.push_str("fragment F30 on Query { __typename }");
    let directives = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(1_000));
    let batch: Vec<Value> = (0..1_000)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let mut invalid_utf8 = br#"{"query":"{ __typename }","variables":{"q":""#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid_utf8.extend_from_slice(br#""}}"#);
    let deep_variables = format!(
        r#"{{"query":"query($f: SearchFilter) {{ search(query: \"x\", filter: $f) {{ totalCount }} }}","variables":{{"f":{}}}}}"#,
        nested_json(10_000)
    );
    vec![
        case("deep introspection (80 levels)", json_body(&deep_introspection(80), json!({}))),
        case("5,000 aliases", json_body(&aliases, json!({}))),
        case("20,000 duplicate fields", json_body(&duplicates, json!({}))),
        case("a fragment cycle", json_body(cycle, json!({}))),
        case("a fragment fan-out bomb (2^30)", json_body(&fan_out, json!({}))),
        case("1,000 directives", json_body(&directives, json!({}))),
        case(
            "a 10 MB string",
            json_body("query($q: String!) { search(query: $q) { totalCount } }", json!({ "q": "x".repeat(10 * 1024 * 1024) })),
        ),
        case("variables nested 10,000 levels", deep_variables.into_bytes()),
        case("a JSON array of 1,000 operations", serde_json::to_vec(&batch).expect("JSON")),
        case("invalid UTF-8", invalid_utf8),
        Case {
            name: "a wrong content type",
            content_type: "text/plain",
            body: json_body("{ __typename }", json!({})),
        },
        Case {
            name: "a form body",
            content_type: "application/x-www-form-urlencoded",
            body: b"query=%7B__typename%7D".to_vec(),
        },
        case("unterminated JSON", br#"{"query":"{ __typename }","variables":{"#.to_vec()),
        case(
            "NUL bytes and bidi controls in arguments",
            json_body(
                "query($q: String!) { search(query: $q) { totalCount } products(category: $q) { nodes { id } } }",
                json!({ "q": "pho\u{0}ne \u{202e}\u{2066}evil\u{2069}" }),
            ),
        ),
        case("first: -1", json_body("{ products(first: -1) { nodes { id } } }", json!({}))),
        case(
            "first: 2147483647",
            json_body("{ products(first: 2147483647) { nodes { id } } }", json!({})),
        ),
        case(
            "a garbage cursor",
            json_body(r#"{ products(first: 5, after: "\u0000garbage==") { nodes { id } } }"#, json!({})),
        ),
    ]
}

/// Sends every hostile input to `url`; after each, an ordinary query must be answered.
async fn survive_hostile_inputs(platform: &mut Platform, url: &str, target: &str) {
    let http = reqwest::Client::new();
    for input in hostile_inputs() {
        let answer = send(&http, url, input.content_type, input.body).await;
        let (status, body) = answer
            .unwrap_or_else(|why| panic!("{target}, {}: {why}\n{}", input.name, platform.log()));
        assert!(
            status < 500,
            "{target}, {}: HTTP {status}: {}",
            input.name,
            &body[..body.len().min(500)]
        );
        if status >= 400 {
            let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            assert!(
                parsed["errors"][0]["message"].is_string(),
                "{target}, {}: HTTP {status} without a GraphQL error: {}",
                input.name,
                &body[..body.len().min(500)]
            );
        }
        let (status, body) = send(
            &http,
            url,
            "application/json",
            json_body("{ __typename }", json!({})),
        )
        .await
        .unwrap_or_else(|why| {
            panic!(
                "{target}: after {}, a plain query got {why}\n{}",
                input.name,
                platform.log()
            )
        });
        assert_eq!(status, 200, "{target}: after {}: {body}", input.name);
        assert!(
            platform.is_running(),
            "{target}: {} stopped the platform",
            input.name
        );
        let rss = rss_bytes(platform.pid());
        assert!(
            rss < MAX_RSS_BYTES,
            "{target}, {}: the platform grew to {rss} bytes",
            input.name
        );
    }
}

#[tokio::test]
async fn hostile_inputs_get_clear_errors_and_the_platform_stays_up_and_bounded() {
    let mut platform = Platform::start().await;
    let router = platform.graphql_url();
    let products = platform.subgraph_url("products");

    survive_hostile_inputs(&mut platform, &router, "router").await;
    survive_hostile_inputs(&mut platform, &products, "products subgraph").await;

    eprintln!(
        "platform RSS after every hostile input: {} MiB",
        rss_bytes(platform.pid()) / (1024 * 1024)
    );
}

#[tokio::test]
async fn deep_variables_are_refused_before_they_are_parsed() {
    let platform = Platform::start().await;
    let http = reqwest::Client::new();
    let query = "query($f: SearchFilter) { search(query: \"x\", filter: $f) { totalCount } }";
    let url = platform.graphql_url();
    // The filter `levels` deep below `f`, written by hand: serde_json would not build it.
    let with_filter = |levels: usize| {
        let body = format!(
            r#"{{"query":{},"variables":{{"f":{}}}}}"#,
            json!(query),
            nested_json(levels)
        );
        send(&http, &url, "application/json", body.into_bytes())
    };

    for levels in [33, 10_000] {
        let (status, text) = with_filter(levels - 1).await.expect("an answer");
        let body: Value = serde_json::from_str(&text).expect("JSON");
        assert!(status < 500, "{levels}: {body}");
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["reason"], "JSON_TOO_DEEP");
    }
    // At the limit (the body, `variables` and 30 levels below: 32) the JSON is parsed, and
    // the filter refused for what it says, not for its depth.
    let (_, text) = with_filter(30).await.expect("an answer");
    assert!(!text.contains("JSON_TOO_DEEP"), "{text}");

    // The same through GET's query string.
    let response = http
        .get(platform.graphql_url())
        .query(&[
            ("query", query),
            ("variables", &format!("{{\"f\":{}}}", nested_json(100))),
        ])
        .header("accept", "application/json")
        .send()
        .await
        .expect("an answer");
    assert!(response.status().as_u16() < 500);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "JSON_TOO_DEEP",
        "{body}"
    );
}

/// A JSON array nested `levels` deep: `[[[...]]]`, the densest nesting (two bytes a level).
fn nested_array(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

/// A graphql-transport-ws connection to the router, acknowledged.
async fn ws_connect(platform: &Platform) -> WsSocket {
    graphql_ws(&platform.graphql_url(), None).await
}

/// What the router did after a message: answered it, or closed the connection (with a code).
#[derive(Debug)]
enum WsAnswer {
    Message(Value),
    Closed(Option<u16>),
    /// The connection failed without a close frame.
    Reset(String),
}

async fn ws_answer(socket: &mut WsSocket) -> WsAnswer {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(ANSWER_WITHIN, socket.next())
            .await
            .expect("an answer from the router within the time a hang is called");
        match frame {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).expect("JSON message");
                if message["type"] != "ping" {
                    return WsAnswer::Message(message);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return WsAnswer::Closed(frame.map(|f| u16::from(f.code)))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return WsAnswer::Reset(format!("{e:?}")),
            None => return WsAnswer::Closed(None),
        }
    }
}

#[tokio::test]
async fn deeply_nested_websocket_messages_are_refused_and_the_router_stays_up_and_bounded() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut platform = Platform::start().await;
    let query = "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }";
    // The wrapper around the nested value, so the largest case fills one 64 KiB frame (the
    // most a text message may be; the codec refuses larger frames).
    let subscribe = |nested: &str| {
        format!(
            r#"{{"id":"1","type":"subscribe","payload":{{"query":{},"variables":{{"id":"x","f":{nested}}}}}}}"#,
            json!(query)
        )
    };
    let wrapper = subscribe("").len();
    let densest = (64 * 1024 - wrapper) / 2;
    let cases = [
        (
            "subscribe, variables 40 levels",
            subscribe(&nested_json(40)),
        ),
        (
            "subscribe, variables 300 levels",
            subscribe(&nested_json(300)),
        ),
        (
            "subscribe, variables 5,000 levels",
            subscribe(&nested_json(5_000)),
        ),
        (
            "subscribe, a 64 KiB frame of nested arrays",
            subscribe(&nested_array(densest)),
        ),
        (
            "connection payload, a 64 KiB frame of nested arrays",
            format!(
                r#"{{"type":"connection_init","payload":{{"a":{}}}}}"#,
                nested_array((64 * 1024 - 50) / 2)
            ),
        ),
        ("a frame over 64 KiB", subscribe(&nested_array(40_000))),
    ];
    for (name, message) in cases {
        eprintln!("WebSocket case: {name}");
        let mut socket = ws_connect(&platform).await;
        socket
            .send(Message::text(message))
            .await
            .unwrap_or_else(|e| panic!("{name}: sending failed: {e:?}"));
        match ws_answer(&mut socket).await {
            // hive-router answers a refused operation as `next` with errors (then `complete`);
            // the protocol's own `error` message carries the errors as its payload.
            WsAnswer::Message(answer) => {
                let errors = match answer["type"].as_str() {
                    Some("next") => &answer["payload"]["errors"],
                    Some("error") => &answer["payload"],
                    _ => panic!("{name}: {answer}"),
                };
                assert!(errors[0]["message"].is_string(), "{name}: {answer}");
                assert!(answer["payload"]["data"].is_null(), "{name}: {answer}");
            }
            // graphql-transport-ws closes with 4400 on a message it cannot read; 1002 and
            // 1009 are the WebSocket codec's protocol error and message too big.
            WsAnswer::Closed(code) => assert!(
                matches!(code, Some(4400 | 4429 | 1002 | 1009)),
                "{name}: closed with {code:?}"
            ),
            // ntex's WebSocket codec drops a connection whose frame is over its 64 KiB limit
            // without a close frame, and the unread rest of the frame makes the kernel reset
            // it. Anything else reset is what a crashed worker looks like.
            WsAnswer::Reset(why) => assert!(
                name == "a frame over 64 KiB",
                "{name}: the connection failed instead of closing: {why}"
            ),
        }
        // The next connection and an ordinary request are answered at once.
        let mut next = ws_connect(&platform).await;
        next.send(Message::text(json!({ "type": "ping" }).to_string()))
            .await
            .expect("ping");
        match ws_answer(&mut next).await {
            WsAnswer::Message(pong) => assert_eq!(pong["type"], "pong", "{name}: {pong}"),
            other => panic!("{name}: then a ping got {other:?}\n{}", platform.log()),
        }
        let body = platform.gql("{ __typename }", json!({}), None).await;
        assert_eq!(body["data"]["__typename"], "Query", "after {name}: {body}");
        assert!(platform.is_running(), "{name} stopped the platform");
        let rss = rss_bytes(platform.pid());
        assert!(
            rss < MAX_RSS_BYTES,
            "{name}: the platform grew to {rss} bytes"
        );
    }
}

#[tokio::test]
async fn introspection_is_limited_like_any_query_and_graphiqls_own_query_passes() {
    let platform = Platform::start().await;

    let body = platform.gql(GRAPHIQL_INTROSPECTION, json!({}), None).await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(body["data"]["__schema"]["types"]
        .as_array()
        .is_some_and(|t| t.len() > 20));

    let body = platform.gql(&deep_introspection(20), json!({}), None).await;
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "MAX_DEPTH_EXCEEDED"
    );
}

#[tokio::test]
async fn introspection_can_be_turned_off_for_production() {
    let platform = Platform::start_with(Options {
        env: vec![("EMPORIUM_INTROSPECTION", "false".into())],
        ..Options::default()
    })
    .await;

    let body = platform
        .gql("{ __schema { types { name } } }", json!({}), None)
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = platform
        .gql("{ products(first: 1) { totalCount } }", json!({}), None)
        .await;
    assert_eq!(body["data"]["products"]["totalCount"], 0, "{body}");
}

#[tokio::test]
async fn documents_at_each_limit_pass_and_just_over_it_are_query_too_complex() {
    let platform = Platform::start().await;
    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    // Inline fragments, each with @skip and @include (a directive may not repeat in one place).
    let directives = |n: usize| {
        let pairs = "... @skip(if: false) @include(if: true) { __typename } ".repeat(n / 2);
        let odd = if n % 2 == 1 {
            "... @skip(if: false) { __typename }"
        } else {
            ""
        };
        format!("{{ {pairs}{odd} }}")
    };
    // `__typename` padded with spaces to exactly `n` characters.
    let long = |n: usize| format!("{{ __typename{}}}", " ".repeat(n - "{ __typename}".len()));
    // Tokens: `{`, `}`, inline fragments of 4 tokens (`...`, `{`, `__typename`, `}`) and
    // single `__typename`s for the rest; dense enough to stay under the length limit.
    let tokens = |n: usize| {
        let (fragments, rest) = ((n - 2) / 4, (n - 2) % 4);
        format!(
            "{{{}{}}}",
            "...{__typename}".repeat(fragments),
            " __typename".repeat(rest)
        )
    };
    for (limit, at, over) in [
        ("aliases", aliases(30), aliases(31)),
        ("directives", directives(50), directives(51)),
        ("document length", long(20_000), long(20_001)),
        // hive-router counts the end of input as a token: 2,999 of the document's own pass.
        ("tokens", tokens(2_999), tokens(3_001)),
    ] {
        let (status, body) = platform.post(&at, json!({}), None).await;
        assert_eq!(status, 200, "at the {limit} limit: {body}");
        assert!(body["errors"].is_null(), "at the {limit} limit: {body}");
        let (status, body) = platform.post(&over, json!({}), None).await;
        assert!(status < 500, "over the {limit} limit: HTTP {status}");
        assert_eq!(
            error_code(&body),
            "QUERY_TOO_COMPLEX",
            "over the {limit} limit: {body}"
        );
    }
}

#[tokio::test]
async fn every_response_reports_its_cost_and_an_operation_over_the_maximum_never_runs() {
    let platform = Platform::start().await;

    let query = "{ products(first: 5) { nodes { id name price { amount } } } }";
    let body = platform.gql(query, json!({}), None).await;
    let cost = &body["extensions"]["cost"];
    // The connection (1), 5 nodes (5) and each one's price (5).
    assert_eq!(cost["requestedQueryCost"], 11, "{body}");
    assert_eq!(cost["actualQueryCost"], 1, "an empty catalogue: {body}");
    let throttle = &cost["throttleStatus"];
    assert_eq!(throttle["maximumAvailable"], 100_000_000, "{body}");
    assert!(throttle["currentlyAvailable"].as_u64().is_some(), "{body}");
    assert_eq!(throttle["restoreRate"], 100_000_000, "{body}");

    // A mutation whose selection is too expensive is refused before the users subgraph sees
    // it: the account it would have created does not exist.
    let email = unique_email();
    let expensive = "mutation($input: RegisterInput!) { register(input: $input) { user {
        orders(first: 100) { nodes { items { product { name } } history { status } } } } } }";
    let (status, body) = platform
        .post(
            expensive,
            json!({ "input": { "email": email, "password": PASSWORD, "name": "Costly" } }),
            None,
        )
        .await;
    assert!(status < 500, "HTTP {status}: {body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "COST_ESTIMATED_TOO_EXPENSIVE"
    );
    let login = platform.login(&email, PASSWORD).await;
    assert_eq!(
        user_error_codes(&login),
        vec!["INVALID_CREDENTIALS"],
        "{login}"
    );
}

/// A platform whose clients each get a small budget: 100 points, 1 a second.
async fn small_budget_platform(extra: Vec<(&'static str, String)>) -> Platform {
    let mut env = vec![
        ("EMPORIUM_MAX_QUERY_COST", "100".to_owned()),
        ("EMPORIUM_RATE_LIMIT_CAPACITY", "100".to_owned()),
        ("EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC", "1".to_owned()),
    ];
    env.extend(extra);
    Platform::start_with(Options {
        env,
        ..Options::default()
    })
    .await
}

/// A page of `$n` products: estimated at 1 + n. An operation takes its estimate from the budget
/// before it runs, and gets back what it did not spend (here nearly all: the catalogue is
/// empty), so a burst of pages of 99 (cost 100) finds a budget of 100 short at the second.
const TWENTY_PRODUCTS: &str = "query($n: Int) { products(first: $n) { nodes { id } } }";

/// Sends pages estimated near the whole budget until a 429 comes back; returns that response.
async fn spend_until_refused(url: &str, token: Option<&str>) -> reqwest::Response {
    let http = reqwest::Client::new();
    for n in 0..50 {
        let mut request = http
            .post(url)
            // Varied variables, so no two requests are deduplicated into one.
            .json(&json!({ "query": TWENTY_PRODUCTS, "variables": { "n": 99 - (n % 2) } }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("an answer");
        if response.status() == 429 {
            return response;
        }
        assert_eq!(response.status(), 200);
    }
    panic!("50 requests of cost ~100 never exhausted a budget of 100");
}

#[tokio::test]
async fn a_burst_from_one_user_is_throttled_while_another_user_is_served_and_the_budget_refills() {
    let platform = small_budget_platform(vec![]).await;
    let (greedy, other) = (platform.customer().await, platform.customer().await);

    let refused = spend_until_refused(&platform.graphql_url(), greedy.token()).await;
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    assert!(
        body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"].as_u64() < Some(100)
    );

    let (status, body) = platform
        .post(TWENTY_PRODUCTS, json!({ "n": 99 }), other.token())
        .await;
    assert_eq!(status, 200, "another user is unaffected: {body}");

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let (status, body) = platform
        .post(TWENTY_PRODUCTS, json!({ "n": 97 }), greedy.token())
        .await;
    assert_eq!(status, 200, "the budget refilled after Retry-After: {body}");
}

#[tokio::test]
async fn two_routers_sharing_one_redis_enforce_one_budget() {
    let platform = small_budget_platform(vec![]).await;
    let second = platform
        .spawn_router(&[
            ("EMPORIUM_MAX_QUERY_COST", "100".to_owned()),
            ("EMPORIUM_RATE_LIMIT_CAPACITY", "100".to_owned()),
            ("EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC", "1".to_owned()),
        ])
        .await;
    let admin = platform.admin().await;
    for _ in 0..20 {
        new_product(&platform, &admin, json!({})).await;
    }
    let customer = platform.customer().await;

    // Pages of 20 of the 20 products cost 21, estimated and spent: a budget of 100 pays for 4
    // (and at 1 point a second, not a fifth within this test). Two separate budgets would pay
    // for 8 before the first refusal.
    let http = reqwest::Client::new();
    let routers = [platform.graphql_url(), second.url.clone()];
    let mut served = 0;
    for n in 0..10 {
        let response = http
            .post(&routers[n % 2])
            .bearer_auth(&customer.access_token)
            .json(&json!({ "query": TWENTY_PRODUCTS, "variables": { "n": 20 } }))
            .send()
            .await
            .expect("an answer");
        if response.status() == 429 {
            break;
        }
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["extensions"]["cost"]["actualQueryCost"], 21, "{body}");
        served += 1;
    }
    assert!(
        (4..=5).contains(&served),
        "one budget of 100 served {served} pages of cost 21 through two routers"
    );
}

#[tokio::test]
async fn with_the_rate_limiters_redis_unreachable_requests_are_served_and_counted() {
    let dead_redis = format!("redis://127.0.0.1:{}", free_port());
    let platform = small_budget_platform(vec![("EMPORIUM_RATE_LIMIT_REDIS_URL", dead_redis)]).await;

    for n in 0..12 {
        let (status, body) = platform
            .post(TWENTY_PRODUCTS, json!({ "n": 20 - (n % 3) }), None)
            .await;
        assert_eq!(status, 200, "request {n} is served without Redis: {body}");
        assert!(
            body["extensions"]["cost"]["throttleStatus"].is_null(),
            "{body}"
        );
    }
    let metrics = platform
        .get_text(&format!("{}/metrics", platform.router))
        .await;
    let failed_open: f64 = metrics
        .lines()
        .find(|l| l.starts_with("emporium_rate_limit_fail_open"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("the fail-open counter is exported: {metrics}"));
    assert!(failed_open >= 1.0, "{failed_open}");
}

/// A TCP proxy in front of a subgraph that can forward, hang (accept and never answer) or
/// refuse (accept and close at once).
mod proxy {
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::Arc;

    pub const FORWARD: u8 = 0;
    pub const HANG: u8 = 1;
    pub const REFUSE: u8 = 2;

    pub struct Proxy {
        pub port: u16,
        mode: Arc<AtomicU8>,
        connections: Arc<std::sync::atomic::AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Proxy {
        pub async fn start(upstream: u16) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a proxy port");
            let port = listener.local_addr().expect("an address").port();
            let mode = Arc::new(AtomicU8::new(FORWARD));
            let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let task = tokio::spawn({
                let mode = mode.clone();
                let connections = connections.clone();
                async move {
                    while let Ok((client, _)) = listener.accept().await {
                        connections.fetch_add(1, Ordering::SeqCst);
                        match mode.load(Ordering::SeqCst) {
                            REFUSE => drop(client),
                            HANG => {
                                tokio::spawn(async move {
                                    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                                    drop(client);
                                });
                            }
                            _ => {
                                let mode = mode.clone();
                                tokio::spawn(async move {
                                    if let Ok(server) =
                                        tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                                            .await
                                    {
                                        forward(client, server, mode).await;
                                    }
                                });
                            }
                        }
                    }
                }
            });
            Self {
                port,
                mode,
                connections,
                task,
            }
        }

        /// Connections accepted so far.
        pub fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }

        pub fn set(&self, mode: u8) {
            self.mode.store(mode, Ordering::SeqCst);
        }
    }

    /// Copies both ways; before passing on each chunk the client sends, looks at the mode, so
    /// a pooled connection opened while forwarding also hangs or closes when told to.
    async fn forward(
        client: tokio::net::TcpStream,
        server: tokio::net::TcpStream,
        mode: Arc<AtomicU8>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let back = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        });
        let mut buffer = vec![0u8; 16 * 1024];
        while let Ok(read) = client_read.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            match mode.load(Ordering::SeqCst) {
                REFUSE => break,
                HANG => {
                    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                    break;
                }
                _ => {
                    if server_write.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            }
        }
        back.abort();
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.task.abort();
        }
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL")
}

/// The search subgraph's field (quick on any machine, unlike the catalogue on the MongoDB
/// stand-in) and a nullable one of the orders subgraph (a failing non-null field would null
/// the whole answer).
const SEARCH_AND_AN_ORDER: &str = "query($n: Int) { search(query: \"x\", first: $n) { totalCount } order(id: \"01935c0e-0000-7000-8000-000000000000\") { id } }";

/// The platform, a second router whose orders subgraph sits behind a test proxy, and a customer
/// asking that router [`SEARCH_AND_AN_ORDER`].
struct ProxiedOrders {
    platform: Platform,
    proxy: proxy::Proxy,
    router: RouterProcess,
    customer: Session,
    http: reqwest::Client,
}

impl ProxiedOrders {
    async fn start(env: &[(&str, String)]) -> Self {
        let platform = Platform::start().await;
        let proxy = proxy::Proxy::start(port_of(&platform.subgraph_url("orders"))).await;
        let mut env = env.to_vec();
        env.push((
            "EMPORIUM_ORDERS_URL",
            format!("http://127.0.0.1:{}", proxy.port),
        ));
        let router = platform.spawn_router(&env).await;
        let customer = platform.customer().await;
        Self {
            platform,
            proxy,
            router,
            customer,
            http: reqwest::Client::new(),
        }
    }

    /// The query with `first: n` (varied, so hive-router never merges two asks into one).
    async fn ask(&self, n: u32) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(&self.router.url)
            .bearer_auth(&self.customer.access_token)
            .json(&json!({ "query": SEARCH_AND_AN_ORDER, "variables": { "n": n } }))
            .timeout(ANSWER_WITHIN)
            .send()
            .await
    }
}

#[tokio::test]
async fn a_subgraph_past_its_timeout_gives_a_clean_error_and_the_rest_of_the_answer() {
    let setup = ProxiedOrders::start(&[("EMPORIUM_SUBGRAPH_TIMEOUT_MS", "2000".to_owned())]).await;
    let (platform, proxy, router, http) =
        (&setup.platform, &setup.proxy, &setup.router, &setup.http);
    let ask = |n: u32| setup.ask(n);

    proxy.set(proxy::HANG);
    let response = ask(1)
        .await
        .expect("an answer despite the hanging subgraph");
    assert!(response.status().as_u16() < 500, "{}", response.status());
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body["data"]["search"]["totalCount"], 0,
        "partial data: {body}"
    );
    assert!(body["errors"][0]["message"].is_string(), "{body}");

    let (status, body) = platform.post("{ __typename }", json!({}), None).await;
    assert_eq!(status, 200, "the platform's own router is healthy: {body}");
    let health = http
        .get(router.url.replace("/graphql", "/health"))
        .send()
        .await;
    assert!(
        health.is_ok_and(|r| r.status().is_success()),
        "the router stays healthy"
    );
}

#[tokio::test]
async fn a_failing_subgraph_trips_its_breaker_and_service_resumes_when_it_returns() {
    let setup = ProxiedOrders::start(&[
        ("EMPORIUM_BREAKER_VOLUME", "4".to_owned()),
        // Long enough that the breaker is still open when the test looks, however slow the
        // machine; recovery then waits for it.
        ("EMPORIUM_BREAKER_RESET_MS", "8000".to_owned()),
    ])
    .await;
    let proxy = &setup.proxy;
    let ask = |n: u32| setup.ask(n);

    proxy.set(proxy::REFUSE);
    let mut messages = Vec::new();
    for n in 0..10 {
        let body: Value = ask(n).await.expect("an answer").json().await.expect("JSON");
        assert_eq!(
            body["data"]["search"]["totalCount"], 0,
            "partial data: {body}"
        );
        messages.push(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    // Once open, the breaker answers without calling the subgraph at all.
    let calls_before = proxy.connections();
    let body: Value = ask(11)
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        body["data"]["search"]["totalCount"], 0,
        "partial data: {body}"
    );
    assert!(body["errors"].is_array(), "{body}");
    eprintln!("errors seen while failing: {messages:?}; with the breaker open: {body}");
    assert_eq!(
        proxy.connections(),
        calls_before,
        "the open breaker answered without calling the subgraph: {body}"
    );

    proxy.set(proxy::FORWARD);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = ask(12)
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        // The orders subgraph answers again: its own NOT_FOUND for an order that is not there.
        if body["errors"][0]["extensions"]["code"] == "NOT_FOUND" {
            assert!(body["data"]["order"].is_null(), "no such order: {body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "service did not resume: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn slow_clients_holding_connections_open_starve_no_one_and_are_cut_off() {
    let platform = Platform::start_with(Options {
        env: vec![
            ("EMPORIUM_REQUEST_TIMEOUT_MS", "3000".into()),
            ("EMPORIUM_SUBGRAPH_TIMEOUT_MS", "2000".into()),
        ],
        ..Options::default()
    })
    .await;
    let address = platform.router.trim_start_matches("http://").to_owned();

    // 20 clients send half a request head, and 20 more a head promising a body they never send.
    let mut slow = Vec::new();
    for i in 0..40 {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        let head = if i % 2 == 0 {
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Ty".to_owned()
        } else {
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"query\":".to_owned()
        };
        stream.write_all(head.as_bytes()).expect("write");
        slow.push(stream);
    }

    for n in 0..5 {
        let query = "query($n: Int) { products(first: $n) { totalCount } }";
        let (status, body) = platform.post(query, json!({ "n": n + 1 }), None).await;
        assert_eq!(status, 200, "served while slow clients wait: {body}");
    }

    // Each slow connection is closed by the server (end of stream or an error, possibly after
    // a 408/400 answer) instead of being held forever.
    let cut_off = tokio::task::spawn_blocking(move || {
        slow.into_iter()
            .map(|mut stream| {
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .expect("timeout");
                let mut buffer = Vec::new();
                match stream.read_to_end(&mut buffer) {
                    Ok(_) => true,
                    Err(e) => {
                        e.kind() != std::io::ErrorKind::WouldBlock
                            && e.kind() != std::io::ErrorKind::TimedOut
                    }
                }
            })
            .filter(|closed| *closed)
            .count()
    })
    .await
    .expect("join");
    assert_eq!(cut_off, 40, "every slow client is cut off");
}
