-- OIDC pass-through: the upstream ID token goes to AssumeRoleWithWebIdentity as it is.
ALTER TABLE sessions
    ADD COLUMN upstream_id_token TEXT,
    ADD COLUMN upstream_id_token_expires_at TIMESTAMPTZ;

ALTER TABLE aws_accounts DROP CONSTRAINT IF EXISTS aws_accounts_access_mode_check;
ALTER TABLE aws_accounts
    ADD CONSTRAINT aws_accounts_access_mode_check
        CHECK (access_mode IN ('saml_broker', 'saml_passthrough', 'assume_role', 'federation_token',
                               'oidc_broker', 'oidc_passthrough'));

ALTER TABLE aws_roles DROP CONSTRAINT IF EXISTS aws_roles_access_mode_check;
ALTER TABLE aws_roles
    ADD CONSTRAINT aws_roles_access_mode_check
        CHECK (access_mode IN ('saml_broker', 'saml_passthrough', 'assume_role', 'federation_token',
                               'oidc_broker', 'oidc_passthrough'));
