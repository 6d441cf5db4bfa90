-- 咨询 consultations: questions sent up; the common workflow columns
-- (office/workflow), the answer, and whether the answering unit made it
-- public (the knowledge base of that unit's subtree).
CREATE TABLE office_consultations (
    id            INTEGER PRIMARY KEY,
    state         TEXT NOT NULL,
    title         TEXT NOT NULL,
    from_org_id   TEXT NOT NULL,
    from_org_path TEXT NOT NULL,
    from_org_name TEXT NOT NULL,
    author_id     TEXT NOT NULL,
    author_name   TEXT NOT NULL,
    to_org_id     TEXT NOT NULL,
    to_org_path   TEXT NOT NULL,
    to_org_name   TEXT NOT NULL,
    to_parent_id  TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    due_at        BIGINT,
    version       BIGINT NOT NULL DEFAULT 1,
    body            TEXT NOT NULL,
    answer          TEXT NOT NULL DEFAULT '',
    answer_org_id   TEXT NOT NULL DEFAULT '',
    answer_org_name TEXT NOT NULL DEFAULT '',
    answered_at     BIGINT,
    public          INTEGER NOT NULL DEFAULT 0,
    -- The last step by anyone: a question answered and quiet since for
    -- the configured period closes itself.
    quiet_since     BIGINT NOT NULL
);
CREATE INDEX office_consultations_author ON office_consultations (author_id, id);
CREATE INDEX office_consultations_holder ON office_consultations (to_org_id, state, id);
CREATE INDEX office_consultations_holder_all ON office_consultations (to_org_id, id);
CREATE INDEX office_consultations_from ON office_consultations (from_org_path, id);
-- Deadlines: only items in a state with one have due_at, so these stay small
-- and "past its deadline" is a range, never a walk over everything below.
CREATE INDEX office_consultations_due ON office_consultations (to_parent_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX office_consultations_below ON office_consultations (to_parent_id, id, due_at);
CREATE INDEX office_consultations_held_due ON office_consultations (to_org_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX office_consultations_public ON office_consultations (answer_org_id, public, id);
CREATE INDEX office_consultations_quiet ON office_consultations (state, quiet_since);

-- The knowledge base's Chinese search: an FTS5 index with the trigram
-- tokenizer (any three characters, so 国家助学金 is found without word
-- segmentation) over question, details and answer, kept by triggers.
-- Queries under three characters fall back to LIKE.
CREATE VIRTUAL TABLE office_consultations_fts USING fts5(
    title, body, answer, content='office_consultations', content_rowid='id', tokenize='trigram');

CREATE TRIGGER office_consultations_fts_insert AFTER INSERT ON office_consultations BEGIN
    INSERT INTO office_consultations_fts (rowid, title, body, answer) VALUES (new.id, new.title, new.body, new.answer);
END;
CREATE TRIGGER office_consultations_fts_update AFTER UPDATE OF title, body, answer ON office_consultations BEGIN
    INSERT INTO office_consultations_fts (office_consultations_fts, rowid, title, body, answer) VALUES ('delete', old.id, old.title, old.body, old.answer);
    INSERT INTO office_consultations_fts (rowid, title, body, answer) VALUES (new.id, new.title, new.body, new.answer);
END;
CREATE TRIGGER office_consultations_fts_delete AFTER DELETE ON office_consultations BEGIN
    INSERT INTO office_consultations_fts (office_consultations_fts, rowid, title, body, answer) VALUES ('delete', old.id, old.title, old.body, old.answer);
END;
