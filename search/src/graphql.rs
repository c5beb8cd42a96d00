//! The search subgraph's schema: `search`, whose hits refer to products by id (the router
//! fetches their fields from the products and inventory subgraphs).

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, InputObject, Object, Schema, SimpleObject, ID,
};
use emporium_kernel::graphql::{encode_cursor, ContextState, Decimal, PageInfo, PageRequest};
use emporium_kernel::ApiError;
use tracing::instrument;

use crate::index::{price_cents, SearchIndex};
use crate::query::{self, Filter, QueryError, SearchRequest, Sort};

pub type SearchSchema = Schema<Query, EmptyMutation, EmptySubscription>;

pub fn schema(index: SearchIndex) -> SearchSchema {
    builder().data(index).finish()
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(&builder().finish())
}

fn builder() -> async_graphql::SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    emporium_kernel::graphql::subgraph_schema(Query, EmptyMutation, EmptySubscription)
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        match err {
            QueryError::TooLong => ApiError::bad_input(format!(
                "the query is longer than {} characters",
                query::MAX_QUERY_CHARS
            )),
            QueryError::TooDeep => ApiError::bad_input(format!(
                "results can be paged to at most {} deep; refine the search",
                query::MAX_OFFSET
            )),
            QueryError::Index(err) => ApiError::internal(&err),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchSort {
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

#[derive(InputObject, Default)]
pub struct SearchFilter {
    /// A category path ("Audio > Headphones", any case); its sub-categories match too.
    pub category: Option<String>,
    /// A brand, any case.
    pub brand: Option<String>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    pub in_stock: Option<bool>,
    /// Option values (`Colour: Red`, any case): a product matches when one of its variants has
    /// all of them.
    pub options: Option<Vec<SelectedOptionInput>>,
}

// One option's value, as the products subgraph defines it. (No doc comment: it would become
// the supergraph's description of `SelectedOptionInput`.)
#[derive(InputObject, Clone)]
pub struct SelectedOptionInput {
    pub name: String,
    pub value: String,
}

/// Option values a filter may name at most (a product has at most 3 options).
const MAX_FILTER_OPTIONS: usize = 4;
/// The longest option name or value the catalogue accepts.
const MAX_OPTION_TEXT_CHARS: usize = 100;

// A product as the search subgraph knows it: a reference by id, resolved by the products
// subgraph. (No doc comment: it would become the supergraph's description of `Product`.)
#[derive(SimpleObject, Clone)]
#[graphql(name = "Product", unresolvable = "id")]
pub struct ProductRef {
    pub id: ID,
}

#[derive(SimpleObject, Clone)]
pub struct Highlight {
    pub field: String,
    /// The field's text (or a window of it) with the matched words in `<mark>…</mark>`;
    /// the rest is HTML-escaped.
    pub snippet: String,
}

#[derive(SimpleObject, Clone)]
pub struct SearchHit {
    pub product: ProductRef,
    pub score: f64,
    pub highlights: Vec<Highlight>,
}

#[derive(SimpleObject)]
pub struct SearchHitEdge {
    pub cursor: String,
    pub node: SearchHit,
}

#[derive(SimpleObject)]
pub struct FacetValue {
    pub value: String,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct Facet {
    pub field: String,
    pub values: Vec<FacetValue>,
}

#[derive(SimpleObject)]
pub struct SearchResults {
    pub total_count: i32,
    pub edges: Vec<SearchHitEdge>,
    pub nodes: Vec<SearchHit>,
    pub page_info: PageInfo,
    /// Counts for category (one level below the filtered category), brand and each option of
    /// the products' variants (`option:Colour`) over the whole result set.
    pub facets: Vec<Facet>,
}

pub struct Query;

fn cents(value: Option<&Decimal>, field: &str) -> Result<Option<u64>, ApiError> {
    value
        .map(|d| {
            price_cents(&d.0).ok_or_else(|| {
                ApiError::bad_input(format!(
                    "filter.{field} must be a non-negative amount with at most two decimals"
                ))
            })
        })
        .transpose()
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[Object]
impl Query {
    /// Full-text product search with typo tolerance and prefix matching, filters, sorts,
    /// facets and highlights. An empty query lists every product (a category page).
    #[instrument(skip_all, fields(query_len = query.len()))]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        filter: Option<SearchFilter>,
        #[graphql(default_with = "Some(SearchSort::Relevance)")] sort: Option<SearchSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<SearchResults, ApiError> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let offset = page.after_as::<usize>()?.map_or(0, |position| position + 1);
        let filter = filter.unwrap_or_default();
        let min = cents(filter.min_price.as_ref(), "minPrice")?;
        let max = cents(filter.max_price.as_ref(), "maxPrice")?;
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err(ApiError::bad_input(
                    "filter.minPrice is above filter.maxPrice",
                ));
            }
        }
        let options = filter.options.unwrap_or_default();
        let fits = |text: &str| {
            let text = text.trim();
            !text.is_empty() && text.chars().count() <= MAX_OPTION_TEXT_CHARS
        };
        if options.len() > MAX_FILTER_OPTIONS
            || !options.iter().all(|o| fits(&o.name) && fits(&o.value))
        {
            return Err(ApiError::bad_input(format!(
                "filter.options takes at most {MAX_FILTER_OPTIONS} option values, each name and \
                 value 1 to {MAX_OPTION_TEXT_CHARS} characters"
            )));
        }
        let request = SearchRequest {
            text: query,
            filter: Filter {
                category: non_blank(filter.category),
                brand: non_blank(filter.brand),
                min_price_cents: min,
                max_price_cents: max,
                in_stock: filter.in_stock,
                options: options.into_iter().map(|o| (o.name, o.value)).collect(),
            },
            sort: match sort.unwrap_or_default() {
                SearchSort::Relevance => Sort::Relevance,
                SearchSort::PriceAsc => Sort::PriceAsc,
                SearchSort::PriceDesc => Sort::PriceDesc,
                SearchSort::Newest => Sort::Newest,
            },
            offset,
            limit: page.size.max(1),
        };
        let index = ctx.state::<SearchIndex>()?.clone();
        let result = tokio::task::spawn_blocking(move || query::search(&index, &request))
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let found = result?;
        // `first: 0` asks only for the count and facets.
        let hits: Vec<_> = if page.size == 0 { vec![] } else { found.hits };
        let shown = hits.len();
        let edges: Vec<SearchHitEdge> = hits
            .into_iter()
            .enumerate()
            .map(|(i, hit)| SearchHitEdge {
                cursor: encode_cursor(&(offset + i).to_string()),
                node: SearchHit {
                    product: ProductRef {
                        id: ID(hit.product_id),
                    },
                    score: f64::from(hit.score),
                    highlights: hit
                        .highlights
                        .into_iter()
                        .map(|(field, snippet)| Highlight { field, snippet })
                        .collect(),
                },
            })
            .collect();
        let nodes = edges.iter().map(|e| e.node.clone()).collect();
        Ok(SearchResults {
            total_count: i32::try_from(found.total).unwrap_or(i32::MAX),
            page_info: PageInfo {
                has_next_page: offset + shown < found.total,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            nodes,
            facets: found
                .facets
                .into_iter()
                .map(|(field, values)| Facet {
                    field,
                    values: values
                        .into_iter()
                        .map(|(value, count)| FacetValue {
                            value,
                            count: i32::try_from(count).unwrap_or(i32::MAX),
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}
