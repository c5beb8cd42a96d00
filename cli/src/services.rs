//! The one list of services. `up` starts every one, `serve <service>` one of them, `compose`
//! composes their schemas, `emporium dlq list` reads their queues, and a test holds
//! `docker-compose.yml` to it. Adding a service is a crate with a `wiring` module (its
//! [`emporium_kernel::service::Service`] and its `queues()`), a variant of [`Service`], its
//! row in [`Service::spec`] and the function here that builds it from the settings.
//!
//! A service is built (its stores connected, its keys loaded) before anything starts, so a
//! store that does not answer stops the process with its setting named and nothing running.

use std::future::Future;
use std::pin::Pin;

use anyhow::Context;
use clap::ValueEnum;
use emporium_kernel::auth::{Keyring, TokenVerifier};
use emporium_kernel::events::consumer::ConsumerSettings;
use emporium_kernel::sealed::{OpeningKeys, SealingKey};
use emporium_kernel::service::{self, Handles, Tasks};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::stores;

/// Every service of the platform, by the name `serve` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Service {
    Router,
    Users,
    Products,
    Inventory,
    Search,
    Orders,
    Payments,
    Notifications,
}

/// What the CLI knows of a service.
pub struct Spec {
    /// Its name: `serve <name>`, its container, its name in the supergraph.
    pub name: &'static str,
    /// Its port's variable, `EMPORIUM_<NAME>_PORT`.
    pub port_variable: &'static str,
    pub default_port: u16,
    /// What a subgraph has beyond that; the router has none.
    pub subgraph: Option<Subgraph>,
}

/// Builds a subgraph service from the settings: the stores connected, the keys loaded.
pub type Build = for<'a> fn(
    &'a Process,
) -> Pin<
    Box<dyn Future<Output = anyhow::Result<Box<dyn service::Service>>> + 'a>,
>;

#[derive(Clone, Copy)]
pub struct Subgraph {
    /// Where it is reached (by the router; the users service by the others for its JWKS,
    /// payments by orders for its token key): `EMPORIUM_<NAME>_URL`.
    pub url_variable: &'static str,
    /// Its federation SDL, for `compose`.
    pub sdl: fn() -> String,
    /// The queues it consumes.
    pub queues: fn(&Settings) -> Vec<ConsumerSettings>,
    /// Event types (prefixes) it publishes whose consumers' queues it declares too, so an
    /// event published before its consumer ever started waits in the queue instead of being
    /// dropped: the admin's `user.registered` at a deployment's first start, an order placed
    /// before inventory or payments ever ran.
    pub declares_consumers_of: &'static [&'static str],
    pub build: Build,
}

