//! `emporium create-admin` and `emporium new-signing-key`: an admin account made or
//! promoted, and a new token signing key written for a rotation.

use anyhow::Context;

use crate::config::Settings;
use crate::stores;

/// Creates an admin account, or with `promote` makes the account of `email` an admin
/// (keeping its password).
pub async fn create_admin(
    settings: &Settings,
    email: &str,
    password: Option<String>,
    name: &str,
    promote: bool,
) -> anyhow::Result<()> {
    let pool = stores::postgres(settings).await?;
    let store = emporium_users::store::UserStore::new(pool);
    if promote {
        let user = emporium_users::promote_to_admin(&store, email).await?;
        println!(
            "account {} is now an ADMIN (its password is unchanged; it takes effect at its next sign-in)",
            user.id
        );
        return Ok(());
    }
    let password = password
        .context("give the new admin's password in EMPORIUM_NEW_ADMIN_PASSWORD (or --password)")?;
    let (user, outcome) = emporium_users::ensure_admin(&store, email, &password, name).await?;
    match outcome {
        emporium_users::AdminBootstrap::Created => println!("created admin account {}", user.id),
        emporium_users::AdminBootstrap::AlreadyAdmin => println!(
            "account {} is already an ADMIN; left unchanged (its password too)",
            user.id
        ),
    }
    Ok(())
}

/// Writes a new signing key to `out`, which must not exist.
pub fn new_signing_key(out: &std::path::Path) -> anyhow::Result<()> {
    let kid = stores::new_signing_key(out)?;
    println!("wrote {} (kid {kid})", out.display());
    Ok(())
}
