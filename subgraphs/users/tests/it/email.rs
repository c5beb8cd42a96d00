//! Password reset and email verification by mailed links, against the real store (mail into
//! `.eml` files; the same over a real SMTP server is in the platform's tests), with the clock
//! moved instead of sleeping.

use chrono::Duration;
use serde_json::json;

use emporium_kernel::email::Email;
use emporium_users::domain::account_token::Purpose;

use crate::*;

const REQUEST: &str =
    "mutation($e: String!) { requestPasswordReset(email: $e) { ok userErrors { code } } }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { accessToken refreshToken user { id emailVerified } userErrors { code field } } }";
const VERIFY: &str =
    "mutation($t: String!) { verifyEmail(token: $t) { ok userErrors { code field } } }";
const RESEND: &str = "mutation { resendVerificationEmail { ok userErrors { code } } }";
const ME: &str = "{ me { id emailVerified } }";

/// The reset link's token in the mails to `email`, once `count` mails arrived.
async fn reset_token(users: &Users, email: &str, count: usize) -> String {
    users
        .wait_for_mails(email, count)
        .await
        .iter()
        .find_map(|m| m.token_in_link("/reset-password?token="))
        .expect("a reset link in the mail")
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_every_session() {
    let users = Users::start().await;
    let email = unique_email();
    let first = users.register(&email).await;
    let second = Session::from_payload(&users.login(&email, PASSWORD).await);
    users.wait_for_mails(&email, 1).await; // the verification mail

    let asked = users.gql(REQUEST, json!({ "e": email }), None).await;
    assert_eq!(
        asked["data"]["requestPasswordReset"],
        json!({ "ok": true, "userErrors": [] })
    );
    let mails = users.wait_for_mails(&email, 2).await;
    let mail = mails
        .iter()
        .find(|m| m.subject.contains("Reset"))
        .expect("the reset mail");
    assert!(
        mail.body
            .contains("http://127.0.0.1:4000/reset-password?token="),
        "{}",
        mail.body
    );
    let token = mail.token_in_link("reset-password").expect("token");

    let weak = users
        .gql(RESET, json!({ "t": token, "p": "short" }), None)
        .await;
    assert_eq!(
        weak["data"]["resetPassword"]["userErrors"],
        json!([{ "code": "INVALID_INPUT", "field": ["newPassword"] }]),
        "a weak password is refused and leaves the link usable"
    );
    let reset = users
        .gql(
            RESET,
            json!({ "t": token, "p": "a brand new password" }),
            None,
        )
        .await;
    let payload = &reset["data"]["resetPassword"];
    let signed_in = Session::from_payload(payload);
    assert_eq!(
        payload["user"]["emailVerified"],
        json!(true),
        "the link reached the address"
    );
    let again = users
        .gql(
            RESET,
            json!({ "t": token, "p": "yet another password" }),
            None,
        )
        .await;
    assert_eq!(
        again["data"]["resetPassword"]["userErrors"],
        json!([{ "code": "INVALID_TOKEN", "field": ["token"] }])
    );

    assert!(users.refresh(&first.refresh_token).await.is_err());
    assert!(users.refresh(&second.refresh_token).await.is_err());
    assert!(users.refresh(&signed_in.refresh_token).await.is_ok());
    assert_eq!(
        codes(&users.login(&email, PASSWORD).await),
        ["INVALID_CREDENTIALS"]
    );
    Session::from_payload(&users.login(&email, "a brand new password").await);
}

#[tokio::test]
async fn a_reset_link_expires_after_thirty_minutes_and_a_garbage_token_is_invalid() {
    let users = Users::start().await;
    let email = unique_email();
    users.register(&email).await;
    users.gql(REQUEST, json!({ "e": email }), None).await;
    let token = reset_token(&users, &email, 2).await;

    users.clock.advance(Duration::minutes(31));
    let expired = users
        .gql(
            RESET,
            json!({ "t": token, "p": "a brand new password" }),
            None,
        )
        .await;
    let garbage = users
        .gql(
            RESET,
            json!({ "t": "not-a-token", "p": "a brand new password" }),
            None,
        )
        .await;

    for answer in [expired, garbage] {
        assert_eq!(
            answer["data"]["resetPassword"],
            json!({ "accessToken": null, "refreshToken": null, "user": null,
                    "userErrors": [{ "code": "INVALID_TOKEN", "field": ["token"] }] })
        );
    }
    Session::from_payload(&users.login(&email, PASSWORD).await);
}

#[tokio::test]
async fn known_and_unknown_emails_get_the_same_answer_and_only_accounts_get_mail() {
    let users = Users::start().await;
    let email = unique_email();
    users.register(&email).await;
    users.wait_for_mails(&email, 1).await;

    let known = users.gql(REQUEST, json!({ "e": email }), None).await;
    let unknown = users
        .gql(REQUEST, json!({ "e": unique_email() }), None)
        .await;
    let malformed = users
        .gql(REQUEST, json!({ "e": "not an address" }), None)
        .await;

    assert_eq!(known, unknown);
    assert_eq!(known, malformed);
    users.wait_for_mails(&email, 2).await;
    // The mail queue is empty once the known one arrived: nothing else is on its way.
    assert_eq!(
        users.mails().len(),
        2,
        "the verification and the one reset mail"
    );
}

#[tokio::test]
async fn one_link_per_purpose_a_minute_however_many_ask_at_once() {
    let users = Users::start().await;
    let email = unique_email();
    users.register(&email).await;
    let account = users
        .state
        .store
        .find_by_email(&Email::parse(&email).expect("email"))
        .await
        .expect("find")
        .expect("the account");
    let now = users.clock.now();
    let mut tasks = tokio::task::JoinSet::new();
    for nth in 0..8u8 {
        let store = users.state.store.clone();
        let email = account.email.clone();
        tasks.spawn(async move {
            store
                .insert_account_token(
                    account.id.into(),
                    &email,
                    Purpose::PasswordReset,
                    &[nth; 32],
                    now,
                    Duration::minutes(1),
                )
                .await
                .expect("insert")
        });
    }

    let stored = tasks.join_all().await;
    let later = users
        .state
        .store
        .insert_account_token(
            account.id.into(),
            &account.email,
            Purpose::PasswordReset,
            &[99; 32],
            now + Duration::seconds(61),
            Duration::minutes(1),
        )
        .await
        .expect("insert");

    assert_eq!(stored.iter().filter(|s| **s).count(), 1, "{stored:?}");
    assert!(later, "a minute later another link may go out");
}

#[tokio::test]
async fn two_resets_with_one_link_at_once_succeed_once() {
    let users = Users::start().await;
    let email = unique_email();
    users.register(&email).await;
    users.gql(REQUEST, json!({ "e": email }), None).await;
    let token = reset_token(&users, &email, 2).await;

    let (a, b) = tokio::join!(
        users.gql(
            RESET,
            json!({ "t": token, "p": "first new password" }),
            None
        ),
        users.gql(
            RESET,
            json!({ "t": token, "p": "second new password" }),
            None
        ),
    );

    let succeeded = [&a, &b]
        .iter()
        .filter(|answer| answer["data"]["resetPassword"]["accessToken"].is_string())
        .count();
    assert_eq!(succeeded, 1, "{a} {b}");
}

#[tokio::test]
async fn registration_mails_a_verification_link_that_verifies_once() {
    let users = Users::start().await;
    let email = unique_email();
    let session = users.register(&email).await;
    let before = users.gql(ME, json!({}), session.token()).await;
    assert_eq!(before["data"]["me"]["emailVerified"], json!(false));

    let mails = users.wait_for_mails(&email, 1).await;
    let token = mails[0]
        .token_in_link("/verify-email?token=")
        .expect("a verification link");
    // Opened where nobody is signed in.
    let verified = users.gql(VERIFY, json!({ "t": token }), None).await;
    let again = users.gql(VERIFY, json!({ "t": token }), None).await;

    assert_eq!(
        verified["data"]["verifyEmail"],
        json!({ "ok": true, "userErrors": [] })
    );
    assert_eq!(
        again["data"]["verifyEmail"],
        json!({ "ok": false, "userErrors": [{ "code": "INVALID_TOKEN", "field": ["token"] }] })
    );
    let after = users.gql(ME, json!({}), session.token()).await;
    assert_eq!(after["data"]["me"]["emailVerified"], json!(true));
    // Nothing to resend to a verified address.
    let resent = users.gql(RESEND, json!({}), session.token()).await;
    assert_eq!(
        resent["data"]["resendVerificationEmail"],
        json!({ "ok": true, "userErrors": [] })
    );
    assert_eq!(users.mails().len(), 1);
}

#[tokio::test]
async fn a_verification_link_can_be_resent_once_a_minute_and_expires() {
    let users = Users::start().await;
    let email = unique_email();
    let session = users.register(&email).await;
    let first = users.wait_for_mails(&email, 1).await[0]
        .token_in_link("verify-email")
        .expect("link");

    let too_soon = users.gql(RESEND, json!({}), session.token()).await;
    assert_eq!(
        too_soon["data"]["resendVerificationEmail"],
        json!({ "ok": false, "userErrors": [{ "code": "RATE_LIMITED" }] })
    );
    let anonymous = users.gql(RESEND, json!({}), None).await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        json!("UNAUTHENTICATED")
    );
    users.clock.advance(Duration::hours(49));
    let resent = users.gql(RESEND, json!({}), session.token()).await;
    assert_eq!(
        resent["data"]["resendVerificationEmail"],
        json!({ "ok": true, "userErrors": [] })
    );
    let mails = users.wait_for_mails(&email, 2).await;
    let second = mails
        .iter()
        .filter_map(|m| m.token_in_link("verify-email"))
        .find(|t| *t != first)
        .expect("a new link");

    let expired = users.gql(VERIFY, json!({ "t": first }), None).await;
    assert_eq!(
        expired["data"]["verifyEmail"]["userErrors"][0]["code"],
        json!("INVALID_TOKEN")
    );
    let verified = users.gql(VERIFY, json!({ "t": second }), None).await;
    assert_eq!(verified["data"]["verifyEmail"]["ok"], json!(true));
}

