//! A bad token is rejected, never treated as anonymous.
//!
//! With `require_authentication: false` (anonymous browsing is allowed), hive-router's JWT
//! check logs an invalid, expired or unreadable token and then carries on as if the request
//! had none. This plugin closes that gap: a request that presents an `Authorization` header
//! but did not come out of the JWT check authenticated ends with `UNAUTHENTICATED` (HTTP 401).
//!
//! It runs in `on_query_plan`, the first hook after hive-router has verified the token (in
//! `execute_planned_request`), and sees the same headers the check saw: the HTTP request's,
//! or for WebSocket operations the headers from the `connection_init` payload.

use hive_router::{
    async_trait,
    http::{header::AUTHORIZATION, StatusCode},
    plugins::{
        hooks::on_query_plan::{OnQueryPlanStartHookPayload, OnQueryPlanStartHookResult},
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
    tracing, GraphQLError,
};

use super::NoConfig;

/// Ends requests whose bearer token failed verification.
#[derive(Default)]
pub struct RejectInvalidTokens;

/// The contract's code for a missing, bad or expired credential.
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";

#[async_trait]
impl RouterPlugin for RejectInvalidTokens {
    plugin_setup!("emporium_reject_invalid_tokens", NoConfig, |_| Ok(Self));

    async fn on_query_plan<'exec>(
        &'exec self,
        payload: OnQueryPlanStartHookPayload<'exec>,
    ) -> OnQueryPlanStartHookResult<'exec> {
        let presents_credentials = payload
            .router_http_request
            .headers
            .contains_key(AUTHORIZATION);
        if !presents_credentials {
            return payload.proceed();
        }
        let is_authenticated = match payload.request_context.read() {
            Ok(context) => context.authentication().jwt_status() == Some(&true),
            Err(error) => {
                tracing::error!(%error, "could not read the request context; rejecting the token");
                false
            }
        };
        if is_authenticated {
            return payload.proceed();
        }
        payload.end_with_graphql_error(
            GraphQLError::from_message_and_code(
                "The access token is invalid or expired",
                UNAUTHENTICATED,
            ),
            StatusCode::UNAUTHORIZED,
        )
    }
}
