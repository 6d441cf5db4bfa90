-- Signing keys are published in the JWKS before they sign (active_from), so
-- every replica and relying party knows a key before any token carries it.
-- Keys written before this column existed signed from their creation.
ALTER TABLE signing_keys ADD COLUMN active_from BIGINT NOT NULL DEFAULT 0;
