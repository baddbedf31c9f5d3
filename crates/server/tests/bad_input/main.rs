//! Bad input on the real server (API.md, Conventions and Authentication):
//! every malformed body, header, path id or query is a JSON error that says
//! what is wrong (`400 invalid_request` naming the field in
//! `details.field`, `413 payload_too_large`, `401 malformed_token`, …) —
//! never a 500, a panic, a hang or a plain-text body — and the server stays
//! up afterwards.

#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

mod accounts;
mod bodies;
mod credentials;
mod harness;
mod paths;
