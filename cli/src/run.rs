//! Running the platform: `up` (every service in one process, the router in front) and
//! `serve <service>` (one service: what each container does), both from the one list of
//! [`Service`]s. A process stops on SIGINT or SIGTERM (`up`: when the router stops), giving
//! its services' tasks time to finish.

use anyhow::Context;
use emporium_kernel::service::Tasks;
use tokio_util::sync::CancellationToken;

use crate::config::{Settings, DEFAULT_LOG_FILTER};
use crate::services::{Process, Service};
use crate::stores;

/// Everything in one process: the subgraphs on a tokio runtime, the router on this thread.
pub fn up(settings: Settings) -> anyhow::Result<()> {
    // Refused before anything starts (checked again where the provider is built).
    stores::payment_provider(&settings)?;
    let startup_log = emporium_kernel::telemetry::subscriber(
        DEFAULT_LOG_FILTER,
        settings.log_json,
        std::io::stderr,
    );
    let shutdown = CancellationToken::new();
    let (runtime, tasks, router) =
        tracing::subscriber::with_default(startup_log, || -> anyhow::Result<_> {
            // The router's configuration is written, and its environment variable set, before any
            // other thread exists (see `emporium_router::prepare`); so the subgraphs' ports are
            // bound first (port 0 picks free ones) and the runtime starts after.
            let mut listeners = Vec::new();
            let mut subgraph_urls = Vec::new();
            for (service, _) in Service::subgraphs() {
                let listener = stores::bind_std(settings.addr(service))?;
                subgraph_urls.push((
                    service.spec().name.to_owned(),
                    format!("http://{}/graphql", listener.local_addr()?),
                ));
                listeners.push((service, listener));
            }
            let keyring = stores::keyring(&settings)?;
            let jwks = stores::write_jwks(&settings.data_dir, &keyring)?;
            let router = emporium_router::prepare(
                settings.router_settings(subgraph_urls, emporium_router::JwksSource::File(jwks)),
            )?;
            let runtime = runtime()?;
            let tasks = runtime.block_on(async {
                let token_keys = stores::payment_token_keys(&settings)?;
                let process =
                    Process::together(settings.clone(), shutdown.clone(), keyring, token_keys)?;
                process
                    .start(Service::all(), |service| {
                        let at = listeners.iter().position(|(s, _)| *s == service);
                        at.map(|at| listeners.swap_remove(at).1)
                            .context("a subgraph without a listener")
                    })
                    .await
            })?;
            Ok((runtime, tasks, router))
        })?;
    let served = router.run();
    shutdown.cancel();
    runtime.block_on(async {
        for task in tasks {
            if tokio::time::timeout(std::time::Duration::from_secs(30), task)
                .await
                .is_err()
            {
                tracing::warn!("a subgraph did not stop within 30 s");
            }
        }
    });
    served.context("the router stopped with an error")
}

/// The router alone, reaching the subgraphs and the JWKS over the network (containers).
pub fn serve_router(settings: Settings) -> anyhow::Result<()> {
    let subgraph_urls = Service::subgraphs()
        .map(|(service, _)| {
            let base = settings.url(service).trim_end_matches('/');
            (service.spec().name.to_owned(), format!("{base}/graphql"))
        })
        .collect();
    let jwks = emporium_router::JwksSource::Url(settings.jwks_url());
    emporium_router::prepare(settings.router_settings(subgraph_urls, jwks))?.run()?;
    Ok(())
}

/// One subgraph service, until SIGINT or SIGTERM.
pub async fn serve(settings: Settings, service: Service) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let process = Process::alone(settings.clone(), shutdown.clone());
    let tasks: Tasks = process
        .start(&[service], |service| {
            stores::bind_std(settings.addr(service))
        })
        .await?;
    stores::shutdown_signal().await;
    shutdown.cancel();
    for task in tasks {
        task.await.context("a service task panicked")?;
    }
    Ok(())
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
