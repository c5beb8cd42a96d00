//! The index and the indexer on a real index directory: ranking rules, and an indexer that
//! restarts and receives events again ends with the same index.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use emporium_kernel::events::consumer::Handler;
use emporium_kernel::events::{Envelope, EventDraft};
use emporium_search::events::{IndexerHandler, COMMIT_INTERVAL};
use emporium_search::index::ProductSnapshot;
use emporium_search::query::{search, Filter, SearchRequest, Sort};
use emporium_search::SearchIndex;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("emporium-search-{}", uuid::Uuid::new_v4().simple()));
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An index with its committer running.
struct Running {
    index: SearchIndex,
    handler: IndexerHandler,
    stop: CancellationToken,
    committer: tokio::task::JoinHandle<()>,
}

impl Running {
    fn open(dir: &TempDir) -> Self {
        let index = SearchIndex::open(&dir.0).expect("open the index");
        let stop = CancellationToken::new();
        let committer = {
            let index = index.clone();
            let stop = stop.clone();
            tokio::spawn(async move { index.run_committer(COMMIT_INTERVAL, stop).await })
        };
        Self {
            handler: IndexerHandler::new(index.clone()),
            index,
            stop,
            committer,
        }
    }

    async fn close(self) {
        self.stop.cancel();
        self.committer.await.expect("committer");
    }

    async fn deliver(&self, events: &[Envelope]) {
        for event in events {
            self.handler.handle(event).await.expect("handled");
        }
    }

    fn ids(&self, text: &str, filter: Filter, sort: Sort) -> Vec<String> {
        let request = SearchRequest {
            text: text.to_owned(),
            filter,
            sort,
            offset: 0,
            limit: 100,
        };
        search(&self.index, &request)
            .expect("search")
            .hits
            .into_iter()
            .map(|h| h.product_id)
            .collect()
    }
}

fn snapshot(
    id: &str,
    name: &str,
    description: &str,
    price: &str,
    popularity: i64,
) -> serde_json::Value {
    json!({
        "productId": id, "sku": id, "name": name, "description": description,
        "category": "Audio > Headphones", "brand": "Acme",
        "price": { "amount": price, "currency": "USD" }, "attributes": [], "imageUrl": null,
        "popularity": popularity, "createdAt": "2026-11-01T10:00:00Z", "updatedAt": "2026-11-01T10:00:00Z",
    })
}

fn event(
    event_type: &'static str,
    subject: &str,
    sequence: i64,
    data: serde_json::Value,
) -> Envelope {
    EventDraft::new(event_type, subject.to_owned(), data).into_envelope(
        "/tests",
        sequence,
        Utc::now(),
    )
}

#[tokio::test]
async fn names_outrank_descriptions_exact_outranks_typos_and_popularity_breaks_ties() {
    let dir = TempDir::new();
    let running = Running::open(&dir);
    running
        .deliver(&[
            event(
                "product.created",
                "d",
                1,
                snapshot("d", "Plain Speaker", "Works with the Lumina app", "10", 900),
            ),
            event(
                "product.created",
                "n",
                1,
                snapshot("n", "Lumina Speaker", "A speaker", "20", 1),
            ),
            event(
                "product.created",
                "t",
                1,
                snapshot("t", "Lumena Lamp", "A lamp", "30", 5000),
            ),
            event(
                "product.created",
                "p1",
                1,
                snapshot("p1", "Orbit Earbuds", "Earbuds", "40", 10),
            ),
            event(
                "product.created",
                "p2",
                1,
                snapshot("p2", "Orbit Earbuds", "Earbuds", "50", 500),
            ),
        ])
        .await;

    // "lumina": the name match, then the description match, then the typo ("Lumena").
    assert_eq!(
        running.ids("lumina", Filter::default(), Sort::Relevance),
        ["n", "d", "t"]
    );
    // Equal text matches: the more popular first.
    let orbit = running.ids("orbit", Filter::default(), Sort::Relevance);
    assert_eq!(orbit, ["p2", "p1"]);
    assert_eq!(running.ids("", Filter::default(), Sort::PriceDesc)[0], "p2");
    running.close().await;
}

