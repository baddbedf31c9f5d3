//! The authorization table (API.md "Authentication", PRODUCT.md §1-3): every
//! route of the router, for every kind of principal, written as data and
//! driven by one loop.
//!
//! Each row is a route (method and OpenAPI path template), the resource it is
//! aimed at (a [`Target`], created fresh for the rows that would destroy it),
//! a body, the scope a `403 missing_scope` must name, and one expected answer
//! per principal column. The test also reads the server's OpenAPI document:
//! an operation without a row, or a row for an operation the server does not
//! document, fails it, so a new endpoint cannot be added without saying who
//! may call it.

#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

mod check;
mod table;
mod world;
