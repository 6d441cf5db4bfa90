-- Organisation tree, stored as a materialised path: path is
-- '/<root id>/…/<own id>/', so "everything under X" is the range
-- path >= '/…/X/' AND path < '/…/X0' ('0' follows '/' in byte order) and
-- one b-tree index serves it. The ids and the path are COLLATE "C" so that
-- comparisons are bytewise whatever the database locale: the range above
-- is then exact, the plain b-tree index on path serves it (no
-- text_pattern_ops needed), and ordering matches SQLite's.
CREATE TABLE orgs (
    id          TEXT COLLATE "C" PRIMARY KEY,
    parent_id   TEXT COLLATE "C" REFERENCES orgs (id),
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    region_code TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL DEFAULT 'regular',
    stages      TEXT NOT NULL DEFAULT '',
    lines       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'active',
    path        TEXT COLLATE "C" NOT NULL,
    depth       INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX orgs_path ON orgs (path);
CREATE INDEX orgs_parent ON orgs (parent_id, id);
