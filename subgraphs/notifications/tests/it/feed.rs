//! The feed through the real `router()`: one's own notifications only, newest first, in
//! pages; unread counts; marking read.

use emporium_kernel::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::*;

const FEED: &str = "query($first: Int, $after: String, $unreadOnly: Boolean) {
    notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node { id } }
        nodes { id kind title body orderId read createdAt } } }";

const MARK: &str = "mutation($id: ID!) { markNotificationRead(id: $id) {
    notification { id read } userErrors { code field message } } }";

/// A user with a welcome and the confirmation, shipping and delivery of one order.
async fn user_with_four_notifications(fixture: &Fixture) -> (Uuid, Vec<String>) {
    let user = Uuid::now_v7();
    let order = Order::of(user);
    fixture
        .deliver(&user_registered(user, "ann@example.com"))
        .await;
    for (status, previous) in [
        ("CONFIRMED", "PENDING"),
        ("SHIPPED", "CONFIRMED"),
        ("DELIVERED", "SHIPPED"),
    ] {
        fixture
            .deliver(&order.status_changed(status, Some(previous), None))
            .await;
    }
    let ids = fixture
        .feed(user)
        .await
        .iter()
        .map(|n| n.id.to_string())
        .collect();
    (user, ids)
}

fn connection(body: &Value) -> &Value {
    assert_eq!(body["errors"], Value::Null, "{body}");
    &body["data"]["notifications"]
}

fn node_ids(connection: &Value) -> Vec<&str> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id"))
        .collect()
}

#[tokio::test]
async fn the_feed_is_ones_own_newest_first_in_pages() {
    let fixture = Fixture::new().await;
    let (user, expected) = user_with_four_notifications(&fixture).await;
    let (stranger, _) = user_with_four_notifications(&fixture).await;
    let app = spawn_app(fixture.store.clone()).await;
    let token = app.token(user, Role::Customer);

    let first = app.gql(FEED, json!({ "first": 3 }), Some(&token)).await;
    let page = connection(&first);
    let rest = app
        .gql(
            FEED,
            json!({ "first": 3, "after": page["pageInfo"]["endCursor"] }),
            Some(&token),
        )
        .await;

    assert_eq!(page["totalCount"], 4);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(node_ids(page), expected[..3]);
    assert_eq!(page["edges"][2]["cursor"], page["pageInfo"]["endCursor"]);
    let kinds: Vec<&Value> = page["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["kind"])
        .collect();
    assert_eq!(
        kinds,
        ["ORDER_DELIVERED", "ORDER_SHIPPED", "ORDER_CONFIRMED"]
    );
    assert!(page["nodes"][0]["body"]
        .as_str()
        .is_some_and(|b| b.contains("$699.98")));
    assert_eq!(page["nodes"][0]["read"], false);
    assert!(page["nodes"][0]["orderId"].is_string());
    let rest = connection(&rest);
    assert_eq!(node_ids(rest), expected[3..]);
    assert_eq!(rest["nodes"][0]["kind"], "WELCOME");
    assert_eq!(rest["nodes"][0]["orderId"], Value::Null);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    let theirs = fixture.feed(stranger).await;
    assert!(theirs.iter().all(|n| !expected.contains(&n.id.to_string())));
}

#[tokio::test]
async fn unread_counts_drop_as_notifications_are_read_and_marking_twice_changes_nothing() {
    let fixture = Fixture::new().await;
    let (user, ids) = user_with_four_notifications(&fixture).await;
    let app = spawn_app(fixture.store.clone()).await;
    let token = app.token(user, Role::Customer);
    let unread = || async {
        let body = app
            .gql(FEED, json!({ "unreadOnly": true }), Some(&token))
            .await;
        connection(&body)["totalCount"].as_i64().expect("count")
    };
    assert_eq!(unread().await, 4);

    let marked = app.gql(MARK, json!({ "id": ids[1] }), Some(&token)).await;
    assert_eq!(
        marked["data"]["markNotificationRead"],
        json!({ "notification": { "id": ids[1], "read": true }, "userErrors": [] })
    );
    assert_eq!(unread().await, 3);
    let again = app.gql(MARK, json!({ "id": ids[1] }), Some(&token)).await;
    assert_eq!(
        again["data"]["markNotificationRead"],
        marked["data"]["markNotificationRead"]
    );
    assert_eq!(unread().await, 3);
    app.gql(MARK, json!({ "id": ids[0] }), Some(&token)).await;

    let body = app
        .gql(FEED, json!({ "unreadOnly": true }), Some(&token))
        .await;
    let unread_feed = connection(&body);
    assert_eq!(unread_feed["totalCount"], 2);
    assert_eq!(node_ids(unread_feed), [ids[2].as_str(), ids[3].as_str()]);
    let all = app.gql(FEED, json!({}), Some(&token)).await;
    assert_eq!(connection(&all)["totalCount"], 4);
}

#[tokio::test]
async fn someone_elses_unknown_or_malformed_notification_is_not_found() {
    let fixture = Fixture::new().await;
    let (owner, ids) = user_with_four_notifications(&fixture).await;
    let app = spawn_app(fixture.store.clone()).await;
    let stranger = app.token(Uuid::now_v7(), Role::Customer);
    let admin = app.token(Uuid::now_v7(), Role::Admin);

    for (id, token) in [
        (ids[0].clone(), &stranger),
        (ids[0].clone(), &admin),
        (Uuid::now_v7().to_string(), &stranger),
        ("not-an-id".to_owned(), &stranger),
    ] {
        let body = app.gql(MARK, json!({ "id": id }), Some(token)).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        let payload = &body["data"]["markNotificationRead"];
        assert_eq!(payload["notification"], Value::Null, "{body}");
        assert_eq!(payload["userErrors"][0]["code"], "NOT_FOUND", "{body}");
        assert_eq!(payload["userErrors"][0]["field"], json!(["id"]));
    }
    assert!(fixture.feed(owner).await.iter().all(|n| !n.is_read));
    let theirs = app.gql(FEED, json!({}), Some(&stranger)).await;
    assert_eq!(connection(&theirs)["totalCount"], 0);
}

#[tokio::test]
async fn user_notifications_are_for_the_user_and_admins_only() {
    let fixture = Fixture::new().await;
    let (user, ids) = user_with_four_notifications(&fixture).await;
    let app = spawn_app(fixture.store.clone()).await;
    let query = "query($representations: [_Any!]!) { _entities(representations: $representations) {
        ... on User { id notifications(first: 2, unreadOnly: true) { totalCount nodes { id } } } } }";
    let variables = json!({ "representations": [{ "__typename": "User", "id": user }] });

    let own = app
        .gql(
            query,
            variables.clone(),
            Some(&app.token(user, Role::Customer)),
        )
        .await;
    let as_admin = app
        .gql(
            query,
            variables.clone(),
            Some(&app.token(Uuid::now_v7(), Role::Admin)),
        )
        .await;
    let as_stranger = app
        .gql(
            query,
            variables.clone(),
            Some(&app.token(Uuid::now_v7(), Role::Customer)),
        )
        .await;
    let anonymous = app.gql(query, variables, None).await;

    assert_eq!(own["errors"], Value::Null, "{own}");
    let feed = &own["data"]["_entities"][0]["notifications"];
    assert_eq!(feed["totalCount"], 4);
    assert_eq!(node_ids(feed), ids[..2]);
    assert_eq!(as_admin["data"], own["data"]);
    assert_eq!(
        as_stranger["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{as_stranger}"
    );
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{anonymous}"
    );
}

