//! `/ready`, the readiness path every Emporium service answers, for hive-router's built-in
//! `/readiness` probe (ready once a supergraph is loaded).
//!
//! The plugin rewrites the request path before routing instead of re-implementing the probe,
//! so both paths always give the same answer.

use hive_router::{
    http::Uri,
    plugins::{
        hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload},
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
};
use serde::Deserialize;

/// Serves hive-router's readiness probe under an extra path.
pub struct ReadyAlias {
    alias: String,
    target: Uri,
}

/// `plugins.emporium_ready_alias.config`.
#[derive(Debug, Deserialize)]
pub struct ReadyAliasConfig {
    /// The extra path, e.g. `/ready`.
    pub path: String,
}

/// hive-router's own readiness path (`RouterPaths::readiness`).
const READINESS_PATH: &str = "/readiness";

impl RouterPlugin for ReadyAlias {
    plugin_setup!("emporium_ready_alias", ReadyAliasConfig, |config| {
        Ok(Self {
            alias: config.path,
            target: Uri::from_static(READINESS_PATH),
        })
    });

    fn on_http_request<'req>(
        &'req self,
        mut payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let request = &mut payload.router_http_request;
            if request.path() == self.alias {
                // Routing happens after this hook, against both the head's URI and the match
                // path, so both must change.
                request.head_mut().uri = self.target.clone();
                request.match_info_mut().set(self.target.clone());
            }
            payload.proceed()
        })
    }
}
