//! GraphQL as a client sends it: requests ([`Gql::gql`], [`Gql::data`], [`Platform::post`])
//! through a platform's router or any other endpoint ([`Endpoint`]: a second router, a
//! subgraph), signed-in sessions, and the errors a test looks for.
//!
//! Failing: no answer, an answer that is not JSON, or an HTTP 5xx fails the test with the URL
//! and body; [`Gql::data`] also fails it, with the query and the whole body, when the answer
//! has `errors`.

use std::future::Future;

use serde_json::{json, Value};

use super::*;

/// Sends a GraphQL request to `url` (with `token` as the bearer, if any) and returns the HTTP
/// status and the JSON body; no answer, or one that is not JSON, fails the test.
pub async fn post_graphql(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url} answers: {e}"));
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

/// A GraphQL endpoint a test talks to as a client would: a platform's router, or one of the
/// routers of the replicas test. The helpers that only send GraphQL take any of them.
pub trait Gql {
    /// A request; the JSON body. No answer, or an HTTP 5xx, fails the test.
    fn gql(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> impl Future<Output = Value>;

    /// A request that must succeed: its `data`. An answer with `errors` fails the test with the
    /// query and the whole body.
    fn data(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> impl Future<Output = Value> {
        async move { expect_data(query, self.gql(query, variables, token).await) }
    }

    /// Registers a user; the session, or a failed test naming the userErrors.
    fn register(&self, email: &str, name: &str) -> impl Future<Output = Session> {
        async move {
            let mutation = "mutation($input: RegisterInput!) { register(input: $input) {
                accessToken refreshToken expiresIn user { id } userErrors { code message field } } }";
            let input = json!({ "email": email, "password": PASSWORD, "name": name });
            let data = self.data(mutation, json!({ "input": input }), None).await;
            Session::from_payload(&data["register"])
        }
    }

    /// The `login` payload, success or not.
    fn login(&self, email: &str, password: &str) -> impl Future<Output = Value> {
        async move {
            let mutation = "mutation($input: LoginInput!) { login(input: $input) {
                accessToken refreshToken expiresIn user { id email role } userErrors { code message field } } }";
            let input = json!({ "email": email, "password": password });
            let body = self.gql(mutation, json!({ "input": input }), None).await;
            body["data"]["login"].clone()
        }
    }

    /// The admin `emporium up` created at start-up, signed in.
    fn admin(&self) -> impl Future<Output = Session> {
        async move { Session::from_payload(&self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await) }
    }

    /// A fresh customer with a unique email.
    fn customer(&self) -> impl Future<Output = Session> {
        async move { self.register(&unique_email(), "Test Customer").await }
    }
}

/// `body`'s `data`; fails the test with `query` and the whole body if it has `errors`.
pub fn expect_data(query: &str, mut body: Value) -> Value {
    assert!(
        body["errors"].is_null(),
        "GraphQL errors for `{}`: {body}",
        query.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    body["data"].take()
}

/// A GraphQL endpoint by URL (a router or a subgraph), reached with `http`.
pub struct Endpoint<'a> {
    pub http: &'a reqwest::Client,
    pub url: &'a str,
}

impl Gql for Endpoint<'_> {
    async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let (status, body) = post_graphql(self.http, self.url, query, variables, token).await;
        assert!(status < 500, "HTTP {status} from {}: {body}", self.url);
        body
    }
}

impl Gql for Platform {
    async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let (status, body) = self.post(query, variables, token).await;
        assert!(status < 500, "HTTP {status}: {body}");
        body
    }
}

impl Platform {
    /// Sends a GraphQL request through the router and returns the HTTP status and JSON body.
    pub async fn post(&self, query: &str, variables: Value, token: Option<&str>) -> (u16, Value) {
        post_graphql(self.http(), &self.graphql_url(), query, variables, token).await
    }

    /// A GraphQL request straight to a subgraph (no router); the JSON body.
    pub async fn subgraph_gql(
        &self,
        service: &str,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Value {
        let url = self.subgraph_graphql_url(service);
        Endpoint {
            http: self.http(),
            url: &url,
        }
        .gql(query, variables, token)
        .await
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
}

impl Session {
    pub fn from_payload(payload: &Value) -> Self {
        assert_eq!(
            payload["userErrors"],
            json!([]),
            "expected success: {payload}"
        );
        Self {
            access_token: payload["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
            refresh_token: payload["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_owned(),
            user_id: payload["user"]["id"].as_str().expect("user.id").to_owned(),
        }
    }

    pub fn token(&self) -> Option<&str> {
        Some(&self.access_token)
    }
}

/// The `extensions.code` of the first GraphQL error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a GraphQL error with a code: {body}"))
}

/// The codes of a payload's userErrors.
pub fn user_error_codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected userErrors: {payload}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}
