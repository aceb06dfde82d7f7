-- Pending OpenID Connect sign-ins: one row per authorization request, bound to the browser that
-- started it, consumed (deleted) by the callback. The state is stored only as a SHA-256 hash;
-- the nonce and PKCE verifier are sealed (AES-256-GCM) under a key derived from the browser
-- cookie, which the database never sees, so a database reader cannot finish someone's sign-in.
CREATE TABLE oidc_pending_logins (
    state_hash   BYTEA PRIMARY KEY,
    idp          TEXT NOT NULL,
    browser_hash BYTEA NOT NULL,
    sealed       BYTEA NOT NULL,
    return_to    TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX oidc_pending_logins_expires ON oidc_pending_logins (expires_at);
