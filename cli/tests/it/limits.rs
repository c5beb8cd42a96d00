//! Abuse limits: each answered with a clear GraphQL error, never a 5xx.

use serde_json::{json, Value};

use crate::helpers::*;

fn codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors: {body}"))
        .iter()
        .map(|e| {
            let ext = &e["extensions"];
            (
                ext["code"].as_str().unwrap_or_default().to_owned(),
                ext["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn too_deep_too_many_aliases_and_too_long_queries_are_query_too_complex() {
    let platform = Platform::start().await;
    let deep = format!("{{ me {}{}}}", "{ a ".repeat(16), "} ".repeat(16));
    let aliases = format!(
        "{{ {} }}",
        (0..31)
            .map(|i| format!("a{i}: me {{ id }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let long = format!("{{ me {{ id }} }}{}", " ".repeat(25_000));

    for (what, query) in [("deep", deep), ("aliases", aliases), ("long", long)] {
        let (status, body) = platform.post(&query, json!({}), None).await;
        assert!(status < 500, "{what}: HTTP {status}");
        let reasons = codes(&body);
        assert!(
            reasons.iter().any(|(code, _)| code == "QUERY_TOO_COMPLEX"),
            "{what}: {body}"
        );
        assert!(body["data"].is_null(), "{what}: nothing executed: {body}");
    }
}

#[tokio::test]
async fn a_page_over_100_is_bad_user_input_with_a_message_that_says_why() {
    let platform = Platform::start().await;
    let body = platform
        .gql("{ products(first: 101) { totalCount } }", json!({}), None)
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("100"),
        "{body}"
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_a_graphql_error() {
    let platform = Platform::start().await;
    let padding = "x".repeat(300 * 1024);
    let response = platform
        .http()
        .post(platform.graphql_url())
        .json(&json!({ "query": "{ me { id } }", "variables": { "padding": padding } }))
        .send()
        .await
        .expect("router answers");

    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.expect("a GraphQL error body");
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn malformed_requests_are_client_errors() {
    let platform = Platform::start().await;
    let response = platform
        .http()
        .post(platform.graphql_url())
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .expect("router answers");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("a GraphQL error body");
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}
