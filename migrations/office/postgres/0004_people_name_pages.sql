-- Contacts search pages through the name matches in (name_key, id) order:
-- the index holds the tie-breaker, so a page is a walk from the cursor.
DROP INDEX office_people_name_key;
CREATE INDEX office_people_name_key ON office_people (name_key, id);
