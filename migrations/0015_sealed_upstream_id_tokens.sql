-- The upstream ID token kept for oidc_passthrough is stored only sealed (AES-256-GCM under a key
-- derived from a [sealing] key and the session cookie, bound to the session id hash, the key id
-- and the token's expiry). Tokens stored in plaintext cannot be sealed here: the key is outside
-- the database and the cookie only in the browser. They are dropped; their expiry stays as the
-- mark that a token was kept, so those sessions are asked to sign in again for pass-through.
ALTER TABLE sessions
    ADD COLUMN upstream_id_token_sealed BYTEA,
    ADD COLUMN upstream_id_token_key_id TEXT;

-- Rewrite the rows first: a dropped column's bytes otherwise stay in the old row versions until
-- they are rewritten. (The superseded versions are then dead and reclaimed by (auto)vacuum.)
UPDATE sessions SET upstream_id_token = NULL WHERE upstream_id_token IS NOT NULL;
ALTER TABLE sessions DROP COLUMN upstream_id_token;

ALTER TABLE sessions
    ADD CONSTRAINT sessions_upstream_id_token_sealed_check
        CHECK ((upstream_id_token_sealed IS NULL) = (upstream_id_token_key_id IS NULL)
               AND (upstream_id_token_sealed IS NULL OR upstream_id_token_expires_at IS NOT NULL));
