-- The orders service's view of the catalog: a projection of the products service's events
-- (product.created / updated / deleted), so carts are priced without calling another service.
-- `sequence` is the last product event applied: older or repeated events change nothing.
CREATE TABLE catalog_products (
    product_id   text PRIMARY KEY,
    name         text NOT NULL,
    price_minor  bigint NOT NULL CHECK (price_minor >= 0),
    currency     text NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    sequence     bigint NOT NULL
);

-- One cart per customer: a line per product.
CREATE TABLE cart_items (
    user_id     uuid NOT NULL,
    product_id  text NOT NULL,
    quantity    integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, product_id)
);
