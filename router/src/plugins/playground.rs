//! The GraphQL playground: GraphiQL served entirely by the router, so it works offline.
//!
//! A browser GET of the GraphQL path (one that accepts `text/html`) gets `playground/index.html`;
//! its scripts and stylesheet are the vendored GraphiQL, React and ReactDOM builds listed in
//! `playground/LICENSES/README.md`, embedded in the binary and served under the assets path
//! with long-lived cache headers (their file names carry their versions). hive-router's own
//! playground is switched off in the configuration because it loads GraphiQL from a CDN.

use hive_router::{
    http::{
        header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, UPGRADE},
        HeaderValue, Method, StatusCode,
    },
    ntex::http::{Response, ResponseBuilder},
    plugins::{
        hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload},
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
    GraphQLError,
};
use serde::Deserialize;

/// Serves the GraphiQL page and its assets.
pub struct Playground {
    graphql_path: String,
    assets_path: String,
    page: String,
}

/// `plugins.emporium_playground.config`.
#[derive(Debug, Deserialize)]
pub struct PlaygroundConfig {
    /// Where GraphQL is served, e.g. `/graphql`; the page is served there too.
    pub graphql_path: String,
    /// Prefix of the asset URLs, e.g. `/playground`.
    pub assets_path: String,
}

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql-3.8.3.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../playground/graphiql-3.8.3.min.js"),
    },
    Asset {
        name: "graphiql-3.8.3.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../playground/graphiql-3.8.3.min.css"),
    },
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../playground/react-18.3.1.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../playground/react-dom-18.3.1.production.min.js"),
    },
];

const PAGE_TEMPLATE: &str = include_str!("../../playground/index.html");

/// Placeholder in `index.html` for the assets path.
const ASSETS_PLACEHOLDER: &str = "{{ASSETS}}";

/// Versioned file names never change content, so browsers may keep them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The page names the asset versions, so it must be revalidated to pick up an upgrade.
const REVALIDATE: &str = "no-cache";

impl Playground {
    fn is_page_request(&self, payload: &OnHttpRequestHookPayload<'_>) -> bool {
        let request = &payload.router_http_request;
        let headers = request.headers();
        request.method() == Method::GET
            && request.path() == self.graphql_path
            && !headers.contains_key(UPGRADE)
            && headers
                .get(ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    }

    fn asset_for(&self, path: &str) -> Option<Option<&'static Asset>> {
        let name = path
            .strip_prefix(self.assets_path.as_str())?
            .strip_prefix('/')?;
        Some(ASSETS.iter().find(|asset| asset.name == name))
    }

    fn page_response(&self) -> Response {
        ResponseBuilder::new(StatusCode::OK)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )
            .header(CACHE_CONTROL, HeaderValue::from_static(REVALIDATE))
            .body(self.page.clone())
    }
}

fn asset_response(asset: &'static Asset) -> Response {
    ResponseBuilder::new(StatusCode::OK)
        .header(CONTENT_TYPE, HeaderValue::from_static(asset.content_type))
        .header(CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE))
        .body(asset.bytes)
}

impl RouterPlugin for Playground {
    plugin_setup!("emporium_playground", PlaygroundConfig, |config| {
        let assets_path = config.assets_path.trim_end_matches('/').to_owned();
        Ok(Self {
            page: PAGE_TEMPLATE.replace(ASSETS_PLACEHOLDER, &assets_path),
            graphql_path: config.graphql_path,
            assets_path,
        })
    });

    fn on_http_request<'req>(
        &'req self,
        payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            if self.is_page_request(&payload) {
                let page = self.page_response();
                return payload.end_with_response(page);
            }
            let is_get = payload.router_http_request.method() == Method::GET;
            match self.asset_for(payload.router_http_request.path()) {
                None => payload.proceed(),
                Some(Some(asset)) if is_get => payload.end_with_response(asset_response(asset)),
                Some(_) => payload.end_with_graphql_error(
                    GraphQLError::from_message_and_code("No such playground asset", "NOT_FOUND"),
                    StatusCode::NOT_FOUND,
                ),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playground() -> Playground {
        Playground {
            graphql_path: "/graphql".to_owned(),
            assets_path: "/playground".to_owned(),
            page: String::new(),
        }
    }

    #[test]
    fn the_page_references_every_asset_under_the_assets_path() {
        let page = PAGE_TEMPLATE.replace(ASSETS_PLACEHOLDER, "/playground");
        for asset in ASSETS {
            assert!(
                page.contains(&format!("/playground/{}", asset.name)),
                "index.html does not load {}",
                asset.name
            );
        }
        assert!(!page.contains(ASSETS_PLACEHOLDER));
    }

    #[test]
    fn asset_paths_resolve_to_embedded_files_and_unknown_names_to_none() {
        let playground = playground();
        let found = playground.asset_for("/playground/react-18.3.1.production.min.js");
        assert!(matches!(found, Some(Some(asset)) if asset.bytes.len() > 1000));
        assert!(matches!(
            playground.asset_for("/playground/nope.js"),
            Some(None)
        ));
        assert!(playground.asset_for("/graphql").is_none());
        assert!(playground.asset_for("/playgroundx/a.js").is_none());
    }

    #[test]
    fn the_page_and_assets_reference_no_remote_host() {
        let page = PAGE_TEMPLATE.replace(ASSETS_PLACEHOLDER, "/playground");
        assert!(
            !page.contains("https://"),
            "the playground must work offline"
        );
        assert!(
            !page.contains("http://"),
            "the playground must work offline"
        );
    }
}
