//! Carts and the catalog projection in Postgres; shipping methods, tax rates, discount codes
//! and what a cart holds beside its lines in [`pricing`].
//!
//! Failure: a row the types cannot hold is [`StoreError::Corrupt`]; a database failure is
//! [`StoreError::Database`].

pub mod pricing;

use emporium_kernel::ids::{ProductId, Quantity, UserId, VariantId};
use emporium_kernel::money::{Currency, Money};
use sqlx::{PgConnection, PgPool, Row};

use crate::lines::{Line, MAX_QUANTITY};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a cart change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartChange {
    Done,
    /// The product or variant is not in the catalog (or was deleted).
    UnknownProduct,
    /// A product id was given for a product with several variants: which one is not said.
    VariantRequired,
    /// The line would hold more than [`MAX_QUANTITY`] units.
    TooMany,
    /// `updateCartItem` of a product that is not in the cart.
    NotInCart,
}

/// A product as the catalog projection knows it.
pub struct CatalogProduct {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub price: Money,
    /// Empty for a product without options (its own single variant).
    pub variants: Vec<CatalogVariant>,
    pub sequence: i64,
}

/// One variant of a product with options.
pub struct CatalogVariant {
    pub variant_id: String,
    pub sku: String,
    pub title: String,
    pub price: Money,
}

/// What a cart line names: a product (valid for one with a single variant) or a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineTarget {
    Product(ProductId),
    Variant(VariantId),
}

/// A product's variant as the cart keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVariant {
    pub product_id: String,
    pub variant_id: String,
}

/// What the catalog says a [`LineTarget`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Found(ResolvedVariant),
    /// Not sold: unknown, deleted, or a variant its product no longer has.
    Unknown,
    /// A product id for a product with several variants.
    Ambiguous,
}

/// The cart's lines priced from the catalog, oldest first; lines of products the catalog no
/// longer sells are left out. The one query of a cart's lines: the cart's view and checkout
/// (which `lock`s them, so a concurrent cart change waits for the order) both read it.
pub(crate) async fn cart_lines(
    conn: &mut PgConnection,
    user: UserId,
    lock: bool,
) -> Result<Vec<Line>, StoreError> {
    let lock = if lock { " FOR UPDATE OF c" } else { "" };
    // A line of a product with options prices from its variant; one of a product without
    // options is the product itself. A variant its product no longer has is left out, like a
    // deleted product.
    let rows = sqlx::query(&format!(
        "SELECT c.product_id, c.variant_id, p.name,
                COALESCE(v.title, p.name) AS variant_title, COALESCE(v.sku, p.sku) AS sku,
                COALESCE(v.price_minor, p.price_minor) AS price_minor,
                COALESCE(v.currency, p.currency) AS currency, c.quantity
         FROM cart_items c JOIN catalog_products p ON p.product_id = c.product_id
              LEFT JOIN catalog_variants v
                  ON v.variant_id = c.variant_id AND v.product_id = c.product_id
         WHERE c.user_id = $1 AND NOT p.deleted
           AND (v.variant_id IS NOT NULL OR (c.variant_id = c.product_id AND NOT p.has_variants))
         ORDER BY c.added_at, c.variant_id{lock}"
    ))
    .bind(user.as_uuid())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let currency: String = row.try_get("currency")?;
            let currency = Currency::parse(&currency)
                .map_err(|e| StoreError::Corrupt(format!("currency: {e}")))?;
            Ok(Line {
                product_id: row.try_get("product_id")?,
                product_name: row.try_get("name")?,
                variant_id: row.try_get("variant_id")?,
                variant_title: row.try_get("variant_title")?,
                sku: row.try_get("sku")?,
                unit_price: Money::from_minor(row.try_get("price_minor")?, currency)
                    .map_err(|e| StoreError::Corrupt(format!("price: {e}")))?,
                quantity: row.try_get("quantity")?,
            })
        })
        .collect()
}

#[derive(Clone)]
pub struct OrderStore {
    pool: PgPool,
}

