-- Orders: placed from a cart at checkout, then moved along by the saga and by people
-- (subgraphs/orders/src/status.rs is the state machine).
CREATE TABLE orders (
    id                uuid PRIMARY KEY,                -- UUIDv7: newest sorts last
    user_id           uuid NOT NULL,
    status            text NOT NULL CHECK (status IN
                        ('PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REJECTED')),
    status_reason     text,
    total_minor       bigint NOT NULL CHECK (total_minor >= 0),
    currency          text NOT NULL,
    shipping_address  jsonb NOT NULL,
    -- Checkout is idempotent per customer and key: the same key replays this order.
    idempotency_key   text NOT NULL,
    -- A digest of what was asked with the key (address and token), so the same key sent
    -- with a different request is refused instead of silently answered with this order.
    request_digest    text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);

CREATE INDEX orders_user_idx ON orders (user_id, id);
CREATE INDEX orders_status_idx ON orders (status, id);
-- The time-out sweeper looks for orders left PENDING.
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'PENDING';

-- The lines as ordered: name and price are the catalog's at checkout.
CREATE TABLE order_items (
    order_id          uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position          integer NOT NULL,
    product_id        text NOT NULL,
    product_name      text NOT NULL,
    unit_price_minor  bigint NOT NULL CHECK (unit_price_minor >= 0),
    quantity          integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    PRIMARY KEY (order_id, position)
);

-- Every status the order went through, oldest first. `sequence` is the sequence number of
-- the order.status_changed event that announced it (per order, from the outbox), so a live
-- feed can tell an entry it already sent from a newer one.
CREATE TABLE order_history (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sequence         bigint NOT NULL,
    status           text NOT NULL,
    previous_status  text,
    reason           text,
    at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, sequence)
);
