-- Every rule names the identity providers it applies to: a JSON array of IdP ids, or ["*"] for
-- every IdP. Rules imported before this carried one id or none. One id becomes a one-element
-- list; none stays NULL, which Roleport reads as "applies to no IdP" (fail closed) and reports
-- (log, /readyz, `roleport rules explain`) until the rules are imported again with `idp` set.
ALTER TABLE mapping_rules
    ADD COLUMN idps JSONB CHECK (idps IS NULL OR jsonb_typeof(idps) = 'array');
UPDATE mapping_rules SET idps = jsonb_build_array(idp) WHERE idp IS NOT NULL;
ALTER TABLE mapping_rules DROP COLUMN idp;
