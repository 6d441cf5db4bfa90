-- Phone numbers are personal data (SECURITY.md #52, as the resident ID
-- number): stored AES-256-GCM encrypted (phone_enc, the account id as
-- additional data; phone_key_id names the key) and found only through
-- phone_index, a keyed HMAC blind index that now carries the one-number-
-- one-account rule. The plaintext column stays, nullable, only for rows
-- written before: xszz seals them at startup (account.Store.
-- SealPlaintextPhones, which needs the key and so cannot be SQL) and
-- clears it.
ALTER TABLE accounts ADD COLUMN phone_enc BYTEA;
ALTER TABLE accounts ADD COLUMN phone_key_id TEXT;
ALTER TABLE accounts ADD COLUMN phone_index TEXT;
CREATE UNIQUE INDEX accounts_phone_index ON accounts (phone_index);
ALTER TABLE accounts ALTER COLUMN phone DROP NOT NULL;