impl Service {
    /// Every service, in the order `up` starts them.
    pub fn all() -> &'static [Service] {
        Service::value_variants()
    }

    /// The subgraphs: every service but the router.
    pub fn subgraphs() -> impl Iterator<Item = (Service, Subgraph)> {
        Self::all()
            .iter()
            .filter_map(|service| Some((*service, service.spec().subgraph?)))
    }

    /// The one place each service is described.
    pub fn spec(self) -> Spec {
        match self {
            Service::Router => Spec {
                name: "router",
                port_variable: "EMPORIUM_ROUTER_PORT",
                default_port: 4000,
                subgraph: None,
            },
            Service::Users => Spec {
                name: "users",
                port_variable: "EMPORIUM_USERS_PORT",
                default_port: 4001,
                subgraph: Some(Subgraph {
                    url_variable: "EMPORIUM_USERS_URL",
                    sdl: emporium_users::sdl,
                    queues: |_| Vec::new(),
                    declares_consumers_of: &["user."],
                    build: |process| Box::pin(users(process)),
                }),
            },
            Service::Products => Spec {
                name: "products",
                port_variable: "EMPORIUM_PRODUCTS_PORT",
                default_port: 4002,
                subgraph: Some(Subgraph {
                    url_variable: "EMPORIUM_PRODUCTS_URL",
                    sdl: emporium_products::sdl,
                    queues: |_| Vec::new(),
                    declares_consumers_of: &[],
                    build: |process| Box::pin(products(process)),
                }),
            },
            Service::Inventory => Spec {
                name: "inventory",
                port_variable: "EMPORIUM_INVENTORY_PORT",
                default_port: 4003,
                subgraph: Some(Subgraph {
                    url_variable: "EMPORIUM_INVENTORY_URL",
                    sdl: emporium_inventory::sdl,
                    queues: |_| emporium_inventory::wiring::queues(),
                    declares_consumers_of: &[],
                    build: |process| Box::pin(inventory(process)),
                }),
            },
            Service::Search => Spec {
                name: "search",
                port_variable: "EMPORIUM_SEARCH_PORT",
                default_port: 4004,
                subgraph: Some(Subgraph {
                    url_variable: "EMPORIUM_SEARCH_URL",
                    sdl: emporium_search::sdl,
                    queues: |settings| {
                        emporium_search::wiring::queues(settings.search_replica_id.as_deref())
                    },
                    declares_consumers_of: &[],
                    build: |process| Box::pin(search(process)),
                }),
            },
            Service::Orders => Spec {
                name: "orders",
                port_variable: "EMPORIUM_ORDERS_PORT",
                default_port: 4005,
                subgraph: Some(Subgraph {
                    url_variable: "EMPORIUM_ORDERS_URL",
                    sdl: emporium_orders::sdl,
                    queues: |_| emporium_orders::wiring::queues(),
                    declares_consumers_of: &["order."],
                    build: |process| Box::pin(orders(process)),
                }),
            },
            Service::Payments => Spec {
                name: "payments",
                port_variable: "EMPORIUM_PAYMENTS_PORT",
                default_port: 4006,
                subgraph: Some(Subgraph {
                    url_variable: "EMPORIUM_PAYMENTS_URL",
                    sdl: emporium_payments::sdl,
                    queues: |_| emporium_payments::wiring::queues(),
                    declares_consumers_of: &[],
                    build: |process| Box::pin(payments(process)),
                }),
            },
            Service::Notifications => Spec {
                name: "notifications",
                port_variable: "EMPORIUM_NOTIFICATIONS_PORT",
                default_port: 4007,
                subgraph: Some(Subgraph {
                    url_variable: "EMPORIUM_NOTIFICATIONS_URL",
                    sdl: emporium_notifications::sdl,
                    queues: |_| emporium_notifications::wiring::queues(),
                    declares_consumers_of: &[],
                    build: |process| Box::pin(notifications(process)),
                }),
            },
        }
    }
}

/// Every queue the platform's services consume (each once).
pub fn all_queues(settings: &Settings) -> Vec<ConsumerSettings> {
    queues_declared_by(settings, Service::all())
}

/// The queues a process running `services` declares before anything publishes: those they
/// consume, then those of other services' consumers of their events.
pub fn queues_declared_by(settings: &Settings, services: &[Service]) -> Vec<ConsumerSettings> {
    let subgraphs: Vec<Subgraph> = services
        .iter()
        .filter_map(|service| service.spec().subgraph)
        .collect();
    let everyones: Vec<ConsumerSettings> = Service::subgraphs()
        .flat_map(|(_, subgraph)| (subgraph.queues)(settings))
        .collect();
    let own = subgraphs
        .iter()
        .flat_map(|subgraph| (subgraph.queues)(settings));
    let consumers = subgraphs.iter().flat_map(|subgraph| {
        service::queues_bound_to(everyones.clone(), subgraph.declares_consumers_of)
    });
    let mut queues: Vec<ConsumerSettings> = Vec::new();
    for consumer in own.chain(consumers) {
        if !queues.iter().any(|known| known.queue == consumer.queue) {
            queues.push(consumer);
        }
    }
    queues
}

