-- When each session began, so a back-channel logout ends only the sessions
-- begun by its iat (a delivery retried late leaves a newer session alone).
-- Rows from before this column read 0: begun before any logout.
ALTER TABLE office_web_sessions ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
