//! Emporium's hive-router plugins, one small named type per job.
//!
//! Each plugin is enabled by name under `plugins.<name>` in the generated configuration
//! ([`crate::config`]); hive-router refuses to start when the configuration names a plugin
//! that [`registry`] did not register. Registration order is call order for every hook.

/// The items every plugin's `RouterPlugin` impl opens with: its configuration type, the name it
/// is enabled by under `plugins.`, and `on_plugin_init` building the plugin from its parsed
/// configuration with `$build`, a `fn(Config) -> Result<Self, Box<dyn Error>>`. A configuration
/// that does not parse, or a build that fails, stops the router at start-up with that error.
macro_rules! plugin_setup {
    ($name:literal, $config:ty, $build:expr) => {
        type Config = $config;

        fn plugin_name() -> &'static str {
            $name
        }

        fn on_plugin_init(
            payload: ::hive_router::plugins::hooks::on_plugin_init::OnPluginInitPayload<Self>,
        ) -> ::hive_router::plugins::hooks::on_plugin_init::OnPluginInitResult<Self> {
            let build: fn($config) -> Result<Self, Box<dyn std::error::Error>> = $build;
            payload.initialize_plugin(build(payload.config()?)?)
        }
    };
}

/// The configuration of a plugin that has none: hive-router hands every enabled plugin a map,
/// empty for these.
#[derive(Debug, serde::Deserialize)]
pub struct NoConfig {}

pub mod body_limit;
pub mod cost_budget;
pub mod document_size_limit;
pub mod error_codes;
pub mod json_depth_limit;
pub mod playground;
pub mod ready_alias;
pub mod reject_invalid_tokens;
pub mod selection_limits;
pub mod storefront;

use hive_router::PluginRegistry;

pub use body_limit::BodyLimit;
pub use cost_budget::CostBudget;
pub use document_size_limit::DocumentSizeLimit;
pub use error_codes::ContractErrorCodes;
pub use json_depth_limit::JsonDepthLimit;
pub use playground::Playground;
pub use ready_alias::ReadyAlias;
pub use reject_invalid_tokens::RejectInvalidTokens;
pub use selection_limits::SelectionLimits;
pub use storefront::Storefront;

/// Every Emporium plugin, in the order their hooks run.
pub fn registry() -> PluginRegistry {
    PluginRegistry::new()
        .register::<BodyLimit>()
        .register::<Playground>()
        .register::<ReadyAlias>()
        .register::<JsonDepthLimit>()
        .register::<DocumentSizeLimit>()
        .register::<SelectionLimits>()
        .register::<RejectInvalidTokens>()
        .register::<CostBudget>()
        .register::<ContractErrorCodes>()
        .register::<Storefront>()
}
