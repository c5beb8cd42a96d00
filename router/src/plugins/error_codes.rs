//! hive-router's own error codes, translated into the codes `api/contract.graphql` promises
//! (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, QUERY_TOO_COMPLEX, INTERNAL).
//!
//! The original code moves to `extensions.reason`, so logs and curious clients still see the
//! precise cause (`MAX_DEPTH_EXCEEDED`, `INVALID_JWT`, ...). Validation failures, which
//! hive-router reports under the name of the rule that failed (`FieldsOnCorrectType`, ...),
//! get the conventional `GRAPHQL_VALIDATION_FAILED`. Codes the router does not own, such as
//! a subgraph's own `extensions.code`, pass through untouched, and so does the conventional
//! `GRAPHQL_PARSE_FAILED`.
//!
//! hive-router 0.2.19 runs this hook for HTTP responses only: over WebSocket, errors raised
//! before execution keep hive-router's codes.

use hive_router::{
    http::StatusCode,
    plugins::{
        hooks::on_graphql_error::{OnGraphQLErrorHookPayload, OnGraphQLErrorHookResult},
        plugin_trait::RouterPlugin,
    },
    sonic_rs, GraphQLError,
};

use super::reject_invalid_tokens::UNAUTHENTICATED;
use super::NoConfig;

/// Rewrites router-originated error codes to the contract's codes.
#[derive(Default)]
pub struct ContractErrorCodes;

pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const INTERNAL: &str = "INTERNAL";
pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Extension field that keeps the router's original code.
pub const REASON: &str = "reason";

/// The contract code for a code hive-router produces, or `None` to leave it as it is.
pub fn contract_code(router_code: &str) -> Option<&'static str> {
    let code = match router_code {
        "MAX_DEPTH_EXCEEDED"
        | "MAX_ALIASES_EXCEEDED"
        | "MAX_DIRECTIVES_EXCEEDED"
        | "TOKEN_LIMIT_EXCEEDED"
        | "COST_ESTIMATED_TOO_EXPENSIVE" => QUERY_TOO_COMPLEX,
        "JWT_LOOKUP_FAILED"
        | "INVALID_JWT"
        | "INVALID_JWT_HEADER"
        | "MISSING_JWT"
        | "JWT_NOT_SUPPORTED"
        | "JWK_ALGORITHM_NOT_SUPPORTED" => UNAUTHENTICATED,
        "UNAUTHORIZED_OPERATION" | "CSRF_PREVENTION_FAILED" | "INTROSPECTION_DISABLED" => FORBIDDEN,
        "PAYLOAD_TOO_LARGE_CONTENT_LENGTH"
        | "PAYLOAD_TOO_LARGE_BODY_STREAM"
        | "BAD_REQUEST"
        | "UNSUPPORTED_CONTENT_TYPE"
        | "INVALID_HEADER"
        | "MISSING_QUERY_PARAM"
        | "UNPROCESSABLE_QUERY_PARAMS"
        | "OPERATION_RESOLUTION_FAILURE"
        | "COST_INVALID_SLICING_ARGUMENTS" => BAD_USER_INPUT,
        "INTERNAL_SERVER_ERROR"
        | "QUERY_PLAN_BUILD_FAILED"
        | "PLAN_EXECUTION_FAILED"
        | "NO_SUPERGRAPH_AVAILABLE"
        | "PROJECTION_FAILURE"
        | "HEADER_PROPAGATION_FAILURE"
        | "JWT_FORWARDING_ERROR"
        | "GATEWAY_TIMEOUT" => INTERNAL,
        code if code.starts_with("SUBGRAPH_") || code.starts_with("SUBREQUEST_") => INTERNAL,
        // The rules of `graphql-tools`' default validation plan, named after graphql-js's.
        "FieldsOnCorrectType"
        | "FragmentsOnCompositeTypes"
        | "KnownArgumentNames"
        | "KnownDirectives"
        | "KnownFragmentNames"
        | "KnownTypeNames"
        | "LeafFieldSelections"
        | "LoneAnonymousOperation"
        | "NoFragmentsCycle"
        | "NoUndefinedVariables"
        | "NoUnusedFragments"
        | "NoUnusedVariables"
        | "OverlappingFieldsCanBeMerged"
        | "PossibleFragmentSpreads"
        | "ProvidedRequiredArguments"
        | "SingleFieldSubscriptions"
        | "UniqueArgumentNames"
        | "UniqueDirectivesPerLocation"
        | "UniqueFragmentNames"
        | "UniqueInputFieldNames"
        | "UniqueOperationNames"
        | "UniqueVariableNames"
        | "ValuesOfCorrectType"
        | "VariablesAreInputTypes"
        | "VariablesInAllowedPosition" => GRAPHQL_VALIDATION_FAILED,
        _ => return None,
    };
    Some(code)
}

