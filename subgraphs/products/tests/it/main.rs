//! The products subgraph against the real MongoDB (stand-in) and Redis: the catalog cache's
//! coherence under concurrent writes, Redis losing everything, and round trips per batch.

mod cache;

use std::time::Duration;

use async_graphql::Request;
use emporium_kernel::auth::{AuthUser, Role, Viewer};
use emporium_kernel::testing::{TestMongo, TestRedis};
use emporium_kernel::trace::TraceContext;
use emporium_products::store::{CatalogCache, ProductStore};
use emporium_products::{Catalog, ProductsSchema, ProductsState};
use serde_json::{json, Value};

/// The products schema on its own MongoDB database and Redis key prefix, with its browse
/// order built.
pub struct Fixture {
    pub schema: ProductsSchema,
    pub catalog: Catalog,
    pub redis: TestRedis,
    _mongo: TestMongo,
}

impl Fixture {
    pub async fn new() -> Self {
        let mongo = TestMongo::create();
        let client = mongodb::Client::with_uri_str(mongo.server_url())
            .await
            .expect("connect to MongoDB");
        let db = client.database(mongo.name());
        // The MongoDB stand-in now and then answers InternalError to a first command.
        let mut attempts = 0;
        while let Err(err) = ProductStore::new(&db).ensure_indexes().await {
            attempts += 1;
            assert!(attempts < 5, "indexes: {err}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let redis = TestRedis::create();
        let cache = CatalogCache::connect(
            redis.url(),
            &format!("{}catalog:", redis.prefix()),
            Duration::from_secs(3600),
        )
        .await
        .expect("connect to Redis");
        let state = ProductsState::new(&db, cache);
        let catalog = state.catalog.clone();
        assert!(
            catalog.rebuild_browse_order().await.expect("browse order"),
            "the first build of the browse order publishes"
        );
        Self {
            schema: emporium_products::schema(state),
            catalog,
            redis,
            _mongo: mongo,
        }
    }

    /// The catalog's key prefix (under the test's own).
    pub fn cache_prefix(&self) -> String {
        format!("{}catalog:", self.redis.prefix())
    }

    /// Runs an operation as an anonymous caller; asserts it has no errors.
    pub async fn read(&self, query: &str, variables: Value) -> Value {
        self.run(query, variables, Viewer::Anonymous).await
    }

    /// Runs an operation as an admin; asserts it has no errors.
    pub async fn admin(&self, query: &str, variables: Value) -> Value {
        let admin = Viewer::User(AuthUser {
            id: uuid::Uuid::new_v4(),
            role: Role::Admin,
        });
        self.run(query, variables, admin).await
    }

    async fn run(&self, query: &str, variables: Value, viewer: Viewer) -> Value {
        let request = Request::new(query)
            .variables(async_graphql::Variables::from_json(variables))
            .data(viewer)
            .data(TraceContext::new_root());
        let response = self.schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().expect("JSON data")
    }

    /// Creates a product; returns its id.
    pub async fn create(&self, sku: &str, category: &str, price: &str) -> String {
        let created = self
            .admin(
                "mutation($input: ProductInput!) { createProduct(input: $input) { product { id } userErrors { code } } }",
                json!({ "input": {
                    "sku": sku, "name": format!("Product {sku}"), "description": "A product.",
                    "category": category, "price": price,
                } }),
            )
            .await;
        assert_eq!(
            created["createProduct"]["userErrors"],
            json!([]),
            "{created}"
        );
        created["createProduct"]["product"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    pub async fn set_price(&self, id: &str, price: &str) {
        let updated = self
            .admin(
                "mutation($id: ID!, $price: Decimal!) { updateProduct(id: $id, input: { price: $price }) { product { id } userErrors { code } } }",
                json!({ "id": id, "price": price }),
            )
            .await;
        assert_eq!(
            updated["updateProduct"]["userErrors"],
            json!([]),
            "{updated}"
        );
    }

    /// Prices by id through `_entities`, as the router asks for products.
    pub async fn entities(&self, ids: &[String]) -> Vec<Value> {
        let representations: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "__typename": "Product", "id": id }))
            .collect();
        let data = self
            .read(
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id price { amount } } } }",
                json!({ "r": representations }),
            )
            .await;
        data["_entities"].as_array().expect("entities").clone()
    }

    /// The ids and prices of every product (all pages), and the first page's total.
    pub async fn browse_all(
        &self,
        category: Option<&str>,
        page_size: i64,
    ) -> (Vec<(String, String)>, i64) {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut total = None;
        loop {
            let data = self
                .read(
                    "query($first: Int, $after: String, $category: String) { products(first: $first, after: $after, category: $category) { totalCount pageInfo { hasNextPage endCursor } nodes { id price { amount } } } }",
                    json!({ "first": page_size, "after": after, "category": category }),
                )
                .await;
            let page = &data["products"];
            total.get_or_insert(page["totalCount"].as_i64().expect("totalCount"));
            for node in page["nodes"].as_array().expect("nodes") {
                seen.push((
                    node["id"].as_str().expect("id").to_owned(),
                    node["price"]["amount"].as_str().expect("amount").to_owned(),
                ));
            }
            if page["pageInfo"]["hasNextPage"] != json!(true) {
                return (seen, total.unwrap_or_default());
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
    }
}

pub fn sku() -> String {
    format!("T-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]).to_uppercase()
}
