//! `emporium`: the one binary. `up` runs the whole platform in one process; `serve` runs one
//! service (what each container does); the rest are admin tasks.

mod compose;
mod config;
mod services;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

#[derive(Parser)]
#[command(name = "emporium", version, about = "Emporium e-commerce platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, seed the demo catalog, ensure the admin, and run the router and every subgraph.
    Up,
    /// Run one service.
    Serve {
        #[arg(value_enum)]
        service: Service,
    },
    /// Create the databases if missing and run every migration.
    Migrate,
    /// Load the demo catalog (products already present by SKU are left alone).
    Seed,
    /// Create an admin account, or promote an existing account to admin.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// Read from EMPORIUM_NEW_ADMIN_PASSWORD so it stays out of shell history and `ps`.
        #[arg(long, env = "EMPORIUM_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "Admin")]
        name: String,
    },
    /// Compose the supergraph from the subgraphs' schemas and write it (or check it is current).
    Compose {
        #[arg(long, default_value = "schema.graphql")]
        out: std::path::PathBuf,
        /// Fail instead of writing when the file differs from the composition.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Service {
    Users,
    Products,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    emporium_kernel::telemetry::init(
        "emporium",
        "info,sqlx=warn,mongodb=warn",
        settings.log_json,
        std::io::stderr,
    );
    match cli.command {
        Command::Compose { out, check } => compose_command(&out, check),
        Command::Up => runtime()?.block_on(up(settings)),
        Command::Serve { service } => runtime()?.block_on(serve(settings, service)),
        Command::Migrate => runtime()?.block_on(async {
            services::postgres(&settings).await?;
            services::mongodb(&settings).await?;
            Ok(())
        }),
        Command::Seed => runtime()?.block_on(async {
            let db = services::mongodb(&settings).await?;
            emporium_products::seed::seed_demo_catalog(
                &emporium_products::store::ProductStore::new(&db),
            )
            .await?;
            Ok(())
        }),
        Command::CreateAdmin {
            email,
            password,
            name,
        } => runtime()?.block_on(async {
            let pool = services::postgres(&settings).await?;
            let store = emporium_users::store::UserStore::new(pool);
            emporium_users::ensure_admin(&store, &email, &password, &name).await?;
            Ok(())
        }),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn compose_command(out: &std::path::Path, check: bool) -> anyhow::Result<()> {
    let supergraph = compose::supergraph()?;
    if check {
        let current =
            std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
        anyhow::ensure!(
            current == supergraph,
            "{} is stale: run `emporium compose`",
            out.display()
        );
        println!("{} is current", out.display());
        return Ok(());
    }
    std::fs::write(out, supergraph).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

async fn up(settings: Settings) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let pool = services::postgres(&settings).await?;
    let db = services::mongodb(&settings).await?;
    services::ensure_admin_from_settings(&settings, &pool).await?;
    if settings.seed_demo_catalog {
        emporium_products::seed::seed_demo_catalog(&emporium_products::store::ProductStore::new(
            &db,
        ))
        .await?;
    }
    let keyring = services::keyring(&settings)?;
    let verifier = emporium_kernel::auth::TokenVerifier::from_jwks(&keyring.jwks())?;
    let users = services::start_users(
        &settings,
        pool,
        keyring,
        services::bind(settings.users_addr()).await?,
        shutdown.clone(),
    )?;
    let products = services::start_products(
        db,
        verifier,
        services::bind(settings.products_addr()).await?,
        shutdown.clone(),
    );
    services::shutdown_signal().await;
    shutdown.cancel();
    let _ = tokio::join!(users, products);
    Ok(())
}

async fn serve(settings: Settings, service: Service) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let server = match service {
        Service::Users => {
            let pool = services::postgres(&settings).await?;
            services::ensure_admin_from_settings(&settings, &pool).await?;
            let keyring = services::keyring(&settings)?;
            services::start_users(
                &settings,
                pool,
                keyring,
                services::bind(settings.users_addr()).await?,
                shutdown.clone(),
            )?
        }
        Service::Products => {
            let db = services::mongodb(&settings).await?;
            let verifier =
                emporium_kernel::auth::TokenVerifier::fetch(&settings.jwks_url(), 30).await?;
            services::start_products(
                db,
                verifier,
                services::bind(settings.products_addr()).await?,
                shutdown.clone(),
            )
        }
    };
    services::shutdown_signal().await;
    shutdown.cancel();
    server.await.context("server task")?.context("server")?;
    Ok(())
}
