//! The one shape every service has. The process that runs a service (the `emporium` binary,
//! alone or with the others) connects its stores, hands it the shared [`Handles`] (the broker,
//! the shutdown token, how relays run) and a listener, and calls [`Service::start`], which
//! spawns the service's server, outbox relay, consumers and background tasks and returns
//! their [`Tasks`] for the process to await after shutdown. Each service also names the
//! queues it consumes (a `queues()` beside its `start`), so they can be declared before
//! anything publishes ([`declare_queues`]).
//!
//! The helpers are the steps every service repeats: serving its app with the broker in its
//! readiness, relaying its outbox, running competing consumers. Spawned tasks never return
//! an error: a server or consumer that fails logs why and ends, and the process keeps
//! serving what still works. Only [`Service::start`] (a service that cannot be built) and
//! [`declare_queues`] (a queue the broker refuses) fail.

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::events::broker::Broker;
use crate::events::consumer::{self, ConsumerError, ConsumerSettings, Handler};
use crate::events::outbox::{run_relay, Outbox, RelaySettings};
use crate::http::ReadinessCheck;

/// What a started service runs; each ends after the shutdown token is cancelled.
pub type Tasks = Vec<JoinHandle<()>>;

/// What [`Service::start`] returns: the tasks it spawned, or why it could not start.
pub type Started = Result<Tasks, StartError>;

/// Runs `tick` every `interval` (the first one interval after the call) until `shutdown`. A tick
/// in progress finishes before the shutdown is noticed; `tick` logs its own failures, so one
/// failed run is simply retried at the next.
pub async fn every<F, Fut>(interval: std::time::Duration, shutdown: &CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    while shutdown
        .run_until_cancelled(tokio::time::sleep(interval))
        .await
        .is_some()
    {
        tick().await;
    }
}

/// A service, built from its settings and stores, ready to start.
pub trait Service: Send {
    /// Spawns the server on `listener` and everything else the service runs.
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started;
}

/// A service could not be built (e.g. its keys do not make a verifier).
#[derive(Debug, thiserror::Error)]
#[error("starting the {service} service: {source}")]
pub struct StartError {
    service: &'static str,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StartError {
    pub fn new(
        service: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            service,
            source: Box::new(source),
        }
    }
}

/// What every service of a process shares.
#[derive(Clone)]
pub struct Handles {
    /// The RabbitMQ connection (made and re-made in the background).
    pub broker: Broker,
    /// Cancelled when the process stops; every task a service spawns ends then.
    pub shutdown: CancellationToken,
    /// How every outbox relay runs.
    pub relay: RelaySettings,
}

impl Handles {
    /// The checks `/ready` adds to the service's own stores': the broker connection is up.
    pub fn readiness(&self) -> Vec<(&'static str, ReadinessCheck)> {
        let broker = self.broker.clone();
        let check: ReadinessCheck = Arc::new(move || {
            let is_connected = broker.is_connected();
            Box::pin(async move {
                if is_connected {
                    Ok(())
                } else {
                    Err("not connected".to_owned())
                }
            })
        });
        vec![("rabbitmq", check)]
    }

