//! Running the platform: admin accounts and signing keys from the command line, graceful
//! shutdown.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn create_admin(platform: &Platform, email: &str, password: &str) -> std::process::Output {
    create_admin_with(platform, &["--email", email, "--name", "Ops"], password)
}

fn create_admin_with(platform: &Platform, args: &[&str], password: &str) -> std::process::Output {
    Command::new(crate::helpers::emporium_binary())
        .arg("create-admin")
        .args(args)
        .env("EMPORIUM_DATABASE_URL", &platform.database_url)
        .env("EMPORIUM_NEW_ADMIN_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .output()
        .expect("emporium create-admin runs")
}

#[tokio::test]
async fn create_admin_is_idempotent_and_promotes_an_existing_account_only_when_told() {
    let platform = Platform::start().await;
    let new_admin = unique_email();
    let customer_email = unique_email();
    platform.register(&customer_email, "Soon Admin").await;

    let first = create_admin(&platform, &new_admin, "ops-password-1");
    let again = create_admin(&platform, &new_admin, "another-password-2");
    let refused = create_admin(&platform, &customer_email, "ignored-password");
    let role_before = platform.login(&customer_email, PASSWORD).await["user"]["role"].clone();
    let promoted = create_admin_with(
        &platform,
        &["--email", &customer_email, "--promote"],
        "ignored-password",
    );

    for output in [&first, &again, &promoted] {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(!refused.status.success());
    assert_eq!(role_before, json!("CUSTOMER"));
    let login = platform.login(&new_admin, "ops-password-1").await;
    assert_eq!(login["user"]["role"], json!("ADMIN"), "{login}");
    let customer_login = platform.login(&customer_email, PASSWORD).await;
    assert_eq!(
        customer_login["user"]["role"],
        json!("ADMIN"),
        "{customer_login}"
    );
    assert_eq!(
        user_error_codes(&platform.login(&customer_email, "ignored-password").await),
        ["INVALID_CREDENTIALS"]
    );
}

#[test]
fn new_signing_key_writes_a_private_key_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("emporium-key-{}", uuid::Uuid::new_v4().simple()));
    let path = dir.join("jwt-next.pem");
    let run = || {
        Command::new(crate::helpers::emporium_binary())
            .arg("new-signing-key")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .output()
            .expect("emporium new-signing-key runs")
    };

    let first = run();
    let second = run();

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let pem = std::fs::read_to_string(&path).expect("the key file");
    let key = emporium_kernel::auth::SigningKey::from_pem(&pem).expect("an ES256 key");
    assert!(String::from_utf8_lossy(&first.stdout).contains(key.kid()));
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !second.status.success(),
        "an existing key is never overwritten"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("the key file"), pem);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn create_admin_refuses_a_weak_password() {
    let platform = Platform::start().await;
    let output = create_admin(&platform, &unique_email(), "short");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("password"));
}

#[tokio::test]
async fn sigterm_stops_the_whole_platform_cleanly() {
    let mut platform = Platform::start().await;
    let status = platform.terminate(Duration::from_secs(30));
    let status =
        status.unwrap_or_else(|| panic!("still running 30 s after SIGTERM:\n{}", platform.log()));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        platform.log()
    );
}
