-- The approval queue lists pending accounts of a subtree: accounts join orgs
-- by org_id, filtered by status, paged by id.
CREATE INDEX accounts_org_status ON accounts (org_id, status, id);
