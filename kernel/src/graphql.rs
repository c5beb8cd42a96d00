//! GraphQL shapes every subgraph shares, and Relay cursor pagination.
//!
//! Types defined by several subgraphs (`Money`, `PageInfo`, `UserError`) are `@shareable`, so
//! composition accepts each subgraph's identical copy.
//!
//! Resolvers return `Result<_, ApiError>` (async-graphql converts any `E: Into<Error>`), so a
//! failure without a code does not compile; [`ContextState::state`] is their typed way to the
//! schema's and the request's data. Spell the type out: async-graphql's derives tell a
//! fallible resolver (`#[Object]` fields, entity resolvers, subscription streams) by the name
//! `Result`; behind an alias such as `ApiResult<T>` they would take the whole `Result` for the
//! value, and a subscription's `impl Stream` would not be found.

use std::any::Any;

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};
use base64::Engine;

use crate::error::ApiError;
use crate::money::Money;

/// Most fields one operation sent straight to a subgraph may select (async-graphql's
/// complexity: each field counts 1, aliases and fragment spreads included). The router's
/// entity fetches select a few dozen; 5,000 aliases or 20,000 duplicate fields do not pass.
pub const MAX_COMPLEXITY: usize = 2_000;

/// Most directives one operation may carry.
pub const MAX_DIRECTIVES: usize = 50;

/// The builder every subgraph's schema starts from: a federation subgraph whose queries may
/// nest at most 16 levels, select at most [`MAX_COMPLEXITY`] fields and carry at most
/// [`MAX_DIRECTIVES`] directives, introspection included (the router enforces the public
/// limits; these guard a subgraph reached directly inside a cluster), with its subscriptions in
/// the federation SDL (the router plans them like queries).
pub fn subgraph_schema<Q, M, S>(
    query: Q,
    mutation: M,
    subscription: S,
) -> async_graphql::SchemaBuilder<Q, M, S>
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    async_graphql::Schema::build(query, mutation, subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .limit_depth(16)
        .limit_recursive_depth(16)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(MAX_DIRECTIVES)
}

/// A subgraph schema's federation SDL, as supergraph composition reads it.
pub fn federation_sdl<Q, M, S>(schema: &async_graphql::Schema<Q, M, S>) -> String
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    schema.sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    )
}

/// A resolver's typed access to the data its schema and its request were given.
pub trait ContextState<'a> {
    /// The `T` the schema or the request holds. Its absence is a wiring bug, never the
    /// client's doing: it is logged and answered INTERNAL (async-graphql's own `data::<T>()`
    /// error would reach the client with no code).
    fn state<T: Any + Send + Sync>(&self) -> Result<&'a T, ApiError>;
}

impl<'a> ContextState<'a> for async_graphql::Context<'a> {
    fn state<T: Any + Send + Sync>(&self) -> Result<&'a T, ApiError> {
        self.data_opt::<T>()
            .ok_or_else(|| ApiError::internal(&MissingData(std::any::type_name::<T>())))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("neither the schema nor the request holds a `{0}`")]
struct MissingData(&'static str);

/// `first` when the client gives none.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// An exact decimal carried as a string ("19.99"). Resolvers parse it into [`Money`] and turn
/// a malformed value into a `userError` with the offending field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(pub String);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Decimal(s)),
            // Storefronts sometimes send prices as JSON numbers; keep their exact text.
            Value::Number(n) => Ok(Decimal(n.to_string())),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(name = "Money", shareable)]
pub struct MoneyObject {
    pub amount: Decimal,
    pub currency: String,
}

impl From<Money> for MoneyObject {
    fn from(money: Money) -> Self {
        Self {
            amount: Decimal(money.to_decimal_string()),
            currency: money.currency().to_string(),
        }
    }
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(shareable)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// An expected business failure, returned in a payload's `userErrors` with a stable code.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(shareable)]
pub struct UserError {
    /// Path to the offending input field, when there is one.
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: String,
}

impl UserError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
            code: code.to_owned(),
        }
    }

    pub fn on_field(mut self, path: &[&str]) -> Self {
        self.field = Some(path.iter().map(|s| (*s).to_owned()).collect());
        self
    }
}

