//! Token introspection with a real OAuth client library: Python's authlib
//! (`OAuth2Session.introspect_token`, `client_secret_basic`) against the
//! real server. authlib comes from `test-tools/install`; without it the test
//! fails, it never skips.

#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

use serde_json::{json, Value};
use std::path::PathBuf;
use support::{Backend, TestApp};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_introspects_with_client_secret_basic() {
    let python = repo().join("test-tools/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run test-tools/install",
        python.display()
    );
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (client_id, secret) = app.resource_server("authlib").await;
    let unknown = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ApiKey,
        &mut rand::thread_rng(),
    );
    let url = format!("{}/oauth2/introspect", app.base);
    let run = |client_id: &str, secret: &str, tokens: &[&str]| {
        let out = std::process::Command::new(&python)
            .arg(repo().join("crates/server/tests/oauth/introspect.py"))
            .args([url.as_str(), client_id, secret])
            .args(tokens)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "authlib failed (is it installed? run test-tools/install): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("UTF-8")
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
            .collect::<Vec<_>>()
    };
    let answers = run(
        &client_id,
        &secret,
        &[&app.admin.pat_token, unknown.expose()],
    );
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["status"], 200);
    let active = &answers[0]["body"];
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["username"], support::ADMIN_EMAIL);
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["latchkey_org_id"], app.org_uuid.as_str());
    assert_eq!(
        answers[1],
        json!({ "status": 200, "body": { "active": false } })
    );

    // A wrong secret: authlib sees RFC 6749's invalid_client.
    let wrong = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ResourceServer,
        &mut rand::thread_rng(),
    );
    let refused = run(&client_id, wrong.expose(), &[&app.admin.pat_token]);
    assert_eq!(
        refused,
        [json!({ "status": 401, "body": { "error": "invalid_client" } })]
    );
}
