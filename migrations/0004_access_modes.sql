-- How AWS is reached, per account and overridable per role (all optional: NULL inherits, and an
-- account without a mode uses saml_broker). See protocol::mapping::Access.
ALTER TABLE aws_accounts
    ADD COLUMN access_mode TEXT
        CHECK (access_mode IN ('saml_broker', 'saml_passthrough', 'assume_role', 'federation_token')),
    ADD COLUMN saml_provider TEXT,
    ADD COLUMN external_id TEXT;

ALTER TABLE aws_roles
    ADD COLUMN access_mode TEXT
        CHECK (access_mode IN ('saml_broker', 'saml_passthrough', 'assume_role', 'federation_token')),
    ADD COLUMN saml_provider TEXT,
    ADD COLUMN external_id TEXT,
    -- GetFederationToken's session policy: the inline JSON as written, and managed policy ARNs
    -- (a JSON array; NULL when the role names no session policy at all).
    ADD COLUMN session_policy_inline TEXT,
    ADD COLUMN session_policy_arns JSONB;

-- SAML pass-through: the upstream IdP's own signed Response (base64, exactly as verified) and its
-- assertion's IssueInstant, kept only for sign-ins whose assertion carries the AWS Role
-- attribute. Never logged; gone with the session.
ALTER TABLE sessions
    ADD COLUMN upstream_saml_response TEXT,
    ADD COLUMN upstream_saml_issued_at TIMESTAMPTZ;
