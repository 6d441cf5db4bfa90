-- 投稿 submissions: articles sent up for review; the common workflow columns
-- (office/workflow) and the article. published_org_* is the unit that
-- published it: its subtree lists the article.
CREATE TABLE office_submissions (
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
    body_html        TEXT NOT NULL,
    published_org_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    published_name   TEXT NOT NULL DEFAULT '',
    published_at     BIGINT
);
CREATE INDEX office_submissions_author ON office_submissions (author_id, id);
CREATE INDEX office_submissions_holder ON office_submissions (to_org_id, state, id);
CREATE INDEX office_submissions_holder_all ON office_submissions (to_org_id, id);
CREATE INDEX office_submissions_from ON office_submissions (from_org_path, id);
-- Deadlines: only items in a state with one have due_at, so these stay small
-- and "past its deadline" is a range, never a walk over everything below.
CREATE INDEX office_submissions_due ON office_submissions (to_parent_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX office_submissions_below ON office_submissions (to_parent_id, id, due_at);
CREATE INDEX office_submissions_held_due ON office_submissions (to_org_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX office_submissions_published ON office_submissions (published_org_id, id);

-- Images of a submission, kept in the database so an article and its
-- images are written (or refused) together. The type is read from the
-- content.
CREATE TABLE office_submission_images (
    submission_id BIGINT NOT NULL,
    n             INTEGER NOT NULL,
    name          TEXT NOT NULL,
    mime          TEXT NOT NULL,
    data          BYTEA NOT NULL,
    PRIMARY KEY (submission_id, n)
);
