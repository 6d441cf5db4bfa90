-- Sign-in sessions of the cockpit's pages (internal/rpsession): in the
-- database, so they survive a restart and every replica sees a
-- back-channel logout. id is a hash of the session id; data is sealed.
CREATE TABLE cockpit_web_sessions (
    id         TEXT PRIMARY KEY,
    sub        TEXT NOT NULL,
    sid        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    data       BLOB NOT NULL
);
CREATE INDEX cockpit_web_sessions_sub ON cockpit_web_sessions (sub);
CREATE INDEX cockpit_web_sessions_sid ON cockpit_web_sessions (sid);
CREATE INDEX cockpit_web_sessions_expires ON cockpit_web_sessions (expires_at);
