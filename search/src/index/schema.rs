//! The index's schema and the analyzer of its text fields and of queries. Building them cannot
//! fail; an index opened with another schema is tantivy's error, reported by the writer.

use tantivy::schema::{
    FacetOptions, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
    STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};

/// The analyzer of every text field and of queries: words split on anything not
/// alphanumeric, lower-cased, accents folded ("Café" finds "cafe").
pub const ANALYZER: &str = "emporium";

pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The analyzed words of `text`, in order.
pub fn words(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// How many typos a query word of this length may carry (the query's fuzzy terms and the
/// highlighter both follow it).
pub fn typo_budget(word: &str) -> u8 {
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// The schema's fields.
#[derive(Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub kind: Field,
    pub name: Field,
    pub description: Field,
    pub brand: Field,
    pub category: Field,
    /// Exact, lower-cased brand for filtering.
    pub brand_key: Field,
    /// The category path as a facet, lower-cased, for filtering (a parent matches its children).
    pub category_key: Field,
    /// The category path and brand in their own case, as fast fields for facet counts.
    pub category_path: Field,
    pub brand_exact: Field,
    /// The option values of the product's variants as `Name=Value`, in their own case, as a
    /// fast field for facet counts.
    pub option_exact: Field,
    /// The lower-cased keys of every combination of one variant's option values, for filtering
    /// (see `document::option_key`).
    pub option_key: Field,
    pub price: Field,
    pub in_stock: Field,
    /// The variants in stock, of a product with options (stored: the next stock change of a
    /// variant needs the others').
    pub variants_in_stock: Field,
    /// Milliseconds since the epoch.
    pub created_at: Field,
    pub popularity: Field,
    pub product_seq: Field,
    pub stock_seq: Field,
    /// The product snapshot as JSON (for results, highlights and re-indexing on stock changes).
    pub source: Field,
}

/// The version of the schema below and of what its documents hold (the spelling of option
/// keys included): an index directory keeps its index in a subdirectory of this name, so a
/// change starts an empty index (filled from the catalogue at start, as for a new replica)
/// instead of failing to open the old one or answering from terms spelled the old way. Raise
/// it with any such change.
pub const SCHEMA_VERSION: &str = "schema-3";

pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        kind: builder.add_text_field("kind", STRING | STORED),
        name: builder.add_text_field("name", text.clone()),
        description: builder.add_text_field("description", text.clone()),
        brand: builder.add_text_field("brand", text.clone()),
        category: builder.add_text_field("category", text),
        brand_key: builder.add_text_field("brand_key", STRING),
        category_key: builder.add_facet_field("category_key", FacetOptions::default()),
        category_path: builder.add_text_field("category_path", STRING | FAST),
        brand_exact: builder.add_text_field("brand_exact", STRING | FAST),
        option_exact: builder.add_text_field("option_exact", STRING | FAST),
        option_key: builder.add_text_field("option_key", STRING),
        price: builder.add_u64_field("price", INDEXED | FAST | STORED),
        in_stock: builder.add_bool_field("in_stock", INDEXED | FAST | STORED),
        variants_in_stock: builder.add_text_field("variants_in_stock", STORED),
        created_at: builder.add_i64_field("created_at", FAST | STORED),
        popularity: builder.add_u64_field("popularity", FAST),
        product_seq: builder.add_u64_field("product_seq", STORED),
        stock_seq: builder.add_u64_field("stock_seq", STORED),
        source: builder.add_text_field("source", STORED),
    };
    (builder.build(), fields)
}

#[cfg(test)]
mod tests {
    use super::{typo_budget, words};

    #[test]
    fn typos_follow_meilisearchs_word_lengths() {
        assert_eq!(typo_budget("ipad"), 0);
        assert_eq!(typo_budget("sonyy"), 1);
        assert_eq!(typo_budget("headphone"), 2);
    }

    #[test]
    fn words_are_folded_and_lower_cased() {
        assert_eq!(words("Café WH-1000XM5"), ["cafe", "wh", "1000xm5"]);
    }
}
