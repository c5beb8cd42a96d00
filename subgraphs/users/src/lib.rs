//! The users subgraph: accounts, credentials, access and refresh tokens, roles.
//!
//! Layout:
//! - `domain`: rules without I/O (registration, password policy and hashing, lockout, refresh secrets).
//! - `store`: Postgres (accounts, refresh-token families).
//! - `graphql`: the schema, resolvers and the mapping of failures to codes.
//!
//! Besides `/graphql` the service serves its public signing keys at `/.well-known/jwks.json`.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod store;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use chrono::Duration;
/// Re-exported so callers configure token lifetimes without depending on chrono.
pub use chrono::Duration as ChronoDuration;
use emporium_kernel::auth::{Claims, Keyring, TokenVerifier};
use emporium_kernel::email::Email;
use emporium_kernel::http::ReadinessCheck;
use emporium_kernel::ApiError;
use sqlx::PgPool;

use crate::domain::account::{parse_name, User};
use crate::domain::password::{self, Password};
pub use crate::graphql::{schema, sdl, UsersSchema};
use crate::store::UserStore;

/// The migrations of the users database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/users");

/// Token lifetimes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::minutes(15),
            refresh_token_ttl: Duration::days(30),
        }
    }
}

/// Everything the users resolvers need, cloned into the schema once.
#[derive(Clone)]
pub struct UsersState {
    pub store: UserStore,
    pub keyring: Arc<Keyring>,
    pub settings: Settings,
}

impl UsersState {
    pub fn new(pool: PgPool, keyring: Keyring, settings: Settings) -> Self {
        Self {
            store: UserStore::new(pool),
            keyring: Arc::new(keyring),
            settings,
        }
    }

    pub fn issue_access_token(&self, user: &User) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims::new(
            user.id,
            user.role,
            now,
            self.settings.access_token_ttl.num_seconds(),
        );
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
}

/// Makes sure an ADMIN account exists for `email`: creates it, or promotes an existing account
/// (which keeps its password). Safe to run at every start-up.
pub async fn ensure_admin(
    store: &UserStore,
    email: &str,
    password: &str,
    name: &str,
) -> Result<User, AdminError> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let name = parse_name(name)?;
    let phc = password::hash(password.expose())?;
    let (user, created) = store.upsert_admin(&email, &name, &phc).await?;
    tracing::info!(user_id = %user.id, created, "admin account ensured");
    Ok(user)
}
