//! Prometheus metrics of the event backbone: what was published, consumed, retried and
//! dead-lettered per event type, and how far each outbox lags behind.
//!
//! The metrics live in one process-wide [`registry`] of their own (not prometheus' default
//! one), so a `/metrics` endpoint renders exactly these with [`render`]. The broker and the
//! consumer runtime count their own events; outbox relays set the backlog gauges with
//! [`record_outbox_backlog`].

use std::sync::LazyLock;

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// The event backbone's metrics. Label values: `type` is the event type, `queue` the
/// consuming queue, `outbox` the outbox name.
#[derive(Debug)]
pub struct EventMetrics {
    /// `events_published_total{type}`: envelopes the broker confirmed.
    pub published: IntCounterVec,
    /// `events_consumed_total{type,queue}`: envelopes a handler applied (then acked).
    pub consumed: IntCounterVec,
    /// `events_retried_total{type,queue}`: retryable handler failures that were retried.
    pub retried: IntCounterVec,
    /// `events_dead_lettered_total{type,queue}`: messages moved to `<queue>.dlq`.
    pub dead_lettered: IntCounterVec,
    /// `outbox_backlog{outbox}`: entries not yet published.
    pub outbox_backlog: IntGaugeVec,
    /// `outbox_oldest_age_seconds{outbox}`: age of the oldest unpublished entry.
    pub outbox_oldest_age_seconds: GaugeVec,
}

struct Metrics {
    registry: Registry,
    events: EventMetrics,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let events = EventMetrics {
            published: counter(
                &registry,
                "events_published_total",
                "Events the broker confirmed.",
                &["type"],
            ),
            consumed: counter(
                &registry,
                "events_consumed_total",
                "Events a consumer handled and acknowledged.",
                &["type", "queue"],
            ),
            retried: counter(
                &registry,
                "events_retried_total",
                "Retryable handler failures that were retried.",
                &["type", "queue"],
            ),
            dead_lettered: counter(
                &registry,
                "events_dead_lettered_total",
                "Messages moved to a dead-letter queue.",
                &["type", "queue"],
            ),
            outbox_backlog: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new("outbox_backlog", "Outbox entries not yet published."),
                    &["outbox"],
                ),
            ),
            outbox_oldest_age_seconds: register(
                &registry,
                GaugeVec::new(
                    Opts::new(
                        "outbox_oldest_age_seconds",
                        "Age of the oldest unpublished outbox entry.",
                    ),
                    &["outbox"],
                ),
            ),
        };
        Self { registry, events }
    }
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

fn register<C>(registry: &Registry, metric: prometheus::Result<C>) -> C
where
    C: prometheus::core::Collector + Clone + 'static,
{
    // Names and labels are the constants above; they only fail if a name is duplicated or
    // malformed, which the unit test below would catch.
    let metric = metric.expect("metric names and labels are valid constants");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

/// The event backbone's metrics.
pub fn events() -> &'static EventMetrics {
    &METRICS.events
}

/// The registry holding the event backbone's metrics.
pub fn registry() -> &'static Registry {
    &METRICS.registry
}

/// The Prometheus text exposition of [`registry`].
pub fn render() -> String {
    // Encoding to a String only fails on metric families without a type, which a registry of
    // typed collectors never produces.
    TextEncoder::new()
        .encode_to_string(&registry().gather())
        .unwrap_or_default()
}

/// Sets the backlog gauges of the outbox named `outbox`.
pub fn record_outbox_backlog(outbox: &str, entries: u64, oldest_age_seconds: f64) {
    let events = events();
    events
        .outbox_backlog
        .with_label_values(&[outbox])
        .set(i64::try_from(entries).unwrap_or(i64::MAX));
    events
        .outbox_oldest_age_seconds
        .with_label_values(&[outbox])
        .set(oldest_age_seconds);
}

pub(crate) fn count_published(event_type: &str) {
    events().published.with_label_values(&[event_type]).inc();
}

pub(crate) fn count_consumed(event_type: &str, queue: &str) {
    events()
        .consumed
        .with_label_values(&[event_type, queue])
        .inc();
}

pub(crate) fn count_retried(event_type: &str, queue: &str) {
    events()
        .retried
        .with_label_values(&[event_type, queue])
        .inc();
}

pub(crate) fn count_dead_lettered(event_type: &str, queue: &str) {
    events()
        .dead_lettered
        .with_label_values(&[event_type, queue])
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_its_labels() {
        count_published("metrics.test");
        count_consumed("metrics.test", "metrics.queue");
        count_retried("metrics.test", "metrics.queue");
        count_dead_lettered("metrics.test", "metrics.queue");
        record_outbox_backlog("metrics-test", 3, 1.5);

        let text = render();

        assert!(
            text.contains(r#"events_published_total{type="metrics.test"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"events_consumed_total{queue="metrics.queue",type="metrics.test"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"events_retried_total{queue="metrics.queue",type="metrics.test"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"events_dead_lettered_total{queue="metrics.queue",type="metrics.test"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"outbox_backlog{outbox="metrics-test"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"outbox_oldest_age_seconds{outbox="metrics-test"} 1.5"#),
            "{text}"
        );
    }
}
