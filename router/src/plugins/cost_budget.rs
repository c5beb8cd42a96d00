//! Every operation's cost in `extensions.cost`, and each client's cost budget (rate limiting).
//!
//! hive-router's demand control estimates an operation's cost before anything runs and refuses
//! one over the maximum (`QUERY_TOO_COMPLEX`, no subgraph called). This plugin takes it from
//! there, in the shape Shopify's clients already parse:
//!
//! ```json
//! "extensions": { "cost": { "requestedQueryCost": 42, "actualQueryCost": 12,
//!   "throttleStatus": { "maximumAvailable": 2000, "currentlyAvailable": 1988, "restoreRate": 100 } } }
//! ```
//!
//! With rate limiting on, an operation first takes its estimated cost from its client's bucket
//! ([`crate::budget`], in Redis, so every replica enforces the same budget; each replica spends
//! it through a lease of at most a tenth of the capacity, so most operations make no Redis
//! round trip) and gives back what it did not spend. `throttleStatus.currentlyAvailable` is
//! what Redis held at the replica's last answer plus the replica's unspent lease (see
//! [`crate::budget`] for its bounds). A client whose bucket holds too little gets HTTP 429
//! with `Retry-After` and `RATE_LIMITED`, and no subgraph is called. The client is the user of
//! a verified token (`user:<id>`; admins get a bucket `admin_multiplier` times larger), or else
//! its IP address (`ip:<address>`), taken from `X-Forwarded-For` only when the peer is a
//! trusted proxy.
//! Identical requests of different clients are never deduplicated together, so each is charged.
//!
//! Failure: when Redis cannot be asked the request is served (fail open), the failure is
//! logged and counted in `emporium_rate_limit_fail_open_total`, and `throttleStatus` is left out.
//! An operation the replica's lease for the client still pays for is charged to it as usual.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use hive_router::{
    async_trait,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    ntex::http::{header::HeaderValue as RequestHeaderValue, HeaderMap as RequestHeaders},
    opentelemetry::{global, metrics::Counter},
    plugins::{
        hooks::{
            on_execute::{
                OnExecuteEndHookPayload, OnExecuteResponse, OnExecuteStartHookPayload,
                OnExecuteStartHookResult,
            },
            on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload},
        },
        plugin_trait::{EarlyHTTPResponse, EndHookPayload, RouterPlugin, StartHookPayload},
    },
    sonic_rs::{self, json},
};
use serde::Deserialize;

use crate::budget::{Bucket, BudgetStore, Take};
use crate::settings::IpNetwork;

/// The contract's code for a client over its budget.
pub const RATE_LIMITED: &str = "RATE_LIMITED";

/// Reports costs and, when configured, enforces each client's budget.
pub struct CostBudget {
    limiter: Option<Arc<Limiter>>,
}

struct Limiter {
    store: BudgetStore,
    bucket: Bucket,
    admin_multiplier: u64,
    trusted_proxies: Vec<IpNetwork>,
    fail_open: Counter<u64>,
    refused: Counter<u64>,
}

/// `plugins.emporium_cost_budget.config`.
#[derive(Debug, Deserialize)]
pub struct CostBudgetConfig {
    /// `null` turns rate limiting off; costs are still reported.
    pub rate_limit: Option<RateLimitConfig>,
}

