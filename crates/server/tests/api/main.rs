//! Integration tests: the real server on a real socket, on SQLite and on
//! PostgreSQL.

mod support;

mod account;
mod api_keys;
mod audit;
mod audit_queries;
mod custom_roles;
mod forward;
mod introspect;
mod members;
mod ops;
mod pats;
mod projects;
mod service_accounts;
mod session;
mod teams;
