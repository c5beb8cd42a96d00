//! The users subgraph: accounts, credentials, access and refresh tokens, roles.
//!
//! Layout:
//! - `domain`: rules without I/O (registration, password policy and hashing, lockout, refresh secrets).
//! - `store`: Postgres (accounts, refresh-token families, one-time links).
//! - `graphql`: the schema, resolvers and the mapping of failures to codes.
//! - `wiring`: the service as a process runs it: the server, the relay and the pruning of ended logins.
//!
//! Password-reset and verification links go out by mail through a [`MailQueue`], in the
//! background: a request's answer never depends on the mail server, nor shows whether an
//! address has an account.
//!
//! Besides `/graphql` the service serves its public signing keys at `/.well-known/jwks.json`.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod store;
pub mod wiring;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use chrono::Duration;
/// Re-exported so callers configure token lifetimes without depending on chrono.
pub use chrono::Duration as ChronoDuration;
use emporium_kernel::auth::{Claims, Keyring, TokenVerifier};
use emporium_kernel::email::Email;
use emporium_kernel::http::ReadinessCheck;
use emporium_kernel::mail::MailQueue;
use emporium_kernel::ApiError;
use sqlx::PgPool;

use crate::domain::account::{parse_name, User};
use crate::domain::password::{self, Password};
pub use crate::graphql::{schema, sdl, UsersSchema};
use crate::store::UserStore;

/// The migrations of the users database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/users");

/// Token and session lifetimes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access_token_ttl: Duration,
    /// A login's idle lifetime: a refresh token unused this long expires (each refresh
    /// issues one with a fresh idle lifetime).
    pub refresh_token_ttl: Duration,
    /// A login's absolute lifetime: however often it is refreshed, it ends this long after
    /// the sign-in that began it.
    pub session_max_age: Duration,
    /// The storefront's public address; mailed links point at its pages.
    pub public_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::minutes(15),
            refresh_token_ttl: Duration::days(30),
            session_max_age: Duration::days(90),
            public_url: "http://127.0.0.1:4000".to_owned(),
        }
    }
}

/// How long a client's sign-in failures on an account are remembered when nothing else
/// happens (no lock in force, never signed in): pruned after this.
pub const LOGIN_FAILURES_KEPT: Duration = Duration::days(1);

/// Deletes refresh tokens of ended logins, spent or expired one-time links and stale sign-in
/// failure records every `interval` until `shutdown`; a failed run is logged and retried at
/// the next.
pub async fn prune_periodically(
    state: UsersState,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    emporium_kernel::service::every(interval, &shutdown, || async {
        let now = state.clock.now();
        match state.store.prune_refresh_tokens(now).await {
            Ok(pruned) => tracing::debug!(pruned, "pruned the refresh tokens of ended logins"),
            Err(err) => {
                tracing::warn!(error = %err, "pruning refresh tokens failed; retrying later")
            }
        }
        match state
            .store
            .prune_account_records(now, now - LOGIN_FAILURES_KEPT)
            .await
        {
            Ok(pruned) => tracing::debug!(pruned, "pruned spent links and stale sign-in failures"),
            Err(err) => {
                tracing::warn!(error = %err, "pruning links and sign-in failures failed; retrying later")
            }
        }
    })
    .await;
}

/// Where the users service reads the time: lockouts and session lifetimes are decided by it,
/// so tests can move it instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

/// Everything the users resolvers need, cloned into the schema once.
#[derive(Clone)]
pub struct UsersState {
    pub store: UserStore,
    pub keyring: Arc<Keyring>,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    /// Sends the reset and verification mails in the background.
    pub mail: MailQueue,
}

impl UsersState {
    pub fn new(pool: PgPool, keyring: Keyring, settings: Settings, mail: MailQueue) -> Self {
        Self {
            store: UserStore::new(pool),
            keyring: Arc::new(keyring),
            settings,
            clock: Arc::new(SystemClock),
            mail,
        }
    }

    /// The same state reading the time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// An access token for `user`, signed in through the login (token family) `session`.
    pub fn issue_access_token(&self, user: &User, session: uuid::Uuid) -> Result<String, ApiError> {
        let now = self.clock.now().timestamp();
        let claims = Claims::new(
            user.id,
            user.role,
            now,
            self.settings.access_token_ttl.num_seconds(),
        )
        .for_session(session);
        self.keyring
            .active()
            .sign(&claims)
            .map_err(|e| ApiError::internal(&e))
    }
}