#[tokio::test]
async fn signing_in_is_required_and_forged_cursors_are_bad_input() {
    let fixture = Fixture::new().await;
    let app = spawn_app(fixture.store.clone()).await;
    let token = app.token(Uuid::now_v7(), Role::Customer);

    let anonymous = app.gql(FEED, json!({}), None).await;
    let mark = app.gql(MARK, json!({ "id": Uuid::now_v7() }), None).await;
    let forged = app
        .gql(FEED, json!({ "after": "bm90LWEtY3Vyc29y" }), Some(&token))
        .await;
    let too_many = app.gql(FEED, json!({ "first": 101 }), Some(&token)).await;

    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(mark["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(forged["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        too_many["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn the_feed_and_resender_queries_have_their_indexes() {
    let fixture = Fixture::new().await;
    let client = mongodb::Client::with_uri_str(fixture.mongo.server_url())
        .await
        .expect("client");

    let mut names = client
        .database(fixture.mongo.name())
        .collection::<mongodb::bson::Document>(emporium_notifications::store::NOTIFICATIONS)
        .list_index_names()
        .await
        .expect("indexes");

    names.sort();
    assert_eq!(
        names,
        ["_id_", "delivery_due", "user_newest", "user_read_newest"]
    );
}

/// A page and its `totalCount` come from one snapshot: while notifications arrive, every
/// page that holds all of them counts exactly what it lists.
#[tokio::test]
async fn a_page_counts_what_it_lists_while_notifications_arrive() {
    use emporium_notifications::domain::{Kind, Notification};

    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();
    let arriving = async {
        for n in 0..40 {
            let notification = Notification {
                id: Uuid::now_v7(),
                user_id: user,
                kind: Kind::OrderShipped,
                title: format!("Shipment {n}"),
                body: "On its way.".to_owned(),
                order_id: None,
                is_read: false,
                created_at: chrono::Utc::now(),
            };
            fixture.store.insert(&notification).await.expect("insert");
        }
    };
    let paging = async {
        let mut pages = 0;
        let mut mismatches = Vec::new();
        loop {
            let page = fixture
                .store
                .page(user, false, None, 100)
                .await
                .expect("page");
            pages += 1;
            let listed = u64::try_from(page.notifications.len()).expect("len");
            if listed != page.total_count {
                mismatches.push((listed, page.total_count));
            }
            if listed == 40 {
                return (pages, mismatches);
            }
        }
    };
    let ((), (pages, mismatches)) = tokio::join!(arriving, paging);
    assert!(pages > 1);
    assert_eq!(
        mismatches,
        [],
        "pages listing n notifications but counting another"
    );
}
