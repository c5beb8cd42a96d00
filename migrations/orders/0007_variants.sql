-- Variants (issue 16). The catalog projection keeps the variants of products with options
-- (replaced whole with each newer product event); a product without options is its own single
-- variant: its id, SKU and price are the product's, and it has no row in catalog_variants.
ALTER TABLE catalog_products
    ADD COLUMN sku text NOT NULL DEFAULT '',
    ADD COLUMN has_variants boolean NOT NULL DEFAULT false;

CREATE TABLE catalog_variants (
    variant_id   text PRIMARY KEY,
    product_id   text NOT NULL REFERENCES catalog_products (product_id) ON DELETE CASCADE,
    sku          text NOT NULL,
    title        text NOT NULL,
    price_minor  bigint NOT NULL CHECK (price_minor >= 0),
    currency     text NOT NULL
);
CREATE INDEX catalog_variants_product_idx ON catalog_variants (product_id);

-- A cart line is one variant of a product: the line's key is the variant (the product's own
-- id for a product without options, which is what every line held before).
ALTER TABLE cart_items ADD COLUMN variant_id text;
UPDATE cart_items SET variant_id = product_id;
ALTER TABLE cart_items
    ALTER COLUMN variant_id SET NOT NULL,
    DROP CONSTRAINT cart_items_pkey,
    ADD PRIMARY KEY (user_id, variant_id);

-- The variant as ordered: its id, title and SKU at checkout, kept with the order.
ALTER TABLE order_items
    ADD COLUMN variant_id text,
    ADD COLUMN variant_title text,
    ADD COLUMN sku text;
UPDATE order_items SET variant_id = product_id, variant_title = product_name, sku = '';
ALTER TABLE order_items
    ALTER COLUMN variant_id SET NOT NULL,
    ALTER COLUMN variant_title SET NOT NULL,
    ALTER COLUMN sku SET NOT NULL;
