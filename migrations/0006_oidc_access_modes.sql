-- AssumeRoleWithWebIdentity: Roleport as the OpenID provider AWS trusts (oidc_broker).
ALTER TABLE aws_accounts DROP CONSTRAINT IF EXISTS aws_accounts_access_mode_check;
ALTER TABLE aws_accounts
    ADD CONSTRAINT aws_accounts_access_mode_check
        CHECK (access_mode IN ('saml_broker', 'saml_passthrough', 'assume_role', 'federation_token',
                               'oidc_broker')),
    -- The client id registered with the IAM OIDC provider (oidc_broker); NULL inherits/defaults.
    ADD COLUMN oidc_audience TEXT;

ALTER TABLE aws_roles DROP CONSTRAINT IF EXISTS aws_roles_access_mode_check;
ALTER TABLE aws_roles
    ADD CONSTRAINT aws_roles_access_mode_check
        CHECK (access_mode IN ('saml_broker', 'saml_passthrough', 'assume_role', 'federation_token',
                               'oidc_broker')),
    ADD COLUMN oidc_audience TEXT;
