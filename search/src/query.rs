//! Turning a shopper's query into a tantivy query, and its results into a page.
//!
//! Ranking (what `RELEVANCE` does), modelled on Meilisearch's defaults:
//! - Every word of the query must match (in any field); when that finds nothing, words are
//!   dropped from the end until something matches (Meilisearch's "last" strategy).
//! - A word matches exactly, or with typos: 1 for words of 5 to 8 characters, 2 from 9 on.
//!   The last word also matches as a prefix ("headph" finds "headphones"), as the user types.
//! - Words matched exactly rank first (each adds a large constant), then words matched as
//!   the prefix being typed, then words matched with a typo: exact beats fuzzy, as in
//!   Meilisearch's "typo before attribute" rule order.
//! - Within that, fields weigh name 4, brand 2.5, category 1.5, description 1 (BM25 scores):
//!   a name match ranks above a description match.
//! - Ties, and the empty query, order by popularity (the catalog's sales rank).
//!
//! Filters: category (with its sub-categories), brand, price range, in stock, and option
//! values (a product matches when one of its variants has every value asked for).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Facet, IndexRecordOption, Value};
use tantivy::{DocAddress, Order, Score, Searcher, SegmentReader, TantivyDocument, Term};

use crate::highlight::{highlight, Matcher};
use crate::index::document::{option_key, NAME_VALUE_SEPARATOR};
use crate::index::{
    category_path, typo_budget, words, Fields, IndexError, ProductSnapshot, SearchIndex,
};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 512;
/// Words of a query that count (Meilisearch also stops at 10).
pub const MAX_WORDS: usize = 10;
/// Deepest result a page may start at.
pub const MAX_OFFSET: usize = 10_000;
/// Brand values a facet lists at most (the most frequent first).
const MAX_BRAND_FACETS: usize = 30;
/// Values an option's facet lists at most (the catalogue allows 50 per option).
const MAX_OPTION_FACETS: usize = 50;
/// The facet of an option's values is named `option:<option name>` (`option:Colour`).
pub const OPTION_FACET_PREFIX: &str = "option:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A category path ("Audio > Headphones"); its sub-categories match too. Any case.
    pub category: Option<String>,
    /// A brand, any case.
    pub brand: Option<String>,
    pub min_price_cents: Option<u64>,
    pub max_price_cents: Option<u64>,
    pub in_stock: Option<bool>,
    /// Option values (name, value), any case: a product matches when one of its variants has
    /// all of them.
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub text: String,
    pub filter: Filter,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub product_id: String,
    pub score: f32,
    /// (field, snippet with `<mark>` around the matched words)
    pub highlights: Vec<(String, String)>,
}

/// Facet counts: (field, [(value, count)]).
pub type Facets = Vec<(String, Vec<(String, u64)>)>;

#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("the query is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("results start at most {MAX_OFFSET} deep")]
    TooDeep,
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl From<tantivy::TantivyError> for QueryError {
    fn from(err: tantivy::TantivyError) -> Self {
        Self::Index(IndexError::Tantivy(err))
    }
}

const TEXT_FIELDS: [(&str, f32); 4] = [
    ("name", 4.0),
    ("brand", 2.5),
    ("category", 1.5),
    ("description", 1.0),
];

fn text_field(fields: &Fields, name: &str) -> tantivy::schema::Field {
    match name {
        "name" => fields.name,
        "brand" => fields.brand,
        "category" => fields.category,
        _ => fields.description,
    }
}

/// A word matched exactly scores this much on top of its text score, and the last word
/// matched as a prefix half of it; a typo adds nothing. So, as in Meilisearch's ranking rules,
/// the number of exactly matched words ranks before the field they matched in.
const EXACT_BONUS: f32 = 100.0;
const PREFIX_BONUS: f32 = 50.0;
/// Typo and prefix matches score like this fraction of an exact one within their field.
const FUZZY_WEIGHT: f32 = 0.3;

/// One word, in every text field: exactly, with typos, and (for the last word) as a prefix.
fn word_query(fields: &Fields, word: &str, is_last: bool) -> Box<dyn Query> {
    let typos = typo_budget(word);
    let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut exact_anywhere: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut prefix_anywhere: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (name, weight) in TEXT_FIELDS {
        let term = Term::from_field_text(text_field(fields, name), word);
        let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
        alternatives.push((
            Occur::Should,
            Box::new(BoostQuery::new(Box::new(exact), weight)),
        ));
        exact_anywhere.push((
            Occur::Should,
            Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
        ));
        if typos > 0 {
            let fuzzy = FuzzyTermQuery::new(term.clone(), typos, true);
            alternatives.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(fuzzy), FUZZY_WEIGHT * weight)),
            ));
        }
        if is_last {
            let prefix = FuzzyTermQuery::new_prefix(term.clone(), typos, true);
            alternatives.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(prefix), FUZZY_WEIGHT * weight)),
            ));
            prefix_anywhere.push((
                Occur::Should,
                Box::new(FuzzyTermQuery::new_prefix(term, 0, true)),
            ));
        }
    }
    alternatives.push((
        Occur::Should,
        Box::new(ConstScoreQuery::new(
            Box::new(BooleanQuery::new(exact_anywhere)),
            EXACT_BONUS,
        )),
    ));
    if !prefix_anywhere.is_empty() {
        alternatives.push((
            Occur::Should,
            Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(prefix_anywhere)),
                PREFIX_BONUS,
            )),
        ));
    }
    Box::new(BooleanQuery::new(alternatives))
}

