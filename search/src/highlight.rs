//! Highlights: the words of a field that matched the query (exactly, with a typo, or as the
//! prefix being typed) wrapped in `<mark>…</mark>`. Everything else is HTML-escaped, so a
//! storefront can insert a snippet as HTML without trusting the catalog's text.

use crate::index::{typo_budget, words};

/// How much of a long field a snippet shows around its first match.
const SNIPPET_CHARS: usize = 160;
const CONTEXT_BEFORE: usize = 40;

/// The query's words, ready to match a field's words.
pub struct Matcher {
    words: Vec<(String, u8)>,
}

impl Matcher {
    pub fn new(query_words: &[String]) -> Self {
        Self {
            words: query_words
                .iter()
                .map(|w| (w.clone(), typo_budget(w)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether a field's (analyzed) word matches one of the query's.
    fn matches(&self, token: &str) -> bool {
        let last = self.words.len().saturating_sub(1);
        self.words.iter().enumerate().any(|(i, (word, typos))| {
            if token == word || levenshtein(token, word) <= usize::from(*typos) {
                return true;
            }
            // The word being typed matches the start of a longer word.
            i == last && {
                let prefix: String = token.chars().take(word.chars().count()).collect();
                prefix == *word || levenshtein(&prefix, word) <= usize::from(*typos)
            }
        })
    }
}

/// `text` with its matching words marked; `None` when nothing matched. With `whole` false,
/// only a window around the first match is kept.
pub fn highlight(text: &str, matcher: &Matcher, whole: bool) -> Option<String> {
    let spans: Vec<(usize, usize)> = word_spans(text)
        .into_iter()
        .filter(|(start, end)| {
            words(&text[*start..*end])
                .iter()
                .any(|token| matcher.matches(token))
        })
        .collect();
    let first = spans.first()?;
    let (from, to) = if whole {
        (0, text.len())
    } else {
        window(text, first.0)
    };
    let mut out = String::with_capacity(to - from + 32);
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for &(start, end) in spans.iter().filter(|(s, e)| *s >= from && *e <= to) {
        escape_into(&mut out, &text[at..start]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[start..end]);
        out.push_str("</mark>");
        at = end;
    }
    escape_into(&mut out, &text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    Some(out)
}

/// Byte ranges of the alphanumeric runs of `text`.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// A window of about [`SNIPPET_CHARS`] characters starting a little before `match_start`,
/// on character boundaries.
fn window(text: &str, match_start: usize) -> (usize, usize) {
    let before: Vec<usize> = text[..match_start].char_indices().map(|(i, _)| i).collect();
    let from = before
        .len()
        .checked_sub(CONTEXT_BEFORE)
        .map_or(0, |i| before[i]);
    let to = text[from..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(text.len(), |(i, _)| from + i);
    (from, to)
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
}

/// Edit distance with adjacent transpositions counting as one (as tantivy's fuzzy queries).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(query: &str) -> Matcher {
        Matcher::new(&words(query))
    }

    #[test]
    fn exact_typo_and_prefix_matches_are_marked() {
        let m = matcher("samsng galaxy headph");
        assert_eq!(
            highlight("Samsung Galaxy S7 with Headphones", &m, true).as_deref(),
            Some("<mark>Samsung</mark> <mark>Galaxy</mark> S7 with <mark>Headphones</mark>")
        );
        assert_eq!(highlight("Apple iPad", &m, true), None);
    }

    #[test]
    fn the_rest_is_escaped() {
        let m = matcher("cable");
        assert_eq!(
            highlight("<b>HDMI</b> cable & more", &m, true).as_deref(),
            Some("&lt;b&gt;HDMI&lt;/b&gt; <mark>cable</mark> &amp; more")
        );
    }

    #[test]
    fn long_fields_are_cut_around_the_first_match() {
        let text = format!("{} needle {}", "word ".repeat(50), "tail ".repeat(50));
        let snippet = highlight(&text, &matcher("needle"), false).expect("a match");
        assert!(
            snippet.starts_with('…') && snippet.ends_with('…'),
            "{snippet}"
        );
        assert!(snippet.contains("<mark>needle</mark>"));
        assert!(snippet.chars().count() < 200);
    }

    #[test]
    fn distances_count_transpositions_once() {
        assert_eq!(levenshtein("samsung", "samsnug"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "ab"), 2);
    }
}