#[tokio::test]
async fn spent_and_expired_links_and_stale_failure_records_are_pruned() {
    let users = Users::start().await;
    let email = unique_email();
    users.register(&email).await;
    let token = users.wait_for_mails(&email, 1).await[0]
        .token_in_link("verify-email")
        .expect("link");
    users.gql(VERIFY, json!({ "t": token }), None).await;
    let other = unique_email();
    users.register(&other).await;
    users.wait_for_mails(&other, 1).await;
    // A failed sign-in from a client that never signed in leaves a record.
    users.login(&email, "not the password").await;
    assert_eq!(
        count(&users, "SELECT count(*) FROM account_tokens").await,
        2
    );
    let failures_before = count(
        &users,
        "SELECT count(*) FROM login_clients WHERE signed_in_at IS NULL",
    )
    .await;
    assert_eq!(failures_before, 1);

    prune(&users).await;
    assert_eq!(
        count(&users, "SELECT count(*) FROM account_tokens").await,
        1,
        "the spent link went, the live one stays"
    );
    assert_eq!(
        count(
            &users,
            "SELECT count(*) FROM login_clients WHERE signed_in_at IS NULL"
        )
        .await,
        1,
        "a fresh failure is still counted"
    );

    users.clock.advance(Duration::days(3));
    prune(&users).await;
    assert_eq!(
        count(&users, "SELECT count(*) FROM account_tokens").await,
        0
    );
    assert_eq!(
        count(
            &users,
            "SELECT count(*) FROM login_clients WHERE signed_in_at IS NULL"
        )
        .await,
        0
    );
}