fn filter_clauses(fields: &Fields, filter: &Filter) -> Vec<(Occur, Box<dyn Query>)> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
        Occur::Must,
        Box::new(TermQuery::new(
            Term::from_field_text(fields.kind, "product"),
            IndexRecordOption::Basic,
        )),
    )];
    if let Some(category) = &filter.category {
        let path = category_path(&category.to_lowercase());
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_facet(fields.category_key, &Facet::from_path(path)),
                IndexRecordOption::Basic,
            )),
        ));
    }
    if let Some(brand) = &filter.brand {
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(fields.brand_key, &brand.trim().to_lowercase()),
                IndexRecordOption::Basic,
            )),
        ));
    }
    if filter.min_price_cents.is_some() || filter.max_price_cents.is_some() {
        let bound = |cents: Option<u64>| match cents {
            Some(c) => Bound::Included(Term::from_field_u64(fields.price, c)),
            None => Bound::Unbounded,
        };
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                bound(filter.min_price_cents),
                bound(filter.max_price_cents),
            )),
        ));
    }
    if !filter.options.is_empty() {
        let key = option_key(filter.options.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(fields.option_key, &key),
                IndexRecordOption::Basic,
            )),
        ));
    }
    if let Some(in_stock) = filter.in_stock {
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_bool(fields.in_stock, in_stock),
                IndexRecordOption::Basic,
            )),
        ));
    }
    clauses
}

