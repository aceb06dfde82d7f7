-- Credentials issued on the credentials page wait here, sealed, for the one GET that shows them
-- (POST → 303 → GET, so a reload never mints new keys). Key: a [sealing] key and the session
-- cookie; associated data binds the row's id, session and expiry. Taken (deleted) when shown;
-- gone with their session; short-lived.
CREATE TABLE shown_once_credentials (
    id              TEXT PRIMARY KEY,
    session_id_hash BYTEA NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    key_id          TEXT NOT NULL,
    sealed          BYTEA NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX shown_once_credentials_expires_at ON shown_once_credentials (expires_at);
