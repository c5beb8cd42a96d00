//! `emporium dlq`: dead letters (the messages a consumer gave up on) counted, shown and
//! redriven into their queue. Without queue names, `list` counts those of every queue the
//! platform's services consume (named from the list of services, so no management API is
//! needed).

use anyhow::Context;
use clap::Subcommand;
use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::dlq;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::services;

#[derive(Subcommand)]
pub enum DlqAction {
    /// How many dead letters each consumer queue has (e.g. `search.indexer`); every queue the
    /// services consume when none is named.
    List { queues: Vec<String> },
    /// Print up to `limit` dead letters of a queue as JSON lines, leaving them in place.
    Show {
        queue: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Move up to `limit` dead letters back into their queue (only that queue) to be consumed again.
    Redrive {
        queue: String,
        #[arg(long, default_value_t = usize::MAX)]
        limit: usize,
    },
}

pub async fn dlq(settings: &Settings, action: DlqAction) -> anyhow::Result<()> {
    let broker = Broker::connect(BrokerSettings::new(settings.amqp_url.expose_secret()))
        .await
        .context("connecting to RabbitMQ")?;
    match action {
        DlqAction::List { queues } => list(&broker, settings, queues).await?,
        DlqAction::Show { queue, limit } => show(&broker, &queue, limit).await?,
        DlqAction::Redrive { queue, limit } => {
            let moved = dlq::redrive(&broker, &queue, limit).await?;
            println!("moved {moved} dead letters back into {queue}");
        }
    }
    broker.close().await;
    Ok(())
}

async fn list(broker: &Broker, settings: &Settings, queues: Vec<String>) -> anyhow::Result<()> {
    let queues = if queues.is_empty() {
        services::all_queues(settings)
            .into_iter()
            .map(|consumer| consumer.queue)
            .collect()
    } else {
        queues
    };
    for (queue, depth) in dlq::list(broker, &queues).await? {
        match depth {
            Some(depth) => println!("{queue}\t{depth}"),
            None => println!("{queue}\t(no dead-letter queue: the consumer never ran)"),
        }
    }
    Ok(())
}

async fn show(broker: &Broker, queue: &str, limit: usize) -> anyhow::Result<()> {
    for dead_letter in dlq::show(broker, queue, limit).await? {
        let body = match dead_letter.body {
            dlq::DeadLetterBody::Envelope(envelope) => serde_json::to_value(*envelope)?,
            dlq::DeadLetterBody::Raw(text) => serde_json::Value::String(text),
        };
        let line = serde_json::json!({
            "reason": dead_letter.reason,
            "attempts": dead_letter.attempts,
            "type": dead_letter.original_routing_key,
            "message": body,
        });
        println!("{line}");
    }
    Ok(())
}