/// The HTTP app: `/graphql`, `/.well-known/jwks.json`, `/health`, `/ready` (Postgres and
/// `more_checks`, e.g. the broker), `/metrics`.
pub fn router(
    state: UsersState,
    more_checks: Vec<(&'static str, ReadinessCheck)>,
) -> Result<Router, emporium_kernel::auth::AuthError> {
    let verifier = TokenVerifier::from_jwks(&state.keyring.jwks())?;
    let jwks = Arc::new(state.keyring.jwks());
    let pool = state.store.pool().clone();
    let postgres = emporium_kernel::http::postgres_check(pool);
    Ok(
        emporium_kernel::http::graphql_routes(schema(state), verifier)
            .route(
                "/.well-known/jwks.json",
                get(move || async move { Json(jwks.as_ref().clone()) }),
            )
            .merge(emporium_kernel::http::probe_routes(
                [("postgres", postgres)]
                    .into_iter()
                    .chain(more_checks)
                    .collect(),
            )),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin email: {0}")]
    Email(#[from] emporium_kernel::email::EmailError),
    #[error("admin password: {0}")]
    Password(#[from] domain::password::PasswordError),
    #[error("admin name: {0}")]
    Name(#[from] domain::account::NameError),
    #[error("hashing the admin password: {0}")]
    Hash(#[from] domain::password::HashError),
    #[error("saving the admin: {0}")]
    Store(#[from] store::StoreError),
    /// The email belongs to an account that is not an admin: someone registered it, and
    /// promoting it would hand the shop to whoever that is.
    #[error(
        "the admin email already belongs to an existing account that is not an admin (user id \
         {user_id}); it is never promoted automatically, because whoever registered that \
         address would become ADMIN with their own password. Choose another admin email, or, \
         once you know the account is yours, promote it explicitly with \
         `emporium create-admin --email <email> --promote`"
    )]
    NotAnAdmin { user_id: uuid::Uuid },
    #[error("no account has this email; create it with `emporium create-admin --email <email>` (password in EMPORIUM_NEW_ADMIN_PASSWORD)")]
    NoSuchAccount,
}

/// What [`ensure_admin`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// No account had the email: an ADMIN was created with the given password.
    Created,
    /// An ADMIN already has the email; it was left exactly as it was (its password too).
    AlreadyAdmin,
}

/// Makes sure an ADMIN account exists for `email`, for start-up and `create-admin`: creates
/// it with `password` when no account has the email, leaves an existing ADMIN untouched (the
/// password only ever sets the password of an account this creates), and refuses, with
/// [`AdminError::NotAnAdmin`], when the email belongs to any other account. Safe to run at
/// every start-up and from several processes at once.
pub async fn ensure_admin(
    store: &UserStore,
    email: &str,
    password: &str,
    name: &str,
) -> Result<(User, AdminBootstrap), AdminError> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let name = parse_name(name)?;
    let phc = password::hash(password.expose())?;
    let (user, created) = store.insert_admin_if_absent(&email, &name, &phc).await?;
    if created {
        tracing::info!(user_id = %user.id, "admin account created");
        return Ok((user, AdminBootstrap::Created));
    }
    if user.role != emporium_kernel::auth::Role::Admin {
        return Err(AdminError::NotAnAdmin { user_id: user.id });
    }
    tracing::info!(user_id = %user.id, "admin account already present; left unchanged");
    Ok((user, AdminBootstrap::AlreadyAdmin))
}

/// Makes the existing account with `email` an ADMIN, keeping its password: the operator's
/// explicit decision (`emporium create-admin --promote`), never done at start-up.
pub async fn promote_to_admin(store: &UserStore, email: &str) -> Result<User, AdminError> {
    let email = Email::parse(email)?;
    let user = store
        .promote_to_admin(&email)
        .await?
        .ok_or(AdminError::NoSuchAccount)?;
    tracing::warn!(user_id = %user.id, "account promoted to ADMIN by an operator");
    Ok(user)
}
