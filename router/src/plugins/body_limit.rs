//! An oversized request body gets an answer the client can read: HTTP 413 with a GraphQL error,
//! not a connection reset.
//!
//! A server that answers before reading a body the client is still sending, then closes, makes
//! the kernel reset the connection; the client sees "connection reset" instead of the 413
//! (hive-router 0.2.19 did that to a 10 MB body). This plugin answers a request whose
//! `Content-Length` is over the limit itself, after reading and discarding the body, as
//! nginx's lingering close does: at most [`LINGER_BYTES`] and for at most [`LINGER_TIME`], in
//! constant memory. Past either bound the answer goes out anyway and the client may see a reset.
//! Bodies without a `Content-Length` (chunked) are cut off by hive-router's own stream limit.

use std::time::Duration;

use hive_router::{
    http::StatusCode,
    ntex::http::header::CONTENT_LENGTH,
    plugins::{
        hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload},
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
};
use serde::Deserialize;

use super::error_codes::{refusal, BAD_USER_INPUT};

/// Most bytes of an oversized body read (and discarded) before answering.
pub const LINGER_BYTES: u64 = 32 * 1024 * 1024;

/// Longest an oversized body is read before answering.
pub const LINGER_TIME: Duration = Duration::from_secs(10);

/// Answers oversized bodies with 413 after draining them.
pub struct BodyLimit {
    max_bytes: u64,
}

/// `plugins.emporium_body_limit.config`.
#[derive(Debug, Deserialize)]
pub struct BodyLimitConfig {
    /// Largest body accepted, in bytes (the same as `limits.max_request_body_size`).
    pub max_bytes: u64,
}

#[hive_router::async_trait]
impl RouterPlugin for BodyLimit {
    plugin_setup!("emporium_body_limit", BodyLimitConfig, |config| {
        Ok(Self {
            max_bytes: config.max_bytes,
        })
    });

    fn on_http_request<'req>(
        &'req self,
        mut payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let declared = payload
                .router_http_request
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let Some(declared) = declared.filter(|length| *length > self.max_bytes) else {
                return payload.proceed();
            };
            let mut body = payload.router_http_request.take_payload();
            let drain = async {
                let mut read = 0u64;
                while let Some(Ok(chunk)) = body.recv().await {
                    read += chunk.len() as u64;
                    if read >= LINGER_BYTES.min(declared) {
                        break;
                    }
                }
            };
            let _ = hive_router::tokio::time::timeout(LINGER_TIME, drain).await;
            let error = refusal(
                BAD_USER_INPUT,
                "PAYLOAD_TOO_LARGE_CONTENT_LENGTH",
                format!("The request body is larger than {} bytes", self.max_bytes),
            );
            payload.end_with_graphql_error(error, StatusCode::PAYLOAD_TOO_LARGE)
        })
    }
}
