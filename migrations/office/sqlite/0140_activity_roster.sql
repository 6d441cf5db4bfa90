-- Coverage follows the roster (docs/office.md, "Activities: the rotating
-- code and coverage"): the sync moves the counters of activities that have
-- not ended as people join, leave and move.

-- Activities created from now on follow the roster; older ones keep the
-- snapshot of their creation (their registrations were counted without
-- regard to it).
ALTER TABLE office_activities ADD COLUMN follows_roster INTEGER NOT NULL DEFAULT 0;
CREATE INDEX office_activities_live ON office_activities (org_id, ends_at);

-- on_roster: the person is on the activity's roster now (active, in its
-- audience), and org_id/org_path are where the directory places them.
-- Otherwise (left, disabled, moved out of the audience, or registered
-- before the sync knew them) org_id/org_path stay where they were last
-- counted.
ALTER TABLE office_registrations ADD COLUMN on_roster INTEGER NOT NULL DEFAULT 1;
CREATE INDEX office_registrations_person ON office_registrations (person_id, activity_id);
CREATE INDEX office_registrations_off ON office_registrations (activity_id, org_path) WHERE on_roster = 0;

-- Each counter row carries its unit's place in the tree (as the activity
-- last saw it: frozen once it ended), so the children of a unit and the
-- gaps of a subtree are read from the counters alone. registered and
-- checked_in count people on the roster; off_registered / off_checked_in
-- those who registered and are not (or no longer) on it. SQLite adds a
-- CHECK only with a new table.
CREATE TABLE office_activity_counts_new (
    activity_id    BIGINT NOT NULL,
    org_id         TEXT NOT NULL,
    parent_id      TEXT NOT NULL DEFAULT '',
    path           TEXT NOT NULL DEFAULT '',
    expected       INTEGER NOT NULL DEFAULT 0,
    registered     INTEGER NOT NULL DEFAULT 0,
    checked_in     INTEGER NOT NULL DEFAULT 0,
    off_registered INTEGER NOT NULL DEFAULT 0,
    off_checked_in INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (activity_id, org_id),
    CHECK (expected >= 0 AND registered >= 0 AND checked_in >= 0 AND off_registered >= 0 AND off_checked_in >= 0)
);
INSERT INTO office_activity_counts_new (activity_id, org_id, parent_id, path, expected, registered, checked_in)
SELECT c.activity_id, c.org_id, COALESCE(u.parent_id, ''), COALESCE(u.path, ''), c.expected, c.registered, c.checked_in
FROM office_activity_counts c LEFT JOIN office_units u ON u.id = c.org_id;
DROP TABLE office_activity_counts;
ALTER TABLE office_activity_counts_new RENAME TO office_activity_counts;
CREATE INDEX office_activity_counts_parent ON office_activity_counts (activity_id, parent_id, org_id);
-- The gaps: units with people expected and nobody registered / signed in,
-- in path order, so the topmost of each is found by skipping subtrees.
CREATE INDEX office_activity_counts_unregistered ON office_activity_counts (activity_id, path) WHERE expected > 0 AND registered = 0;
CREATE INDEX office_activity_counts_absent ON office_activity_counts (activity_id, path) WHERE expected > 0 AND checked_in = 0;
