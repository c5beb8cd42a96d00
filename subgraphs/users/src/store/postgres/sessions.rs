//! Refresh tokens: issuing one in a new family, rotating it (single use), revoking a login or
//! every login of an account, and pruning expired ones.
//!
//! A rotation spends the token in the statement that reads it, so a token is accepted once;
//! presenting a spent token again revokes its whole family ([`RefreshOutcome::Reused`]).

use chrono::{DateTime, Duration, Utc};
use emporium_kernel::ids::UserId;
use sqlx::Row;
use uuid::Uuid;

use super::{user_from_row, RefreshOutcome, StoreError, UserStore, USER_COLUMNS};

impl UserStore {
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
