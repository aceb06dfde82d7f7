-- Refused sign-ins that carry no verified identity (bad signature, garbled form, unknown
-- InResponseTo or state, refused /login calls…) are counted here per minute, reason, IdP and
-- client address instead of one hash-chained audit row each, so junk cannot grow the audit log
-- or queue behind its lock. Distinct clients per minute are capped (the rest fold into the
-- client `other`) and old minutes are pruned, so the table stays bounded even when addresses
-- are spoofed.
CREATE TABLE refused_sign_ins (
    minute         TIMESTAMPTZ NOT NULL,
    reason         TEXT NOT NULL,
    idp            TEXT NOT NULL,
    client         TEXT NOT NULL,
    count          BIGINT NOT NULL,
    last_reference TEXT NOT NULL,
    last_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (minute, reason, idp, client)
);
CREATE INDEX refused_sign_ins_last_reference ON refused_sign_ins (last_reference);

-- Pending logins remember the client address that started them, so each address can hold only
-- a bounded number at once.
ALTER TABLE pending_logins ADD COLUMN client TEXT NOT NULL DEFAULT 'unknown';
CREATE INDEX pending_logins_client ON pending_logins (client, expires_at);
ALTER TABLE oidc_pending_logins ADD COLUMN client TEXT NOT NULL DEFAULT 'unknown';
CREATE INDEX oidc_pending_logins_client ON oidc_pending_logins (client, expires_at);
