//! The event contract: the examples of `api/events.md` parse into their types and back, the
//! JSON Schemas in `api/events/` are what the types generate, and an event a consumer cannot
//! read (an unknown version, a malformed payload) is dead-lettered with a reason saying so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Utc;
use emporium_kernel::events::consumer::{dead_letter_queue, Handler, HandlerError};
use emporium_kernel::events::contract::inventory::{
    InventoryRejected, InventoryReleased, InventoryReserved, StockChanged,
};
use emporium_kernel::events::contract::orders::{
    OrderPlaced, OrderStatus, OrderStatusChanged, StatusReason,
};
use emporium_kernel::events::contract::payments::{
    PaymentAuthorized, PaymentCaptured, PaymentDeclined, PaymentRefunded,
};
use emporium_kernel::events::contract::products::{ProductCreated, ProductDeleted, ProductUpdated};
use emporium_kernel::events::contract::users::UserRegistered;
use emporium_kernel::events::dlq;
use emporium_kernel::events::envelope::schema_urn;
use emporium_kernel::events::{Envelope, Event, EventDraft, Publisher};
use serde_json::Value;
use uuid::Uuid;

use crate::rabbit::{eventually, fast_settings, Rabbit, RunningConsumer};

/// What the tests need of one event type, whatever its Rust type.
struct Contract {
    event_type: &'static str,
    version: u32,
    round_trip: fn(&Value) -> Result<Value, serde_json::Error>,
    schema: fn() -> Value,
}

fn contract<E: Event + schemars::JsonSchema>() -> Contract {
    Contract {
        event_type: E::TYPE,
        version: E::VERSION,
        round_trip: |example| serde_json::to_value(serde_json::from_value::<E>(example.clone())?),
        schema: || serde_json::to_value(schemars::schema_for!(E)).expect("a schema is JSON"),
    }
}

/// Every event type of the catalogue, at every version.
fn catalogue() -> Vec<Contract> {
    vec![
        contract::<UserRegistered>(),
        contract::<ProductCreated>(),
        contract::<ProductUpdated>(),
        contract::<ProductDeleted>(),
        contract::<StockChanged>(),
        contract::<OrderPlaced>(),
        contract::<InventoryReserved>(),
        contract::<InventoryRejected>(),
        contract::<InventoryReleased>(),
        contract::<PaymentAuthorized>(),
        contract::<PaymentDeclined>(),
        contract::<PaymentCaptured>(),
        contract::<PaymentRefunded>(),
        contract::<OrderStatusChanged>(),
    ]
}

fn api_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../api")
}

/// The examples of the section "Payloads (v1)" of `api/events.md`: a heading ``### `type` ``
/// followed by a `json` block.
fn examples() -> BTreeMap<String, Value> {
    let doc = std::fs::read_to_string(api_dir().join("events.md")).expect("api/events.md");
    let (_, section) = doc
        .split_once("## Payloads (v1)")
        .expect("a Payloads (v1) section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .split("\n### `")
        .skip(1)
        .map(|part| {
            let (event_type, rest) = part.split_once('`').expect("a heading names its type");
            let (_, block) = rest.split_once("```json\n").expect("a json block");
            let (json, _) = block.split_once("```").expect("a closed json block");
            let value = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("the example of {event_type} is not JSON: {e}"));
            (event_type.to_owned(), value)
        })
        .collect()
}

#[test]
fn every_example_in_the_api_docs_parses_into_its_type_and_back_unchanged() {
    let examples = examples();
    let catalogue = catalogue();

    for contract in &catalogue {
        let example = examples
            .get(contract.event_type)
            .unwrap_or_else(|| panic!("api/events.md has no example of {}", contract.event_type));
        let back = (contract.round_trip)(example).unwrap_or_else(|e| {
            panic!("the example of {} does not parse: {e}", contract.event_type)
        });
        assert_eq!(
            &back, example,
            "{} changed on its way through its type",
            contract.event_type
        );
    }
    let known: Vec<_> = catalogue.iter().map(|c| c.event_type).collect();
    for event_type in examples.keys() {
        assert!(
            known.contains(&event_type.as_str()),
            "an example of an unknown type {event_type}"
        );
    }
}