/// The process the services run in: its settings, what they share, and how they reach one
/// another.
pub struct Process {
    pub settings: Settings,
    /// Cancelled when the process stops.
    pub shutdown: CancellationToken,
    /// `up`: the whole platform in this process. Otherwise (`serve`) the others are
    /// reached over the network.
    together: Option<Together>,
}

/// What the services of `up` take from one another in the process.
struct Together {
    keyring: Keyring,
    verifier: TokenVerifier,
    payment_token_keys: OpeningKeys,
}

impl Process {
    /// A process running one service; the others are reached at their URLs.
    pub fn alone(settings: Settings, shutdown: CancellationToken) -> Self {
        Self {
            settings,
            shutdown,
            together: None,
        }
    }

    /// The process of `up`, with the users service's keyring and the payments service's
    /// token keys.
    pub fn together(
        settings: Settings,
        shutdown: CancellationToken,
        keyring: Keyring,
        payment_token_keys: OpeningKeys,
    ) -> anyhow::Result<Self> {
        let verifier = TokenVerifier::from_jwks(&keyring.jwks())?;
        Ok(Self {
            settings,
            shutdown,
            together: Some(Together {
                keyring,
                verifier,
                payment_token_keys,
            }),
        })
    }

    /// The users service's public keys: the keyring's in `up`, else fetched from it (and
    /// fetched again every few minutes, following rotations).
    async fn verifier(&self) -> anyhow::Result<TokenVerifier> {
        match &self.together {
            Some(together) => Ok(together.verifier.clone()),
            None => stores::verifier_following_rotations(&self.settings, &self.shutdown).await,
        }
    }

    fn keyring(&self) -> anyhow::Result<Keyring> {
        match &self.together {
            Some(together) => Ok(together.keyring.clone()),
            None => stores::keyring(&self.settings),
        }
    }

    fn payment_token_keys(&self) -> anyhow::Result<OpeningKeys> {
        match &self.together {
            Some(together) => Ok(together.payment_token_keys.clone()),
            None => stores::payment_token_keys(&self.settings),
        }
    }

    /// The payments service's public token key: in `up` its own, else fetched from it.
    async fn payment_token_key(&self) -> anyhow::Result<SealingKey> {
        match &self.together {
            Some(together) => Ok(together.payment_token_keys.sealing_key().clone()),
            None => stores::fetch_payment_token_key(&self.settings).await,
        }
    }

    /// Builds `services`, connects to the broker and declares the queues they need, then
    /// starts each on the listener `bind` gives it (called once every service is built).
    pub async fn start(
        &self,
        services: &[Service],
        mut bind: impl FnMut(Service) -> anyhow::Result<std::net::TcpListener>,
    ) -> anyhow::Result<Tasks> {
        let mut built = Vec::with_capacity(services.len());
        for service in services {
            if let Some(subgraph) = service.spec().subgraph {
                built.push((*service, (subgraph.build)(self).await?));
            }
        }
        let handles = Handles {
            broker: stores::broker(&self.settings),
            shutdown: self.shutdown.clone(),
            relay: self.settings.relay(),
        };
        let queues = queues_declared_by(&self.settings, services);
        service::declare_queues(&handles.broker, &queues)
            .await
            .context("declaring the consumers' queues")?;
        let mut tasks = Vec::new();
        for (service, built) in built {
            let listener = tokio::net::TcpListener::from_std(bind(service)?)?;
            tasks.extend(built.start(listener, &handles)?);
        }
        Ok(tasks)
    }
}

async fn users(process: &Process) -> anyhow::Result<Box<dyn service::Service>> {
    let settings = &process.settings;
    let pool = stores::postgres(settings).await?;
    stores::ensure_admin_from_settings(settings, &pool).await?;
    Ok(Box::new(emporium_users::wiring::UsersService {
        pool,
        keyring: process.keyring()?,
        settings: settings.users_settings(),
        mailer: settings.mailer()?,
    }))
}