    /// Serves `app` on `listener` until shutdown, logging a failure instead of returning it.
    pub fn spawn_server(
        &self,
        service: &'static str,
        listener: TcpListener,
        app: Router,
    ) -> JoinHandle<()> {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(service, %addr, "subgraph listening");
        }
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            if let Err(err) = crate::http::serve(listener, app, shutdown).await {
                tracing::error!(service, error = %err, "the server failed");
            }
        })
    }

    /// Runs the relay of `outbox` (named `name` in logs and metrics) until shutdown.
    pub fn spawn_relay<O>(&self, name: &'static str, outbox: O) -> JoinHandle<()>
    where
        O: Outbox + Send + 'static,
    {
        let (broker, relay, shutdown) = (
            self.broker.clone(),
            self.relay.clone(),
            self.shutdown.clone(),
        );
        tokio::spawn(async move { run_relay(name, outbox, broker, relay, shutdown).await })
    }

    /// `count` competing consumers of `settings.queue`, sharing `handler`, until shutdown.
    pub fn spawn_consumers<H: Handler>(
        &self,
        count: usize,
        settings: &ConsumerSettings,
        handler: &Arc<H>,
    ) -> Tasks {
        (0..count)
            .map(|_| {
                let (broker, settings, handler, shutdown) = (
                    self.broker.clone(),
                    settings.clone(),
                    handler.clone(),
                    self.shutdown.clone(),
                );
                tokio::spawn(async move {
                    let queue = settings.queue.clone();
                    if let Err(err) = consumer::run(broker, settings, handler, shutdown).await {
                        tracing::error!(%queue, error = %err, "a consumer stopped");
                    }
                })
            })
            .collect()
    }

    /// `count` competing consumers of each of `queues`, all sharing `handler`.
    pub fn spawn_all_consumers<H: Handler>(
        &self,
        count: usize,
        queues: &[ConsumerSettings],
        handler: &Arc<H>,
    ) -> Tasks {
        queues
            .iter()
            .flat_map(|settings| self.spawn_consumers(count, settings, handler))
            .collect()
    }
}

/// Consumer settings, with the defaults, for a service's `(queue, bindings)` list.
pub fn queues_of(queues: &[(&'static str, &'static [&'static str])]) -> Vec<ConsumerSettings> {
    queues
        .iter()
        .map(|(queue, bindings)| ConsumerSettings::new(*queue, bindings.iter().copied()))
        .collect()
}

/// The queues of `queues` bound to an event type starting with one of `prefixes` (e.g.
/// `order.`): the consumers of a service's events.
pub fn queues_bound_to(queues: Vec<ConsumerSettings>, prefixes: &[&str]) -> Vec<ConsumerSettings> {
    queues
        .into_iter()
        .filter(|settings| {
            settings
                .bindings
                .iter()
                .any(|binding| prefixes.iter().any(|prefix| binding.starts_with(prefix)))
        })
        .collect()
}

/// Declares consumers' queues before anything publishes: the exchange drops an event no
/// queue is bound for, so a first start would otherwise lose the events published while the
/// consumers were still connecting. A broker that is down only delays this (one wait for the
/// connection, not one per queue): the consumers declare their queues when it is back. A
/// queue the broker refuses (one of another type than the broker settings ask for) is the
/// error.
pub async fn declare_queues(
    broker: &Broker,
    queues: &[ConsumerSettings],
) -> Result<(), ConsumerError> {
    for settings in queues {
        match consumer::declare(broker, settings).await {
            Ok(()) => {}
            Err(err @ ConsumerError::Unavailable { .. }) => {
                tracing::warn!(queue = %settings.queue, error = %err, "could not declare the queues at start-up; the consumers will when the broker answers");
                return Ok(());
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_ticks_until_shutdown_and_then_returns() {
        let shutdown = CancellationToken::new();
        let ticks = std::sync::atomic::AtomicUsize::new(0);
        let interval = std::time::Duration::from_millis(5);
        every(interval, &shutdown, || async {
            if ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == 3 {
                shutdown.cancel();
            }
        })
        .await;
        assert_eq!(
            ticks.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "no tick after the shutdown"
        );
        // Already cancelled: returns without a tick.
        every(interval, &shutdown, || async {
            panic!("ticked after shutdown")
        })
        .await;
    }

    #[test]
    fn the_consumers_of_a_services_events_are_the_queues_bound_to_its_prefix() {
        let queues = vec![
            ConsumerSettings::new("a.orders", ["order.placed"]),
            ConsumerSettings::new("a.mixed", ["payment.declined", "order.status_changed"]),
            ConsumerSettings::new("b.catalog", ["product.*"]),
        ];
        let names: Vec<String> = queues_bound_to(queues, &["order."])
            .into_iter()
            .map(|settings| settings.queue)
            .collect();
        assert_eq!(names, ["a.orders", "a.mixed"]);
    }
}
