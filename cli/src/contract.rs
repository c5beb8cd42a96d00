//! The public API contract (`api/contract.graphql`, a copy of the shared
//! `shared/api/contract.graphql` kept in the repository so a clone is self-contained) against
//! the composed supergraph:
//! every type, field, argument, input field and enum value the contract names must exist in
//! `schema.graphql` with the same type, except what later issues have yet to build, listed
//! explicitly in [`NOT_YET_BUILT`].

#![cfg(test)]

use std::collections::BTreeMap;

use cynic_parser::type_system::{Definition, TypeDefinition};

/// Contract members that no subgraph provides yet, each as "Type" or "Type.member", with the
/// issue that builds it. This list only ever shrinks.
pub const NOT_YET_BUILT: &[&str] = &[];

/// Every type's members: "field(arg: T, ...): T", "inputField: T", or "ENUM_VALUE".
fn members(sdl: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let doc = cynic_parser::parse_type_system_document(sdl).expect("valid SDL");
    let mut types: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for definition in doc.definitions() {
        let (Definition::Type(ty) | Definition::TypeExtension(ty)) = definition else {
            continue;
        };
        let entry = types.entry(ty.name().to_owned()).or_default();
        match ty {
            TypeDefinition::Object(object) => {
                for field in object.fields() {
                    // Arguments are passed by name, so their order is not part of the contract.
                    let mut args: Vec<String> = field
                        .arguments()
                        .map(|a| format!("{}: {}", a.name(), a.ty()))
                        .collect();
                    args.sort();
                    entry.insert(
                        field.name().to_owned(),
                        format!("({}): {}", args.join(", "), field.ty()),
                    );
                }
            }
            TypeDefinition::InputObject(input) => {
                for field in input.fields() {
                    entry.insert(field.name().to_owned(), field.ty().to_string());
                }
            }
            TypeDefinition::Enum(enumeration) => {
                for value in enumeration.values() {
                    entry.insert(value.value().to_owned(), String::new());
                }
            }
            _ => {}
        }
    }
    types
}

fn missing_from(contract: &str, supergraph: &str) -> Vec<String> {
    let provided = members(supergraph);
    let pending = |name: &str| NOT_YET_BUILT.contains(&name);
    let mut missing = Vec::new();
    for (type_name, contract_members) in members(contract) {
        if pending(&type_name) {
            continue;
        }
        let Some(provided_members) = provided.get(&type_name) else {
            missing.push(format!("type {type_name}"));
            continue;
        };
        for (member, signature) in contract_members {
            let qualified = format!("{type_name}.{member}");
            if pending(&qualified) {
                continue;
            }
            match provided_members.get(&member) {
                None => missing.push(qualified),
                Some(actual) if *actual != signature => missing.push(format!(
                    "{qualified}: contract says {signature:?}, supergraph has {actual:?}"
                )),
                Some(_) => {}
            }
        }
    }
    missing
}

fn contract_sdl() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/contract.graphql");
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the API contract belongs at {path}: {e}"))
}

/// Where the shared contract sits when the repository is checked out beside it.
const SHARED_CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/api/contract.graphql"
);

/// Members of the shared contract whose type a shared addition changes, with the type it gives
/// them: `commerce.graphql` makes `CheckoutInput.shippingAddress` optional when the cart has
/// one (a nullable input field accepts everything the required one did), and lets `addToCart`
/// and `updateCartItem` name a variant instead of a product (a request that passed a product
/// id still does).
const CHANGED_BY_SHARED_ADDITIONS: &[(&str, &str)] = &[
    ("CheckoutInput.shippingAddress", "AddressInput"),
    (
        "Mutation.addToCart",
        "(productId: ID, quantity: Int!, variantId: ID): CartPayload!",
    ),
    (
        "Mutation.updateCartItem",
        "(productId: ID, quantity: Int!, variantId: ID): CartPayload!",
    ),
];

#[test]
fn the_repository_copy_of_the_contract_holds_the_shared_one() {
    // A clone elsewhere (CI) has only the copy; next to the shared tree, the copy must name
    // everything the shared contract does (it also folds in the shared additions, such as
    // accounts.graphql, as they are built).
    if let Ok(shared) = std::fs::read_to_string(SHARED_CONTRACT) {
        let missing: Vec<String> = missing_from(&shared, &contract_sdl())
            .into_iter()
            .filter(|problem| {
                !CHANGED_BY_SHARED_ADDITIONS.iter().any(|(member, ty)| {
                    problem.starts_with(&format!("{member}: "))
                        && problem.ends_with(&format!("has {ty:?}"))
                })
            })
            .collect();
        assert!(
            missing.is_empty(),
            "api/contract.graphql lacks members of {SHARED_CONTRACT}: {missing:?}"
        );
    }
}

#[test]
fn the_supergraph_provides_everything_the_contract_names_that_is_built() {
    let supergraph = crate::compose::supergraph().expect("composes");
    let missing = missing_from(&contract_sdl(), &supergraph);
    assert!(
        missing.is_empty(),
        "the supergraph lacks contract members:\n{}",
        missing.join("\n")
    );
}

#[test]
fn nothing_listed_as_not_yet_built_is_already_built() {
    // Keeps NOT_YET_BUILT honest: once a subgraph provides something, it must leave the list.
    let supergraph = members(&crate::compose::supergraph().expect("composes"));
    let built: Vec<&&str> = NOT_YET_BUILT
        .iter()
        .filter(|name| match name.split_once('.') {
            Some((ty, member)) => supergraph.get(ty).is_some_and(|m| m.contains_key(member)),
            None => supergraph.contains_key(**name),
        })
        .collect();
    assert!(
        built.is_empty(),
        "built already, remove from NOT_YET_BUILT: {built:?}"
    );
}

#[test]
fn the_checked_in_schema_graphql_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let checked_in = std::fs::read_to_string(path).expect("schema.graphql at the repository root");
    let composed = crate::compose::supergraph().expect("composes");
    assert!(
        checked_in == composed,
        "schema.graphql is stale: run `cargo run -p emporium -- compose`"
    );
}

#[test]
fn the_check_notices_a_missing_field_and_a_changed_type() {
    let contract =
        "type Query { me: User product(id: ID!): Product } type User { id: ID! name: String! }";
    let supergraph = "type Query { me: User product(id: ID): Product } type User { id: ID! }";
    assert_eq!(
        missing_from(contract, supergraph),
        ["Query.product: contract says \"(id: ID!): Product\", supergraph has \"(id: ID): Product\"", "User.name"]
    );
}
