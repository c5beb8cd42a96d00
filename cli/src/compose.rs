//! Supergraph composition: the subgraphs' own federation SDL (no running servers needed)
//! composed into the Apollo Federation v2 supergraph the router serves (`schema.graphql`).

use anyhow::{bail, Context};

use crate::services::Service;

/// Each subgraph of the list of services: its name in the supergraph, the URL the router
/// reaches it at by default, its SDL.
pub fn subgraphs() -> Vec<(&'static str, String, String)> {
    Service::subgraphs()
        .map(|(service, subgraph)| {
            let spec = service.spec();
            let url = format!("http://127.0.0.1:{}/graphql", spec.default_port);
            (spec.name, url, (subgraph.sdl)())
        })
        .collect()
}

/// The composed supergraph SDL.
pub fn supergraph() -> anyhow::Result<String> {
    let mut graphs = graphql_composition::Subgraphs::default();
    for (name, url, sdl) in subgraphs() {
        graphs
            .ingest_str(&sdl, name, Some(&url))
            .with_context(|| format!("parsing the {name} subgraph's SDL"))?;
    }
    let graph = match graphql_composition::compose(&mut graphs).into_result() {
        Ok(graph) => graph,
        Err(diagnostics) => {
            let messages: Vec<String> = diagnostics.iter_messages().map(str::to_owned).collect();
            bail!("composition failed:\n{}", messages.join("\n"));
        }
    };
    let sdl =
        graphql_composition::render_federated_sdl(&graph).context("rendering the supergraph")?;
    let sdl = add_root_join_types(&sdl, &subgraph_roots());
    Ok(add_list_sizes(&sdl, LIST_SIZES))
}

/// The cost directives (IBM's GraphQL cost spec, as hive-router's demand control reads them).
const COST_DIRECTIVES: &str = "\
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION

directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
";

/// Lists whose size is known better than the router's default list size: (type, field,
/// assumed size).
const LIST_SIZES: &[(&str, &str, u32)] = &[
    // category, brand, and a product's options (at most 3).
    ("SearchResults", "facets", 5),
    ("Facet", "values", 30),
    ("SearchHit", "highlights", 4),
    ("Product", "attributes", 10),
    ("Product", "options", 3),
    ("Product", "variants", 20),
    ("ProductVariant", "selectedOptions", 3),
    ("ProductOption", "values", 10),
    ("Order", "items", 10),
    ("Order", "history", 8),
    ("Cart", "items", 20),
    ("Cart", "availableShippingMethods", 5),
    ("Cart", "discounts", 2),
    ("Cart", "taxLines", 1),
    ("Order", "discounts", 2),
    ("Order", "taxLines", 1),
];

/// async-graphql cannot emit `@listSize`, so composition adds it, for the router to estimate
/// each operation's cost before it runs:
/// - a field with a `first` argument returning a connection (`...Connection`, or the search's
///   `SearchResults`) is sized by `first` (the default page size when absent), and so are its
///   `edges` and `nodes`;
/// - `userErrors` are assumed to hold 2, and the lists of [`LIST_SIZES`] what they say.
///
/// Every other list is sized by the router's `default_list_size`.
fn add_list_sizes(sdl: &str, sizes: &[(&str, &str, u32)]) -> String {
    let mut out = String::with_capacity(sdl.len() + 2048);
    let mut current_type: Option<&str> = None;
    for line in sdl.lines() {
        if let Some(name) = line.strip_prefix("type ") {
            current_type = name.split_whitespace().next();
        } else if line.starts_with('}') {
            current_type = None;
        }
        out.push_str(line);
        if let (Some(type_name), Some(field)) = (current_type, field_name(line)) {
            if let Some(directive) = list_size_directive(type_name, field, line, sizes) {
                out.push(' ');
                out.push_str(&directive);
            }
        }
        out.push('\n');
        if line.starts_with("directive @join__owner") {
            out.push('\n');
            out.push_str(COST_DIRECTIVES);
        }
    }
    out
}

/// The field a line of a type's body defines.
fn field_name(line: &str) -> Option<&str> {
    let body = line.strip_prefix("  ")?;
    if body.starts_with(' ') || body.starts_with('@') || body.starts_with('"') {
        return None;
    }
    let end = body.find(['(', ':'])?;
    Some(&body[..end])
}

