-- SAML pass-through is retired: AWS redeems only a Response addressed to its own sign-in URL, and
-- an IdP addresses what it posts to Roleport to Roleport's ACS. Nothing bearer-like from a SAML
-- sign-in is kept any more. Stored rules that still name `saml_passthrough` stay as they are
-- (the access_mode checks keep accepting it) and are refused at credential time, never silently
-- changed to another mode.
ALTER TABLE sessions
    DROP COLUMN IF EXISTS upstream_saml_response,
    DROP COLUMN IF EXISTS upstream_saml_issued_at;

-- GetFederationToken reaches up to 36 h, for roles whose mode is federation_token and whose
-- max_session_seconds says so explicitly (the rules check keeps every other role at 12 h).
ALTER TABLE aws_roles DROP CONSTRAINT IF EXISTS aws_roles_max_session_seconds_check;
ALTER TABLE aws_roles
    ADD CONSTRAINT aws_roles_max_session_seconds_check
        CHECK (max_session_seconds BETWEEN 900 AND 129600);
