-- IdP core: accounts, clients, fosite's requests, SSO sessions, consents, signing keys.
-- Times are Unix seconds (BIGINT) in both dialects, so stores share one query text.

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    phone        TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    org_id       TEXT,
    role         TEXT NOT NULL DEFAULT 'staff',
    activated_at BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX accounts_org ON accounts (org_id);

CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    secret_hash BYTEA,
    name        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE oauth_requests (
    kind         TEXT NOT NULL,
    signature    TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    session_id   TEXT NOT NULL DEFAULT '',
    active       BOOLEAN NOT NULL,
    requested_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (kind, signature)
);
CREATE INDEX oauth_requests_request ON oauth_requests (request_id);
CREATE INDEX oauth_requests_subject ON oauth_requests (subject);
CREATE INDEX oauth_requests_session ON oauth_requests (session_id);
CREATE INDEX oauth_requests_expires ON oauth_requests (expires_at);

CREATE TABLE oauth_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE consents (
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    amr          TEXT NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    enc_key_id  TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    expires_at  BIGINT
);

CREATE TABLE keyring (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO keyring (id, version) VALUES (1, 0);
