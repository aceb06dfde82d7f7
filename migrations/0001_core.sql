-- Identity providers as configured (synced from the settings file at start-up), so rules and
-- audit rows can name them.
CREATE TABLE identity_providers (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Server-side sessions; the cookie holds a random token, the table only its SHA-256.
CREATE TABLE sessions (
    id_hash      BYTEA PRIMARY KEY,
    csrf_token   TEXT NOT NULL,
    identity     JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- SP-initiated logins in flight: the AuthnRequest id, bound to the browser that started it.
CREATE TABLE pending_logins (
    relay_handle TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL UNIQUE,
    idp          TEXT NOT NULL,
    browser_hash BYTEA NOT NULL,
    return_to    TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

-- Replay cache shared by every replica.
CREATE TABLE used_assertions (
    idp          TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (idp, assertion_id)
);
CREATE INDEX used_assertions_expires_at ON used_assertions (expires_at);

-- Append-only, hash-chained audit log.
CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    ref_id     TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    event      JSONB NOT NULL,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL UNIQUE
);
CREATE INDEX audit_events_ref_id ON audit_events (ref_id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
