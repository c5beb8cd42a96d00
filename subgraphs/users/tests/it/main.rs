//! The users service against a real Postgres, driven through its GraphQL schema with a clock
//! the tests move (session lifetimes are days; nothing here sleeps), and its signing keys
//! rotated while logins happen.

mod email;
mod rotation;
mod sessions;

use std::sync::{Arc, Mutex};

use async_graphql::{Request, Variables};
use chrono::{DateTime, Duration, Utc};
use emporium_kernel::auth::{ClientKey, Keyring, SigningKey, TokenVerifier};
use emporium_kernel::mail::{MailQueue, Mailer, RetryPolicy};
use emporium_kernel::testing::{parse_mail, ReceivedMail, TestPostgres};
use emporium_kernel::trace::TraceContext;
use emporium_users::{Clock, Settings, UsersSchema, UsersState};
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";

/// A clock that only moves when told to.
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// The users service on its own database, with its schema, clock and token verifier.
pub struct Users {
    pub schema: UsersSchema,
    pub state: UsersState,
    pub clock: Arc<TestClock>,
    pub verifier: TokenVerifier,
    /// Where the service's mail goes (`.eml` files).
    pub mail_dir: std::path::PathBuf,
    _postgres: TestPostgres,
}

impl Drop for Users {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

impl Users {
    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    pub async fn start_with(settings: Settings) -> Self {
        let keyring = Keyring::new(SigningKey::generate().expect("key"), vec![]);
        Self::start_with_keyring(settings, keyring).await
    }

    pub async fn start_with_keyring(settings: Settings, keyring: Keyring) -> Self {
        let (postgres, pool) = TestPostgres::migrated(&emporium_users::MIGRATOR).await;
        let verifier = TokenVerifier::from_jwks(&keyring.jwks()).expect("jwks");
        let clock = Arc::new(TestClock(Mutex::new(Utc::now())));
        let mail_dir =
            std::env::temp_dir().join(format!("emporium-users-mail-{}", uuid::Uuid::new_v4()));
        let mailer = Mailer::directory(&mail_dir, "Emporium <shop@example.com>").expect("mailer");
        let mail = MailQueue::start(
            mailer,
            RetryPolicy::default(),
            tokio_util::sync::CancellationToken::new(),
        );
        let state = UsersState::new(pool, keyring, settings, mail).with_clock(clock.clone());
        Self {
            schema: emporium_users::schema(state.clone()),
            state,
            clock,
            verifier,
            mail_dir,
            _postgres: postgres,
        }
    }

    /// Another instance of the service on the same database, signing with `keyring` (a
    /// replica restarted with other keys during a rolling rotation).
    pub fn replica(&self, keyring: Keyring) -> UsersSchema {
        let state = UsersState::new(
            self.state.store.pool().clone(),
            keyring,
            self.state.settings.clone(),
            self.state.mail.clone(),
        )
        .with_clock(self.clock.clone());
        emporium_users::schema(state)
    }

    /// Runs a GraphQL operation as the holder of `token` (anonymous without one).
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        execute(&self.schema, &self.verifier, query, variables, token).await
    }

    pub async fn register(&self, email: &str) -> Session {
        let body = self
            .gql(
                "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken user { id } userErrors { code } } }",
                json!({ "input": { "email": email, "password": PASSWORD, "name": "Ann" } }),
                None,
            )
            .await;
        Session::from_payload(&body["data"]["register"])
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let body = self
            .gql(
                LOGIN,
                json!({ "input": { "email": email, "password": password } }),
                None,
            )
            .await;
        body["data"]["login"].clone()
    }

    /// Refreshes `token`: the new session, or the error codes.
    pub async fn refresh(&self, token: &str) -> Result<Session, Vec<String>> {
        let body = self
            .gql(
                "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id } userErrors { code } } }",
                json!({ "t": token }),
                None,
            )
            .await;
        let payload = &body["data"]["refreshToken"];
        if payload["accessToken"].is_string() {
            Ok(Session::from_payload(payload))
        } else {
            Err(codes(payload))
        }
    }

    /// Every mail the service has written so far.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        std::fs::read_dir(&self.mail_dir)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                    .map(|raw| parse_mail(&raw))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The mails to `to`, waiting (up to a minute) until there are `count`.
    pub async fn wait_for_mails(&self, to: &str, count: usize) -> Vec<ReceivedMail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let mails: Vec<_> = self.mails().into_iter().filter(|m| m.to == to).collect();
            if mails.len() >= count {
                return mails;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {count} mails to {to} arrived",
                mails.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn refresh_token_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
            .fetch_one(self.state.store.pool())
            .await
            .expect("count refresh tokens")
    }
}

/// Runs a GraphQL operation on `schema` as the holder of `token` (anonymous without one).
pub async fn execute(
    schema: &UsersSchema,
    verifier: &TokenVerifier,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> Value {
    let (viewer, session) = verifier.authenticate(token);
    let request = Request::new(query)
        .variables(Variables::from_json(variables))
        .data(viewer)
        .data(session)
        .data(TraceContext::new_root())
        .data(ClientKey::default());
    let response = schema.execute(request).await;
    serde_json::to_value(&response).expect("a response serializes")
}

pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken user { id } userErrors { code } } }";

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub fn codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected userErrors: {payload}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
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
        }
    }

    pub fn token(&self) -> Option<&str> {
        Some(&self.access_token)
    }
}
