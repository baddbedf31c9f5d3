-- Sign-in throttle windows, kept in the database so that every replica (and
-- the next start) counts the same attempts. Keys are keyed hashes, never an
-- email, an address or a secret in the clear. Kept in step with
-- ../sqlite/0005_throttles.sql.
CREATE TABLE throttles (
    throttle_key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    -- windows in a row that ended full: the backoff's exponent
    strikes BIGINT NOT NULL,
    -- when the row may be deleted
    forget_at BIGINT NOT NULL
);
CREATE INDEX throttles_by_forget_at ON throttles (forget_at);
