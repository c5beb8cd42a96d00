//! Where the sign-in lockout keeps its records, and the one transaction step that reads them,
//! decides ([`lockout::admit`]) and counts the attempt. Accounts and addresses without an
//! account keep the same records in tables of their own, so both go through the same SQL and
//! a guess at an unknown address is counted exactly as one at a real account.
//!
//! Failure: a database error is a [`StoreError`]; the caller's transaction then rolls back and
//! nothing is counted. The account's row is locked (`FOR UPDATE`) for the rest of the caller's
//! transaction, so parallel attempts on one account each see the previous one's count.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Row};

use super::postgres::StoreError;
use crate::domain::lockout::{self, AccountRecord, Admission, ClientRecord};

/// The tables of one kind of sign-in target. The names are constants, never input.
pub(super) struct LockoutTables {
    /// `failed_logins`, `throttled_until` per target, keyed by `account_key`.
    accounts: &'static str,
    account_key: &'static str,
    /// `failures`, `locked_until` per target and client, keyed by `client_key` and `client`.
    clients: &'static str,
    client_key: &'static str,
    /// SQL for whether a client has signed in before (only real accounts have known clients).
    known: &'static str,
    /// Whether the account record has an `updated_at` to set (the pruning of unknown
    /// addresses reads it).
    stamps_account: bool,
}

/// Real accounts: `users` and `login_clients`.
pub(super) const ACCOUNTS: LockoutTables = LockoutTables {
    accounts: "users",
    account_key: "id",
    clients: "login_clients",
    client_key: "user_id",
    known: "signed_in_at IS NOT NULL",
    stamps_account: false,
};

/// Addresses without an account, by the SHA-256 of the normalised address. The caller creates
/// the account record first (it may not exist yet).
pub(super) const UNKNOWN_EMAILS: LockoutTables = LockoutTables {
    accounts: "unknown_email_logins",
    account_key: "email_hash",
    clients: "unknown_email_login_clients",
    client_key: "email_hash",
    known: "false",
    stamps_account: true,
};

/// Locks the target's record, decides whether `client` may try a password now and, if so,
/// counts the attempt as a failure up front (a success resets it afterwards).
pub(super) async fn admit<K>(
    tx: &mut PgConnection,
    tables: &LockoutTables,
    key: K,
    client: &[u8],
    now: DateTime<Utc>,
) -> Result<Admission, StoreError>
where
    K: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Copy + Send + Sync,
{
    let LockoutTables {
        accounts,
        account_key,
        clients,
        client_key,
        known,
        stamps_account,
    } = tables;
    let account = sqlx::query(&format!(
        "SELECT failed_logins, throttled_until FROM {accounts} WHERE {account_key} = $1 FOR UPDATE"
    ))
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    let account = AccountRecord {
        failures: account.try_get("failed_logins")?,
        throttled_until: account.try_get("throttled_until")?,
    };
    let record = sqlx::query(&format!(
        "SELECT failures, locked_until, {known} AS known
         FROM {clients} WHERE {client_key} = $1 AND client = $2"
    ))
    .bind(key)
    .bind(client)
    .fetch_optional(&mut *tx)
    .await?;
    let record = match record {
        Some(row) => ClientRecord {
            failures: row.try_get("failures")?,
            locked_until: row.try_get("locked_until")?,
            is_known: row.try_get("known")?,
        },
        None => ClientRecord::default(),
    };
    let admission = lockout::admit(&record, &account, now);
    if let Admission::Attempt {
        client: counted,
        account: total,
    } = &admission
    {
        sqlx::query(&format!(
            "INSERT INTO {clients} ({client_key}, client, failures, locked_until, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT ({client_key}, client) DO UPDATE
             SET failures = EXCLUDED.failures, locked_until = EXCLUDED.locked_until, updated_at = EXCLUDED.updated_at"
        ))
        .bind(key)
        .bind(client)
        .bind(counted.failures)
        .bind(counted.locked_until)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let stamp = if *stamps_account {
            ", updated_at = $4"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE {accounts} SET failed_logins = $2, throttled_until = $3{stamp}
             WHERE {account_key} = $1"
        );
        let mut update = sqlx::query(&sql)
            .bind(key)
            .bind(total.failures)
            .bind(total.throttled_until);
        if *stamps_account {
            update = update.bind(now);
        }
        update.execute(&mut *tx).await?;
    }
    Ok(admission)
}
