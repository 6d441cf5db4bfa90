-- The trail shared by the workflows of office part II (submissions,
-- consultations, complaints): every step of every item, who and when.
-- Append-only: the triggers refuse updates and deletes, so a recorded
-- transition cannot be edited afterwards.
CREATE TABLE office_trail (
    module         TEXT NOT NULL,
    item_id        BIGINT NOT NULL,
    seq            INTEGER NOT NULL,
    action         TEXT NOT NULL,
    from_state     TEXT NOT NULL DEFAULT '',
    to_state       TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    actor_name     TEXT NOT NULL,
    actor_org_id   TEXT NOT NULL,
    actor_org_name TEXT NOT NULL,
    to_org_name    TEXT NOT NULL DEFAULT '',
    comment        TEXT NOT NULL DEFAULT '',
    at             BIGINT NOT NULL,
    PRIMARY KEY (module, item_id, seq)
);

CREATE TRIGGER office_trail_no_update BEFORE UPDATE ON office_trail
BEGIN
    SELECT RAISE(ABORT, 'office_trail is append-only');
END;

CREATE TRIGGER office_trail_no_delete BEFORE DELETE ON office_trail
BEGIN
    SELECT RAISE(ABORT, 'office_trail is append-only');
END;
