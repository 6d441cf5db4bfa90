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
    -- Byte order, so "path >= prefix AND path < next(prefix)" is a subtree
    -- range whatever the database's default collation.
    org_path   TEXT COLLATE "C" NOT NULL DEFAULT '',
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

-- The head of the chain: appends lock this row (SELECT … FOR UPDATE), so
-- writers in several processes line up one after another.
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
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        RAISE EXCEPTION 'audit_log is append-only (%)', TG_OP;
    END IF;
    IF OLD.seq > (SELECT seq FROM audit_checkpoint WHERE id = 1) THEN
        RAISE EXCEPTION 'audit_log rows are deleted only by archiving';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard();