/// The validated `first`/`after` of a connection field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: usize,
    /// The position decoded from `after`: the sort key of the last item already seen.
    pub after: Option<String>,
}

impl PageRequest {
    pub fn parse(first: Option<i32>, after: Option<&str>) -> Result<Self, ApiError> {
        let size = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => return Err(ApiError::bad_input("`first` must not be negative")),
            Some(n) if n as usize > MAX_PAGE_SIZE => {
                return Err(ApiError::bad_input(format!(
                    "`first` must be at most {MAX_PAGE_SIZE}"
                )))
            }
            Some(n) => n as usize,
        };
        let after = after.map(decode_cursor).transpose()?;
        Ok(Self { size, after })
    }

    /// The position decoded from `after` as the sort key's type (a UUID, an offset, ...).
    pub fn after_as<T: std::str::FromStr>(&self) -> Result<Option<T>, ApiError> {
        self.after
            .as_deref()
            .map(|raw| raw.parse().map_err(|_| invalid_cursor()))
            .transpose()
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_input("`after` is not a cursor this API returned")
}

const CURSOR_PREFIX: &str = "c1:";

/// An opaque cursor for a sort key. Opaque so clients never build them and we can change them.
pub fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{key}"))
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    let invalid = invalid_cursor;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(CURSOR_PREFIX)
        .map(str::to_owned)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[tokio::test]
    async fn missing_context_data_is_an_internal_error() {
        struct Root;
        #[async_graphql::Object]
        impl Root {
            async fn answer(&self, ctx: &async_graphql::Context<'_>) -> Result<i32, ApiError> {
                Ok(*ctx.state::<i32>()?)
            }
        }
        let schema = async_graphql::Schema::new(
            Root,
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        );
        let given = schema
            .execute(async_graphql::Request::new("{ answer }").data(42_i32))
            .await;
        assert!(given.errors.is_empty(), "{:?}", given.errors);
        let missing = schema.execute("{ answer }").await;
        let error = missing.errors.first().expect("an error");
        let code = error.extensions.as_ref().and_then(|ext| ext.get("code"));
        assert_eq!(code, Some(&Value::from("INTERNAL")));
        assert_eq!(error.message, "internal error");
    }

    #[test]
    fn a_cursor_decodes_to_its_key_type_or_is_bad_input() {
        let id = uuid::Uuid::now_v7();
        let page = PageRequest::parse(Some(5), Some(&encode_cursor(&id.to_string()))).unwrap();
        assert_eq!(page.after_as::<uuid::Uuid>(), Ok(Some(id)));
        let offset = PageRequest::parse(None, Some(&encode_cursor("41"))).unwrap();
        assert_eq!(offset.after_as::<usize>(), Ok(Some(41)));
        assert_eq!(
            offset.after_as::<uuid::Uuid>().map_err(|e| e.code),
            Err(ErrorCode::BadUserInput)
        );
        assert_eq!(
            PageRequest::parse(None, None).unwrap().after_as::<usize>(),
            Ok(None)
        );
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let cursor = encode_cursor("0192f0c4-8e1a");
        assert_eq!(decode_cursor(&cursor), Ok("0192f0c4-8e1a".to_owned()));
        for forged in ["", "!!!", "bm90LWEtY3Vyc29y"] {
            assert_eq!(
                decode_cursor(forged).map_err(|e| e.code),
                Err(ErrorCode::BadUserInput),
                "{forged:?}"
            );
        }
    }

    #[test]
    fn page_size_defaults_to_20_and_is_capped_at_100() {
        assert_eq!(PageRequest::parse(None, None).map(|p| p.size), Ok(20));
        assert_eq!(PageRequest::parse(Some(100), None).map(|p| p.size), Ok(100));
        assert_eq!(PageRequest::parse(Some(0), None).map(|p| p.size), Ok(0));
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert!(PageRequest::parse(Some(-1), None).is_err());
    }
}
