-- Email verification and password reset (subgraphs/users/src/domain/account_token.rs).
-- `email_verified_at` is set when the account proves it reads its mail (a verification link,
-- or a password-reset link, which arrives at the same address).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- One-time links. Only the SHA-256 of the token is stored (it is 256 random bits), so the
-- table cannot be replayed. `email` is the address the link was mailed to: a link verifies
-- that address only.
CREATE TABLE account_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('PASSWORD_RESET', 'EMAIL_VERIFICATION')),
    email       text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose, created_at);
