-- `match: ad_group` rules: the NetBIOS domains a `DOMAIN\name` value may come from, and
-- whether a bare name matches when domains are named (NULL: as the document left it unset).
ALTER TABLE mapping_rules
    ADD COLUMN ad_domains JSONB NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN ad_allow_unqualified BOOLEAN;
