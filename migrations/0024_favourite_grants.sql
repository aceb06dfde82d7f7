-- A person's starred roles on the picker. Keyed by the identity as signed (IdP + subject) and
-- the grant id (`<account id>-<role name>`), so a star survives sign-outs and rule edits; a star
-- for a grant the person no longer holds is simply not shown.
CREATE TABLE favourite_grants (
    idp        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (idp, subject, grant_id)
);
