//! Depth and size of an operation with its fragments expanded, checked before validation.
//!
//! hive-router 0.2.19 checks depth inside its validation pass, beside graphql-js's rules; some
//! of those rules cost far more than linear time on hostile shapes. Measured on a debug build:
//! an introspection query nested 42 levels was refused in 30 ms, one nested 46 levels wedged a
//! worker for good (and an 80-level one grew the process to 23.8 GB). A fragment fan-out
//! (`F0 { ...F1 ...F1 }`, `F1 { ...F2 ...F2 }`, ... 30 levels) expands to 2^30 fields in a
//! 1 KB document.
//!
//! This plugin runs in `on_graphql_validation`, before any rule, and walks each operation once
//! with every fragment's depth and expanded size memoised, so its cost is linear in the
//! document however the fragments fan out; it never descends past the depth limit. An
//! operation deeper than `max_depth` (`MAX_DEPTH_EXCEEDED`) or selecting more than
//! `max_fields` fields once its fragments are expanded (`TOO_MANY_FIELDS`) is refused with
//! `QUERY_TOO_COMPLEX`. A fragment cycle counts as nothing here; validation then reports it.

use std::collections::HashMap;

use hive_router::{
    async_trait,
    graphql_tools::static_graphql::query::{
        Definition, Document, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    },
    http::StatusCode,
    plugins::{
        hooks::on_graphql_validation::{
            OnGraphQLValidationStartHookPayload, OnGraphQLValidationStartHookResult,
        },
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
    GraphQLError,
};
use serde::Deserialize;

use super::error_codes::{refusal, QUERY_TOO_COMPLEX};

/// Refuses operations too deep or too large once their fragments are expanded.
pub struct SelectionLimits {
    limits: Limits,
}

/// `plugins.emporium_selection_limits.config`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Limits {
    /// Deepest field nesting accepted (a top-level field is depth 1).
    pub max_depth: usize,
    /// Most fields one operation may select with its fragments expanded.
    pub max_fields: usize,
}

/// What an operation breaks, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    TooDeep,
    TooManyFields,
}

/// Depth and expanded size of a selection, each saturating one past its limit.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    depth: usize,
    fields: usize,
}

struct Walker<'doc> {
    limits: Limits,
    fragments: HashMap<&'doc str, &'doc FragmentDefinition>,
    memo: HashMap<&'doc str, Shape>,
    visiting: Vec<&'doc str>,
}

impl<'doc> Walker<'doc> {
    fn set(&mut self, set: &'doc SelectionSet, depth: usize) -> Shape {
        let mut shape = Shape::default();
        for item in &set.items {
            let inner = match item {
                Selection::Field(field) => {
                    let below =
                        if field.selection_set.items.is_empty() || depth > self.limits.max_depth {
                            Shape::default()
                        } else {
                            self.set(&field.selection_set, depth + 1)
                        };
                    Shape {
                        depth: below.depth + 1,
                        fields: below.fields.saturating_add(1),
                    }
                }
                Selection::InlineFragment(inline) => self.set(&inline.selection_set, depth),
                Selection::FragmentSpread(spread) => self.fragment(&spread.fragment_name, depth),
            };
            shape.depth = shape.depth.max(inner.depth);
            shape.fields = shape
                .fields
                .saturating_add(inner.fields)
                .min(self.limits.max_fields + 1);
        }
        shape
    }

    /// A fragment's shape relative to where it is spread; memoised, since it does not depend
    /// on where (the depth cut-off only shortens the walk of what is already too deep).
    fn fragment(&mut self, name: &'doc str, depth: usize) -> Shape {
        if let Some(shape) = self.memo.get(name) {
            return *shape;
        }
        if self.visiting.contains(&name) {
            return Shape::default();
        }
        let Some(fragment) = self.fragments.get(name).copied() else {
            return Shape::default();
        };
        self.visiting.push(name);
        let shape = self.set(&fragment.selection_set, depth);
        self.visiting.pop();
        self.memo.insert(name, shape);
        shape
    }
}

