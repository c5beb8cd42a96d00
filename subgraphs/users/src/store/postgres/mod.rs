//! Accounts and refresh tokens in Postgres. Every rule that must hold under concurrency
//! (unique emails, single-use refresh tokens, failed-login counting) is one SQL statement or
//! one transaction, never a read followed by a write.

mod account_tokens;
mod accounts;
mod logins;
mod sessions;

use emporium_kernel::auth::Role;
use emporium_kernel::email::Email;
use emporium_kernel::events::outbox::postgres::OutboxWaker;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::domain::account::User;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A user with what a login needs to decide.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// What presenting a refresh token led to.
pub enum RefreshOutcome {
    /// The token was live; it is now spent and `next` replaces it in the same family.
    Rotated { user: User, family: Uuid },
    /// The token had already been spent: its family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(Clone)]
pub struct UserStore {
    pool: PgPool,
    /// Wakes the relay after a commit that wrote events.
    waker: OutboxWaker,
}

const USER_COLUMNS: &str =
    "id, email, name, role, created_at, email_verified_at IS NOT NULL AS email_verified";

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    let email: String = row.try_get("email")?;
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: Email::parse(&email).map_err(|e| StoreError::Corrupt(format!("email: {e}")))?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        created_at: row.try_get("created_at")?,
        email_verified: row.try_get("email_verified")?,
    })
}

fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}

impl UserStore {
    pub fn new(pool: PgPool) -> Self {
        Self {
            waker: OutboxWaker::new(pool.clone()),
            pool,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
