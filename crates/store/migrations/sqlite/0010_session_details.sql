-- What a person's list of their sessions shows: an id to end one by (never
-- the secret's hash), when it was last used (batched, to the minute), and
-- where it was signed in from. Sessions from before get an id here.
-- Kept in step with ../postgres/0011_session_details.sql.
ALTER TABLE sessions ADD COLUMN uuid TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
UPDATE sessions SET uuid = lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
    || substr(lower(hex(randomblob(2))), 2) || '-8' || substr(lower(hex(randomblob(2))), 2) || '-'
    || lower(hex(randomblob(6)))
    WHERE uuid IS NULL;
CREATE UNIQUE INDEX sessions_by_uuid ON sessions (uuid);
CREATE INDEX sessions_by_user ON sessions (user_uuid);
