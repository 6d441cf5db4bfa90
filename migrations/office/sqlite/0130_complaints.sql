-- 投诉 complaints: the common workflow columns (office/workflow); the
-- unit complained about or the case; whether the complainant's name is
-- hidden from the unit complained about; when each state was entered
-- (the deadlines are computed from these); due_at is the deadline of
-- the current state.
CREATE TABLE office_complaints (
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
    body           TEXT NOT NULL,
    about_org_id   TEXT NOT NULL DEFAULT '',
    about_org_name TEXT NOT NULL DEFAULT '',
    case_ref       TEXT NOT NULL DEFAULT '',
    anonymous      INTEGER NOT NULL DEFAULT 0,
    reply          TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    accepted_at    BIGINT,
    started_at     BIGINT,
    replied_at     BIGINT,
    closed_at      BIGINT
);
CREATE INDEX office_complaints_author ON office_complaints (author_id, id);
CREATE INDEX office_complaints_holder ON office_complaints (to_org_id, state, id);
CREATE INDEX office_complaints_holder_all ON office_complaints (to_org_id, id);
CREATE INDEX office_complaints_from ON office_complaints (from_org_path, id);
-- Deadlines: only items in a state with one have due_at, so these stay small
-- and "past its deadline" is a range, never a walk over everything below.
CREATE INDEX office_complaints_due ON office_complaints (to_parent_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX office_complaints_below ON office_complaints (to_parent_id, id, due_at);
CREATE INDEX office_complaints_held_due ON office_complaints (to_org_id, due_at) WHERE due_at IS NOT NULL;