#[test]
fn the_checked_in_json_schemas_are_those_the_contract_generates() {
    let dir = api_dir().join("events");
    let bless = std::env::var_os("EMPORIUM_BLESS").is_some();
    let mut stale = Vec::new();
    let mut expected_files = Vec::new();
    for contract in catalogue() {
        let name = format!("{}.v{}.json", contract.event_type, contract.version);
        let path = dir.join(&name);
        let generated = format!(
            "{}\n",
            serde_json::to_string_pretty(&(contract.schema)()).expect("schema")
        );
        if bless {
            std::fs::create_dir_all(&dir).expect("api/events");
            std::fs::write(&path, &generated).expect("write the schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            stale.push(name.clone());
        }
        expected_files.push(name);
    }
    let mut extra: Vec<_> = std::fs::read_dir(&dir)
        .expect("api/events")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| !expected_files.contains(name))
        .collect();
    extra.sort();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "api/events/ is stale (out of date: {stale:?}; no longer generated: {extra:?}); \
         regenerate it with `EMPORIUM_BLESS=1 cargo test -p emporium-kernel --test it contract` \
         (and delete the files no longer generated)"
    );
}

/// Counts the events it could read; reads `order.status_changed` only through the contract.
#[derive(Clone, Default)]
struct StatusReader {
    read: Arc<AtomicUsize>,
}

impl Handler for StatusReader {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let _change: OrderStatusChanged = envelope.decode()?;
        self.read.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Every version reaches `handle`, so the contract's decode is what refuses the unknown.
    fn understands(&self, _: &Envelope) -> bool {
        true
    }
}

fn status_changed() -> Envelope {
    let event = OrderStatusChanged {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        status: OrderStatus::Rejected,
        previous_status: Some(OrderStatus::Pending),
        reason: Some(StatusReason::OutOfStock),
        at: Utc::now(),
        total: "10.00".to_owned(),
        currency: "USD".to_owned(),
    };
    EventDraft::of(&event).into_envelope("/tests", 1, Utc::now())
}

#[tokio::test]
async fn unknown_versions_and_malformed_payloads_are_dead_lettered_with_a_reason_saying_so() {
    let rabbit = Rabbit::start().await;
    let queue = "tests.contract";
    let reader = StatusReader::default();
    let consumer = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings(queue, &[OrderStatusChanged::TYPE]),
        reader.clone(),
    );
    rabbit.wait_for_consumers(queue, 1).await;
    let mut newer = status_changed();
    newer.dataschema = schema_urn(OrderStatusChanged::TYPE, 2);
    let mut malformed = status_changed();
    malformed.data["status"] = "MISLAID".into();
    let readable = status_changed();

    for envelope in [&newer, &malformed, &readable] {
        rabbit.broker.publish(envelope).await.expect("published");
    }
    eventually("two dead letters and one event read", || async {
        let dead = rabbit.depth(&dead_letter_queue(queue)).await;
        (dead == 2 && reader.read.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;

    let shown = dlq::show(&rabbit.broker, queue, 10).await.expect("show");
    let reasons: BTreeMap<String, String> = shown
        .iter()
        .map(|letter| match &letter.body {
            dlq::DeadLetterBody::Envelope(envelope) => (
                envelope.id.to_string(),
                letter.reason.clone().expect("a reason"),
            ),
            other => panic!("a dead letter that is not an envelope: {other:?}"),
        })
        .collect();
    let reason_of = |envelope: &Envelope| reasons[&envelope.id.to_string()].clone();
    assert!(
        reason_of(&newer).starts_with("unknown version of order.status_changed: dataschema urn:emporium:event:order.status_changed:v2"),
        "{}",
        reason_of(&newer)
    );
    assert!(
        reason_of(&malformed)
            .starts_with("malformed order.status_changed v1 payload: unknown variant `MISLAID`"),
        "{}",
        reason_of(&malformed)
    );
    assert_eq!(
        shown.iter().map(|l| l.attempts).collect::<Vec<_>>(),
        [Some(1), Some(1)]
    );
    assert_eq!(
        reader.read.load(Ordering::SeqCst),
        1,
        "only the readable event was read"
    );
    consumer.stop().await;
}