fn build_query(fields: &Fields, words: &[String], filter: &Filter) -> Box<dyn Query> {
    let mut clauses = filter_clauses(fields, filter);
    for (i, word) in words.iter().enumerate() {
        clauses.push((Occur::Must, word_query(fields, word, i + 1 == words.len())));
    }
    if words.is_empty() {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// Runs a search on the index's current state.
pub fn search(index: &SearchIndex, request: &SearchRequest) -> Result<SearchPage, QueryError> {
    if request.text.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    if request.offset > MAX_OFFSET {
        return Err(QueryError::TooDeep);
    }
    let fields = index.fields();
    let searcher = index.searcher();
    let mut query_words = words(&request.text);
    query_words.truncate(MAX_WORDS);
    // All words must match; when nothing does, drop words from the end. One pass counts
    // the matches and their facet values together.
    loop {
        let query = build_query(&fields, &query_words, &request.filter);
        let (total, paths, brands, options) = searcher.search(
            &query,
            &(
                Count,
                TermCounts::new("category_path"),
                TermCounts::new("brand_exact"),
                TermCounts::new("option_exact"),
            ),
        )?;
        if total > 0 || query_words.len() <= 1 {
            let facets = facets(request, paths, brands, options);
            return run(
                &searcher,
                &fields,
                &query,
                total,
                facets,
                &query_words,
                request,
            );
        }
        query_words.pop();
    }
}

fn run(
    searcher: &Searcher,
    fields: &Fields,
    query: &dyn Query,
    total: usize,
    facets: Facets,
    query_words: &[String],
    request: &SearchRequest,
) -> Result<SearchPage, QueryError> {
    let limit = request.limit.max(1);
    let top = TopDocs::with_limit(limit).and_offset(request.offset);
    let addresses: Vec<(f32, DocAddress)> = match request.sort {
        Sort::Relevance => searcher.search(query, &top.tweak_score(popularity_tie_break))?,
        Sort::PriceAsc | Sort::PriceDesc => {
            let order = if request.sort == Sort::PriceAsc {
                Order::Asc
            } else {
                Order::Desc
            };
            let docs: Vec<(Option<u64>, DocAddress)> =
                searcher.search(query, &top.order_by_fast_field("price", order))?;
            docs.into_iter().map(|(_, a)| (0.0, a)).collect()
        }
        Sort::Newest => {
            let docs: Vec<(Option<i64>, DocAddress)> =
                searcher.search(query, &top.order_by_fast_field("created_at", Order::Desc))?;
            docs.into_iter().map(|(_, a)| (0.0, a)).collect()
        }
    };

    let matcher = Matcher::new(query_words);
    let mut hits = Vec::with_capacity(addresses.len());
    for (score, address) in addresses {
        let doc: TantivyDocument = searcher.doc(address)?;
        let source = doc
            .get_first(fields.source)
            .and_then(|v| v.as_str())
            .ok_or_else(|| IndexError::Corrupt("a product without its source".to_owned()))?;
        let product: ProductSnapshot =
            serde_json::from_str(source).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        let mut highlights = Vec::new();
        if !matcher.is_empty() {
            for (field, text, whole) in [
                ("name", product.name.as_str(), true),
                ("brand", product.brand.as_deref().unwrap_or(""), true),
                ("description", product.description.as_str(), false),
            ] {
                if let Some(snippet) = highlight(text, &matcher, whole) {
                    highlights.push((field.to_owned(), snippet));
                }
            }
        }
        hits.push(Hit {
            product_id: product.product_id,
            score,
            highlights,
        });
    }
    Ok(SearchPage {
        total,
        hits,
        facets,
    })
}

/// BM25 plus a small popularity term: ties (and the empty query) go to the best sellers.
fn popularity_tie_break(segment: &SegmentReader) -> impl Fn(tantivy::DocId, Score) -> f32 {
    let popularity = segment
        .fast_fields()
        .u64("popularity")
        .ok()
        .map(|c| c.first_or_default_col(0));
    move |doc, score| {
        let p = popularity.as_ref().map_or(0, |c| c.get_val(doc));
        score + 0.01 * ((1 + p) as f32).ln()
    }
}

/// Category counts one level below the filtered category (or at the top; products directly
/// in the filtered category count under its own name, so the counts add up to the total), the
/// most frequent brands, and each option's values (facet `option:<Name>`, in the order of
/// their names; a product counts once per value any of its variants has), over every matching
/// product.
fn facets(
    request: &SearchRequest,
    paths: HashMap<String, u64>,
    brands: HashMap<String, u64>,
    options: HashMap<String, u64>,
) -> Facets {
    let depth = request
        .filter
        .category
        .as_deref()
        .map_or(0, |c| category_path(c).len());
    let mut categories: HashMap<String, u64> = HashMap::new();
    for (path, count) in paths {
        let mut components = category_path(&path);
        components.truncate(depth + 1);
        *categories.entry(components.join(" > ")).or_default() += count;
    }
    let mut by_option: BTreeMap<String, HashMap<String, u64>> = BTreeMap::new();
    for (pair, count) in options {
        if let Some((name, value)) = pair.split_once(NAME_VALUE_SEPARATOR) {
            *by_option
                .entry(name.to_owned())
                .or_default()
                .entry(value.to_owned())
                .or_default() += count;
        }
    }
    let mut facets = vec![
        ("category".to_owned(), by_count(categories, usize::MAX)),
        ("brand".to_owned(), by_count(brands, MAX_BRAND_FACETS)),
    ];
    facets.extend(by_option.into_iter().map(|(name, values)| {
        (
            format!("{OPTION_FACET_PREFIX}{name}"),
            by_count(values, MAX_OPTION_FACETS),
        )
    }));
    facets
}

/// The `limit` most frequent values, ties by value.
fn by_count(counts: HashMap<String, u64>, limit: usize) -> Vec<(String, u64)> {
    let mut values: Vec<(String, u64)> =
        counts.into_iter().filter(|(v, _)| !v.is_empty()).collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(limit);
    values
}

/// Counts the values of a string fast field over the matching documents.
struct TermCounts {
    field: String,
}

impl TermCounts {
    fn new(field: &str) -> Self {
        Self {
            field: field.to_owned(),
        }
    }
}

struct SegmentTermCounts {
    column: Option<tantivy::columnar::StrColumn>,
    counts: Vec<u64>,
}

impl Collector for TermCounts {
    type Fruit = HashMap<String, u64>;
    type Child = SegmentTermCounts;

    fn for_segment(
        &self,
        _: tantivy::SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentTermCounts> {
        let column = segment.fast_fields().str(&self.field)?;
        let terms = column.as_ref().map_or(0, |c| c.num_terms());
        Ok(SegmentTermCounts {
            column,
            counts: vec![0; terms],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<HashMap<String, u64>>) -> tantivy::Result<Self::Fruit> {
        let mut merged = HashMap::new();
        for segment in segments {
            for (value, count) in segment {
                *merged.entry(value).or_default() += count;
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for SegmentTermCounts {
    type Fruit = HashMap<String, u64>;

    fn collect(&mut self, doc: tantivy::DocId, _: Score) {
        if let Some(column) = &self.column {
            for ord in column.term_ords(doc) {
                if let Some(count) = self.counts.get_mut(ord as usize) {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out = HashMap::new();
        let Some(column) = self.column else {
            return out;
        };
        let mut value = String::new();
        for (ord, count) in self.counts.into_iter().enumerate() {
            if count > 0 && matches!(column.ord_to_str(ord as u64, &mut value), Ok(true)) {
                out.insert(value.clone(), count);
            }
        }
        out
    }
}