#[tokio::test]
async fn a_restarted_indexer_given_the_same_events_again_ends_with_the_same_index() {
    let dir = TempDir::new();
    let mut events = Vec::new();
    for i in 0..30 {
        let id = format!("prod-{i:02}");
        events.push(event(
            "product.created",
            &id,
            1,
            snapshot(
                &id,
                &format!("Widget {i}"),
                "A widget",
                &format!("{}.99", 10 + i),
                i,
            ),
        ));
        events.push(event("stock.changed", &id, 1, json!({ "productId": id, "onHand": i % 3, "reserved": 0, "available": i % 3, "inStock": i % 3 > 0 })));
    }
    events.push(event(
        "product.updated",
        "prod-05",
        2,
        snapshot("prod-05", "Gadget Five", "Renamed", "99.00", 5),
    ));
    events.push(event(
        "product.deleted",
        "prod-07",
        2,
        json!({ "productId": "prod-07", "sku": "prod-07" }),
    ));
    events.push(event("stock.changed", "prod-09", 2, json!({ "productId": "prod-09", "onHand": 0, "reserved": 0, "available": 0, "inStock": false })));

    let first = Running::open(&dir);
    first.deliver(&events).await;
    let queries = |r: &Running| {
        (
            r.ids("widget", Filter::default(), Sort::PriceAsc),
            r.ids("gadget", Filter::default(), Sort::Relevance),
            r.ids(
                "",
                Filter {
                    in_stock: Some(true),
                    ..Filter::default()
                },
                Sort::PriceAsc,
            ),
        )
    };
    let before = queries(&first);
    assert_eq!(before.0.len(), 28, "30 widgets, one renamed, one deleted");
    assert_eq!(before.1, ["prod-05"]);
    assert!(
        !before.2.contains(&"prod-09".to_owned()),
        "the later stock.changed wins"
    );
    first.close().await;

    // The process restarts; the broker redelivers everything, newest first this time.
    let second = Running::open(&dir);
    let mut again = events.clone();
    again.reverse();
    second.deliver(&again).await;
    tokio::time::sleep(COMMIT_INTERVAL * 2).await;
    assert_eq!(queries(&second), before);
    second.close().await;
}

#[tokio::test]
async fn stock_that_arrives_before_its_product_is_kept_for_it() {
    let dir = TempDir::new();
    let running = Running::open(&dir);
    running
        .deliver(&[
            event("stock.changed", "early", 1, json!({ "productId": "early", "onHand": 2, "reserved": 0, "available": 2, "inStock": true })),
            event("product.created", "early", 1, snapshot("early", "Early Bird Radio", "A radio", "25", 1)),
        ])
        .await;
    let in_stock = Filter {
        in_stock: Some(true),
        ..Filter::default()
    };
    assert_eq!(running.ids("radio", in_stock, Sort::Relevance), ["early"]);

    // A rebuild from the store keeps the stock the index knew.
    let product: ProductSnapshot =
        serde_json::from_value(snapshot("early", "Early Bird Radio", "A radio", "25", 1))
            .expect("snapshot");
    running
        .index
        .replace_all(vec![(1, product)])
        .await
        .expect("replace");
    let in_stock = Filter {
        in_stock: Some(true),
        ..Filter::default()
    };
    assert_eq!(running.ids("radio", in_stock, Sort::Relevance), ["early"]);
    running.close().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_rebuild_while_changes_are_still_uncommitted_leaves_no_duplicates() {
    use emporium_search::index::Change;
    let dir = TempDir::new();
    let index = SearchIndex::open(&dir.0).expect("open");
    let products: Vec<(u64, ProductSnapshot)> = (0..200)
        .map(|i| {
            let id = format!("p{i}");
            let value = snapshot(&id, &format!("Thing {i}"), "A thing", "5", 0);
            (1, serde_json::from_value(value).expect("snapshot"))
        })
        .collect();
    // Written, not committed: the writer's worker threads may still hold them.
    for (_, product) in &products {
        index
            .apply(Change::Upsert {
                sequence: 1,
                product: Box::new(product.clone()),
            })
            .await
            .expect("apply");
    }
    index
        .apply(Change::Stock {
            sequence: 3,
            product_id: "p7".into(),
            variant_id: None,
            in_stock: true,
        })
        .await
        .expect("stock");
    index.replace_all(products).await.expect("rebuild");
    assert_eq!(index.product_count().expect("count"), 200);
    let request = SearchRequest {
        text: String::new(),
        filter: Filter {
            in_stock: Some(true),
            ..Filter::default()
        },
        sort: Sort::Relevance,
        offset: 0,
        limit: 10,
    };
    let in_stock: Vec<String> = search(&index, &request)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.product_id)
        .collect();
    assert_eq!(in_stock, ["p7"], "uncommitted stock survives the rebuild");
}

