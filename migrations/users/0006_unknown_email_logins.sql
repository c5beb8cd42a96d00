-- Sign-in failures for emails without an account, counted exactly like an account's
-- (subgraphs/users/src/domain/lockout.rs), so an attacker gets the same answers and the same
-- lock and backoff whether or not an address has an account. Keyed by the SHA-256 of the
-- normalised email (the address itself is not kept), and the client's SHA-256.
CREATE TABLE unknown_email_logins (
    email_hash       bytea PRIMARY KEY,
    failed_logins    integer NOT NULL DEFAULT 0,
    throttled_until  timestamptz,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE unknown_email_login_clients (
    email_hash    bytea NOT NULL,
    client        bytea NOT NULL,
    failures      integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (email_hash, client)
);
