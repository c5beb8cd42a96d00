//! Shipping methods, tax rates, discount codes and what a cart holds beside its lines (its
//! shipping address, its method, its codes) in Postgres. [`crate::pricing`] prices from what
//! this reads.
//!
//! Failure: a row the pricing types cannot hold is [`StoreError::Corrupt`]; a code that exists
//! already is an outcome (`false`), from the primary key, never a check-first query.

use chrono::{DateTime, Utc};
use emporium_kernel::ids::UserId;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::checkout::Address;
use crate::lines::{Line, LinesError};
use crate::pricing::{
    self, CartPricing, DiscountCode, DiscountKind, DiscountValue, PricedCart, ShippingMethod,
    TaxRate, TaxRateValue,
};

use super::{cart_lines, OrderStore, StoreError};

const METHOD_COLUMNS: &str =
    "id, name, description, price_minor, free_over_minor, countries, estimated_days";
const CODE_COLUMNS: &str = "code, kind, value, minimum_subtotal_minor, starts_at, ends_at, \
                            usage_limit, times_used, active";

fn method_of(row: &PgRow) -> Result<ShippingMethod, StoreError> {
    Ok(ShippingMethod {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        price_minor: row.try_get("price_minor")?,
        free_over_minor: row.try_get("free_over_minor")?,
        countries: row.try_get("countries")?,
        estimated_days: row.try_get("estimated_days")?,
    })
}

fn code_of(row: &PgRow) -> Result<DiscountCode, StoreError> {
    let code: String = row.try_get("code")?;
    let kind: String = row.try_get("kind")?;
    let kind = DiscountKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("discount kind {kind:?}")))?;
    let value = DiscountValue::from_stored(kind, row.try_get("value")?)
        .ok_or_else(|| StoreError::Corrupt(format!("discount {code}: value")))?;
    Ok(DiscountCode {
        value,
        minimum_subtotal_minor: row.try_get("minimum_subtotal_minor")?,
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        usage_limit: row.try_get("usage_limit")?,
        times_used: row.try_get("times_used")?,
        active: row.try_get("active")?,
        code,
    })
}

/// A cart as stored: its lines and what it holds beside them, with the shop's methods.
#[derive(Debug, Clone)]
pub struct CartState {
    pub lines: Vec<Line>,
    pub shipping_address: Option<Address>,
    pub shipping_method_id: Option<Uuid>,
    /// The cart's codes, oldest first; `None` for a code deleted since.
    pub codes: Vec<(String, Option<DiscountCode>)>,
    /// Every configured shipping method.
    pub methods: Vec<ShippingMethod>,
}

impl CartState {
    /// The cart priced for `country` (its own address's unless another is given).
    pub fn price(
        &self,
        country: Option<&str>,
        tax_rate: Option<&TaxRate>,
        prices_include_tax: bool,
        now: DateTime<Utc>,
    ) -> Result<PricedCart, LinesError> {
        pricing::price(CartPricing {
            lines: &self.lines,
            country,
            methods: &self.methods,
            chosen_method: self.shipping_method_id,
            codes: &self.codes,
            tax_rate,
            prices_include_tax,
            now,
        })
    }
}

