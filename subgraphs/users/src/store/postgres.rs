//! Accounts and refresh tokens in Postgres. Every rule that must hold under concurrency
//! (unique emails, single-use refresh tokens, failed-login counting) is one SQL statement or
//! one transaction, never a read followed by a write.

use chrono::{DateTime, Duration, Utc};
use emporium_kernel::auth::Role;
use emporium_kernel::email::Email;
use emporium_kernel::ids::UserId;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use emporium_kernel::events::outbox::postgres as outbox;
use emporium_kernel::trace::TraceContext;

use super::lockout_tables;
use crate::domain::account::User;
use crate::domain::account_token::Purpose;
use crate::domain::lockout::Admission;
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

    pub async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn find_credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Credentials {
                user: user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// Decides whether `client` may try a password on the account now and, if so, counts the
    /// attempt as a failure before the password is checked (see [`lockout`]). Attempts on one
    /// account are serialized by its row lock, so parallel guesses each count.
    pub async fn admit_login(
        &self,
        user_id: UserId,
        client: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let mut tx = self.pool.begin().await?;
        let admission = lockout_tables::admit(
            &mut tx,
            &lockout_tables::ACCOUNTS,
            user_id.as_uuid(),
            client,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(admission)
    }

    /// [`admit_login`](Self::admit_login) for an email with no account (`email_hash`, the
    /// SHA-256 of the normalised address): the same rules and counts, so the answers and the
    /// lock do not tell which addresses have accounts. Such a client is never "known".
    pub async fn admit_unknown_email_login(
        &self,
        email_hash: &[u8],
        client: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO unknown_email_logins (email_hash, updated_at) VALUES ($1, $2)
             ON CONFLICT (email_hash) DO NOTHING",
        )
        .bind(email_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let admission = lockout_tables::admit(
            &mut tx,
            &lockout_tables::UNKNOWN_EMAILS,
            email_hash,
            client,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(admission)
    }

    /// Clears the counts a successful sign-in ends, and remembers `client` as known.
    pub async fn record_successful_login(
        &self,
        user_id: UserId,
        client: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user_id = user_id.as_uuid();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO login_clients (user_id, client, failures, locked_until, signed_in_at, updated_at)
             VALUES ($1, $2, 0, NULL, $3, $3)
             ON CONFLICT (user_id, client) DO UPDATE
             SET failures = 0, locked_until = NULL, signed_in_at = $3, updated_at = $3",
        )
        .bind(user_id)
        .bind(client)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET failed_logins = 0, throttled_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR throttled_until IS NOT NULL)")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a new token family (a login) with its first refresh token; returns the family.
    /// The family ends `max_age` from `now`; each token `idle` after it was issued, or at the
    /// family's end if that is sooner.
    pub async fn insert_refresh_token(
        &self,
        user_id: UserId,
        token_hash: &[u8],
        now: DateTime<Utc>,
        idle: Duration,
        max_age: Duration,
    ) -> Result<Uuid, StoreError> {
        let user_id = user_id.as_uuid();
        let family = Uuid::now_v7();
        let family_expires_at = now + max_age;
        sqlx::query("INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, family_expires_at, created_at) VALUES ($1, $1, $2, $3, $4, $5, $6)")
            .bind(family)
            .bind(user_id)
            .bind(token_hash)
            .bind((now + idle).min(family_expires_at))
            .bind(family_expires_at)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(family)
    }

    /// Spends the token with `token_hash` and issues `next_hash` in its family, in one
    /// transaction. Two concurrent refreshes with one token: exactly one rotates; the other sees
    /// a spent token, which counts as reuse and revokes the family.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &[u8],
        next_hash: &[u8],
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
             RETURNING user_id, family_id, family_expires_at",
        )
        .bind(token_hash)
        .bind(now)
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
                    revoke_family(&mut tx, family, now).await?;
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
        let family_expires_at: DateTime<Utc> = spent.try_get("family_expires_at")?;
        sqlx::query("INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, family_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(Uuid::now_v7())
            .bind(family)
            .bind(user_id)
            .bind(next_hash)
            .bind((now + idle).min(family_expires_at))
            .bind(family_expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let user = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        let user = user_from_row(&user)?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated { user, family })
    }

    /// Ends every login of `user_id` except `keep` (every one when `keep` is `None`).
    pub async fn revoke_sessions(
        &self,
        user_id: UserId,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let user_id = user_id.as_uuid();
        let revoked = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $3
             WHERE user_id = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2",
        )
        .bind(user_id)
        .bind(keep)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected())
    }

    /// Deletes the tokens of every login that has ended (revoked, or with no live token
    /// left). A live login keeps its spent tokens: replaying one must still revoke it.
    pub async fn prune_refresh_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let pruned = sqlx::query(
            "DELETE FROM refresh_tokens t
             WHERE NOT EXISTS (
                 SELECT 1 FROM refresh_tokens live
                 WHERE live.family_id = t.family_id AND live.used_at IS NULL
                   AND live.revoked_at IS NULL AND live.expires_at > $1)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(pruned.rows_affected())
    }

    /// The account's password hash, by id.
    pub async fn password_hash(&self, user_id: UserId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id.as_uuid())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets the account's password and ends every login but `keep`, in one transaction.
    pub async fn change_password(
        &self,
        user_id: UserId,
        password_hash: &str,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user_id = user_id.as_uuid();
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $3
             WHERE user_id = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2",
        )
        .bind(user_id)
        .bind(keep)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
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
            revoke_family(&mut tx, family, Utc::now()).await?;
        }
        tx.commit().await?;
        Ok(family.is_some())
    }

    pub async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Stores a one-time link for `user` (mailed to `email`) unless one of the same purpose
    /// was made less than `min_interval` ago; returns whether it stored it. Requests for one
    /// account are serialized by its row lock, so parallel ones store one link.
    pub async fn insert_account_token(
        &self,
        user_id: UserId,
        email: &Email,
        purpose: Purpose,
        token_hash: &[u8],
        now: DateTime<Utc>,
        min_interval: Duration,
    ) -> Result<bool, StoreError> {
        let user_id = user_id.as_uuid();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
             SELECT $1, $2, $3, $4, $5, $6
             WHERE NOT EXISTS (
                 SELECT 1 FROM account_tokens
                 WHERE user_id = $2 AND purpose = $3 AND created_at > $7)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(email.as_str())
        .bind(now)
        .bind(now + purpose.ttl())
        .bind(now - min_interval)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Spends a live password-reset token and, in the same transaction, sets the password,
    /// ends every login, clears the sign-in failure counts, spends the account's other reset
    /// links and marks the address verified (the link reached it). `None`: the token is
    /// unknown, used or expired, and nothing changed.
    pub async fn reset_password(
        &self,
        token_hash: &[u8],
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(token) =
            spend_account_token(&mut tx, token_hash, Purpose::PasswordReset, now).await?
        else {
            return Ok(None);
        };
        let row = sqlx::query(&format!(
            "UPDATE users SET password_hash = $2, updated_at = $3, failed_logins = 0, throttled_until = NULL,
                 email_verified_at = CASE WHEN email = $4 THEN COALESCE(email_verified_at, $3) ELSE email_verified_at END
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        ))
        .bind(token.user_id)
        .bind(password_hash)
        .bind(now)
        .bind(&token.email)
        .fetch_one(&mut *tx)
        .await?;
        let user = user_from_row(&row)?;
        sqlx::query("UPDATE login_clients SET failures = 0, locked_until = NULL, updated_at = $2 WHERE user_id = $1")
            .bind(token.user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(token.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE account_tokens SET used_at = $2
             WHERE user_id = $1 AND purpose = 'PASSWORD_RESET' AND used_at IS NULL",
        )
        .bind(token.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Spends a live verification token and marks the address it was mailed to verified;
    /// false (nothing changed) when the token is unknown, used or expired, or the account's
    /// address is no longer the one it was mailed to.
    pub async fn verify_email(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(token) =
            spend_account_token(&mut tx, token_hash, Purpose::EmailVerification, now).await?
        else {
            return Ok(false);
        };
        let verified = sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $3), updated_at = $3
             WHERE id = $1 AND email = $2",
        )
        .bind(token.user_id)
        .bind(&token.email)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if verified {
            tx.commit().await?;
        }
        Ok(verified)
    }

    /// Deletes one-time links that were used or have expired, and the sign-in failure records
    /// that no longer decide anything (no lock in force and no failure since `stale_before`,
    /// for clients that never signed in, and for emails without an account). Returns how
    /// many rows went.
    pub async fn prune_account_records(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let tokens =
            sqlx::query("DELETE FROM account_tokens WHERE used_at IS NOT NULL OR expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        let clients = sqlx::query(
            "DELETE FROM login_clients
             WHERE signed_in_at IS NULL AND (locked_until IS NULL OR locked_until <= $1)
               AND updated_at < $2",
        )
        .bind(now)
        .bind(stale_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let unknown_clients = sqlx::query(
            "DELETE FROM unknown_email_login_clients
             WHERE (locked_until IS NULL OR locked_until <= $1) AND updated_at < $2",
        )
        .bind(now)
        .bind(stale_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let unknown_emails = sqlx::query(
            "DELETE FROM unknown_email_logins e
             WHERE (throttled_until IS NULL OR throttled_until <= $1) AND updated_at < $2
               AND NOT EXISTS (SELECT 1 FROM unknown_email_login_clients c WHERE c.email_hash = e.email_hash)",
        )
        .bind(now)
        .bind(stale_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(tokens + clients + unknown_clients + unknown_emails)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

struct SpentToken {
    user_id: Uuid,
    email: String,
}

/// Marks a live token of `purpose` used; `None` when there is none with this hash.
async fn spend_account_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    token_hash: &[u8],
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<SpentToken>, StoreError> {
    let row = sqlx::query(
        "UPDATE account_tokens SET used_at = $3
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
         RETURNING user_id, email",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| {
        Ok(SpentToken {
            user_id: row.try_get("user_id")?,
            email: row.try_get("email")?,
        })
    })
    .transpose()
}

async fn revoke_family(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
