-- The inventory's durable record. Redis holds the hot counts; every change to them is also
-- written here, in the transaction that publishes its events, so the counts can be rebuilt
-- exactly when Redis restarts empty.

-- Current counts per product: the sum of its movements, kept up to date in the same
-- transaction as each movement. The CHECK is a second line of defence: even a Redis that
-- drifted cannot make the durable record oversell.
CREATE TABLE stock_levels (
    product_id  text PRIMARY KEY,
    on_hand     integer NOT NULL,
    reserved    integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_levels_counts_valid CHECK (reserved >= 0 AND on_hand >= reserved)
);

-- Every change to a product's counts, append-only: the audit trail and the ledger that
-- `emporium inventory reconcile` checks `stock_levels` and Redis against.
CREATE TABLE stock_movements (
    id              bigserial PRIMARY KEY,
    product_id      text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('INIT', 'SET', 'CLEAR', 'RESERVE', 'RELEASE', 'FULFIL')),
    order_id        text,
    on_hand_delta   integer NOT NULL,
    reserved_delta  integer NOT NULL,
    on_hand_after   integer NOT NULL,
    reserved_after  integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, id);

-- One row per order the inventory has seen: what it reserved and where that stands.
-- RELEASED with no items is a tombstone: the order was closed before it was reserved, so a
-- late `order.placed` must not reserve for it.
CREATE TABLE reservations (
    order_id    text PRIMARY KEY,
    status      text NOT NULL CHECK (status IN ('RESERVED', 'REJECTED', 'RELEASED', 'FULFILLED')),
    items       jsonb NOT NULL,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_reserved_idx ON reservations (order_id) WHERE status = 'RESERVED';

-- Products the catalog deleted: their stock can no longer be set.
CREATE TABLE deleted_products (
    product_id  text PRIMARY KEY,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