fn list_size_directive(
    type_name: &str,
    field: &str,
    line: &str,
    sizes: &[(&str, &str, u32)],
) -> Option<String> {
    let returns = line.rsplit_once("):").map(|(_, r)| r).unwrap_or(line);
    let returns_connection = returns
        .split_whitespace()
        .next()
        .map(|t| t.trim_end_matches('!'))
        .is_some_and(|t| t.ends_with("Connection") || t == "SearchResults");
    if line.contains("first: Int") && returns_connection {
        return Some(
            "@listSize(slicingArguments: [\"first\"], sizedFields: [\"edges\", \"nodes\"], requireOneSlicingArgument: false)"
                .to_owned(),
        );
    }
    if field == "userErrors" {
        return Some("@listSize(assumedSize: 2)".to_owned());
    }
    sizes
        .iter()
        .find(|(t, f, _)| *t == type_name && *f == field)
        .map(|(_, _, size)| format!("@listSize(assumedSize: {size})"))
}

/// Which subgraphs define fields on which root operation type.
fn subgraph_roots() -> Vec<(String, &'static str)> {
    let mut roots = Vec::new();
    for (name, _, sdl) in subgraphs() {
        for root in ["Query", "Mutation", "Subscription"] {
            if sdl.contains(&format!("type {root} {{")) || sdl.contains(&format!("type {root} @")) {
                roots.push((graph_enum_value(name), root));
            }
        }
    }
    roots
}

/// graphql-composition names each subgraph in the `join__Graph` enum upper-cased.
fn graph_enum_value(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// graphql-composition 0.12 leaves `@join__type` off the root operation types; the router then
/// cannot find a subgraph to plan a root field against ("No paths found for selection item").
/// Add one `@join__type(graph: X)` per subgraph that contributes to each root type.
fn add_root_join_types(sdl: &str, roots: &[(String, &'static str)]) -> String {
    let mut out = String::with_capacity(sdl.len() + 256);
    for line in sdl.lines() {
        let root = ["Query", "Mutation", "Subscription"]
            .into_iter()
            .find(|root| {
                line.trim_end() == format!("type {root}")
                    || line.trim_end() == format!("type {root} {{")
            });
        match root {
            Some(root) if !line.contains("@join__type") => {
                let opens_block = line.trim_end().ends_with('{');
                out.push_str(&format!("type {root}"));
                for (graph, _) in roots.iter().filter(|(_, r)| *r == root) {
                    out.push_str(&format!("\n  @join__type(graph: {graph})"));
                }
                out.push_str(if opens_block { "\n{\n" } else { "\n" });
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_sized_by_first_and_known_lists_by_their_size() {
        let sdl = "directive @join__owner(graph: join__Graph!) on OBJECT\n\ntype Query\n{\n  products(category: String, first: Int, after: String): ProductConnection! @join__field(graph: PRODUCTS)\n  me: User\n}\n\ntype Order\n{\n  items: [OrderItem!]! @join__field(graph: ORDERS)\n  id: ID!\n}\n\ntype CartPayload\n{\n  userErrors: [UserError!]!\n}\n";
        let sized = add_list_sizes(sdl, &[("Order", "items", 10)]);
        assert!(sized.contains("ProductConnection! @join__field(graph: PRODUCTS) @listSize(slicingArguments: [\"first\"], sizedFields: [\"edges\", \"nodes\"], requireOneSlicingArgument: false)\n"), "{sized}");
        assert!(sized.contains("  me: User\n"), "{sized}");
        assert!(
            sized.contains(
                "items: [OrderItem!]! @join__field(graph: ORDERS) @listSize(assumedSize: 10)\n"
            ),
            "{sized}"
        );
        assert!(sized.contains("  id: ID!\n"), "{sized}");
        assert!(
            sized.contains("userErrors: [UserError!]! @listSize(assumedSize: 2)\n"),
            "{sized}"
        );
        assert!(sized.contains("directive @listSize("), "{sized}");
    }

    #[test]
    fn root_types_get_one_join_type_per_contributing_subgraph() {
        let sdl = "type Query\n{\n  me: User\n}\n\ntype Mutation {\n  login: Int\n}\n";
        let roots = vec![
            ("USERS".to_owned(), "Query"),
            ("PRODUCTS".to_owned(), "Query"),
            ("USERS".to_owned(), "Mutation"),
        ];
        let fixed = add_root_join_types(sdl, &roots);
        assert!(fixed.contains("type Query\n  @join__type(graph: USERS)\n  @join__type(graph: PRODUCTS)\n{\n  me: User"), "{fixed}");
        assert!(
            fixed.contains("type Mutation\n  @join__type(graph: USERS)\n{\n  login: Int"),
            "{fixed}"
        );
    }
}
