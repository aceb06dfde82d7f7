-- The reference id of the sign-in that created a session, so pages can quote the id that the
-- audit row carries.
ALTER TABLE sessions ADD COLUMN sign_in_reference TEXT NOT NULL DEFAULT '';
