//! The catalog cache: what readers see while admins write and while Redis loses everything,
//! and how many Redis round trips a batch costs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use emporium_kernel::testing::RedisMonitor;
use serde_json::{json, Value};

use crate::*;

const PRODUCT: &str = "query($id: ID!) { product(id: $id) { id price { amount } } }";

/// "7.00" → 7.
fn version(amount: &Value) -> u64 {
    amount
        .as_str()
        .and_then(|a| a.strip_suffix(".00"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a price of whole units: {amount}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_racing_update_product_never_sees_a_price_older_than_the_last_acknowledged_one() {
    let fixture = Arc::new(Fixture::new().await);
    let id = fixture.create(&sku(), "Audio > Headphones", "1.00").await;
    let acknowledged = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));

    let mut readers = Vec::new();
    for reader in 0..6 {
        let (fixture, id) = (fixture.clone(), id.clone());
        let (acknowledged, done) = (acknowledged.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !done.load(Ordering::SeqCst) {
                let floor = acknowledged.load(Ordering::SeqCst);
                let seen = match (reader + reads) % 3 {
                    0 => {
                        let data = fixture.read(PRODUCT, json!({ "id": id })).await;
                        version(&data["product"]["price"]["amount"])
                    }
                    1 => version(
                        &fixture.entities(std::slice::from_ref(&id)).await[0]["price"]["amount"],
                    ),
                    _ => {
                        let (page, _) = fixture.browse_all(Some("Audio"), 10).await;
                        version(&json!(page[0].1))
                    }
                };
                assert!(
                    seen >= floor,
                    "a reader saw price version {seen} after version {floor} was acknowledged"
                );
                reads += 1;
            }
            reads
        }));
    }
    for v in 2..=25u64 {
        fixture.set_price(&id, &format!("{v}.00")).await;
        acknowledged.store(v, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    let mut reads = 0;
    for reader in readers {
        reads += reader.await.expect("reader");
    }

    assert!(reads > 24, "the readers raced the writer ({reads} reads)");
    // Whatever the readers stored in the cache meanwhile, it holds the last price now.
    for _ in 0..3 {
        let by_id = fixture.read(PRODUCT, json!({ "id": id })).await;
        assert_eq!(by_id["product"]["price"]["amount"], json!("25.00"));
        assert_eq!(
            fixture.entities(std::slice::from_ref(&id)).await[0]["price"]["amount"],
            json!("25.00")
        );
    }
}

#[tokio::test]
async fn deleting_a_product_removes_it_from_reads_by_id_entities_and_browse_pages() {
    let fixture = Fixture::new().await;
    let gone = fixture.create(&sku(), "Audio > Headphones", "10.00").await;
    let kept = fixture.create(&sku(), "Audio > Headphones", "20.00").await;
    let both = vec![gone.clone(), kept.clone()];
    // Warm every read path first, so each one has something to forget.
    fixture.read(PRODUCT, json!({ "id": gone })).await;
    fixture.entities(&both).await;
    assert_eq!(fixture.browse_all(None, 10).await.1, 2);
    assert_eq!(fixture.browse_all(Some("Audio"), 10).await.1, 2);

    let deleted = fixture
        .admin(
            "mutation($id: ID!) { deleteProduct(id: $id) { deletedId userErrors { code } } }",
            json!({ "id": gone }),
        )
        .await;

    assert_eq!(deleted["deleteProduct"]["deletedId"], json!(gone));
    let by_id = fixture.read(PRODUCT, json!({ "id": gone })).await;
    assert_eq!(by_id["product"], Value::Null);
    let entities = fixture.entities(&both).await;
    assert_eq!(entities[0], Value::Null, "{entities:?}");
    assert_eq!(entities[1]["id"], json!(kept));
    for category in [None, Some("Audio"), Some("Audio > Headphones")] {
        let (page, total) = fixture.browse_all(category, 10).await;
        assert_eq!(page, [(kept.clone(), "20.00".to_owned())], "{category:?}");
        assert_eq!(total, 1, "{category:?}");
    }
}

#[tokio::test]
async fn a_product_moved_to_another_category_leaves_the_old_pages_and_joins_the_new() {
    let fixture = Fixture::new().await;
    let id = fixture.create(&sku(), "Audio > Headphones", "10.00").await;
    assert_eq!(fixture.browse_all(Some("Audio"), 10).await.1, 1);

    fixture
        .admin(
            "mutation($id: ID!) { updateProduct(id: $id, input: { category: \"Home > Kitchen\" }) { userErrors { code } } }",
            json!({ "id": id }),
        )
        .await;

    assert_eq!(fixture.browse_all(Some("Audio"), 10).await, (vec![], 0));
    assert_eq!(
        fixture.browse_all(Some("Audio > Headphones"), 10).await,
        (vec![], 0)
    );
    let listed = vec![(id.clone(), "10.00".to_owned())];
    assert_eq!(
        fixture.browse_all(Some("Home"), 10).await,
        (listed.clone(), 1)
    );
    assert_eq!(fixture.browse_all(None, 10).await, (listed, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_every_cached_key_during_reads_changes_nothing_visible() {
    let fixture = Arc::new(Fixture::new().await);
    let mut expected = BTreeMap::new();
    for n in 0..24 {
        let category = if n % 2 == 0 {
            "Audio > Speakers"
        } else {
            "Home"
        };
        let price = format!("{}.00", 100 + n);
        expected.insert(fixture.create(&sku(), category, &price).await, price);
    }
    let all: Vec<(String, String)> = expected.clone().into_iter().collect();
    let ids: Vec<String> = expected.keys().cloned().collect();
    let audio = fixture.browse_all(Some("Audio"), 100).await;
    assert_eq!(audio.1, 12);
    let done = Arc::new(AtomicBool::new(false));

    let mut readers = Vec::new();
    for _ in 0..4 {
        let (fixture, done) = (fixture.clone(), done.clone());
        let (all, ids, audio) = (all.clone(), ids.clone(), audio.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                assert_eq!(fixture.browse_all(None, 7).await, (all.clone(), 24));
                assert_eq!(fixture.browse_all(Some("Audio"), 5).await, audio);
                let entities: Vec<(String, String)> = fixture
                    .entities(&ids)
                    .await
                    .iter()
                    .map(|e| {
                        (
                            e["id"].as_str().expect("id").to_owned(),
                            e["price"]["amount"].as_str().expect("amount").to_owned(),
                        )
                    })
                    .collect();
                assert_eq!(entities, all);
                reads += 1;
            }
            reads
        }));
    }
    for _ in 0..12 {
        fixture.redis.flush_at_once();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        assert!(reader.await.expect("reader") > 0);
    }

    // And the cache comes back: the browse order is rebuilt from MongoDB by the next reads.
    let ready = format!("{}browse:ready", fixture.cache_prefix());
    let mut conn = redis::Client::open(fixture.redis.url())
        .and_then(|c| c.get_connection())
        .expect("redis");
    let mut rebuilt = false;
    for _ in 0..100 {
        fixture.browse_all(None, 50).await;
        if redis::cmd("EXISTS")
            .arg(&ready)
            .query::<bool>(&mut conn)
            .expect("EXISTS")
        {
            rebuilt = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rebuilt, "the browse order was rebuilt after the flushes");
}

#[tokio::test]
async fn a_batch_of_100_products_by_id_is_one_redis_round_trip_once_cached() {
    let fixture = Fixture::new().await;
    // One after another: the MongoDB stand-in fails concurrent transactions.
    let mut ids = Vec::new();
    for n in 1..=100 {
        ids.push(fixture.create(&sku(), "Audio", &format!("{n}.00")).await);
    }
    let first = fixture.entities(&ids).await;
    assert_eq!(first.len(), 100);

    let monitor = RedisMonitor::start(fixture.redis.url());
    let again = fixture.entities(&ids).await;
    let commands = monitor.commands_containing(&fixture.cache_prefix());

    assert_eq!(again, first);
    assert_eq!(commands.len(), 1, "{commands:#?}");
    assert!(commands[0].contains("\"MGET\""), "{commands:#?}");
}

#[tokio::test]
async fn the_total_is_counted_only_when_selected() {
    let fixture = Fixture::new().await;
    for n in 1..=3 {
        fixture.create(&sku(), "Audio", &format!("{n}.00")).await;
    }
    let page = "query { products(first: 2) { nodes { id } } }";
    let counted = "query { products(first: 2) { totalCount nodes { id } } }";
    fixture.read(page, json!({})).await;

    let monitor = RedisMonitor::start(fixture.redis.url());
    fixture.read(page, json!({})).await;
    let without = monitor.commands_containing(&fixture.cache_prefix());
    let with = fixture.read(counted, json!({})).await;
    let all = monitor.commands_containing(&fixture.cache_prefix());

    assert!(!without.is_empty(), "pages come from the cache");
    assert!(!without.iter().any(|c| c.contains("ZCARD")), "{without:#?}");
    assert_eq!(
        all.iter().filter(|c| c.contains("ZCARD")).count(),
        1,
        "{all:#?}"
    );
    assert_eq!(with["products"]["totalCount"], json!(3));
}
