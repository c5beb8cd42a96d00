-- The variants of products with options, as `product.created` announced them: stock is kept
-- per variant (its id), and `Product.stock` sums a product's variants. A product without
-- options has no row here: it is its own single variant, its stock kept under its own id.
CREATE TABLE product_variants (
    variant_id  text PRIMARY KEY,
    product_id  text NOT NULL
);
CREATE INDEX product_variants_product_idx ON product_variants (product_id);
