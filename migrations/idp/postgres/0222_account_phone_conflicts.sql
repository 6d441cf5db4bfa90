-- A phone number asked for (by an admin provisioning it, or by someone
-- registering with a code sent to it) while another account holds it
-- (hardening issue 16). Nobody is told where the number is used; the
-- admins of the lowest unit above both accounts (resolve_org_id, whose
-- path resolve_path lets a subtree range find it) decide whose it is.
CREATE TABLE account_phone_conflicts (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    source         TEXT NOT NULL,
    name           TEXT NOT NULL,
    org_id         TEXT NOT NULL,
    role           TEXT NOT NULL DEFAULT 'staff',
    requested_by   TEXT NOT NULL,
    resolve_org_id TEXT NOT NULL,
    resolve_path   TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    resolved_at    BIGINT
);
CREATE INDEX account_phone_conflicts_path ON account_phone_conflicts (resolve_path, id);
CREATE INDEX account_phone_conflicts_account ON account_phone_conflicts (account_id);
