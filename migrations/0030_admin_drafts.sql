-- What an admin sent to a form (a rules document for the dry run or import) when the page first
-- wanted a fresh sign-in: kept sealed while they go through the identity provider, then put back
-- in the form. Key: a [sealing] key and a cookie only that browser holds (its hash is the row's
-- key); associated data binds the person, the form and the expiry. One per person (a newer one
-- replaces it); taken (deleted) when shown; short-lived.
CREATE TABLE admin_drafts (
    idp         TEXT NOT NULL,
    subject     TEXT NOT NULL,
    holder_hash BYTEA NOT NULL,
    form        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    sealed      BYTEA NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (idp, subject)
);
CREATE INDEX admin_drafts_expires_at ON admin_drafts (expires_at);
