-- The office system's own tables. Units and people are a synced copy of the
-- IdP's SCIM directory (never the IdP's tables). Times are Unix seconds.
-- Paths are materialised ('/<root>/…/<unit>/'), so a subtree is the range
-- path >= '/…/X/' AND path < '/…/X0'.

CREATE TABLE office_units (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    path        TEXT NOT NULL,
    region_code TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL DEFAULT 'regular',
    active      INTEGER NOT NULL DEFAULT 1,
    modified    BIGINT NOT NULL
);
CREATE INDEX office_units_path ON office_units (path);
CREATE INDEX office_units_parent ON office_units (parent_id, id);

CREATE TABLE office_people (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    phone        TEXT NOT NULL DEFAULT '',
    org_id       TEXT NOT NULL,
    org_path     TEXT NOT NULL,
    role         TEXT NOT NULL DEFAULT 'staff',
    active       INTEGER NOT NULL DEFAULT 1,
    show_phone   INTEGER NOT NULL DEFAULT 0,
    modified     BIGINT NOT NULL
);
CREATE INDEX office_people_path ON office_people (org_path, id);
CREATE INDEX office_people_org ON office_people (org_id, id);
CREATE INDEX office_people_name ON office_people (name);

-- Where the incremental sync stopped, per SCIM resource type.
CREATE TABLE office_sync (
    resource  TEXT PRIMARY KEY,
    mark      TEXT NOT NULL,
    synced_at BIGINT NOT NULL
);

-- People per unit subtree (active accounts), recomputed after a sync; the
-- coverage report's roster.
CREATE TABLE office_unit_sizes (
    org_id TEXT PRIMARY KEY,
    people INTEGER NOT NULL
);

-- An admin's reveal of a full phone number: who, whose, when.
CREATE TABLE office_phone_reveals (
    id        INTEGER PRIMARY KEY,
    viewer_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX office_phone_reveals_person ON office_phone_reveals (person_id, at);

-- A dispatch: the original publication of a notice (parent_id NULL,
-- root_id = id) or a forward of one further down. chain is the lineage of
-- dispatch ids from the root, '/1/7/12/', so "this forward and every forward
-- below it" is a range on chain.
CREATE TABLE office_notices (
    id              INTEGER PRIMARY KEY,
    root_id         BIGINT NOT NULL,
    parent_id       BIGINT,
    chain           TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    org_path        TEXT NOT NULL,
    org_name        TEXT NOT NULL,
    author_id       TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    title           TEXT NOT NULL,
    body_html       TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    deadline        BIGINT,
    require_confirm INTEGER NOT NULL DEFAULT 0,
    target_kind     TEXT NOT NULL,
    target          TEXT NOT NULL DEFAULT '',
    reminded_at     BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX office_notices_root ON office_notices (root_id, id);
CREATE INDEX office_notices_org ON office_notices (org_path, id);

CREATE TABLE office_notice_files (
    id         INTEGER PRIMARY KEY,
    notice_id  BIGINT NOT NULL,
    name       TEXT NOT NULL,
    mime       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    stored     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX office_notice_files_notice ON office_notice_files (notice_id);

-- One receipt per person per notice; dispatch_id and chain name the
-- dispatch that reached the person.
CREATE TABLE office_receipts (
    root_id      BIGINT NOT NULL,
    person_id    TEXT NOT NULL,
    dispatch_id  BIGINT NOT NULL,
    chain        TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    org_path     TEXT NOT NULL,
    read_at      BIGINT,
    confirmed_at BIGINT,
    PRIMARY KEY (root_id, person_id)
);
CREATE INDEX office_receipts_person ON office_receipts (person_id, root_id);
CREATE INDEX office_receipts_org ON office_receipts (org_id, root_id, chain);

-- Counters per (dispatch, unit): recipients reached through the dispatch or
-- forwards below it, in the unit's subtree, and how many read / confirmed.
-- Kept up to date as receipts arrive, so roll-ups never scan receipts.
CREATE TABLE office_notice_counts (
    dispatch_id BIGINT NOT NULL,
    org_id      TEXT NOT NULL,
    recipients  INTEGER NOT NULL DEFAULT 0,
    readers     INTEGER NOT NULL DEFAULT 0,
    confirmed   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dispatch_id, org_id)
);

-- In-office messages ("remind the unread").
CREATE TABLE office_messages (
    id         INTEGER PRIMARY KEY,
    person_id  TEXT NOT NULL,
    text       TEXT NOT NULL,
    link       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    read_at    BIGINT
);
CREATE INDEX office_messages_person ON office_messages (person_id, id);

CREATE TABLE office_activities (
    id             INTEGER PRIMARY KEY,
    org_id         TEXT NOT NULL,
    org_path       TEXT NOT NULL,
    org_name       TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    title          TEXT NOT NULL,
    kind           TEXT NOT NULL DEFAULT 'meeting',
    place          TEXT NOT NULL DEFAULT '',
    link           TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    starts_at      BIGINT NOT NULL,
    ends_at        BIGINT NOT NULL,
    reg_opens      BIGINT NOT NULL,
    reg_closes     BIGINT NOT NULL,
    signin_opens   BIGINT NOT NULL,
    signin_closes  BIGINT NOT NULL,
    target_kind    TEXT NOT NULL,
    target         TEXT NOT NULL DEFAULT '',
    secret         TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX office_activities_org ON office_activities (org_path, id);

CREATE TABLE office_registrations (
    activity_id   BIGINT NOT NULL,
    person_id     TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    org_path      TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    checked_in_at BIGINT,
    PRIMARY KEY (activity_id, person_id)
);
CREATE INDEX office_registrations_org ON office_registrations (activity_id, org_id);

-- Counters per (activity, unit subtree): expected attendees (a snapshot
-- of the roster when the activity was created), registered, signed in.
CREATE TABLE office_activity_counts (
    activity_id BIGINT NOT NULL,
    org_id      TEXT NOT NULL,
    expected    INTEGER NOT NULL DEFAULT 0,
    registered  INTEGER NOT NULL DEFAULT 0,
    checked_in  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (activity_id, org_id)
);
