//! One-time account links (password reset, email verification): storing one, at most one
//! per interval per account, spending it, and pruning old ones.
//!
//! A link is spent by the statement that checks it (live, unused, of its purpose), so it
//! works once; spending it and what it does (the new password, the verified email) commit
//! together or not at all.

use chrono::{DateTime, Duration, Utc};
use emporium_kernel::email::Email;
use emporium_kernel::ids::UserId;
use sqlx::Row;
use uuid::Uuid;

use super::{user_from_row, StoreError, UserStore, USER_COLUMNS};
use crate::domain::account::User;
use crate::domain::account_token::Purpose;

impl UserStore {
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
