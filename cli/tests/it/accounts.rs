//! Accounts through the router: sign-up, sign-in, tokens, lockout and roles.

use emporium_kernel::auth::{Claims, Role, SigningKey};
use serde_json::{json, Value};

use crate::helpers::*;

const ME: &str = "{ me { id email name role createdAt } }";

#[tokio::test]
async fn a_customer_registers_logs_in_and_sees_themselves() {
    let platform = Platform::start().await;
    let email = unique_email();

    let registered = platform.register(&email.to_uppercase(), "  Ann Lee ").await;
    let login = platform.login(&email, PASSWORD).await;
    let session = Session::from_payload(&login);
    let me = platform.gql(ME, json!({}), session.token()).await;

    assert_eq!(session.user_id, registered.user_id);
    assert_eq!(login["expiresIn"], json!(900));
    assert_eq!(me["data"]["me"]["id"], json!(registered.user_id));
    assert_eq!(
        me["data"]["me"]["email"],
        json!(email),
        "emails are stored lower-cased"
    );
    assert_eq!(me["data"]["me"]["name"], json!("Ann Lee"));
    assert_eq!(me["data"]["me"]["role"], json!("CUSTOMER"));
}

#[tokio::test]
async fn me_is_null_for_anonymous_callers() {
    let platform = Platform::start().await;
    let body = platform.gql(ME, json!({}), None).await;
    assert_eq!(body["data"], json!({ "me": null }), "{body}");
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn registering_an_email_twice_is_email_taken_whatever_its_case() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "First").await;

    let mutation = "mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } userErrors { code field } } }";
    let input = json!({ "email": format!("  {}", email.to_uppercase()), "password": PASSWORD, "name": "Second" });
    let body = platform
        .gql(mutation, json!({ "input": input }), None)
        .await;

    let payload = &body["data"]["register"];
    assert_eq!(user_error_codes(payload), ["EMAIL_TAKEN"]);
    assert_eq!(payload["accessToken"], Value::Null);
    assert_eq!(payload["user"], Value::Null);
}

#[tokio::test]
async fn bad_registrations_name_every_bad_field() {
    let platform = Platform::start().await;
    let mutation = "mutation($input: RegisterInput!) { register(input: $input) { accessToken userErrors { code field } } }";
    let body = platform
        .gql(
            mutation,
            json!({ "input": { "email": "not-an-email", "password": "short", "name": " " } }),
            None,
        )
        .await;
    let payload = &body["data"]["register"];
    assert_eq!(
        user_error_codes(payload),
        ["INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT"]
    );
    assert_eq!(payload["userErrors"][0]["field"], json!(["input", "email"]));
    assert_eq!(
        payload["userErrors"][1]["field"],
        json!(["input", "password"])
    );
    assert_eq!(payload["userErrors"][2]["field"], json!(["input", "name"]));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_are_the_same_invalid_credentials() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Ann").await;

    let wrong_password = platform.login(&email, "not the password").await;
    let unknown_email = platform.login(&unique_email(), PASSWORD).await;

    assert_eq!(user_error_codes(&wrong_password), ["INVALID_CREDENTIALS"]);
    assert_eq!(user_error_codes(&unknown_email), ["INVALID_CREDENTIALS"]);
    assert_eq!(
        wrong_password["userErrors"][0]["message"],
        unknown_email["userErrors"][0]["message"]
    );
    assert_eq!(wrong_password["accessToken"], Value::Null);
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Ann").await;

    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(user_error_codes(&platform.login(&email, "wrong password!").await).join(","));
    }
    let right_password = platform.login(&email, PASSWORD).await;

    assert_eq!(
        codes,
        [
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "ACCOUNT_LOCKED"
        ]
    );
    assert_eq!(user_error_codes(&right_password), ["ACCOUNT_LOCKED"]);
    assert_eq!(right_password["accessToken"], Value::Null);
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Ann").await;

    for _ in 0..4 {
        platform.login(&email, "wrong password!").await;
    }
    Session::from_payload(&platform.login(&email, PASSWORD).await);
    let after_reset = platform.login(&email, "wrong password!").await;

    assert_eq!(user_error_codes(&after_reset), ["INVALID_CREDENTIALS"]);
}

const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id } userErrors { code field } } }";

