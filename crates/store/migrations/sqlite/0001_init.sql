-- latchkey schema, SQLite. Kept in step with ../postgres/0001_init.sql: the
-- same tables, columns and constraints; a test compares the two.
-- Ids are UUID text, times are Unix seconds.

CREATE TABLE orgs (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    plan TEXT NOT NULL CHECK (plan IN ('free', 'enterprise')),
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    uuid TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    password_hash TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid) ON DELETE CASCADE,
    user_uuid TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    role TEXT NOT NULL,
    custom_role_uuid TEXT,
    suspended_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_uuid, user_uuid)
);
CREATE INDEX memberships_by_user ON memberships (user_uuid);

CREATE TABLE projects (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_uuid TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by_type TEXT NOT NULL,
    updated_by_uuid TEXT NOT NULL,
    updated_by_name TEXT NOT NULL,
    UNIQUE (org_uuid, name)
);

CREATE TABLE project_roles (
    project_uuid TEXT NOT NULL REFERENCES projects (uuid) ON DELETE CASCADE,
    org_uuid TEXT NOT NULL,
    user_uuid TEXT NOT NULL,
    role TEXT NOT NULL,
    custom_role_uuid TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_uuid, user_uuid),
    FOREIGN KEY (org_uuid, user_uuid) REFERENCES memberships (org_uuid, user_uuid) ON DELETE CASCADE
);
CREATE INDEX project_roles_by_member ON project_roles (org_uuid, user_uuid);

CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid) ON DELETE CASCADE,
    user_uuid TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_uuid TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_member ON sessions (org_uuid, user_uuid);

-- Every kind of credential in one table, so authenticating is one indexed
-- lookup by hash whatever the kind.
CREATE TABLE credentials (
    uuid TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('pat', 'api_key', 'service_account')),
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid) ON DELETE CASCADE,
    owner_uuid TEXT REFERENCES users (uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    -- a PAT's own scope list, space-separated; NULL is the owner's full role
    scopes TEXT,
    role TEXT,
    custom_role_uuid TEXT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT,
    created_by_type TEXT NOT NULL,
    created_by_uuid TEXT NOT NULL,
    created_by_name TEXT NOT NULL
);
CREATE INDEX credentials_by_owner ON credentials (org_uuid, owner_uuid);
CREATE INDEX credentials_by_org_kind ON credentials (org_uuid, kind, created_at);

-- Hashes of secrets that were rotated away, so that using one answers
-- `token_revoked` rather than `invalid_token`.
CREATE TABLE retired_token_hashes (
    token_hash TEXT PRIMARY KEY,
    credential_uuid TEXT NOT NULL REFERENCES credentials (uuid) ON DELETE CASCADE,
    retired_at BIGINT NOT NULL
);

-- Append-only: no foreign keys (the log outlives what it speaks of) and
-- triggers that refuse any change.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    org_uuid TEXT NOT NULL,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_type TEXT,
    actor_uuid TEXT,
    actor_name TEXT,
    credential_kind TEXT,
    credential_uuid TEXT,
    credential_name TEXT,
    credential_display_prefix TEXT,
    target_type TEXT,
    target_uuid TEXT,
    target_name TEXT,
    ip TEXT,
    user_agent TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (org_uuid, seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
