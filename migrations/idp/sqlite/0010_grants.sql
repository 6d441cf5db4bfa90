-- Application grants per account (cockpit access), given by admins.
CREATE TABLE grants (
    account_id TEXT NOT NULL,
    app        TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, app)
);
CREATE INDEX grants_app ON grants (app, account_id);
-- Searching accounts inside a subtree joins accounts to orgs by org_id and
-- pages by account id.
CREATE INDEX accounts_org_id ON accounts (org_id, id);