/// `refreshToken` with `refresh_token`; its payload.
async fn refresh(platform: &Platform, refresh_token: &str) -> Value {
    let body = platform
        .gql(REFRESH, json!({ "t": refresh_token }), None)
        .await;
    body["data"]["refreshToken"].clone()
}

#[tokio::test]
async fn refreshing_rotates_the_token_and_reuse_revokes_the_whole_login() {
    let platform = Platform::start().await;
    let session = platform.customer().await;

    let rotated = Session::from_payload(&refresh(&platform, &session.refresh_token).await);
    let me = platform.gql(ME, json!({}), rotated.token()).await;
    // Replaying the spent token (a thief, or a replay) ...
    let reused = refresh(&platform, &session.refresh_token).await;
    // ... also ends the rotated token's life: the whole family is revoked.
    let after_reuse = refresh(&platform, &rotated.refresh_token).await;

    assert_ne!(rotated.refresh_token, session.refresh_token);
    assert_eq!(me["data"]["me"]["id"], json!(session.user_id));
    assert_eq!(user_error_codes(&reused), ["INVALID_REFRESH_TOKEN"]);
    assert_eq!(user_error_codes(&after_reuse), ["INVALID_REFRESH_TOKEN"]);
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_rotate_it_once() {
    let platform = Platform::start().await;
    let session = platform.customer().await;

    let vars = json!({ "t": session.refresh_token });
    let (a, b) = tokio::join!(
        platform.gql(REFRESH, vars.clone(), None),
        platform.gql(REFRESH, vars, None)
    );

    let succeeded = [&a, &b]
        .iter()
        .filter(|body| body["data"]["refreshToken"]["accessToken"].is_string())
        .count();
    assert_eq!(succeeded, 1, "{a}\n{b}");
}

#[tokio::test]
async fn logout_ends_the_login_for_its_refresh_token() {
    let platform = Platform::start().await;
    let session = platform.customer().await;

    let mutation = "mutation($t: String!) { logout(refreshToken: $t) { ok userErrors { code } } }";
    let logout = platform
        .gql(mutation, json!({ "t": session.refresh_token }), None)
        .await;
    let refreshed = refresh(&platform, &session.refresh_token).await;

    assert_eq!(
        logout["data"]["logout"],
        json!({ "ok": true, "userErrors": [] })
    );
    assert_eq!(user_error_codes(&refreshed), ["INVALID_REFRESH_TOKEN"]);
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_are_unauthenticated() {
    let platform = Platform::start().await;
    let session = platform.customer().await;
    let key_pem = std::fs::read_to_string(platform.data_dir.join("jwt-signing-key.pem"))
        .expect("the platform's signing key");
    let platform_key = SigningKey::from_pem(&key_pem).expect("key");
    let user_id = session.user_id.parse().expect("uuid");
    let now = chrono_now();

    let tampered = promote_without_resigning(&session.access_token);
    let expired = platform_key
        .sign(&Claims::new(user_id, Role::Customer, now - 7200, 60))
        .expect("sign");
    let foreign = SigningKey::generate()
        .expect("key")
        .sign(&Claims::new(user_id, Role::Admin, now, 600))
        .expect("sign");

    for (what, token) in [
        ("tampered", tampered),
        ("expired", expired),
        ("foreign", foreign),
    ] {
        let (status, body) = platform.post(ME, json!({}), Some(&token)).await;
        assert!(status < 500, "{what}: HTTP {status}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}: {body}");
        assert!(body["data"]["me"].is_null(), "{what}: {body}");
    }
}

/// The token with its role claim changed to ADMIN and the original signature kept.
fn promote_without_resigning(token: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let claims =
        String::from_utf8(engine.decode(&parts[1]).expect("base64 claims")).expect("utf-8 claims");
    assert!(claims.contains("\"CUSTOMER\""), "{claims}");
    parts[1] = engine.encode(claims.replace("\"CUSTOMER\"", "\"ADMIN\""));
    parts.join(".")
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[tokio::test]
async fn only_admins_look_up_other_users() {
    let (platform, admin) = Platform::with_admin().await;
    let customer = platform.customer().await;
    let other = platform.customer().await;
    let query = "query($id: ID!) { user(id: $id) { id email role } }";
    let vars = json!({ "id": other.user_id });

    let as_admin = platform.gql(query, vars.clone(), admin.token()).await;
    let as_customer = platform.gql(query, vars.clone(), customer.token()).await;
    let as_anonymous = platform.gql(query, vars, None).await;
    let admin_me = platform.gql(ME, json!({}), admin.token()).await;

    assert_eq!(as_admin["data"]["user"]["id"], json!(other.user_id));
    assert_eq!(as_admin["data"]["user"]["role"], json!("CUSTOMER"));
    assert_eq!(error_code(&as_customer), "FORBIDDEN");
    assert!(as_customer["data"]["user"].is_null());
    assert_eq!(error_code(&as_anonymous), "UNAUTHENTICATED");
    assert_eq!(admin_me["data"]["me"]["role"], json!("ADMIN"));
}

/// Runs `emporium up` against `platform`'s stores with `admin_email` as the start-up admin,
/// on ports and a data directory of its own; returns its output once it exits.
async fn start_up_with_admin(
    platform: &Platform,
    admin_email: &str,
    admin_password: &str,
) -> std::process::Output {
    let data_dir = platform.data_dir.join("second-start");
    let data_dir = data_dir.display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port().to_string())
        .expect("a free port");
    let mut env = vec![
        ("EMPORIUM_ADMIN_EMAIL", admin_email),
        ("EMPORIUM_ADMIN_PASSWORD", admin_password),
        ("EMPORIUM_DATA_DIR", data_dir.as_str()),
        ("EMPORIUM_SEED_DEMO_CATALOG", "false"),
        ("EMPORIUM_ROUTER_PORT", port.as_str()),
        (
            "EMPORIUM_SUPERGRAPH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"),
        ),
    ];
    for variable in [
        "EMPORIUM_USERS_PORT",
        "EMPORIUM_PRODUCTS_PORT",
        "EMPORIUM_INVENTORY_PORT",
        "EMPORIUM_SEARCH_PORT",
        "EMPORIUM_ORDERS_PORT",
        "EMPORIUM_PAYMENTS_PORT",
        "EMPORIUM_NOTIFICATIONS_PORT",
    ] {
        env.push((variable, "0"));
    }
    platform.emporium_with_env(&["up"], &env).await
}

#[tokio::test]
async fn start_up_refuses_to_make_a_registered_account_the_admin() {
    let platform = Platform::start().await;
    let squatted = unique_email();
    let squatter = platform.register(&squatted, "Squatter").await;
    let operator_password = "the-operators-password-1";

    let start = start_up_with_admin(&platform, &squatted, operator_password).await;

    let stderr = String::from_utf8_lossy(&start.stderr);
    assert!(!start.status.success(), "start-up must refuse: {stderr}");
    assert!(
        stderr.contains("not an admin")
            && stderr.contains("create-admin")
            && stderr.contains("--promote"),
        "a clear message naming the way out: {stderr}"
    );
    assert!(stderr.contains(&squatter.user_id), "{stderr}");
    // The squatter is still a customer with no rights, and kept only their own password.
    let as_squatter = Session::from_payload(&platform.login(&squatted, PASSWORD).await);
    let me = platform.gql(ME, json!({}), as_squatter.token()).await;
    let query = "query($id: ID!) { user(id: $id) { id } }";
    let lookup = platform
        .gql(
            query,
            json!({ "id": platform.admin().await.user_id }),
            as_squatter.token(),
        )
        .await;
    let with_operator_password = platform.login(&squatted, operator_password).await;
    assert_eq!(me["data"]["me"]["role"], json!("CUSTOMER"));
    assert_eq!(error_code(&lookup), "FORBIDDEN");
    assert_eq!(
        user_error_codes(&with_operator_password),
        ["INVALID_CREDENTIALS"]
    );
}

#[tokio::test]
async fn only_an_explicit_promote_makes_an_existing_account_admin() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Future Admin").await;

    let without_promote = platform
        .emporium_with_env(
            &["create-admin", "--email", &email],
            &[("EMPORIUM_NEW_ADMIN_PASSWORD", "another-password-1")],
        )
        .await;
    let role_before = platform.login(&email, PASSWORD).await["user"]["role"].clone();
    let promoted = platform
        .emporium(&["create-admin", "--email", &email, "--promote"])
        .await;
    let after = platform.login(&email, PASSWORD).await;
    // An admin that already exists is left as it is (what start-up does too): the password
    // given only ever sets the password of an account it creates.
    let existing_admin = platform
        .emporium_with_env(
            &["create-admin", "--email", ADMIN_EMAIL],
            &[("EMPORIUM_NEW_ADMIN_PASSWORD", "a-different-password-1")],
        )
        .await;
    let old_admin_password = platform.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    assert!(!without_promote.status.success());
    assert!(String::from_utf8_lossy(&without_promote.stderr).contains("--promote"));
    assert_eq!(role_before, json!("CUSTOMER"));
    assert!(
        promoted.status.success(),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    assert_eq!(after["user"]["role"], json!("ADMIN"));
    assert!(
        existing_admin.status.success(),
        "{}",
        String::from_utf8_lossy(&existing_admin.stderr)
    );
    assert_eq!(old_admin_password["userErrors"], json!([]));
}

#[tokio::test]
async fn twenty_parallel_wrong_passwords_all_count_and_then_the_right_one_is_locked_out() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Ann").await;

    let guesses = (0..20).map(|i| {
        let (platform, email) = (&platform, &email);
        async move { platform.login(email, &format!("wrong password {i}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let right_password = platform.login(&email, PASSWORD).await;

    let codes: Vec<String> = answers
        .iter()
        .map(|answer| user_error_codes(answer).join(","))
        .collect();
    let checked = codes.iter().filter(|c| *c == "INVALID_CREDENTIALS").count();
    let locked = codes.iter().filter(|c| *c == "ACCOUNT_LOCKED").count();
    // Each guess was counted before its password was checked: four failures, the fifth
    // locked the client, and the fifteen after it were refused without a check.
    assert_eq!((checked, locked), (4, 16), "{codes:?}");
    assert_eq!(user_error_codes(&right_password), ["ACCOUNT_LOCKED"]);
    assert_eq!(right_password["accessToken"], Value::Null);
}

const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) {
    accessToken user { id } userErrors { code message } } }";

/// `login` straight at the users subgraph, as the client with this device id.
async fn login_as_client(platform: &Platform, client: &str, email: &str, password: &str) -> Value {
    let response = platform
        .http()
        .post(platform.subgraph_graphql_url("users"))
        .header("x-emporium-client", client)
        .json(&json!({ "query": LOGIN, "variables": { "input": { "email": email, "password": password } } }))
        .send()
        .await
        .expect("the users subgraph answers");
    let body: Value = response.json().await.expect("JSON body");
    body["data"]["login"].clone()
}

#[tokio::test]
async fn an_attacker_failing_on_one_client_cannot_lock_the_victim_out() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Victim").await;

    let mut attacker = Vec::new();
    for i in 0..12 {
        let answer =
            login_as_client(&platform, "attacker-laptop", &email, &format!("guess {i}")).await;
        attacker.push(user_error_codes(&answer).join(","));
    }
    // The victim signs in from a device that never signed in before, while the attacker is
    // locked out and keeps trying.
    let victim = login_as_client(&platform, "victim-phone", &email, PASSWORD).await;
    let attacker_with_the_password =
        login_as_client(&platform, "attacker-laptop", &email, PASSWORD).await;

    assert_eq!(attacker[..4], ["INVALID_CREDENTIALS"; 4]);
    assert!(
        attacker[4..].iter().all(|c| c == "ACCOUNT_LOCKED"),
        "{attacker:?}"
    );
    assert_eq!(victim["userErrors"], json!([]), "{victim}");
    assert!(victim["accessToken"].is_string());
    assert_eq!(
        user_error_codes(&attacker_with_the_password),
        ["ACCOUNT_LOCKED"]
    );
}

#[tokio::test]
async fn guesses_spread_over_many_clients_slow_down_new_clients_but_not_the_victims_own() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Victim").await;
    let before = login_as_client(&platform, "victim-phone", &email, PASSWORD).await;
    assert_eq!(before["userErrors"], json!([]), "{before}");

    // Eleven clients, one guess each: none reaches its own limit, but together they pass the
    // account's threshold (10), so clients that never signed in must now wait.
    for i in 0..11 {
        let answer =
            login_as_client(&platform, &format!("bot-{i}"), &email, "not the password").await;
        assert_eq!(
            user_error_codes(&answer),
            ["INVALID_CREDENTIALS"],
            "bot {i}"
        );
    }
    let new_client = login_as_client(&platform, "bot-new", &email, PASSWORD).await;
    let victim = login_as_client(&platform, "victim-phone", &email, PASSWORD).await;

    assert_eq!(user_error_codes(&new_client), ["ACCOUNT_LOCKED"]);
    assert_eq!(new_client["accessToken"], Value::Null);
    assert_eq!(victim["userErrors"], json!([]), "{victim}");
}

// ---------------------------------------------------------------- mail (a real SMTP server)

const REQUEST_RESET: &str =
    "mutation($email: String!) { requestPasswordReset(email: $email) { ok userErrors { code } } }";
const RESET: &str = "mutation($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) { accessToken refreshToken user { id emailVerified } userErrors { code field } } }";
const VERIFY: &str =
    "mutation($token: String!) { verifyEmail(token: $token) { ok userErrors { code field } } }";

/// A platform mailing through `smtp`, its mailed links under `https://shop.example.test`.
async fn platform_mailing_to(smtp: &emporium_kernel::testing::TestSmtp, log: &str) -> Platform {
    Platform::start_with(Options {
        env: vec![
            ("EMPORIUM_SMTP_URL", smtp.url()),
            (
                "EMPORIUM_PUBLIC_URL",
                "https://shop.example.test".to_owned(),
            ),
            (
                "EMPORIUM_MAIL_FROM",
                "Emporium <shop@example.test>".to_owned(),
            ),
        ],
        log_filter: Some(log.to_owned()),
        ..Options::default()
    })
    .await
}

async fn refreshes(platform: &Platform, session: &Session) -> bool {
    refresh(platform, &session.refresh_token).await["accessToken"].is_string()
}

#[tokio::test]
async fn a_password_reset_mailed_over_smtp_works_once_and_ends_every_other_session() {
    let smtp = emporium_kernel::testing::TestSmtp::start(free_port());
    let platform = platform_mailing_to(&smtp, "info").await;
    let email = unique_email();
    let first = platform.register(&email, "Ann").await;
    let second = Session::from_payload(&platform.login(&email, PASSWORD).await);
    // The verification link (users) and the welcome's copy (notifications).
    smtp.wait_for_messages_to(&email, 2).await;

    let known = platform
        .gql(REQUEST_RESET, json!({ "email": email }), None)
        .await;
    let unknown_email = unique_email();
    let unknown = platform
        .gql(REQUEST_RESET, json!({ "email": unknown_email }), None)
        .await;

    // The same answer (the cost extension only reports the caller's rate-limit budget).
    assert_eq!(known["data"], unknown["data"], "{known} {unknown}");
    assert_eq!(known["errors"], unknown["errors"]);
    assert_eq!(
        known["extensions"]["cost"]["actualQueryCost"],
        unknown["extensions"]["cost"]["actualQueryCost"]
    );
    assert_eq!(
        known["data"],
        json!({ "requestPasswordReset": { "ok": true, "userErrors": [] } })
    );
    let mails = smtp.wait_for_messages_to(&email, 3).await;
    let mail = mails
        .iter()
        .find(|m| m.link_containing("/reset-password?token=").is_some())
        .unwrap_or_else(|| panic!("no reset mail among {mails:?}"));
    assert_eq!(mail.from, "Emporium <shop@example.test>");
    let link = mail.link_containing("reset-password").expect("link");
    assert!(
        link.starts_with("https://shop.example.test/reset-password?token="),
        "{link}"
    );
    let token = mail.token_in_link("reset-password").expect("token");

    let reset = platform
        .gql(
            RESET,
            json!({ "token": token, "password": "a brand new password" }),
            None,
        )
        .await;
    let again = platform
        .gql(
            RESET,
            json!({ "token": token, "password": "yet another password" }),
            None,
        )
        .await;

    let signed_in = Session::from_payload(&reset["data"]["resetPassword"]);
    assert_eq!(signed_in.user_id, first.user_id);
    assert_eq!(
        again["data"]["resetPassword"]["userErrors"],
        json!([{ "code": "INVALID_TOKEN", "field": ["token"] }]),
        "{again}"
    );
    assert!(
        !refreshes(&platform, &first).await,
        "the first session ended"
    );
    assert!(
        !refreshes(&platform, &second).await,
        "the second session ended"
    );
    assert!(refreshes(&platform, &signed_in).await);
    assert_eq!(
        user_error_codes(&platform.login(&email, PASSWORD).await),
        ["INVALID_CREDENTIALS"]
    );
    Session::from_payload(&platform.login(&email, "a brand new password").await);
    assert!(
        smtp.messages_to(&unknown_email).is_empty(),
        "nothing is mailed to an address without an account"
    );
    let log = platform.log();
    assert!(log.contains("password-reset link queued"), "{log}");
    assert!(!log.contains(&token), "the reset token was logged");
    assert!(!log.contains(&email), "the address was logged");
}

#[tokio::test]
async fn registration_mails_a_verification_link_and_the_welcome_over_smtp() {
    let smtp = emporium_kernel::testing::TestSmtp::start(free_port());
    let platform = platform_mailing_to(&smtp, "warn").await;
    let email = unique_email();
    let session = platform.register(&email, "Ann").await;
    let before = platform
        .gql("{ me { emailVerified } }", json!({}), session.token())
        .await;
    assert_eq!(
        before["data"]["me"]["emailVerified"],
        json!(false),
        "{before}"
    );

    // The verification link (users) and the welcome's outbound copy (notifications).
    let mails = smtp.wait_for_messages_to(&email, 2).await;
    let verification = mails
        .iter()
        .find_map(|m| m.token_in_link("https://shop.example.test/verify-email?token="))
        .unwrap_or_else(|| panic!("no verification link among {mails:?}"));
    let welcome = mails
        .iter()
        .find(|m| m.subject == "Welcome to Emporium, Ann")
        .unwrap_or_else(|| panic!("no welcome among {mails:?}"));
    assert!(
        welcome.body.contains("Your account is ready"),
        "{welcome:?}"
    );

    let verified = platform
        .gql(VERIFY, json!({ "token": verification }), None)
        .await;
    let again = platform
        .gql(VERIFY, json!({ "token": verification }), None)
        .await;
    let after = platform
        .gql("{ me { emailVerified } }", json!({}), session.token())
        .await;

    assert_eq!(
        verified["data"]["verifyEmail"],
        json!({ "ok": true, "userErrors": [] })
    );
    assert_eq!(
        again["data"]["verifyEmail"]["userErrors"],
        json!([{ "code": "INVALID_TOKEN", "field": ["token"] }])
    );
    assert_eq!(after["data"]["me"]["emailVerified"], json!(true));
}

#[tokio::test]
async fn a_mail_server_that_is_down_changes_no_answer_and_is_reported() {
    // Nothing listens on this port.
    let port = free_port();
    let platform = Platform::start_with(Options {
        env: vec![("EMPORIUM_SMTP_URL", format!("smtp://127.0.0.1:{port}"))],
        log_filter: Some("warn".to_owned()),
        ..Options::default()
    })
    .await;
    let email = unique_email();
    platform.register(&email, "Ann").await;

    let known = platform
        .gql(REQUEST_RESET, json!({ "email": email }), None)
        .await;
    let unknown = platform
        .gql(REQUEST_RESET, json!({ "email": unique_email() }), None)
        .await;

    assert_eq!(known["data"], unknown["data"]);
    assert_eq!(
        known["data"]["requestPasswordReset"],
        json!({ "ok": true, "userErrors": [] })
    );
    // Each failed attempt is logged (by the mail's label, never its address or link).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let log = platform.log();
        if log.contains("sending a mail failed; retrying") && log.contains("reset-password user=") {
            assert!(!log.contains(&email), "the address was logged");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed mail was reported:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn without_an_smtp_server_mail_is_written_as_eml_files_in_the_data_directory() {
    let platform = Platform::start().await;
    let email = unique_email();
    platform.register(&email, "Ann").await;
    let mail_dir = platform.data_dir.join("mail");

    assert!(
        platform.log().contains(&format!(
            "mail goes to .eml files in {}",
            mail_dir.display()
        )),
        "the start-up output says where mail goes:\n{}",
        platform.log()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mails: Vec<_> = std::fs::read_dir(&mail_dir)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .map(|raw| emporium_kernel::testing::parse_mail(&raw))
                    .filter(|m| m.to == email)
                    .collect()
            })
            .unwrap_or_default();
        if mails
            .iter()
            .any(|m| m.link_containing("/verify-email?token=").is_some())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no verification mail in {}",
            mail_dir.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
