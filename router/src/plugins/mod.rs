//! Emporium's hive-router plugins, one small named type per job.
//!
//! Each plugin is enabled by name under `plugins.<name>` in the generated configuration
//! ([`crate::config`]); hive-router refuses to start when the configuration names a plugin
//! that [`registry`] did not register. Registration order is call order for every hook.

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