/// The first limit `document` breaks, if any.
pub fn breach(document: &Document, limits: Limits) -> Option<Breach> {
    let fragments = document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            Definition::Fragment(fragment) => Some((fragment.name.as_str(), fragment)),
            Definition::Operation(_) => None,
        })
        .collect();
    let mut walker = Walker {
        limits,
        fragments,
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    for definition in &document.definitions {
        let Definition::Operation(operation) = definition else {
            continue;
        };
        let set = match operation {
            OperationDefinition::SelectionSet(set) => set,
            OperationDefinition::Query(query) => &query.selection_set,
            OperationDefinition::Mutation(mutation) => &mutation.selection_set,
            OperationDefinition::Subscription(subscription) => &subscription.selection_set,
        };
        let shape = walker.set(set, 1);
        if shape.depth > limits.max_depth {
            return Some(Breach::TooDeep);
        }
        if shape.fields > limits.max_fields {
            return Some(Breach::TooManyFields);
        }
    }
    None
}

fn error(breach: Breach, limits: Limits) -> GraphQLError {
    let (message, reason) = match breach {
        Breach::TooDeep => (
            format!(
                "The operation nests deeper than {} levels",
                limits.max_depth
            ),
            "MAX_DEPTH_EXCEEDED",
        ),
        Breach::TooManyFields => (
            format!(
                "The operation selects more than {} fields once its fragments are expanded",
                limits.max_fields
            ),
            "TOO_MANY_FIELDS",
        ),
    };
    refusal(QUERY_TOO_COMPLEX, reason, message)
}

#[async_trait]
impl RouterPlugin for SelectionLimits {
    plugin_setup!("emporium_selection_limits", Limits, |limits| Ok(Self {
        limits
    }));

    async fn on_graphql_validation<'exec>(
        &'exec self,
        payload: OnGraphQLValidationStartHookPayload<'exec>,
    ) -> OnGraphQLValidationStartHookResult<'exec> {
        if let Some(breach) = breach(&payload.document, self.limits) {
            return payload
                .end_with_graphql_error(error(breach, self.limits), StatusCode::BAD_REQUEST);
        }
        payload.proceed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hive_router::graphql_tools::parser::parse_query;

    const LIMITS: Limits = Limits {
        max_depth: 5,
        max_fields: 100,
    };

    fn check(query: &str) -> Option<Breach> {
        let document = parse_query::<String>(query)
            .expect("a valid document")
            .into_static();
        breach(&document, LIMITS)
    }

    #[test]
    fn depth_counts_fields_through_fragments() {
        assert_eq!(check("{ a { b { c { d { e } } } } }"), None);
        assert_eq!(
            check("{ a { b { c { d { e { f } } } } } }"),
            Some(Breach::TooDeep)
        );
        assert_eq!(
            check("{ a { ...F } } fragment F on T { b { c { d { e { f } } } } }"),
            Some(Breach::TooDeep)
        );
        assert_eq!(check("{ a { ... on T { b { c } } } }"), None);
    }

    #[test]
    fn a_fan_out_bomb_is_counted_expanded_without_expanding_it() {
        let mut bomb = String::from("query { ...F0 } ");
        for i in 0..40 {
            bomb.push_str(&format!(
                "fragment F{i} on Q {{ ...F{n} ...F{n} }} ",
                n = i + 1
            ));
        }
        bomb.push_str("fragment F40 on Q { x }");
        assert_eq!(check(&bomb), Some(Breach::TooManyFields));
        assert_eq!(check("{ a b c ...F ...F } fragment F on Q { d e }"), None);
    }

    #[test]
    fn a_fragment_cycle_is_left_to_validation() {
        assert_eq!(
            check("query { ...A } fragment A on Q { ...B } fragment B on Q { ...A }"),
            None
        );
    }
}
