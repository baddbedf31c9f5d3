-- Names are unique after NFKC case folding (latchkey_core::limits::name_key),
-- so look-alikes (fullwidth letters, another case) are one name. SQL has no
-- NFKC: the store fills the keys of existing rows when it opens (sql.rs).
-- Kept in step with ../sqlite/0006_name_keys.sql.
ALTER TABLE projects ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX projects_by_name_key ON projects (org_uuid, name_key);
ALTER TABLE custom_roles ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX custom_roles_by_name_key ON custom_roles (org_uuid, name_key);
