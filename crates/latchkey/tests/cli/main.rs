//! The command-line client (issue 7): the real `latchkey` binary run as a
//! client of a real `latchkey serve`, with its own HOME and config dir.
//! Exit codes: 0 ok, 1 API refusal, 2 usage, 3 unreachable / not latchkey.

#[path = "../support/mod.rs"]
mod support;

mod credentials;
mod harness;
mod login;
mod org;
