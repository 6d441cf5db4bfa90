-- Contacts search without scanning a province: names by prefix on a
-- bytewise-ordered copy of the name, phone numbers by equality.
ALTER TABLE office_people ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE office_people SET name_key = name;
CREATE INDEX office_people_name_key ON office_people (name_key);
CREATE INDEX office_people_phone ON office_people (phone);
CREATE INDEX office_units_name ON office_units (name);