/// Reads a cart; `lock` holds its lines and its cart row until the transaction ends (checkout),
/// so a concurrent change of the cart waits for the order.
pub(crate) async fn cart_state(
    conn: &mut PgConnection,
    user: UserId,
    lock: bool,
) -> Result<CartState, StoreError> {
    let lines = cart_lines(conn, user, lock).await?;
    let lock_clause = if lock { " FOR UPDATE" } else { "" };
    let cart = sqlx::query(&format!(
        "SELECT shipping_address, shipping_method_id FROM carts WHERE user_id = $1{lock_clause}"
    ))
    .bind(user.as_uuid())
    .fetch_optional(&mut *conn)
    .await?;
    let (shipping_address, shipping_method_id) = match cart {
        None => (None, None),
        Some(row) => {
            let address: Option<serde_json::Value> = row.try_get("shipping_address")?;
            let address = address
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("cart address: {e}")))?;
            (address, row.try_get("shipping_method_id")?)
        }
    };
    let code_rows = sqlx::query(&format!(
        "SELECT c.code AS applied, {} FROM cart_discount_codes c
         LEFT JOIN discount_codes d ON d.code = c.code
         WHERE c.user_id = $1 ORDER BY c.added_at, c.code",
        CODE_COLUMNS
            .split(", ")
            .map(|column| format!("d.{}", column.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(user.as_uuid())
    .fetch_all(&mut *conn)
    .await?;
    let codes = code_rows
        .iter()
        .map(|row| {
            let applied: String = row.try_get("applied")?;
            let found = match row.try_get::<Option<String>, _>("code")? {
                Some(_) => Some(code_of(row)?),
                None => None,
            };
            Ok((applied, found))
        })
        .collect::<Result<_, StoreError>>()?;
    let methods = shipping_methods(conn).await?;
    Ok(CartState {
        lines,
        shipping_address,
        shipping_method_id,
        codes,
        methods,
    })
}

async fn shipping_methods(conn: &mut PgConnection) -> Result<Vec<ShippingMethod>, StoreError> {
    sqlx::query(&format!(
        "SELECT {METHOD_COLUMNS} FROM shipping_methods ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(method_of)
    .collect()
}

/// The tax rate of a country, if it has one.
pub(crate) async fn tax_rate(
    conn: &mut PgConnection,
    country: &str,
) -> Result<Option<TaxRate>, StoreError> {
    let row =
        sqlx::query("SELECT country, name, rate_millionths FROM tax_rates WHERE country = $1")
            .bind(country)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|row| {
        let millionths: i32 = row.try_get("rate_millionths")?;
        Ok(TaxRate {
            country: row.try_get("country")?,
            name: row.try_get("name")?,
            rate: TaxRateValue::from_millionths(i64::from(millionths))
                .ok_or_else(|| StoreError::Corrupt(format!("tax rate {millionths}")))?,
        })
    })
    .transpose()
}

/// A code by its (upper-case) name.
pub(crate) async fn discount_code(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<DiscountCode>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {CODE_COLUMNS} FROM discount_codes WHERE code = $1"
    ))
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(code_of).transpose()
}

/// Takes one use of each code for an order, in the checkout's transaction: a conditional
/// UPDATE, so of any number of concurrent checkouts exactly the limit succeed (the row lock
/// makes the others re-read `times_used` after the winner's commit). Returns the first code
/// that had no use left (or is gone or deactivated since), after which the caller rolls back.
pub(crate) async fn take_uses(
    conn: &mut PgConnection,
    codes: &[String],
) -> Result<Option<String>, StoreError> {
    for code in codes {
        let taken = sqlx::query(
            "UPDATE discount_codes SET times_used = times_used + 1
             WHERE code = $1 AND active AND (usage_limit IS NULL OR times_used < usage_limit)",
        )
        .bind(code)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if taken == 0 {
            return Ok(Some(code.clone()));
        }
    }
    Ok(None)
}

impl OrderStore {
    /// The customer's cart with what it holds beside its lines, and its country's tax rate.
    pub async fn cart_state(
        &self,
        user: UserId,
    ) -> Result<(CartState, Option<TaxRate>), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let state = cart_state(&mut conn, user, false).await?;
        let rate = match &state.shipping_address {
            Some(address) => tax_rate(&mut conn, &address.country).await?,
            None => None,
        };
        Ok((state, rate))
    }

    /// Sets where the cart ships to.
    pub async fn set_cart_address(
        &self,
        user: UserId,
        address: &Address,
    ) -> Result<(), StoreError> {
        let address = serde_json::to_value(address)
            .map_err(|e| StoreError::Corrupt(format!("address: {e}")))?;
        sqlx::query(
            "INSERT INTO carts (user_id, shipping_address) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE
                 SET shipping_address = EXCLUDED.shipping_address, updated_at = now()",
        )
        .bind(user.as_uuid())
        .bind(&address)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets the cart's shipping method (the caller checked that it serves the cart's address).
    /// Returns false when the method was deleted meanwhile.
    pub async fn set_cart_method(&self, user: UserId, method: Uuid) -> Result<bool, StoreError> {
        let set = sqlx::query(
            "INSERT INTO carts (user_id, shipping_method_id)
             SELECT $1, id FROM shipping_methods WHERE id = $2
             ON CONFLICT (user_id) DO UPDATE
                 SET shipping_method_id = EXCLUDED.shipping_method_id, updated_at = now()
             RETURNING shipping_method_id",
        )
        .bind(user.as_uuid())
        .bind(method)
        .fetch_optional(&self.pool)
        .await?;
        Ok(set.is_some())
    }

    /// Adds a code to the cart (again: nothing changes). Returns false when the code was
    /// deleted meanwhile.
    pub async fn add_cart_code(&self, user: UserId, code: &str) -> Result<bool, StoreError> {
        let added = sqlx::query(
            "INSERT INTO cart_discount_codes (user_id, code)
             SELECT $1, code FROM discount_codes WHERE code = $2
             ON CONFLICT (user_id, code) DO UPDATE SET code = EXCLUDED.code
             RETURNING code",
        )
        .bind(user.as_uuid())
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        Ok(added.is_some())
    }

    /// Removes a code from the cart; false when the cart did not hold it.
    pub async fn remove_cart_code(&self, user: UserId, code: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query(
            "DELETE FROM cart_discount_codes WHERE user_id = $1 AND code = $2 RETURNING code",
        )
        .bind(user.as_uuid())
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        Ok(removed.is_some())
    }

    pub async fn create_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO shipping_methods
                 (id, name, description, price_minor, free_over_minor, countries, estimated_days)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(method.id)
        .bind(&method.name)
        .bind(&method.description)
        .bind(method.price_minor)
        .bind(method.free_over_minor)
        .bind(&method.countries)
        .bind(method.estimated_days)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every configured method, oldest first.
    pub async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        shipping_methods(&mut conn).await
    }

    /// Sets (or replaces) a country's rate.
    pub async fn set_tax_rate(&self, rate: &TaxRate) -> Result<(), StoreError> {
        let millionths = i32::try_from(rate.rate.millionths())
            .map_err(|_| StoreError::Corrupt("tax rate out of range".to_owned()))?;
        sqlx::query(
            "INSERT INTO tax_rates (country, name, rate_millionths) VALUES ($1, $2, $3)
             ON CONFLICT (country) DO UPDATE
                 SET name = EXCLUDED.name, rate_millionths = EXCLUDED.rate_millionths,
                     updated_at = now()",
        )
        .bind(&rate.country)
        .bind(&rate.name)
        .bind(millionths)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Creates a code; false when one of that name exists already.
    pub async fn create_discount_code(&self, code: &DiscountCode) -> Result<bool, StoreError> {
        let created = sqlx::query(
            "INSERT INTO discount_codes (code, kind, value, minimum_subtotal_minor, starts_at,
                                         ends_at, usage_limit)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (code) DO NOTHING RETURNING code",
        )
        .bind(&code.code)
        .bind(code.value.kind().as_str())
        .bind(code.value.stored())
        .bind(code.minimum_subtotal_minor)
        .bind(code.starts_at)
        .bind(code.ends_at)
        .bind(code.usage_limit)
        .fetch_optional(&self.pool)
        .await?;
        Ok(created.is_some())
    }

    /// Deactivates a code: it stays listed and no longer applies. `None` if there is none.
    pub async fn deactivate_discount_code(
        &self,
        code: &str,
    ) -> Result<Option<DiscountCode>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE discount_codes SET active = false WHERE code = $1 RETURNING {CODE_COLUMNS}"
        ))
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(code_of).transpose()
    }

    pub async fn discount_code(&self, code: &str) -> Result<Option<DiscountCode>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        discount_code(&mut conn, code).await
    }

    /// A page of codes in alphabetical order after `after` (exclusive), whether more follow,
    /// and how many there are.
    pub async fn discount_codes(
        &self,
        after: Option<&str>,
        size: usize,
    ) -> Result<(Vec<DiscountCode>, bool, i64), StoreError> {
        let limit = i64::try_from(size).unwrap_or(i64::MAX - 1) + 1;
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM discount_codes WHERE ($1::text IS NULL OR code > $1)
             ORDER BY code LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut codes = rows.iter().map(code_of).collect::<Result<Vec<_>, _>>()?;
        let more = codes.len() > size;
        codes.truncate(size);
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM discount_codes")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((codes, more, total))
    }
}

