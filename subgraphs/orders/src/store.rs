//! Carts and the catalog projection in Postgres; shipping methods, tax rates, discount codes
//! and what a cart holds beside its lines in [`pricing`].
//!
//! Failure: a row the types cannot hold is [`StoreError::Corrupt`]; a database failure is
//! [`StoreError::Database`].

pub mod pricing;

use emporium_kernel::ids::{ProductId, Quantity, UserId};
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
    /// The product is not in the catalog (or was deleted).
    UnknownProduct,
    /// The line would hold more than [`MAX_QUANTITY`] units.
    TooMany,
    /// `updateCartItem` of a product that is not in the cart.
    NotInCart,
}

/// A product as the catalog projection knows it.
pub struct CatalogProduct {
    pub product_id: String,
    pub name: String,
    pub price: Money,
    pub sequence: i64,
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
    let rows = sqlx::query(&format!(
        "SELECT c.product_id, p.name, p.price_minor, p.currency, c.quantity
         FROM cart_items c JOIN catalog_products p ON p.product_id = c.product_id
         WHERE c.user_id = $1 AND NOT p.deleted
         ORDER BY c.added_at, c.product_id{lock}"
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

    /// Adds `quantity` units of a product to the cart (one statement: two concurrent adds
    /// both count).
    pub async fn add(
        &self,
        user: UserId,
        product_id: &ProductId,
        quantity: Quantity,
    ) -> Result<CartChange, StoreError> {
        if !self.sells(product_id).await? {
            return Ok(CartChange::UnknownProduct);
        }
        let added = sqlx::query(
            "INSERT INTO cart_items (user_id, product_id, quantity) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, product_id) DO UPDATE
                 SET quantity = cart_items.quantity + EXCLUDED.quantity
                 WHERE cart_items.quantity + EXCLUDED.quantity <= $4",
        )
        .bind(user.as_uuid())
        .bind(product_id.as_str())
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

    /// Sets a line's quantity; `None` removes it.
    pub async fn set(
        &self,
        user: UserId,
        product_id: &ProductId,
        quantity: Option<Quantity>,
    ) -> Result<CartChange, StoreError> {
        let changed =
            match quantity {
                None => {
                    sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2")
                        .bind(user.as_uuid())
                        .bind(product_id.as_str())
                        .execute(&self.pool)
                        .await?
                }
                Some(quantity) => sqlx::query(
                    "UPDATE cart_items SET quantity = $3 WHERE user_id = $1 AND product_id = $2",
                )
                .bind(user.as_uuid())
                .bind(product_id.as_str())
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

    async fn sells(&self, product_id: &ProductId) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM catalog_products WHERE product_id = $1 AND NOT deleted)",
        )
        .bind(product_id.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Applies a product snapshot unless the projection holds a newer one. Returns whether it
    /// changed anything.
    pub async fn project_product(&self, product: &CatalogProduct) -> Result<bool, StoreError> {
        let applied = sqlx::query(
            "INSERT INTO catalog_products (product_id, name, price_minor, currency, sequence)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (product_id) DO UPDATE
                 SET name = EXCLUDED.name, price_minor = EXCLUDED.price_minor,
                     currency = EXCLUDED.currency, sequence = EXCLUDED.sequence
                 WHERE catalog_products.sequence < EXCLUDED.sequence",
        )
        .bind(&product.product_id)
        .bind(&product.name)
        .bind(product.price.minor())
        .bind(product.price.currency().as_str())
        .bind(product.sequence)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(applied == 1)
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
