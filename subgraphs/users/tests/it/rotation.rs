//! Key rotation without an outage: the next key is published in the JWKS before it signs, so
//! a verifier that fetched the JWKS once, before the rotation, accepts every token issued
//! while replicas with the old and the new keys serve logins side by side.

use emporium_kernel::auth::{Keyring, SigningKey, TokenVerifier};
use emporium_users::Settings;
use serde_json::{json, Value};

use crate::*;

fn access_token(payload: &Value) -> String {
    Session::from_payload(&payload["data"]["login"]).access_token
}

#[tokio::test]
async fn rotating_the_signing_key_while_logins_happen_rejects_no_token() {
    let old = SigningKey::generate().expect("key");
    let new = SigningKey::generate().expect("key");
    // Step 1: every replica restarts publishing the next key (EMPORIUM_JWT_NEXT_KEY_FILE).
    let users = Users::start_with_keyring(
        Settings::default(),
        Keyring::new(old.clone(), vec![]).with_next(&new),
    )
    .await;
    let email = unique_email();
    users.register(&email).await;
    // A verifier (the router, a subgraph in its own process) fetches the JWKS over HTTP,
    // once, before the rotation, and never again in this test.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let jwks_url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    let app = emporium_users::router(users.state.clone(), vec![]).expect("users router");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let verifier = TokenVerifier::fetch(&jwks_url, 20)
        .await
        .expect("fetch the JWKS");
    // A verifier that fetched before the next key was published: the control.
    let stale = TokenVerifier::from_jwks(&Keyring::new(old.clone(), vec![]).jwks()).expect("jwks");

    // Step 2: a rolling restart promotes the next key (the old one now retired): replicas on
    // the old keys and on the new ones serve logins side by side.
    let promoted = users.replica(Keyring::new(new.clone(), vec![old.clone()]));
    // Ten rounds, each a login on an old replica and one on a promoted replica at once (two
    // in flight: more parallel sign-ins from one client would meet its lockout, which counts
    // every attempt before checking it).
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let vars = json!({ "input": { "email": email, "password": PASSWORD } });
        let (on_old, on_new) = tokio::join!(
            execute(&users.schema, &users.verifier, LOGIN, vars.clone(), None),
            execute(&promoted, &users.verifier, LOGIN, vars, None),
        );
        tokens.push(access_token(&on_old));
        tokens.push(access_token(&on_new));
    }

    let rejected: Vec<String> = tokens
        .iter()
        .filter_map(|token| verifier.verify(token).err().map(|e| e.to_string()))
        .collect();
    assert!(rejected.is_empty(), "rejected: {rejected:?}");
    let kids: std::collections::BTreeSet<String> = tokens
        .iter()
        .map(|token| {
            jsonwebtoken::decode_header(token)
                .expect("header")
                .kid
                .expect("kid")
        })
        .collect();
    assert_eq!(kids, [old.kid().to_owned(), new.kid().to_owned()].into());
    let stale_rejects = tokens.iter().filter(|t| stale.verify(t).is_err()).count();
    assert_eq!(
        stale_rejects, 10,
        "without publishing first, the new key's tokens fail"
    );
}
