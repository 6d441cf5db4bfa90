-- TOTP second factor (idp/totp). The secret is AES-256-GCM encrypted
-- (nonce || ciphertext, the account id as additional data); key_id names
-- the key so it can be rotated. last_step is the last accepted RFC 6238
-- time step: a code is accepted only for a later step, which an
-- UPDATE … WHERE last_step < $step makes atomic (no replay, SECURITY.md #51).
CREATE TABLE totp_credentials (
    account_id   TEXT PRIMARY KEY,
    secret_enc   BYTEA NOT NULL,
    key_id       TEXT NOT NULL,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- One-time recovery codes, stored as keyed hashes; used_at marks a spent
-- code.
CREATE TABLE totp_recovery_codes (
    account_id TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

-- Second-step attempts per pending sign-in (the nonce of the signed
-- pending-MFA state): a slot is taken before a code is checked, so
-- parallel guesses cannot exceed the limit.
CREATE TABLE totp_attempts (
    nonce      TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    done_at    BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX totp_attempts_account ON totp_attempts (account_id, created_at);
CREATE INDEX totp_attempts_expires ON totp_attempts (expires_at);
