-- Organisation tree, stored as a materialised path: path is
-- '/<root id>/…/<own id>/', so "everything under X" is the range
-- path >= '/…/X/' AND path < '/…/X0' ('0' follows '/' in byte order) and
-- one b-tree index serves it. SQLite compares TEXT bytewise (BINARY), which
-- is the order the range relies on.
CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES orgs (id),
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    region_code TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL DEFAULT 'regular',
    stages      TEXT NOT NULL DEFAULT '',
    lines       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'active',
    path        TEXT NOT NULL,
    depth       INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX orgs_path ON orgs (path);
CREATE INDEX orgs_parent ON orgs (parent_id, id);
