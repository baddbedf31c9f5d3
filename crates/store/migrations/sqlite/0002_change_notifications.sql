-- SQLite is served by one process, which invalidates its own caches as it
-- commits; nothing to announce. Kept so both folders share version numbers.
SELECT 1;
