//! Accounts: opening one (with its `user.registered` event in the same transaction), the
//! first admin, promotion, lookups by id and email, and changing a password.
//!
//! An email taken by another account is [`StoreError::EmailTaken`], decided by the unique
//! constraint, never by a read first; a password change ends the account's other logins in
//! the same transaction. A stored row that no longer parses is [`StoreError::Corrupt`].

use chrono::{DateTime, Utc};
use emporium_kernel::auth::Role;
use emporium_kernel::email::Email;
use emporium_kernel::ids::UserId;
use uuid::Uuid;

use emporium_kernel::events::outbox::postgres as outbox;
use emporium_kernel::trace::TraceContext;

use super::{is_unique_violation, user_from_row, StoreError, UserStore, USER_COLUMNS};
use crate::domain::account::User;
use crate::events::EVENT_SOURCE;

impl UserStore {
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
        self.waker.wake();
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
            self.waker.wake();
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

    pub async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
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
}