/// The budget's numbers; the Redis URL comes through [`set_redis_url`], not the config file.
#[derive(Debug, Deserialize)]
pub struct RateLimitConfig {
    pub key_prefix: String,
    pub capacity: u64,
    pub restore_per_second: u64,
    pub admin_multiplier: u64,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// The Redis URL of the budgets, handed over in memory so that its password never lands in the
/// generated configuration file. Set by [`crate::prepare`] before the router starts.
static REDIS_URL: std::sync::OnceLock<secrecy::SecretString> = std::sync::OnceLock::new();

/// Hands the plugin the Redis URL of the budgets (once per process; later calls are ignored).
pub fn set_redis_url(url: secrecy::SecretString) {
    let _ = REDIS_URL.set(url);
}

/// Who is asking, as far as the HTTP request tells: kept in the request's plugin context.
#[derive(Debug, Clone, Copy)]
struct ClientAddress(IpAddr);

/// What a request took from its bucket, to settle once its actual cost is known.
struct Charge {
    client: String,
    bucket: Bucket,
    requested: u64,
    left: Option<u64>,
}

impl Limiter {
    fn from_config(config: RateLimitConfig) -> Result<Self, String> {
        if config.capacity == 0 || config.restore_per_second == 0 || config.admin_multiplier == 0 {
            return Err(
                "capacity, restore_per_second and admin_multiplier must be at least 1".into(),
            );
        }
        let redis_url = REDIS_URL
            .get()
            .ok_or("rate limiting is on but no Redis URL was handed to the router")?;
        let store = BudgetStore::new(redis_url, config.key_prefix).map_err(|e| e.to_string())?;
        let trusted_proxies = config
            .trusted_proxies
            .iter()
            .map(|raw| IpNetwork::parse(raw).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let meter = global::meter("emporium_router");
        Ok(Self {
            store,
            bucket: Bucket {
                capacity: config.capacity,
                restore_per_second: config.restore_per_second,
            },
            admin_multiplier: config.admin_multiplier,
            trusted_proxies,
            fail_open: meter
                .u64_counter("emporium_rate_limit_fail_open")
                .with_description(
                    "Requests served without a budget check because Redis could not be asked",
                )
                .build(),
            refused: meter
                .u64_counter("emporium_rate_limited")
                .with_description("Requests refused because their client's budget was spent")
                .build(),
        })
    }

    fn bucket_for(&self, is_admin: bool) -> Bucket {
        if !is_admin {
            return self.bucket;
        }
        Bucket {
            capacity: self.bucket.capacity.saturating_mul(self.admin_multiplier),
            restore_per_second: self
                .bucket
                .restore_per_second
                .saturating_mul(self.admin_multiplier),
        }
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address
/// of `X-Forwarded-For` that no trusted proxy stands for (anything further left may be forged).
fn client_address(trusted: &[IpNetwork], peer: IpAddr, headers: &RequestHeaders) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|address| !is_trusted(*address))
        .unwrap_or(peer)
}

/// The subject and whether it is an admin, from a bearer token hive-router has verified.
fn verified_subject(headers: &RequestHeaders) -> Option<(String, bool)> {
    #[derive(Deserialize)]
    struct Claims {
        sub: String,
        #[serde(default)]
        role: String,
    }
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    Some((claims.sub, claims.role == "ADMIN"))
}

/// `extensions.cost`.
fn cost_extension(
    requested: u64,
    actual: Option<u64>,
    throttle: Option<(Bucket, u64)>,
) -> sonic_rs::Value {
    let mut cost = json!({ "requestedQueryCost": requested });
    if let Some(actual) = actual {
        cost["actualQueryCost"] = json!(actual);
    }
    if let Some((bucket, left)) = throttle {
        cost["throttleStatus"] = json!({
            "maximumAvailable": bucket.capacity,
            "currentlyAvailable": left,
            "restoreRate": bucket.restore_per_second,
        });
    }
    cost
}

fn rate_limited_response(
    requested: u64,
    bucket: Bucket,
    left: u64,
    retry_after: std::time::Duration,
) -> EarlyHTTPResponse {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let body = json!({
        "errors": [{
            "message": format!("Rate limit exceeded: this operation costs {requested} and the budget holds {left}; retry in {seconds} s"),
            "extensions": { "code": RATE_LIMITED, "retryAfter": seconds },
        }],
        "extensions": { "cost": cost_extension(requested, None, Some((bucket, left))) },
    });
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    EarlyHTTPResponse {
        body: sonic_rs::to_vec(&body).unwrap_or_default(),
        headers,
        status_code: StatusCode::TOO_MANY_REQUESTS,
    }
}

#[async_trait]
impl RouterPlugin for CostBudget {
    plugin_setup!("emporium_cost_budget", CostBudgetConfig, |config| {
        let limiter = match config.rate_limit {
            None => None,
            Some(limit) => Some(Arc::new(Limiter::from_config(limit)?)),
        };
        Ok(Self { limiter })
    });