/// A refusal the router answers itself: `message`, the contract `code`, and the precise
/// `reason` in `extensions.reason`.
pub fn refusal(code: &str, reason: &str, message: impl Into<String>) -> GraphQLError {
    let mut error = GraphQLError::from_message_and_code(message.into(), code);
    error
        .extensions
        .extensions
        .insert(REASON.to_owned(), sonic_rs::Value::from(reason));
    error
}

/// Rewrites `error` in place; returns the contract code it now carries, if it changed.
fn translate(error: &mut GraphQLError) -> Option<&'static str> {
    let router_code = error.extensions.code.take()?;
    let Some(code) = contract_code(&router_code) else {
        error.extensions.code = Some(router_code);
        return None;
    };
    error.extensions.code = Some(code.to_owned());
    error.extensions.extensions.insert(
        REASON.to_owned(),
        sonic_rs::Value::from(router_code.as_str()),
    );
    Some(code)
}

impl RouterPlugin for ContractErrorCodes {
    plugin_setup!("emporium_contract_error_codes", NoConfig, |_| Ok(Self));

    fn on_graphql_error<'req>(
        &'req self,
        mut payload: OnGraphQLErrorHookPayload<'req>,
    ) -> OnGraphQLErrorHookResult<'req> {
        // hive-router answers a bad token with 403; the contract's UNAUTHENTICATED is a 401.
        if translate(&mut payload.error) == Some(UNAUTHENTICATED) {
            payload.status_code = StatusCode::UNAUTHORIZED;
        }
        payload.proceed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_codes_become_query_too_complex_and_keep_the_original_as_reason() {
        let mut error = GraphQLError::from_message_and_code("too deep", "MAX_DEPTH_EXCEEDED");
        assert_eq!(translate(&mut error), Some(QUERY_TOO_COMPLEX));
        assert_eq!(error.extensions.code.as_deref(), Some(QUERY_TOO_COMPLEX));
        assert_eq!(
            error.extensions.extensions.get(REASON),
            Some(&sonic_rs::Value::from("MAX_DEPTH_EXCEEDED"))
        );
    }

    #[test]
    fn jwt_and_transport_codes_map_to_contract_codes() {
        assert_eq!(contract_code("INVALID_JWT"), Some(UNAUTHENTICATED));
        assert_eq!(
            contract_code("MAX_ALIASES_EXCEEDED"),
            Some(QUERY_TOO_COMPLEX)
        );
        assert_eq!(
            contract_code("PAYLOAD_TOO_LARGE_CONTENT_LENGTH"),
            Some(BAD_USER_INPUT)
        );
        assert_eq!(contract_code("SUBREQUEST_HTTP_ERROR"), Some(INTERNAL));
        assert_eq!(
            contract_code("FieldsOnCorrectType"),
            Some(GRAPHQL_VALIDATION_FAILED)
        );
    }

    #[test]
    fn codes_the_router_does_not_own_pass_through() {
        let mut error = GraphQLError::from_message_and_code("sold out", "OUT_OF_STOCK");
        assert_eq!(translate(&mut error), None);
        assert_eq!(error.extensions.code.as_deref(), Some("OUT_OF_STOCK"));
        assert!(!error.extensions.extensions.contains_key(REASON));
        assert_eq!(contract_code(GRAPHQL_VALIDATION_FAILED), None);
        assert_eq!(contract_code("GRAPHQL_PARSE_FAILED"), None);
        assert_eq!(contract_code(UNAUTHENTICATED), None);
    }
}
