//! The real reverse proxies in front of latchkey's `/auth/forward`: nginx
//! (`auth_request`), Caddy (`forward_auth`) and Traefik (`ForwardAuth`), each
//! run from the configuration under `examples/` that the README shows, with
//! only addresses and ports replaced; Envoy (`ext_authz`, HTTP), which has no
//! Debian package, by its wire contract. Between the proxy and latchkey runs
//! the configuration file `examples/latchkey.toml`; behind the proxy, an app
//! that echoes the `X-Latchkey-*` headers it received.
//!
//! A missing proxy binary fails its test (`.ci/run` installs nginx and Caddy,
//! `test-tools/install` Traefik).

#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

mod caddy;
mod envoy;
mod guide;
mod harness;
mod nginx;
mod traefik;
