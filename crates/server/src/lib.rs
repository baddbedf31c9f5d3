//! latchkey's HTTP server: the JSON API, authentication and operations.

pub mod api;
pub mod app;
pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod extract;
pub mod forwarded;
pub mod last_used;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod passwords;
pub mod rate_limit;
pub mod refusals;
pub mod resource_server;
pub mod state;
pub mod web;
pub mod wire;

pub use app::{router, serve, start, RunningServer};
pub use config::{DatabaseConfig, KeyedDatabaseConfig, ServeConfig};
pub use operator::StartupError;
