//! Sessions end: an absolute and an idle lifetime per login, signing out everywhere, a
//! password change ending the other sessions, and spent or expired tokens pruned.

use chrono::Duration;
use emporium_users::Settings;
use serde_json::json;

use crate::*;

const OK: &str = "{ ok userErrors { code field } }";

#[tokio::test]
async fn a_login_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let users = Users::start().await;
    let mut session = users.register(&unique_email()).await;

    // Refreshed every 20 days (well within the 30-day idle lifetime) ...
    for _ in 0..4 {
        users.clock.advance(Duration::days(20));
        session = users
            .refresh(&session.refresh_token)
            .await
            .expect("still live");
    }
    // ... the login still ends 90 days after it began.
    users.clock.advance(Duration::days(11));
    let after_ninety_days = users.refresh(&session.refresh_token).await;

    assert_eq!(
        after_ninety_days.map(|_| ()),
        Err(vec!["INVALID_REFRESH_TOKEN".to_owned()])
    );
}

#[tokio::test]
async fn a_login_left_unused_past_its_idle_lifetime_ends() {
    let users = Users::start_with(Settings {
        refresh_token_ttl: Duration::days(7),
        ..Settings::default()
    })
    .await;
    let session = users.register(&unique_email()).await;
    let used = users.register(&unique_email()).await;

    users.clock.advance(Duration::days(6));
    let used = users
        .refresh(&used.refresh_token)
        .await
        .expect("used in time");
    users.clock.advance(Duration::days(2));
    let idle = users.refresh(&session.refresh_token).await;
    let kept_alive = users.refresh(&used.refresh_token).await;

    assert_eq!(
        idle.map(|_| ()),
        Err(vec!["INVALID_REFRESH_TOKEN".to_owned()])
    );
    assert!(kept_alive.is_ok());
}

#[tokio::test]
async fn logout_everywhere_ends_every_login_of_the_caller_only() {
    let users = Users::start().await;
    let email = unique_email();
    let first = users.register(&email).await;
    let second = Session::from_payload(&users.login(&email, PASSWORD).await);
    let someone_else = users.register(&unique_email()).await;

    let anonymous = users
        .gql(
            &format!("mutation {{ logoutEverywhere {OK} }}"),
            json!({}),
            None,
        )
        .await;
    let body = users
        .gql(
            &format!("mutation {{ logoutEverywhere {OK} }}"),
            json!({}),
            first.token(),
        )
        .await;

    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        body["data"]["logoutEverywhere"],
        json!({ "ok": true, "userErrors": [] })
    );
    assert!(users.refresh(&first.refresh_token).await.is_err());
    assert!(users.refresh(&second.refresh_token).await.is_err());
    assert!(users.refresh(&someone_else.refresh_token).await.is_ok());
}

const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { ok userErrors { code field } } }";

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let users = Users::start().await;
    let email = unique_email();
    let this = users.register(&email).await;
    let other = Session::from_payload(&users.login(&email, PASSWORD).await);

    let wrong = users
        .gql(
            CHANGE,
            json!({ "c": "not the password", "n": "a brand new password" }),
            this.token(),
        )
        .await;
    let too_short = users
        .gql(CHANGE, json!({ "c": PASSWORD, "n": "short" }), this.token())
        .await;
    let changed = users
        .gql(
            CHANGE,
            json!({ "c": PASSWORD, "n": "a brand new password" }),
            this.token(),
        )
        .await;

    assert_eq!(
        wrong["data"]["changePassword"],
        json!({ "ok": false, "userErrors": [{ "code": "WRONG_PASSWORD", "field": ["currentPassword"] }] })
    );
    assert_eq!(
        too_short["data"]["changePassword"],
        json!({ "ok": false, "userErrors": [{ "code": "INVALID_INPUT", "field": ["newPassword"] }] })
    );
    assert_eq!(
        changed["data"]["changePassword"],
        json!({ "ok": true, "userErrors": [] })
    );
    assert!(
        users.refresh(&this.refresh_token).await.is_ok(),
        "this session goes on"
    );
    assert!(
        users.refresh(&other.refresh_token).await.is_err(),
        "the other one ended"
    );
    assert_eq!(
        codes(&users.login(&email, PASSWORD).await),
        ["INVALID_CREDENTIALS"]
    );
    Session::from_payload(&users.login(&email, "a brand new password").await);
}

#[tokio::test]
async fn spent_revoked_and_expired_tokens_are_pruned_and_live_logins_kept() {
    let users = Users::start().await;
    let live = users.register(&unique_email()).await;
    let live = users.refresh(&live.refresh_token).await.expect("rotated");
    let ended = users.register(&unique_email()).await;
    users
        .gql(
            &format!("mutation {{ logoutEverywhere {OK} }}"),
            json!({}),
            ended.token(),
        )
        .await;
    let expiring = users.register(&unique_email()).await;
    let before = users.refresh_token_rows().await;

    users.clock.advance(Duration::days(29));
    let live = users
        .refresh(&live.refresh_token)
        .await
        .expect("refreshed in time");
    users.clock.advance(Duration::days(2));
    let pruned = users
        .state
        .store
        .prune_refresh_tokens(users.clock.now())
        .await
        .expect("prune");

    // The live login keeps its history (a spent token replayed must still revoke it).
    assert_eq!(before, 4);
    assert_eq!(pruned, 2, "the ended login and the expired one");
    assert_eq!(users.refresh_token_rows().await, 3);
    assert!(users.refresh(&live.refresh_token).await.is_ok());
    assert!(users.refresh(&expiring.refresh_token).await.is_err());
}
