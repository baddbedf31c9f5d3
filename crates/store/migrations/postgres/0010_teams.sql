-- Teams: a name, an organization role (a system role, a custom role, or
-- none), members, and roles on projects. A member's effective role is the
-- highest of their own and their teams'. A name is unique in its
-- organization after NFKC case folding (limits::name_key), as projects' and
-- custom roles' names are. Kept in step with ../sqlite/0009_teams.sql.

CREATE TABLE teams (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    -- the system role, or NULL beside a custom role or for no role
    role TEXT,
    custom_role_uuid TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX teams_by_name_key ON teams (org_uuid, name_key);
CREATE INDEX teams_by_custom_role ON teams (custom_role_uuid);

-- Only accepted members of the team's organization; removing the member
-- removes their team memberships.
CREATE TABLE team_members (
    team_uuid TEXT NOT NULL REFERENCES teams (uuid) ON DELETE CASCADE,
    org_uuid TEXT NOT NULL,
    user_uuid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_uuid, user_uuid),
    FOREIGN KEY (org_uuid, user_uuid) REFERENCES memberships (org_uuid, user_uuid) ON DELETE CASCADE
);
CREATE INDEX team_members_by_member ON team_members (org_uuid, user_uuid);

-- A team's role on one project: a system role, or a custom role (beside
-- which the system role is 'member' and says nothing), as project_roles.
CREATE TABLE team_project_roles (
    team_uuid TEXT NOT NULL REFERENCES teams (uuid) ON DELETE CASCADE,
    project_uuid TEXT NOT NULL REFERENCES projects (uuid) ON DELETE CASCADE,
    org_uuid TEXT NOT NULL,
    role TEXT NOT NULL,
    custom_role_uuid TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_uuid, project_uuid)
);
CREATE INDEX team_project_roles_by_project ON team_project_roles (project_uuid);
CREATE INDEX team_project_roles_by_custom_role ON team_project_roles (custom_role_uuid);
