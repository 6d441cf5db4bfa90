-- 咨询 consultations: questions sent up; the common workflow columns
-- (office/workflow), the answer, and whether the answering unit made it
-- public (the knowledge base of that unit's subtree).
CREATE TABLE office_consultations (
    id            BIGSERIAL PRIMARY KEY,
    state         TEXT NOT NULL,
    title         TEXT NOT NULL,
    from_org_id   TEXT COLLATE "C" NOT NULL,
    from_org_path TEXT COLLATE "C" NOT NULL,
    from_org_name TEXT NOT NULL,
    author_id     TEXT COLLATE "C" NOT NULL,
    author_name   TEXT NOT NULL,
    to_org_id     TEXT COLLATE "C" NOT NULL,
    to_org_path   TEXT COLLATE "C" NOT NULL,
    to_org_name   TEXT NOT NULL,
    to_parent_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    due_at        BIGINT,
    version       BIGINT NOT NULL DEFAULT 1,
    body            TEXT NOT NULL,
    answer          TEXT NOT NULL DEFAULT '',
    answer_org_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
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

-- The knowledge base's Chinese search: a pg_trgm GIN index over question,
-- details and answer, which ILIKE '%国家助学金%' uses (trigrams of any
-- characters, so no word segmentation is needed). Needs the extension:
-- superuser, or created beforehand by an administrator. It goes to the
-- public schema and its operator class is named with it, so a deployment
-- (or a test) whose search_path is another schema still finds it.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE INDEX office_consultations_search ON office_consultations
    USING gin ((title || ' ' || body || ' ' || answer) public.gin_trgm_ops) WHERE public = 1;
