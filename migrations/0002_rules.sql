-- Accounts, roles and mapping rules: the authority for who may use what.
CREATE TABLE aws_accounts (
    id        TEXT PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    alias     TEXT NOT NULL,
    partition TEXT NOT NULL CHECK (partition IN ('aws', 'aws-cn', 'aws-us-gov'))
);

CREATE TABLE aws_roles (
    arn                 TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES aws_accounts (id),
    display_name        TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    max_session_seconds INTEGER NOT NULL CHECK (max_session_seconds BETWEEN 900 AND 43200)
);

CREATE TABLE mapping_rules (
    id                  TEXT PRIMARY KEY,
    description         TEXT NOT NULL DEFAULT '',
    idp                 TEXT,
    claim               TEXT NOT NULL,
    match_kind          TEXT NOT NULL,
    pattern             TEXT NOT NULL,
    roles               JSONB NOT NULL,
    effect              TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
    priority            INTEGER NOT NULL DEFAULT 0,
    max_session_seconds INTEGER,
    session_tags        JSONB NOT NULL DEFAULT '{}',
    transitive_tag_keys JSONB NOT NULL DEFAULT '[]',
    capabilities        JSONB NOT NULL DEFAULT '[]'
);

-- Bumped by every import, so each replica reloads its compiled rules when it changes.
CREATE TABLE rules_generation (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    generation BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
INSERT INTO rules_generation (generation, updated_at) VALUES (0, '1970-01-01T00:00:00Z');
