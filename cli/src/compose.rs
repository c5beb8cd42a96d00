//! Supergraph composition: the subgraphs' own federation SDL (no running servers needed)
//! composed into the Apollo Federation v2 supergraph the router serves (`schema.graphql`).

use anyhow::{bail, Context};

/// Each subgraph: its name in the supergraph, the URL the router reaches it at by default, its SDL.
pub fn subgraphs() -> Vec<(&'static str, &'static str, String)> {
    vec![
        (
            "users",
            "http://127.0.0.1:4001/graphql",
            emporium_users::sdl(),
        ),
        (
            "products",
            "http://127.0.0.1:4002/graphql",
            emporium_products::sdl(),
        ),
        (
            "inventory",
            "http://127.0.0.1:4003/graphql",
            emporium_inventory::sdl(),
        ),
        (
            "search",
            "http://127.0.0.1:4004/graphql",
            emporium_search::sdl(),
        ),
        (
            "orders",
            "http://127.0.0.1:4005/graphql",
            emporium_orders::sdl(),
        ),
        (
            "payments",
            "http://127.0.0.1:4006/graphql",
            emporium_payments::sdl(),
        ),
        (
            "notifications",
            "http://127.0.0.1:4007/graphql",
            emporium_notifications::sdl(),
        ),
    ]
}

/// The composed supergraph SDL.
pub fn supergraph() -> anyhow::Result<String> {
    let mut graphs = graphql_composition::Subgraphs::default();
    for (name, url, sdl) in subgraphs() {
        graphs
            .ingest_str(&sdl, name, Some(url))
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
    Ok(add_root_join_types(&sdl, &subgraph_roots()))
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
