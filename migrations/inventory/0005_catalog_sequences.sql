-- The sequence number (the products service's, per product) of the last catalogue event the
-- inventory applied to each product's variants. Competing consumers can apply a product's
-- events out of order; an older event arriving after a newer one must not undo it (a late
-- `product.created` recording a variant that an update already dropped).
CREATE TABLE catalog_sequences (
    product_id  text PRIMARY KEY,
    sequence    bigint NOT NULL
);
