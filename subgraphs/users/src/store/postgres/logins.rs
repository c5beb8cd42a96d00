//! What a login reads and counts: the credentials of an email, the failed-login counting that
//! admits or refuses an attempt (per account and per unknown email), and its reset on success.
//!
//! Each admission is one transaction through the lockout tables (`lockout_tables`), which
//! locks the record it counts, so parallel attempts each see the previous one's count. A
//! database error is a [`StoreError`]; the transaction then rolls back and counts nothing.

use chrono::{DateTime, Utc};
use emporium_kernel::email::Email;
use emporium_kernel::ids::UserId;
use sqlx::Row;

use super::{user_from_row, Credentials, StoreError, UserStore, USER_COLUMNS};
use crate::domain::lockout::Admission;
use crate::store::lockout_tables;

impl UserStore {
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
}
