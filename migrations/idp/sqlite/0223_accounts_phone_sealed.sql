-- Phone numbers are personal data (SECURITY.md #52, as the resident ID
-- number): stored AES-256-GCM encrypted (phone_enc, the account id as
-- additional data; phone_key_id names the key) and found only through
-- phone_index, a keyed HMAC blind index that now carries the one-number-
-- one-account rule. The plaintext column stays, nullable, only for rows
-- written before: xszz seals them at startup (account.Store.
-- SealPlaintextPhones, which needs the key and so cannot be SQL) and
-- clears it. SQLite cannot drop NOT NULL in place, so the table is
-- rebuilt (nothing references it by foreign key).
CREATE TABLE accounts_sealed (
    id           TEXT PRIMARY KEY,
    phone        TEXT UNIQUE,
    phone_enc    BLOB,
    phone_key_id TEXT,
    phone_index  TEXT,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    org_id       TEXT,
    role         TEXT NOT NULL DEFAULT 'staff',
    activated_at BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    disabled_by  TEXT NOT NULL DEFAULT ''
);
INSERT INTO accounts_sealed (id, phone, name, status, org_id, role, activated_at, created_at, updated_at, disabled_by)
    SELECT id, phone, name, status, org_id, role, activated_at, created_at, updated_at, disabled_by FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_sealed RENAME TO accounts;
CREATE UNIQUE INDEX accounts_phone_index ON accounts (phone_index);
CREATE INDEX accounts_org ON accounts (org_id);
CREATE INDEX accounts_org_id ON accounts (org_id, id);
CREATE INDEX accounts_org_status ON accounts (org_id, status, id);
