-- Custom roles (enterprise) and the per-project grants of project-scoped
-- service accounts. Kept in step with ../postgres/0003_custom_roles_service_accounts.sql.

CREATE TABLE custom_roles (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    -- scope names, space-separated
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_uuid TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_uuid, name)
);

-- One row per project of a project-scoped service account: a system role or
-- a custom role. Immutable once written.
CREATE TABLE service_account_projects (
    credential_uuid TEXT NOT NULL REFERENCES credentials (uuid) ON DELETE CASCADE,
    project_uuid TEXT NOT NULL REFERENCES projects (uuid) ON DELETE CASCADE,
    org_uuid TEXT NOT NULL,
    role TEXT,
    custom_role_uuid TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (credential_uuid, project_uuid)
);
CREATE INDEX service_account_projects_by_project ON service_account_projects (project_uuid);
CREATE INDEX service_account_projects_by_custom_role ON service_account_projects (custom_role_uuid);
