-- Lockout per account and client (subgraphs/users/src/domain/lockout.rs). A client is a
-- device id or the address the proxy saw, stored as its SHA-256 (a device id is a secret).
-- `signed_in_at` marks a client that has signed in to the account: a known client is exempt
-- from the account-wide backoff.
CREATE TABLE login_clients (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client        bytea NOT NULL,
    failures      integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    signed_in_at  timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, client)
);

-- `users.failed_logins` now counts failures from every client since the last sign-in, and
-- the account-wide backoff (for clients that never signed in) lasts until `throttled_until`.
ALTER TABLE users RENAME COLUMN locked_until TO throttled_until;
UPDATE users SET throttled_until = NULL, failed_logins = 0;
