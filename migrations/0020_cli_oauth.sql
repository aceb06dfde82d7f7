-- Roleport as the OAuth 2.0 authorization server of its own CLI (roleport-cli). Everything here
-- hangs off a browser session: deleting the session (sign-out, revocation, expiry purge) deletes
-- its codes, token families and tokens. Codes and tokens are stored only as SHA-256 hashes.

-- One sign-in of the CLI: the refresh-token rotation chain and the access tokens it produced.
-- Revoking a family (logout, refresh-token reuse) deletes it and, with it, every token.
CREATE TABLE cli_token_families (
    id            UUID PRIMARY KEY,
    session_hash  BYTEA NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL,
    -- How the CLI signed in: 'authorization_code' or 'device_code'.
    grant_type    TEXT NOT NULL
);
CREATE INDEX cli_token_families_session ON cli_token_families (session_hash);

CREATE TABLE cli_tokens (
    token_hash  BYTEA PRIMARY KEY,
    family_id   UUID NOT NULL REFERENCES cli_token_families (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    -- Refresh tokens: set when exchanged. A rotated token presented again revokes the family.
    rotated_at  TIMESTAMPTZ
);
CREATE INDEX cli_tokens_family ON cli_tokens (family_id);
CREATE INDEX cli_tokens_expires_at ON cli_tokens (expires_at);

-- Authorization codes (single use, short-lived). A used code is kept until it expires, with the
-- family it produced, so a second redemption revokes that family (RFC 6749 §4.1.2).
CREATE TABLE cli_authorization_codes (
    code_hash       BYTEA PRIMARY KEY,
    session_hash    BYTEA NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    family_id       UUID REFERENCES cli_token_families (id) ON DELETE SET NULL
);
CREATE INDEX cli_authorization_codes_expires_at ON cli_authorization_codes (expires_at);

-- Device authorizations (RFC 8628). Created unauthenticated (rate limited), approved by a
-- signed-in person on /device, redeemed once by the polling CLI.
CREATE TABLE cli_device_codes (
    device_code_hash  BYTEA PRIMARY KEY,
    user_code         TEXT NOT NULL UNIQUE,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    interval_seconds  INTEGER NOT NULL,
    last_poll_at      TIMESTAMPTZ,
    -- Who asked, shown on the approval page so a phished code is recognisable.
    source_ip         TEXT,
    user_agent        TEXT,
    session_hash      BYTEA REFERENCES sessions (id_hash) ON DELETE CASCADE,
    approved_at       TIMESTAMPTZ,
    denied_at         TIMESTAMPTZ,
    redeemed_at       TIMESTAMPTZ
);
CREATE INDEX cli_device_codes_expires_at ON cli_device_codes (expires_at);
