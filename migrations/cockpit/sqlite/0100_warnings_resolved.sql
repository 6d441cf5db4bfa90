-- Warnings that held at an earlier refresh and no longer do. Their ids
-- stay taken, so a new finding never gets one and a link to one can say
-- the warning was resolved rather than that it never existed; a finding
-- that holds again takes its id back. Rewritten by every refresh with
-- cockpit_warnings, in the same transaction.
CREATE TABLE cockpit_warnings_resolved (
    id          BIGINT PRIMARY KEY,
    rule        TEXT NOT NULL,
    severity    INTEGER NOT NULL,
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    programme   TEXT NOT NULL,
    detail      TEXT NOT NULL,
    resolved_on TEXT NOT NULL
);
