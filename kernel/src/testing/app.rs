//! A service's HTTP app served on a port of its own for a test ([`TestApp`]), with a signing
//! key of its own for the test's access tokens; stopped when the handle is dropped. Failing to
//! bind or sign panics (these are fixtures); a request that gets no JSON answer panics with
//! what came back.

use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::{Claims, Keyring, Role, SigningKey, TokenVerifier};

/// The app `build` makes (given a verifier that trusts this fixture's key) served on
/// 127.0.0.1, port 0.
pub struct TestApp {
    pub url: String,
    key: SigningKey,
    http: reqwest::Client,
    shutdown: CancellationToken,
}

impl TestApp {
    pub async fn serve(build: impl FnOnce(TokenVerifier) -> Router) -> Self {
        let key = SigningKey::generate().expect("signing key");
        let verifier = TokenVerifier::from_jwks(&Keyring::new(key.clone(), vec![]).jwks())
            .expect("a verifier of the fixture's key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port for the test app");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shutdown = CancellationToken::new();
        tokio::spawn(crate::http::serve(
            listener,
            build(verifier),
            shutdown.clone(),
        ));
        Self {
            url,
            key,
            http: reqwest::Client::new(),
            shutdown,
        }
    }

    /// An access token for `user_id` in `role`, valid 10 minutes.
    pub fn token(&self, user_id: Uuid, role: Role) -> String {
        let claims = Claims::new(user_id, role, Utc::now().timestamp(), 600);
        self.key.sign(&claims).expect("sign")
    }

    /// The JSON answer to `query` at `/graphql`, with `token` as the bearer if given.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON response")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
