-- Resident-ID squatting (hardening issue 11): a number already held goes
-- to the admin queue flagged instead of being dropped. id_number_claim is
-- the blind index of the number an application gave (not unique);
-- id_number_index (unique) is set only while the profile holds the
-- number, and a rejected registration releases it. A claim without an
-- index is a registration whose number another account holds.
ALTER TABLE account_profiles ADD COLUMN id_number_claim TEXT;
UPDATE account_profiles SET id_number_claim = id_number_index;
CREATE INDEX account_profiles_id_claim ON account_profiles (id_number_claim);
