-- Shipping, tax and discount codes (subgraphs/orders/src/pricing.rs prices a cart from them;
-- subgraphs/orders/src/store/pricing.rs reads and writes them). Money is minor units of the
-- shop's currency (USD), never a float.

CREATE TABLE shipping_methods (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    description      text,
    price_minor      bigint NOT NULL CHECK (price_minor >= 0),
    -- From this subtotal on the method costs nothing.
    free_over_minor  bigint CHECK (free_over_minor >= 0),
    -- ISO 3166-1 alpha-2 codes; empty: everywhere.
    countries        text[] NOT NULL DEFAULT '{}',
    estimated_days   integer CHECK (estimated_days >= 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- One rate per country; `rate_millionths` 200000 is 20 %.
CREATE TABLE tax_rates (
    country          text PRIMARY KEY,
    name             text NOT NULL,
    rate_millionths  integer NOT NULL CHECK (rate_millionths >= 0 AND rate_millionths < 1000000),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- `value` is in the kind's unit: hundredths of a percent (1000 = 10 %), minor units, or 0.
-- `times_used` is taken in the checkout transaction by a conditional UPDATE, so it never
-- passes `usage_limit` however many checkouts race.
CREATE TABLE discount_codes (
    code                    text PRIMARY KEY,          -- upper case
    kind                    text NOT NULL CHECK (kind IN ('PERCENTAGE', 'FIXED_AMOUNT', 'FREE_SHIPPING')),
    value                   bigint NOT NULL CHECK (value >= 0),
    minimum_subtotal_minor  bigint CHECK (minimum_subtotal_minor >= 0),
    starts_at               timestamptz,
    ends_at                 timestamptz,
    usage_limit             integer CHECK (usage_limit >= 1),
    times_used              integer NOT NULL DEFAULT 0
                              CHECK (times_used >= 0 AND (usage_limit IS NULL OR times_used <= usage_limit)),
    active                  boolean NOT NULL DEFAULT true,
    created_at              timestamptz NOT NULL DEFAULT now()
);

-- What a cart holds beside its lines: where it ships and how.
CREATE TABLE carts (
    user_id             uuid PRIMARY KEY,
    shipping_address    jsonb,
    shipping_method_id  uuid REFERENCES shipping_methods (id) ON DELETE SET NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The codes a shopper applied, in the order they were applied.
CREATE TABLE cart_discount_codes (
    user_id   uuid NOT NULL,
    code      text NOT NULL REFERENCES discount_codes (code) ON DELETE CASCADE,
    added_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, code)
);

-- The amounts an order was placed with. Orders placed before had neither discounts, shipping
-- nor tax: their subtotal is their total.
ALTER TABLE orders
    ADD COLUMN subtotal_minor        bigint CHECK (subtotal_minor >= 0),
    ADD COLUMN discount_total_minor  bigint NOT NULL DEFAULT 0 CHECK (discount_total_minor >= 0),
    ADD COLUMN shipping_method_name  text,
    ADD COLUMN shipping_total_minor  bigint NOT NULL DEFAULT 0 CHECK (shipping_total_minor >= 0),
    ADD COLUMN tax_total_minor       bigint NOT NULL DEFAULT 0 CHECK (tax_total_minor >= 0),
    ADD COLUMN prices_include_tax    boolean NOT NULL DEFAULT false,
    -- [{"code", "kind", "amountMinor"}], as applied.
    ADD COLUMN discounts             jsonb NOT NULL DEFAULT '[]',
    -- [{"name", "rateMillionths", "amountMinor"}], as computed.
    ADD COLUMN tax_lines             jsonb NOT NULL DEFAULT '[]';
UPDATE orders SET subtotal_minor = total_minor;
ALTER TABLE orders ALTER COLUMN subtotal_minor SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_totals_add_up CHECK (
    subtotal_minor - discount_total_minor + shipping_total_minor + tax_total_minor = total_minor
);
