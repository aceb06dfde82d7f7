-- Roleport's AWS signing keys under rotation ([aws.rotation]). A key goes next -> current ->
-- retiring -> retired (src/protocol/aws/rotation.rs). The private key is kept only sealed
-- (AES-256-GCM under the [sealing] key named by sealing_key_id, bound to the key id and its
-- certificate) and is dropped when the key retires. File keys (aws.signing_keys) get a row, with
-- no private key, only when a rotated key replaces them, so they can retire too.
CREATE TABLE aws_signing_keys (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('next', 'current', 'retiring', 'retired')),
    from_file BOOLEAN NOT NULL DEFAULT false,
    sealing_key_id TEXT,
    sealed_private_key BYTEA,
    certificate_der BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    trusted_at TIMESTAMPTZ,
    signing_from TIMESTAMPTZ,
    retiring_since TIMESTAMPTZ,
    retired_at TIMESTAMPTZ,
    CHECK (from_file OR state = 'retired'
           OR (sealing_key_id IS NOT NULL AND sealed_private_key IS NOT NULL)),
    -- A key signs only once every account confirmed it holds it.
    CHECK (state <> 'current' OR from_file OR trusted_at IS NOT NULL)
);
-- At most one next and one current key, whatever two replicas try.
CREATE UNIQUE INDEX aws_signing_keys_one_per_state ON aws_signing_keys (state)
    WHERE state IN ('next', 'current');