/// A demo shipping method (a fixed id, so seeding again finds it).
struct DemoMethod {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    price_minor: i64,
    free_over_minor: Option<i64>,
    countries: &'static [&'static str],
    estimated_days: i32,
}

const DEMO_METHODS: [DemoMethod; 2] = [
    DemoMethod {
        id: "0192f0c4-0000-7000-8000-000000000001",
        name: "Standard",
        description: "Tracked parcel post.",
        price_minor: 499,
        free_over_minor: None,
        countries: &[],
        estimated_days: 5,
    },
    DemoMethod {
        id: "0192f0c4-0000-7000-8000-000000000002",
        name: "Express",
        description: "Next-day courier; free from 100.00.",
        price_minor: 1499,
        free_over_minor: Some(10_000),
        countries: &["US", "DE", "FR", "GB"],
        estimated_days: 1,
    },
];

/// The demo shop's tax rates: EU VAT and the UK's, and a US sales tax (one rate for the
/// country: a simplification of the states' rates).
const DEMO_TAX_RATES: [(&str, &str, i32); 4] = [
    ("DE", "VAT", 190_000),
    ("FR", "VAT", 200_000),
    ("GB", "VAT", 200_000),
    ("US", "Sales tax", 72_500),
];

impl OrderStore {
    /// Loads the demo shop's shipping methods, tax rates and the code WELCOME10 (10 % off).
    /// Idempotent: what exists already (or was changed by an admin) is left alone. Returns how
    /// many rows it wrote.
    pub async fn seed_demo_pricing(&self) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut written = 0;
        for method in DEMO_METHODS {
            let id: Uuid = method
                .id
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("demo method id: {e}")))?;
            let countries: Vec<String> = method.countries.iter().map(|c| (*c).to_owned()).collect();
            written += sqlx::query(
                "INSERT INTO shipping_methods
                     (id, name, description, price_minor, free_over_minor, countries, estimated_days)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(method.name)
            .bind(method.description)
            .bind(method.price_minor)
            .bind(method.free_over_minor)
            .bind(&countries)
            .bind(method.estimated_days)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        for (country, name, millionths) in DEMO_TAX_RATES {
            written += sqlx::query(
                "INSERT INTO tax_rates (country, name, rate_millionths) VALUES ($1, $2, $3)
                 ON CONFLICT (country) DO NOTHING",
            )
            .bind(country)
            .bind(name)
            .bind(millionths)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        written += sqlx::query(
            "INSERT INTO discount_codes (code, kind, value) VALUES ('WELCOME10', 'PERCENTAGE', 1000)
             ON CONFLICT (code) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(written)
    }
}
