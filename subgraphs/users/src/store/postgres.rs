//! Accounts and refresh tokens in Postgres. Every rule that must hold under concurrency
//! (unique emails, single-use refresh tokens, failed-login counting) is one SQL statement or
//! one transaction, never a read followed by a write.

use chrono::{DateTime, Duration, Utc};
use emporium_kernel::auth::Role;
use emporium_kernel::email::Email;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use emporium_kernel::events::outbox::postgres as outbox;
use emporium_kernel::trace::TraceContext;

use crate::domain::account::User;
use crate::domain::lockout::{LOCKOUT_MINUTES, MAX_FAILED_LOGINS};
use crate::events::EVENT_SOURCE;

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
    pub locked_until: Option<DateTime<Utc>>,
}

/// What presenting a refresh token led to.
pub enum RefreshOutcome {
    /// The token was live; it is now spent and `next` replaces it in the same family.
    Rotated { user: User },
    /// The token had already been spent: its family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(Clone)]
pub struct UserStore {
    pool: PgPool,
}

const USER_COLUMNS: &str = "id, email, name, role, created_at";

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    let email: String = row.try_get("email")?;
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: Email::parse(&email).map_err(|e| StoreError::Corrupt(format!("email: {e}")))?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        created_at: row.try_get("created_at")?,
    })
}

fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}

impl UserStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Opens an account and records `user.registered` in the same transaction.
    pub async fn insert_user(
        &self,
        email: &Email,
        name: &str,
        password_hash: &str,
        role: Role,
        trace: &TraceContext,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(email.as_str())
        .bind(name)
        .bind(password_hash)
        .bind(role.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e, "users_email_key") {
                StoreError::EmailTaken
            } else {
                StoreError::Database(e)
            }
        })?;
        let user = user_from_row(&row)?;
        let event = crate::events::user_registered(&user).traced(trace);
        outbox::enqueue(&mut tx, EVENT_SOURCE, event).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Creates an ADMIN with `email` unless an account already has it; never changes an
    /// existing account. Returns the account with the email and whether this created it.
    pub async fn insert_admin_if_absent(
        &self,
        email: &Email,
        name: &str,
        password_hash: &str,
    ) -> Result<(User, bool), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, 'ADMIN')
             ON CONFLICT (email) DO NOTHING
             RETURNING {USER_COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(email.as_str())
        .bind(name)
        .bind(password_hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = inserted {
            let user = user_from_row(&row)?;
            // Created from the command line or at start-up: a trace of its own.
            let event = crate::events::user_registered(&user).traced(&TraceContext::new_root());
            outbox::enqueue(&mut tx, EVENT_SOURCE, event).await?;
            tx.commit().await?;
            return Ok((user, true));
        }
        // The conflicting row is committed (ON CONFLICT waited for it), so this sees it.
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((user_from_row(&row)?, false))
    }

    /// Makes the account with `email` an ADMIN (its password unchanged); `None` when no
    /// account has the email.
    pub async fn promote_to_admin(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE users SET role = 'ADMIN', updated_at = now() WHERE email = $1 RETURNING {USER_COLUMNS}"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn find_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn find_credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash, locked_until FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Credentials {
                user: user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
                locked_until: row.try_get("locked_until")?,
            })
        })
        .transpose()
    }

    /// Counts a failed login; the failure that reaches the limit locks the account and starts
    /// a new count. Returns the lock's end when this failure locked it.
    pub async fn record_failed_login(&self, id: Uuid) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "UPDATE users SET
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END,
                 failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END
             WHERE id = $1
             RETURNING locked_until, failed_logins = 0 AS just_locked",
        )
        .bind(id)
        .bind(MAX_FAILED_LOGINS)
        .bind(LOCKOUT_MINUTES as i32)
        .fetch_one(&self.pool)
        .await?;
        let just_locked: bool = row.try_get("just_locked")?;
        Ok(if just_locked {
            row.try_get("locked_until")?
        } else {
            None
        })
    }

    pub async fn record_successful_login(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Starts a new token family (a login) with its first refresh token.
    pub async fn insert_refresh_token(
        &self,
        user_id: Uuid,
        token_hash: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES ($1, $1, $2, $3, now() + $4)")
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(token_hash)
            .bind(ttl)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Spends the token with `token_hash` and issues `next_hash` in its family, in one
    /// transaction. Two concurrent refreshes with one token: exactly one rotates; the other sees
    /// a spent token, which counts as reuse and revokes the family.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &[u8],
        next_hash: &[u8],
        ttl: Duration,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = now()
             WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
             RETURNING user_id, family_id",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;

        let Some(spent) = spent else {
            let previous = sqlx::query("SELECT family_id, used_at IS NOT NULL AS used FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
            let outcome = match previous {
                Some(row) if row.try_get::<bool, _>("used")? => {
                    let family: Uuid = row.try_get("family_id")?;
                    revoke_family(&mut tx, family).await?;
                    tracing::warn!(%family, "refresh token reused; token family revoked");
                    RefreshOutcome::Reused
                }
                _ => RefreshOutcome::Invalid,
            };
            tx.commit().await?;
            return Ok(outcome);
        };

        let user_id: Uuid = spent.try_get("user_id")?;
        let family: Uuid = spent.try_get("family_id")?;
        sqlx::query("INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, now() + $5)")
            .bind(Uuid::now_v7())
            .bind(family)
            .bind(user_id)
            .bind(next_hash)
            .bind(ttl)
            .execute(&mut *tx)
            .await?;
        let user = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        let user = user_from_row(&user)?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated { user })
    }

    /// Ends the login the token belongs to. Returns false for a token that was never issued.
    pub async fn revoke_family_of(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let family: Option<Uuid> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(family) = family {
            revoke_family(&mut tx, family).await?;
        }
        tx.commit().await?;
        Ok(family.is_some())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

async fn revoke_family(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    family: Uuid,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
