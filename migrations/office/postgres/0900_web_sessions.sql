-- Sign-in sessions of the office's pages (internal/rpsession): in the
-- database, so they survive a restart and every replica sees a
-- back-channel logout. id is a hash of the session id; data is sealed.
CREATE TABLE office_web_sessions (
    id         TEXT PRIMARY KEY,
    sub        TEXT NOT NULL,
    sid        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    data       BYTEA NOT NULL
);
CREATE INDEX office_web_sessions_sub ON office_web_sessions (sub);
CREATE INDEX office_web_sessions_sid ON office_web_sessions (sid);
CREATE INDEX office_web_sessions_expires ON office_web_sessions (expires_at);
