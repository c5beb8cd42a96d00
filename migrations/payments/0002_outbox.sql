-- The transactional outbox (kernel::events::outbox::postgres). Events are written here in the
-- same transaction as the state change they describe; the relay publishes them in `position`
-- order and marks them published once the broker confirmed.
CREATE TABLE outbox (
    position      bigserial PRIMARY KEY,
    id            uuid NOT NULL UNIQUE,
    event_type    text NOT NULL,
    subject       text NOT NULL,
    envelope      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);

CREATE INDEX outbox_unpublished_idx ON outbox (position) WHERE published_at IS NULL;

-- The last sequence number given to each aggregate's events.
CREATE TABLE outbox_sequences (
    subject        text PRIMARY KEY,
    last_sequence  bigint NOT NULL
);