#[tokio::test]
async fn a_product_whose_created_at_is_not_a_timestamp_is_dead_lettered_not_indexed() {
    use emporium_kernel::events::consumer::HandlerError;
    let index = SearchIndex::in_memory().expect("index");
    let shutdown = CancellationToken::new();
    let committer = tokio::spawn({
        let (index, shutdown) = (index.clone(), shutdown.clone());
        async move { index.run_committer(COMMIT_INTERVAL, shutdown).await }
    });
    let handler = IndexerHandler::new(index.clone());
    let mut data = snapshot("bad", "Undated Radio", "A radio", "25", 1);
    data["createdAt"] = json!("yesterday");
    let outcome = handler
        .handle(&event("product.created", "bad", 1, data))
        .await;
    assert!(
        matches!(outcome, Err(HandlerError::Permanent(_))),
        "{outcome:?}"
    );
    let good = snapshot("good", "Dated Radio", "A radio", "25", 1);
    handler
        .handle(&event("product.created", "good", 1, good))
        .await
        .expect("a dated product is indexed");
    assert_eq!(index.product_count().expect("count"), 1);
    shutdown.cancel();
    committer.await.expect("committer");
}

/// A product snapshot with variants of (id, colour, size).
fn with_variants(
    mut snapshot: serde_json::Value,
    variants: &[(&str, &str, &str)],
) -> serde_json::Value {
    snapshot["options"] =
        json!([{ "name": "Colour", "values": [] }, { "name": "Size", "values": [] }]);
    snapshot["variants"] = variants
        .iter()
        .map(|(id, colour, size)| {
            json!({
                "id": id, "sku": format!("SKU-{id}"), "title": format!("{colour} / {size}"),
                "selectedOptions": [{ "name": "Colour", "value": colour }, { "name": "Size", "value": size }],
                "price": { "amount": "20.00", "currency": "USD" },
            })
        })
        .collect();
    snapshot
}

fn variant_stock(product: &str, variant: &str, sequence: i64, in_stock: bool) -> Envelope {
    let units = i32::from(in_stock);
    event(
        "stock.changed",
        product,
        sequence,
        json!({ "productId": product, "variantId": variant, "onHand": units, "reserved": 0,
                "available": units, "inStock": in_stock }),
    )
}

#[tokio::test]
async fn option_values_are_facets_and_filters_matched_by_one_variant_and_its_stock() {
    let dir = TempDir::new();
    let running = Running::open(&dir);
    let tee = with_variants(
        snapshot("tee", "Cotton Tee", "A shirt", "20", 1),
        &[("tee-red-m", "Red", "M"), ("tee-blue-l", "Blue", "L")],
    );
    let hoodie = with_variants(
        snapshot("hoodie", "Hoodie", "A warm top", "40", 1),
        &[("hoodie-red-l", "Red", "L")],
    );
    running
        .deliver(&[
            event("product.created", "tee", 1, tee.clone()),
            event("product.created", "hoodie", 1, hoodie),
            event(
                "product.created",
                "radio",
                1,
                snapshot("radio", "Radio", "A radio", "25", 1),
            ),
        ])
        .await;
    let options = |pairs: &[(&str, &str)]| Filter {
        options: pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        ..Filter::default()
    };
    let mut red = running.ids("", options(&[("Colour", "Red")]), Sort::Relevance);
    red.sort();
    assert_eq!(red, ["hoodie", "tee"]);
    assert_eq!(
        running.ids(
            "",
            options(&[("size", "m"), ("COLOUR", "red")]),
            Sort::Relevance
        ),
        ["tee"],
        "any case, any order"
    );
    // The tee comes in Red and in L, but no variant is both.
    assert_eq!(
        running.ids(
            "",
            options(&[("Colour", "Red"), ("Size", "L")]),
            Sort::Relevance
        ),
        ["hoodie"]
    );

    let page = search(
        &running.index,
        &SearchRequest {
            text: String::new(),
            filter: Filter::default(),
            sort: Sort::Relevance,
            offset: 0,
            limit: 10,
        },
    )
    .expect("search");
    let facet = |name: &str| {
        page.facets
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, values)| values.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        facet("option:Colour"),
        [("Red".to_owned(), 2), ("Blue".to_owned(), 1)]
    );
    assert_eq!(
        facet("option:Size"),
        [("L".to_owned(), 2), ("M".to_owned(), 1)]
    );

    // In stock while any variant is, through a rebuild from the store.
    let in_stock = || Filter {
        in_stock: Some(true),
        ..Filter::default()
    };
    running
        .deliver(&[
            variant_stock("tee", "tee-red-m", 1, true),
            variant_stock("tee", "tee-blue-l", 2, true),
            variant_stock("tee", "tee-red-m", 3, false),
        ])
        .await;
    assert_eq!(running.ids("", in_stock(), Sort::Relevance), ["tee"]);
    let tee: ProductSnapshot = serde_json::from_value(tee).expect("snapshot");
    running
        .index
        .replace_all(vec![(1, tee)])
        .await
        .expect("replace");
    assert_eq!(running.ids("", in_stock(), Sort::Relevance), ["tee"]);
    running
        .deliver(&[variant_stock("tee", "tee-blue-l", 4, false)])
        .await;
    assert!(running.ids("", in_stock(), Sort::Relevance).is_empty());
    running.close().await;
}