impl OrderStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The cart's lines priced from the catalog, oldest first; lines of products the catalog
    /// no longer sells are left out.
    pub async fn cart(&self, user: UserId) -> Result<Vec<Line>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        cart_lines(&mut conn, user, false).await
    }

    /// What the catalog says `target` is: the variant a cart line of it holds.
    pub async fn resolve(&self, target: &LineTarget) -> Result<Resolution, StoreError> {
        let found = |product_id: String, variant_id: String| {
            Resolution::Found(ResolvedVariant {
                product_id,
                variant_id,
            })
        };
        match target {
            LineTarget::Variant(variant_id) => {
                // A variant of a product with options, or a product without options (its own
                // single variant, under its own id).
                let row: Option<String> = sqlx::query_scalar(
                    "SELECT v.product_id FROM catalog_variants v
                         JOIN catalog_products p ON p.product_id = v.product_id
                     WHERE v.variant_id = $1 AND NOT p.deleted
                     UNION ALL
                     SELECT product_id FROM catalog_products
                     WHERE product_id = $1 AND NOT deleted AND NOT has_variants
                     LIMIT 1",
                )
                .bind(variant_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                Ok(match row {
                    Some(product_id) => found(product_id, variant_id.to_string()),
                    None => Resolution::Unknown,
                })
            }
            LineTarget::Product(product_id) => {
                let row: Option<(bool, Vec<String>)> = sqlx::query_as(
                    "SELECT p.has_variants,
                            COALESCE(array_agg(v.variant_id) FILTER (WHERE v.variant_id IS NOT NULL),
                                     '{}')
                     FROM catalog_products p
                          LEFT JOIN catalog_variants v ON v.product_id = p.product_id
                     WHERE p.product_id = $1 AND NOT p.deleted
                     GROUP BY p.product_id",
                )
                .bind(product_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                Ok(match row {
                    None => Resolution::Unknown,
                    Some((false, _)) => found(product_id.to_string(), product_id.to_string()),
                    Some((true, variants)) => match variants.as_slice() {
                        [only] => found(product_id.to_string(), only.clone()),
                        [] => Resolution::Unknown,
                        _ => Resolution::Ambiguous,
                    },
                })
            }
        }
    }

    /// Adds `quantity` units of a product's variant to the cart (one statement: two
    /// concurrent adds both count).
    pub async fn add(
        &self,
        user: UserId,
        target: &LineTarget,
        quantity: Quantity,
    ) -> Result<CartChange, StoreError> {
        let variant = match self.resolve(target).await? {
            Resolution::Found(variant) => variant,
            Resolution::Unknown => return Ok(CartChange::UnknownProduct),
            Resolution::Ambiguous => return Ok(CartChange::VariantRequired),
        };
        let added = sqlx::query(
            "INSERT INTO cart_items (user_id, product_id, variant_id, quantity)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, variant_id) DO UPDATE
                 SET quantity = cart_items.quantity + EXCLUDED.quantity
                 WHERE cart_items.quantity + EXCLUDED.quantity <= $5",
        )
        .bind(user.as_uuid())
        .bind(&variant.product_id)
        .bind(&variant.variant_id)
        .bind(quantity.get())
        .bind(MAX_QUANTITY)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(if added == 1 {
            CartChange::Done
        } else {
            CartChange::TooMany
        })
    }

    /// Sets a line's quantity; `None` removes it. A product id names the line of a product
    /// without options (or with one variant); a line of a product the catalog no longer sells
    /// can still be changed or removed by the id it was added with.
    pub async fn set(
        &self,
        user: UserId,
        target: &LineTarget,
        quantity: Option<Quantity>,
    ) -> Result<CartChange, StoreError> {
        let variant_id = match target {
            LineTarget::Variant(variant_id) => variant_id.to_string(),
            LineTarget::Product(product_id) => match self.resolve(target).await? {
                Resolution::Found(variant) => variant.variant_id,
                Resolution::Unknown => product_id.to_string(),
                Resolution::Ambiguous => return Ok(CartChange::VariantRequired),
            },
        };
        let changed =
            match quantity {
                None => {
                    sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND variant_id = $2")
                        .bind(user.as_uuid())
                        .bind(&variant_id)
                        .execute(&self.pool)
                        .await?
                }
                Some(quantity) => sqlx::query(
                    "UPDATE cart_items SET quantity = $3 WHERE user_id = $1 AND variant_id = $2",
                )
                .bind(user.as_uuid())
                .bind(&variant_id)
                .bind(quantity.get())
                .execute(&self.pool)
                .await?,
            };
        Ok(if changed.rows_affected() == 1 {
            CartChange::Done
        } else {
            CartChange::NotInCart
        })
    }

    pub async fn clear(&self, user: UserId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Applies a product snapshot, its variants replaced whole, unless the projection holds a
    /// newer one. Returns whether it changed anything.
    pub async fn project_product(&self, product: &CatalogProduct) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let applied = sqlx::query(
            "INSERT INTO catalog_products
                 (product_id, sku, name, price_minor, currency, has_variants, sequence)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (product_id) DO UPDATE
                 SET sku = EXCLUDED.sku, name = EXCLUDED.name,
                     price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency,
                     has_variants = EXCLUDED.has_variants, sequence = EXCLUDED.sequence
                 WHERE catalog_products.sequence < EXCLUDED.sequence",
        )
        .bind(&product.product_id)
        .bind(&product.sku)
        .bind(&product.name)
        .bind(product.price.minor())
        .bind(product.price.currency().as_str())
        .bind(!product.variants.is_empty())
        .bind(product.sequence)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if applied {
            sqlx::query("DELETE FROM catalog_variants WHERE product_id = $1")
                .bind(&product.product_id)
                .execute(&mut *tx)
                .await?;
            let column = |f: fn(&CatalogVariant) -> String| {
                product.variants.iter().map(f).collect::<Vec<_>>()
            };
            sqlx::query(
                "INSERT INTO catalog_variants
                     (variant_id, product_id, sku, title, price_minor, currency)
                 SELECT v, $1, s, t, m, c
                 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
                      AS x(v, s, t, m, c)",
            )
            .bind(&product.product_id)
            .bind(column(|v| v.variant_id.clone()))
            .bind(column(|v| v.sku.clone()))
            .bind(column(|v| v.title.clone()))
            .bind(
                product
                    .variants
                    .iter()
                    .map(|v| v.price.minor())
                    .collect::<Vec<_>>(),
            )
            .bind(column(|v| v.price.currency().as_str().to_owned()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Marks a product deleted unless the projection holds a newer event.
    pub async fn project_deletion(
        &self,
        product_id: &str,
        sequence: i64,
    ) -> Result<bool, StoreError> {
        let applied = sqlx::query(
            "INSERT INTO catalog_products (product_id, name, price_minor, currency, deleted, sequence)
             VALUES ($1, '', 0, 'USD', true, $2)
             ON CONFLICT (product_id) DO UPDATE SET deleted = true, sequence = EXCLUDED.sequence
                 WHERE catalog_products.sequence < EXCLUDED.sequence",
        )
        .bind(product_id)
        .bind(sequence)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(applied == 1)
    }
}
