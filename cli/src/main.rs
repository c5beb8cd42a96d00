//! `emporium`: the one binary. `up` runs the whole platform in one process; `serve` runs one
//! service (what each container does); the rest are admin tasks (`commands`).

mod commands;
mod compose;
mod config;
mod contract;
mod run;
mod services;
mod stores;

use clap::{Parser, Subcommand};

use crate::commands::dlq::DlqAction;
use crate::commands::inventory::InventoryAction;
use crate::commands::search::SearchAction;
use crate::config::{Settings, DEFAULT_LOG_FILTER};
use crate::run::runtime;
use crate::services::Service;

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
    /// Load the demo catalog (products already present by SKU, or deleted, are left alone;
    /// nothing when EMPORIUM_SEED_DEMO_CATALOG is off).
    Seed,
    /// Create an admin account, or (with --promote) make an existing account an admin.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// The new admin's password; read from EMPORIUM_NEW_ADMIN_PASSWORD so it stays out of
        /// shell history and `ps`. Not used with --promote (the account keeps its own).
        #[arg(long, env = "EMPORIUM_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, default_value = "Admin")]
        name: String,
        /// Promote the existing account with this email, keeping its password. Start-up
        /// never does this: only run it once you know who owns the address.
        #[arg(long)]
        promote: bool,
    },
    /// Write a new token signing key (ES256, PKCS#8 PEM, mode 0600) for a key rotation.
    NewSigningKey {
        /// Where to write it; must not exist yet.
        out: std::path::PathBuf,
    },
    /// Inspect and redrive dead letters (messages a consumer gave up on).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Stock counts: rebuild Redis from the ledger, or check that the two agree.
    Inventory {
        #[command(subcommand)]
        action: InventoryAction,
    },
    /// The search index.
    Search {
        #[command(subcommand)]
        action: SearchAction,
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    // In a process that embeds the router, hive-router owns the global tracing subscriber.
    match cli.command {
        Command::Up => return run::up(settings),
        Command::Serve {
            service: Service::Router,
        } => return run::serve_router(settings),
        _ => emporium_kernel::telemetry::init(
            "emporium",
            DEFAULT_LOG_FILTER,
            settings.log_json,
            std::io::stderr,
        ),
    }
    match cli.command {
        Command::Up
        | Command::Serve {
            service: Service::Router,
        } => unreachable!("handled above"),
        Command::Serve { service } => runtime()?.block_on(run::serve(settings, service)),
        Command::Compose { out, check } => commands::compose::compose(&out, check),
        Command::NewSigningKey { out } => commands::accounts::new_signing_key(&out),
        Command::Dlq { action } => runtime()?.block_on(commands::dlq::dlq(&settings, action)),
        Command::Search { action } => {
            runtime()?.block_on(commands::search::search(&settings, action))
        }
        Command::Inventory { action } => {
            let clean = runtime()?.block_on(commands::inventory::inventory(&settings, action))?;
            if !clean {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Migrate => runtime()?.block_on(commands::catalog::migrate(&settings)),
        Command::Seed => runtime()?.block_on(commands::catalog::seed(&settings)),
        Command::CreateAdmin {
            email,
            password,
            name,
            promote,
        } => runtime()?.block_on(commands::accounts::create_admin(
            &settings, &email, password, &name, promote,
        )),
    }
}
