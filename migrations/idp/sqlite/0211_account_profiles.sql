-- What self-registration collects beside the account row: the position and
-- the optional resident ID number (GB 11643). The number is AES-256-GCM
-- encrypted (id_number_key_id names the key, for rotation) and found only
-- through id_number_index, a keyed HMAC blind index that keeps one number
-- to one account (SECURITY.md #52, PIPL Art. 51).
CREATE TABLE account_profiles (
    account_id       TEXT PRIMARY KEY,
    position         TEXT NOT NULL DEFAULT '',
    id_number_enc    BLOB,
    id_number_key_id TEXT,
    id_number_index  TEXT UNIQUE,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
