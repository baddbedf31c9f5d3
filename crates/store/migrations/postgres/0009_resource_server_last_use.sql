-- When a resource server last authenticated (introspection), written in
-- batches like credentials' last use, at most once a minute per server.
-- Kept in step with ../sqlite/0008_resource_server_last_use.sql.
ALTER TABLE resource_servers ADD COLUMN last_used_at BIGINT;