    fn on_http_request<'req>(
        &'req self,
        payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let Some(limiter) = &self.limiter else {
                return payload.proceed();
            };
            let request = &payload.router_http_request;
            if let Some(peer) = request.peer_addr() {
                let client = client_address(&limiter.trusted_proxies, peer.ip(), request.headers());
                payload.context.insert(ClientAddress(client));
                // Requests of different clients must each be charged, so they never share one
                // in-flight execution.
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                client.hash(&mut hasher);
                request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .map(RequestHeaderValue::as_bytes)
                    .hash(&mut hasher);
                payload.add_inbound_dedupe_partition(hasher.finish());
            }
            payload.proceed()
        })
    }

    async fn on_execute<'exec>(
        &'exec self,
        payload: OnExecuteStartHookPayload<'exec>,
    ) -> OnExecuteStartHookResult<'exec> {
        if self.limiter.is_none() && payload.demand_control_estimate.is_none() {
            // Demand control and rate limiting both off: nothing to charge or report.
            return payload.proceed();
        }
        let requested = payload
            .demand_control_estimate
            .map(|estimate| estimate.estimated)
            .unwrap_or(0);
        let charge = match &self.limiter {
            None => None,
            Some(limiter) => {
                let client = client_key(&payload);
                match client {
                    None => None,
                    Some((client, is_admin)) => {
                        let bucket = limiter.bucket_for(is_admin);
                        // Even a free operation is a request: it takes at least one point.
                        match limiter.store.take(&client, bucket, requested.max(1)).await {
                            Take::Taken { left } => Some(Charge {
                                client,
                                bucket,
                                requested: requested.max(1),
                                left: Some(left),
                            }),
                            Take::Refused { left, retry_after } => {
                                limiter.refused.add(1, &[]);
                                let response =
                                    rate_limited_response(requested, bucket, left, retry_after);
                                return payload
                                    .end_with_response(OnExecuteResponse::EarlyResponse(response));
                            }
                            Take::Unavailable => {
                                limiter.fail_open.add(1, &[]);
                                None
                            }
                        }
                    }
                }
            }
        };
        let limiter = self.limiter.clone();
        payload.on_end(move |mut end: OnExecuteEndHookPayload<'exec>| {
            let actual = end.demand_control_cost.map(|cost| cost.actual);
            let throttle = match (&charge, &limiter) {
                (Some(charge), Some(limiter)) => {
                    let unspent = charge
                        .requested
                        .saturating_sub(actual.unwrap_or(charge.requested));
                    limiter
                        .store
                        .give_back(&charge.client, charge.bucket, unspent);
                    charge.left.map(|left| {
                        (
                            charge.bucket,
                            left.saturating_add(unspent).min(charge.bucket.capacity),
                        )
                    })
                }
                _ => None,
            };
            end.extensions.insert(
                "cost".to_owned(),
                cost_extension(requested, actual, throttle),
            );
            end.proceed()
        })
    }

    /// Hands this replica's leases back to Redis, so the budgets lose nothing it held.
    async fn on_shutdown<'exec>(&'exec self) {
        if let Some(limiter) = &self.limiter {
            limiter.store.return_leases().await;
        }
    }
}

/// The bucket key of the request's client and whether it is an admin; `None` when the request
/// names no client (no peer address reached the plugin).
fn client_key(payload: &OnExecuteStartHookPayload<'_>) -> Option<(String, bool)> {
    let is_verified = payload
        .request_context
        .read()
        .map(|context| context.authentication().jwt_status() == Some(&true))
        .unwrap_or(false);
    if is_verified {
        if let Some((subject, is_admin)) = verified_subject(payload.router_http_request.headers) {
            return Some((format!("user:{subject}"), is_admin));
        }
    }
    let address = payload.context.get_ref::<ClientAddress>()?;
    Some((format!("ip:{}", address.0), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_and_role_come_from_the_token_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"0193-abc","role":"ADMIN","exp":1}"#);
        let mut headers = RequestHeaders::new();
        headers.insert(
            header::AUTHORIZATION,
            RequestHeaderValue::from_str(&format!("Bearer e30.{payload}.sig"))
                .expect("a header value"),
        );
        assert_eq!(verified_subject(&headers), Some(("0193-abc".into(), true)));
        headers.insert(
            header::AUTHORIZATION,
            RequestHeaderValue::from_static("Bearer x"),
        );
        assert_eq!(verified_subject(&headers), None);
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = [IpNetwork::parse("10.0.0.0/8").expect("a network")];
        let mut headers = RequestHeaders::new();
        headers.insert(
            header::HeaderName::from_static("x-forwarded-for"),
            RequestHeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert_eq!(
            client_address(&trusted, ip("10.0.0.1"), &headers),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(&trusted, ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(&trusted, ip("10.0.0.1"), &RequestHeaders::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_cost_extension_has_shopifys_shape() {
        let bucket = Bucket {
            capacity: 2000,
            restore_per_second: 100,
        };
        let cost = cost_extension(42, Some(12), Some((bucket, 1988)));
        assert_eq!(
            cost,
            json!({ "requestedQueryCost": 42, "actualQueryCost": 12,
                "throttleStatus": { "maximumAvailable": 2000, "currentlyAvailable": 1988, "restoreRate": 100 } })
        );
        assert_eq!(
            cost_extension(3, None, None),
            json!({ "requestedQueryCost": 3 })
        );
    }

    #[test]
    fn a_spent_budget_answers_429_with_retry_after_and_rate_limited() {
        let bucket = Bucket {
            capacity: 10,
            restore_per_second: 1,
        };
        let response = rate_limited_response(5, bucket, 2, std::time::Duration::from_millis(2500));
        assert_eq!(response.status_code, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers.get(header::RETRY_AFTER),
            Some(&HeaderValue::from(3u64))
        );
        let body: sonic_rs::Value = sonic_rs::from_slice(&response.body).expect("JSON");
        assert_eq!(body["errors"][0]["extensions"]["code"], json!(RATE_LIMITED));
    }
}
