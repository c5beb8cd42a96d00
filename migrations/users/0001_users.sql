-- Accounts of the users service.
-- `email` is stored normalised (trimmed, lower-cased) by the application, and Postgres enforces
-- its uniqueness: a check-first query would race with concurrent sign-ups.
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text NOT NULL CONSTRAINT users_email_key UNIQUE,
    name            text NOT NULL,
    password_hash   text NOT NULL,
    role            text NOT NULL DEFAULT 'CUSTOMER' CHECK (role IN ('CUSTOMER', 'ADMIN')),
    -- Lockout: consecutive failed logins, and until when the account refuses logins.
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are opaque random strings; only their SHA-256 is stored, so a leaked table
-- cannot be replayed. Every login starts a family; each refresh spends one token and issues the
-- next in the same family. Presenting a spent token again means it was stolen (or replayed), and
-- revokes the whole family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
