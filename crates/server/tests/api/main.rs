//! Integration tests: the real server on a real socket, on SQLite and on
//! PostgreSQL.

mod support;

mod pats;