/// Prunes the account records as the hourly sweep does, at the clock's time.
async fn prune(users: &Users) {
    let now = users.clock.now();
    users
        .state
        .store
        .prune_account_records(now, now - emporium_users::LOGIN_FAILURES_KEPT)
        .await
        .expect("prune");
}

async fn count(users: &Users, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(users.state.store.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn sign_ins_to_an_unknown_email_are_counted_and_locked_like_an_accounts() {
    let users = Users::start().await;
    let known = unique_email();
    users.register(&known).await;
    let unknown = unique_email();

    let mut answers = Vec::new();
    for email in [&known, &unknown] {
        let mut codes_of_email = Vec::new();
        for _ in 0..7 {
            codes_of_email.push(codes(&users.login(email, "not the password").await));
        }
        answers.push(codes_of_email);
    }

    assert_eq!(answers[0], answers[1], "the answers tell accounts apart");
    assert_eq!(answers[1][0], ["INVALID_CREDENTIALS"]);
    assert_eq!(answers[1][6], ["ACCOUNT_LOCKED"]);

    // Stale records go with the other pruning once no lock is in force.
    users.clock.advance(Duration::days(3));
    prune(&users).await;
    assert_eq!(
        count(&users, "SELECT count(*) FROM unknown_email_logins").await,
        0
    );
    assert_eq!(
        count(&users, "SELECT count(*) FROM unknown_email_login_clients").await,
        0
    );
}
