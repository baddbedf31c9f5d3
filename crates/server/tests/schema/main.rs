//! The OpenAPI document tells the truth: schemathesis (`--checks all`)
//! against the real server on 127.0.0.1:0 and a fresh SQLite file, every
//! operation, reading and changing, in its coverage, fuzzing and stateful
//! phases. `hooks.py` signs in (and again whenever a case ends the session)
//! and says which refusals of schema-valid requests depend on the server's
//! state. Schemathesis comes from `test-tools/install`.

#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use support::{Backend, TestApp, ADMIN_EMAIL, PASSWORD};

/// Cases per operation and phase: enough to reach every documented
/// constraint, small enough to keep the run well under a minute.
const EXAMPLES: &str = "40";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_the_server_as_its_document_describes_it() {
    let schemathesis = repo().join("test-tools/.venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: run test-tools/install",
        schemathesis.display()
    );
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        // The hooks sign in from their own (forwarded) address, so the
        // fuzzer's wrong passwords from 127.0.0.1 do not throttle them.
        config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    // Service accounts and custom roles need the enterprise plan.
    app.set_plan("enterprise").await;
    // Token introspection authenticates a resource server, not the session.
    let (_, resource_server) = app.resource_server("schemathesis").await;
    let seed = std::env::var("LATCHKEY_SCHEMA_SEED").unwrap_or_else(|_| "1".into());
    let work = tempfile::tempdir().expect("tempdir");
    let output = tokio::process::Command::new(&schemathesis)
        .args([
            "--config-file",
            &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/schema/schemathesis.toml")
                .to_string_lossy(),
            "run",
            &format!("{}/api/v1/openapi.json", app.base),
            "--checks",
            "all",
            // Replaced by the hooks' check, which knows the state-dependent
            // refusals.
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            EXAMPLES,
            "--seed",
            &seed,
            "--no-color",
            "--workers",
            "2",
        ])
        .current_dir(work.path())
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env(
            "PYTHONPATH",
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schema"),
        )
        .env("LATCHKEY_URL", &app.base)
        .env("LATCHKEY_EMAIL", ADMIN_EMAIL)
        .env("LATCHKEY_PASSWORD", PASSWORD)
        .env("LATCHKEY_RESOURCE_SERVER", &resource_server)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = report.lines().collect();
    let summary = lines[lines.len().saturating_sub(25)..].join("\n");
    assert!(
        output.status.success(),
        "schemathesis failed (seed {seed}; LATCHKEY_SCHEMA_SEED replays it):\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{summary}");
    app.stop().await;
}
