-- Security audit log: append-only, hash-chained (see idp/audit and docs/audit.md).
-- Times are Unix milliseconds (at_ms): a busy minute holds thousands of
-- sign-ins, and investigators line rows up with other logs below the second.

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    type       TEXT NOT NULL,
    result     TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    actor_id   TEXT NOT NULL DEFAULT '',
    subject_id TEXT NOT NULL DEFAULT '',
    org_id     TEXT NOT NULL DEFAULT '',
    org_path   TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_type ON audit_log (type, seq);
CREATE INDEX audit_log_org ON audit_log (org_id, seq);
CREATE INDEX audit_log_org_path ON audit_log (org_path, seq);
CREATE INDEX audit_log_at ON audit_log (at_ms);

-- The head of the chain: appends lock this row, so writers in several
-- processes line up one after another.
CREATE TABLE audit_chain (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq  BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, head_seq, head_hash) VALUES (1, 0, '');

-- The last archived row: the remaining chain starts from it. A row of its
-- own, so archiving does not hold up appends.
CREATE TABLE audit_checkpoint (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    archived_at BIGINT NOT NULL
);
INSERT INTO audit_checkpoint (id, seq, hash, archived_at) VALUES (1, 0, '', 0);

-- Guards against mistakes (and against anyone without DDL rights): rows
-- never change, and only rows already behind the archive checkpoint may go.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > (SELECT seq FROM audit_checkpoint WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are deleted only by archiving');
END;