async fn products(process: &Process) -> anyhow::Result<Box<dyn service::Service>> {
    let settings = &process.settings;
    let db = stores::mongodb(settings).await?;
    // `up` loads the demo catalog; containers have a `seed` job for it.
    if process.together.is_some() && settings.seed_demo_catalog {
        let store = emporium_products::store::ProductStore::new(&db);
        emporium_products::seed::seed_demo_catalog(&store).await?;
    }
    Ok(Box::new(emporium_products::wiring::ProductsService {
        cache: stores::catalog_cache(settings).await?,
        verifier: process.verifier().await?,
        db,
    }))
}

async fn inventory(process: &Process) -> anyhow::Result<Box<dyn service::Service>> {
    Ok(Box::new(emporium_inventory::wiring::InventoryService {
        inventory: stores::inventory(&process.settings, true).await?,
        verifier: process.verifier().await?,
    }))
}

async fn search(process: &Process) -> anyhow::Result<Box<dyn service::Service>> {
    let settings = &process.settings;
    let index = stores::search_index(settings)?;
    let catalog = stores::catalog_source(stores::mongodb(settings).await?);
    Ok(Box::new(emporium_search::wiring::SearchService {
        index,
        catalog,
        verifier: process.verifier().await?,
        index_dir: settings.search_index_dir.clone(),
        replica_id: settings.search_replica_id.clone(),
    }))
}

async fn orders(process: &Process) -> anyhow::Result<Box<dyn service::Service>> {
    let settings = &process.settings;
    // Checkout accepts the test provider's tokens only: not in production either.
    stores::payment_provider(settings)?;
    let pool = stores::orders_postgres(settings).await?;
    // `up` loads the demo shop's shipping, tax and code with the demo catalog; containers
    // have a `seed` job for it.
    if process.together.is_some() && settings.seed_demo_catalog {
        emporium_orders::OrderStore::new(pool.clone())
            .seed_demo_pricing()
            .await?;
    }
    Ok(Box::new(emporium_orders::wiring::OrdersService {
        pool,
        verifier: process.verifier().await?,
        payment_token_key: process.payment_token_key().await?,
        token_check: emporium_payments::provider::is_test_token,
        pending_timeout: settings.order_pending_timeout,
        prices_include_tax: settings.prices_include_tax,
    }))
}

async fn payments(process: &Process) -> anyhow::Result<Box<dyn service::Service>> {
    let settings = &process.settings;
    let provider = stores::payment_provider(settings)?;
    let token_keys = process.payment_token_keys()?;
    let pool = stores::payments_postgres(settings).await?;
    Ok(Box::new(emporium_payments::wiring::PaymentsService {
        pool,
        verifier: process.verifier().await?,
        provider,
        token_keys,
    }))
}

async fn notifications(process: &Process) -> anyhow::Result<Box<dyn service::Service>> {
    let store = stores::notifications_store(&process.settings).await?;
    let mailer = process.settings.mailer()?;
    if process.together.is_some() {
        // Printed whatever the log level: where to look for reset and verification links.
        eprintln!("[emporium] mail goes to {}", mailer.destination());
    } else {
        tracing::info!(destination = %mailer.destination(), "mail transport");
    }
    Ok(Box::new(
        emporium_notifications::wiring::NotificationsService {
            store,
            mailer,
            verifier: process.verifier().await?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared_by(service: Service) -> Vec<String> {
        let settings = Settings::from_env().expect("the default settings");
        queues_declared_by(&settings, &[service])
            .into_iter()
            .map(|consumer| consumer.queue)
            .collect()
    }

    #[test]
    fn a_service_declares_its_queues_and_those_of_its_events_consumers() {
        assert_eq!(declared_by(Service::Users), ["notifications.users"]);
        assert!(declared_by(Service::Products).is_empty());
        assert_eq!(
            declared_by(Service::Payments),
            ["payments.order-placed", "payments.saga"]
        );
        assert_eq!(
            declared_by(Service::Orders),
            [
                "orders.catalog",
                "orders.saga",
                "inventory.order-placed",
                "inventory.order-updates",
                "payments.order-placed",
                "payments.saga",
                "notifications.order-updates"
            ]
        );
    }
}
