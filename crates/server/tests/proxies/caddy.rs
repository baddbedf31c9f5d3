//! Caddy (Debian's `/usr/bin/caddy`) with `forward_auth`, running
//! `examples/caddy/Caddyfile` (its admin endpoint is off there).

use crate::harness::{self, ProxyProcess, EXAMPLE_APP, EXAMPLE_LATCHKEY};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth() {
    let caddy = harness::binary(
        "/usr/bin/caddy".into(),
        "install Debian's caddy (.ci/run does)",
    );
    let world = harness::world().await;
    let app = harness::start_app().await;
    let port = harness::free_port();
    let latchkey = world.app.server.as_ref().expect("running").addr;
    let dir = tempfile::tempdir().expect("tempdir");
    let caddyfile = harness::render(
        &harness::example("caddy/Caddyfile"),
        &[
            (":8000 {", format!(":{port} {{\n\tbind 127.0.0.1")),
            (EXAMPLE_LATCHKEY, latchkey.to_string()),
            (EXAMPLE_APP, app.to_string()),
        ],
    );
    let path = dir.path().join("Caddyfile");
    std::fs::write(&path, caddyfile).expect("Caddyfile");
    let mut command = Command::new(caddy);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        // Caddy keeps its state under these; none of it outside the test.
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"));
    let mut proxy = ProxyProcess::spawn(command, port, dir);
    proxy.ready(&world.app.http).await;
    harness::scenario(&world, &proxy.base, true).await;
}
