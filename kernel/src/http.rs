//! Serving a subgraph over HTTP: the GraphQL endpoint (with the caller's verified identity in
//! every request), subscriptions over WebSocket on the same path, `/health`, `/ready`, a
//! request body limit, and graceful shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{ClientKey, TokenVerifier};
use crate::trace::TraceContext;
use tracing::Instrument;

/// Largest request body a subgraph accepts. The router enforces its own limit in front.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest GraphQL document a subgraph accepts. The router's own limit (20,000 characters by
/// default) applies to clients; the documents it sends subgraphs are smaller than what it took.
pub const MAX_DOCUMENT_CHARS: usize = 32 * 1024;

/// Most bytes of an oversized body read and discarded before answering 413, so the client
/// reads the answer instead of a connection reset; and for at most this long.
const LINGER_BYTES: usize = 32 * 1024 * 1024;
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
struct GraphqlState<E> {
    executor: E,
    verifier: TokenVerifier,
}

/// `POST /graphql` (and `GET` for queries) for a schema, with the [`crate::auth::Viewer`] of
/// the `Authorization` header, the request's [`TraceContext`] (from its `traceparent`
/// header, or a new trace) and its [`ClientKey`] in each request's data.
///
/// A `GET` that asks to upgrade to a WebSocket speaks graphql-transport-ws (or the older
/// graphql-ws) for subscriptions: the viewer comes from the `authorization` (or
/// `Authorization`) field of the `connection_init` payload, which is where the router puts
/// the client's propagated headers.
pub fn graphql_routes<E>(executor: E, verifier: TokenVerifier) -> Router
where
    E: Executor + Clone,
{
    Router::new()
        .route(
            "/graphql",
            get(graphql_get_handler::<E>).post(graphql_post_handler::<E>),
        )
        .with_state(GraphqlState { executor, verifier })
}

/// A GraphQL error answered before execution: `{"errors":[{"message","extensions":{"code"}}]}`.
fn refusal(status: StatusCode, code: crate::ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    });
    (status, Json(body)).into_response()
}

/// The request's declared body length, if it declares one.
fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads and discards what the client sends of an oversized body (bounded in bytes and time).
async fn drain(body: axum::body::Body) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let read_all = async {
        let mut read = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len();
            if read >= LINGER_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, read_all).await;
}

/// `POST /graphql`: refuses what is not a bounded JSON GraphQL request with a GraphQL error,
/// then executes it.
async fn graphql_post_handler<E: Executor>(
    State(state): State<GraphqlState<E>>,
    request: Request,
) -> Response {
    if content_length(request.headers()).is_some_and(|length| length > MAX_BODY_BYTES) {
        drain(request.into_body()).await;
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            crate::ErrorCode::BadUserInput,
            "The request body is too large",
        );
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let media = v.split(';').next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/graphql-response+json")
        });
    if !is_json {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            crate::ErrorCode::BadUserInput,
            "A GraphQL request must be sent as application/json",
        );
    }
    execute_request(state, request).await
}

/// Parses `request` as a GraphQL request (JSON nesting is bounded by serde_json's recursion
/// limit) and executes it, or answers a GraphQL error saying what is wrong with it.
async fn execute_request<E: Executor>(state: GraphqlState<E>, request: Request) -> Response {
    let headers = request.headers().clone();
    // A body without a declared length (chunked) is cut off at the limit while it is read.
    let request = request
        .map(|body| axum::body::Body::new(http_body_util::Limited::new(body, MAX_BODY_BYTES)));
    let graphql = match GraphQLRequest::<GraphQLRejection>::from_request(request, &()).await {
        Ok(graphql) => graphql.into_inner(),
        Err(rejection) => {
            tracing::debug!(error = %rejection.0, "malformed GraphQL request");
            return refusal(
                StatusCode::BAD_REQUEST,
                crate::ErrorCode::BadUserInput,
                "The request is not a well-formed GraphQL request",
            );
        }
    };
    if graphql.query.len() > MAX_DOCUMENT_CHARS {
        return refusal(
            StatusCode::BAD_REQUEST,
            crate::ErrorCode::QueryTooComplex,
            "The GraphQL document is too long",
        );
    }
    graphql_handler(State(state), headers, graphql)
        .await
        .into_response()
}

async fn graphql_handler<E: Executor>(
    State(state): State<GraphqlState<E>>,
    headers: HeaderMap,
    request: async_graphql::Request,
) -> GraphQLResponse {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (viewer, session) = state.verifier.authenticate(authorization);
    let trace =
        TraceContext::from_header_or_new(headers.get("traceparent").and_then(|v| v.to_str().ok()));
    let client = ClientKey::from_headers(
        headers
            .get(ClientKey::CLIENT_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
        headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!("graphql", trace_id = %trace.trace_id());
    state
        .executor
        .execute(request.data(viewer).data(session).data(trace).data(client))
        .instrument(span)
        .await
        .into()
}

async fn graphql_get_handler<E: Executor>(
    State(state): State<GraphqlState<E>>,
    request: Request,
) -> Response {
    let upgrade_requested = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade_requested {
        return websocket(state, request).await;
    }
    execute_request(state, request).await
}

async fn websocket<E: Executor>(state: GraphqlState<E>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let GraphqlState { executor, verifier } = state;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    let authorization = connection_authorization(&payload);
                    let mut data = Data::default();
                    data.insert(verifier.viewer(authorization));
                    data.insert(TraceContext::new_root());
                    Ok(data)
                })
                .serve()
        })
}

/// The `authorization` of a `connection_init` payload, whatever its case: the router sends
/// header names in lower case, browsers' clients often `Authorization`.
fn connection_authorization(payload: &serde_json::Value) -> Option<&str> {
    payload.as_object()?.iter().find_map(|(key, value)| {
        key.eq_ignore_ascii_case("authorization")
            .then(|| value.as_str())
            .flatten()
    })
}

/// A named readiness probe: is a store or broker this service needs reachable?
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// A readiness check that Postgres answers a query on `pool`.
pub fn postgres_check(pool: sqlx::PgPool) -> ReadinessCheck {
    Arc::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    })
}

/// `/health` (the process is alive), `/ready` (every dependency answers) and Prometheus
/// `/metrics` (the event backbone's counters and outbox gauges).
pub fn probe_routes(checks: Vec<(&'static str, ReadinessCheck)>) -> Router {
    let checks = Arc::new(checks);
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/metrics", get(metrics_handler))
        .route("/ready", get(ready_handler))
        .with_state(checks)
}

async fn metrics_handler() -> Response {
    let content_type = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (content_type, crate::events::metrics::render()).into_response()
}

async fn ready_handler(State(checks): State<Arc<Vec<(&'static str, ReadinessCheck)>>>) -> Response {
    let mut report = serde_json::Map::new();
    let mut ready = true;
    for (name, check) in checks.iter() {
        let outcome = match tokio::time::timeout(std::time::Duration::from_secs(2), check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(err)) => {
                ready = false;
                tracing::warn!(dependency = name, error = %err, "not ready");
                "unavailable".to_owned()
            }
            Err(_) => {
                ready = false;
                "timeout".to_owned()
            }
        };
        report.insert((*name).to_owned(), outcome.into());
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "status": if ready { "ready" } else { "unavailable" }, "checks": report });
    (status, Json(body)).into_response()
}

/// Serves `app` until `shutdown` is cancelled, then stops accepting and lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
