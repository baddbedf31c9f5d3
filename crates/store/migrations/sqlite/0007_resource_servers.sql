-- Resource servers: instance-level credentials of the backends that
-- introspect tokens of every organization (POST /oauth2/introspect). The
-- secret is stored only as its keyed hash, like every token. A name is
-- unique among live ones after NFKC case folding (limits::name_key).
-- Kept in step with ../postgres/0008_resource_servers.sql.
CREATE TABLE resource_servers (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX resource_servers_by_live_name ON resource_servers (name_key)
    WHERE revoked_at IS NULL;

-- The instance's own audit log (no organization's), append-only like the
-- organizations' log.
CREATE TABLE instance_audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    target_uuid TEXT NOT NULL,
    target_name TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE TRIGGER instance_audit_events_no_update BEFORE UPDATE ON instance_audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER instance_audit_events_no_delete BEFORE DELETE ON instance_audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
