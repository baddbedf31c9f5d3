//! nginx (Debian's `/usr/sbin/nginx`) with `auth_request`, running
//! `examples/nginx/latchkey.conf` inside a minimal `nginx.conf` that keeps
//! everything (pid, logs, temporary files) in the test's directory.

use crate::harness::{self, ProxyProcess, EXAMPLE_APP, EXAMPLE_LATCHKEY};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request() {
    let nginx = harness::binary(
        "/usr/sbin/nginx".into(),
        "install Debian's nginx (.ci/run does)",
    );
    let world = harness::world().await;
    let app = harness::start_app().await;
    let port = harness::free_port();
    let latchkey = world.app.server.as_ref().expect("running").addr;
    let dir = tempfile::tempdir().expect("tempdir");
    let site = harness::render(
        &harness::example("nginx/latchkey.conf"),
        &[
            ("listen 8000;", format!("listen 127.0.0.1:{port};")),
            (EXAMPLE_LATCHKEY, latchkey.to_string()),
            (EXAMPLE_APP, app.to_string()),
        ],
    );
    std::fs::write(dir.path().join("latchkey.conf"), site).expect("site");
    let p = dir.path().display();
    // One process as the user running the test (no workers to switch to
    // another user), in the foreground, writing only below `dir`.
    let main = format!(
        "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
         include {p}/latchkey.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).expect("nginx.conf");
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(dir.path().join("nginx.conf"));
    let mut proxy = ProxyProcess::spawn(command, port, dir);
    proxy.ready(&world.app.http).await;
    harness::scenario(&world, &proxy.base, false).await;
}
