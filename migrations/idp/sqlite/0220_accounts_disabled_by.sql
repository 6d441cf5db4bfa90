-- Who disabled an account, as the org path of the disabler's unit
-- ('system' for the command line; '' when not disabled): a disable made
-- by a superior can be undone only at or above the disabler's unit, so a
-- peer or subordinate of a contained admin cannot re-enable it.
ALTER TABLE accounts ADD COLUMN disabled_by TEXT NOT NULL DEFAULT '';
