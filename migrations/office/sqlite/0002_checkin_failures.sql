-- Wrong sign-in codes per person and activity in a ten-minute window, so
-- the six-digit code cannot be guessed by trying (activity.MaxFailures).
CREATE TABLE office_checkin_failures (
    activity_id  BIGINT NOT NULL,
    person_id    TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures     INTEGER NOT NULL,
    PRIMARY KEY (activity_id, person_id)
);
