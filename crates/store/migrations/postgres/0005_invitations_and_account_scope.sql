-- Trust, part 1. Kept in step with ../sqlite/0004_invitations_and_account_scope.sql.

-- Organization names need not be unique: a taken name says nothing.
ALTER TABLE orgs DROP CONSTRAINT IF EXISTS orgs_name_key;

-- A membership is an invitation until its person accepts it. Members
-- already signed up count as accepted.
ALTER TABLE memberships ADD COLUMN accepted_at BIGINT;
UPDATE memberships SET accepted_at = created_at
    WHERE user_uuid IN (SELECT uuid FROM users WHERE password_hash IS NOT NULL);

-- Whether the link may set the account's password: decided when the
-- invitation was first issued (no password, nothing anywhere else).
ALTER TABLE invites ADD COLUMN sets_password BIGINT NOT NULL DEFAULT 0;
UPDATE invites SET sets_password = 1
    WHERE used_at IS NULL
      AND user_uuid IN (SELECT uuid FROM users WHERE password_hash IS NULL)
      AND NOT EXISTS (
          SELECT 1 FROM memberships m
          WHERE m.user_uuid = invites.user_uuid AND m.org_uuid <> invites.org_uuid
            AND m.created_at <= invites.created_at
      );

-- A session ended by its member's removal answers token_revoked.
ALTER TABLE sessions ADD COLUMN revoked_at BIGINT;

-- A service account's scope is what it was created with, never derived
-- from which project rows are left.
ALTER TABLE credentials ADD COLUMN account_scope TEXT
    CHECK (account_scope IN ('organization', 'project'));
UPDATE credentials SET account_scope = CASE
        WHEN EXISTS (SELECT 1 FROM service_account_projects p WHERE p.credential_uuid = credentials.uuid)
          OR (role IS NULL AND custom_role_uuid IS NULL AND scopes IS NULL) THEN 'project'
        ELSE 'organization'
    END
    WHERE kind = 'service_account';
