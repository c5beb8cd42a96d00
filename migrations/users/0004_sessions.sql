-- Sessions end (subgraphs/users/src/store/postgres.rs): every token of a login's family
-- carries the family's absolute end, a rotation copies it, and no token outlives it.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at timestamptz;
UPDATE refresh_tokens t
SET family_expires_at = f.started + interval '90 days'
FROM (SELECT family_id, min(created_at) AS started FROM refresh_tokens GROUP BY family_id) f
WHERE f.family_id = t.family_id;
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
UPDATE refresh_tokens SET expires_at = family_expires_at WHERE expires_at > family_expires_at;
