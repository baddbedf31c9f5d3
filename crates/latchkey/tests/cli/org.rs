//! Projects, members and the audit log from the command line.

use crate::harness::*;
use crate::support::in_days;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_and_members() {
    let (server, admin, admin_token) = start(&[]).await;
    let url = server.base();
    let home = Home::new();
    let cli = |args: &[&str]| home.ci(&url, &admin_token, args);

    cli(&["projects", "list"]).ok().err_has("no projects");
    let web = project(&admin, "web").await;
    project(&admin, "billing").await;
    cli(&["projects", "list"])
        .ok()
        .out_has("web")
        .out_has("billing")
        .out_has("admin");
    let projects = cli(&["projects", "list", "--json"]).json();
    assert_eq!(projects.as_array().unwrap().len(), 2);
    assert!(cli(&["projects", "list", "--quiet"])
        .ok()
        .stdout
        .contains(&web));
    home.ci(&url, "lkpat_garbage", &["projects", "list"])
        .code(1)
        .err_has("malformed_token");

    // Add: a new user gets an invite link (the one place it is printed).
    let added = cli(&[
        "members",
        "add",
        "--email",
        "dev@acme.test",
        "--role",
        "viewer",
        "--json",
    ])
    .json();
    assert_eq!(added["email"], "dev@acme.test");
    assert_eq!(added["role"], "viewer");
    assert!(added["inviteUrl"].as_str().unwrap().starts_with("/invite/"));
    cli(&[
        "members",
        "add",
        "--email",
        "ops@acme.test",
        "--role",
        "editor",
        "--name",
        "Ops",
    ])
    .ok()
    .out_has("Added ops@acme.test")
    .out_has(&format!("{url}/invite/"));
    // Invited, not yet members: the account's name is not shown until they accept.
    cli(&["members", "list"])
        .ok()
        .out_has("dev@acme.test")
        .out_has("editor")
        .out_has("invited")
        .out_has("active");
    let members = cli(&["members", "list", "--json"]).json();
    assert_eq!(members.as_array().unwrap().len(), 3);

    // By email or id.
    let dev_id = added["userUuid"].as_str().unwrap().to_string();
    cli(&["members", "set-role", "dev@acme.test", "developer"])
        .ok()
        .out_has("is now developer");
    let suspended = cli(&["members", "suspend", &dev_id, "--json"]).json();
    assert_eq!(suspended["suspended"], true);
    assert_eq!(suspended["role"], "developer");
    cli(&["members", "list"]).ok().out_has("suspended");
    cli(&["members", "unsuspend", "dev@acme.test"])
        .ok()
        .out_has("no longer suspended");
    cli(&["members", "remove", "ops@acme.test"])
        .ok()
        .out_has("Removed");
    cli(&["members", "remove", "ops@acme.test"])
        .code(1)
        .err_has("not_found");
    let members = cli(&["members", "list", "--json"]).json();
    assert_eq!(members.as_array().unwrap().len(), 2);

    // The main refusal: no members:write.
    let (_, reader) = pat(&admin, "reader", Some(json!(["projects:read"]))).await;
    home.ci(&url, &reader, &["members", "list"])
        .code(1)
        .err_has("missing_scope")
        .err_has("members:write");
    home.ci(&url, &reader, &["members", "suspend", &dev_id])
        .code(1)
        .err_has("missing_scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_and_follow() {
    let (server, admin, admin_token) = start(&[]).await;
    let url = server.base();
    let home = Home::new();
    let cli = |args: &[&str]| home.ci(&url, &admin_token, args);

    cli(&["tokens", "create", "--name", "first", "--quiet"]).ok();
    cli(&["tokens", "create", "--name", "second", "--quiet"]).ok();
    let page = cli(&["audit", "--action", "pat.created", "--json"]).json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "cli-admin, first, second: {page}");
    assert!(items.iter().all(|e| e["action"] == "pat.created"));
    assert_eq!(items[0]["target"]["name"], "second", "newest first");
    let one = cli(&["audit", "--action", "pat.created", "--limit", "1", "--json"]).json();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let cursor = one["nextCursor"].as_str().unwrap().to_string();
    let next = cli(&[
        "audit",
        "--action",
        "pat.created",
        "--limit",
        "1",
        "--cursor",
        &cursor,
        "--json",
    ])
    .json();
    assert_eq!(next["items"][0]["target"]["name"], "first");
    cli(&["audit", "--since", "1h"])
        .ok()
        .out_has("ACTION")
        .out_has("pat.created")
        .out_has(&format!("user {ADMIN}"))
        .out_has("pat second")
        .hides(&[&admin_token]);
    cli(&["audit", "--action", "pat.created", "--limit", "1"])
        .ok()
        .err_has("--cursor");
    let future = cli(&["audit", "--since", &in_days(1), "--json"]).json();
    assert_eq!(future["items"], json!([]));

    // The main refusal: no audit:read.
    let reader = cli(&[
        "api-keys", "create", "--name", "r", "--role", "viewer", "--quiet",
    ])
    .token("lkkey_");
    home.ci(&url, &reader, &["audit"])
        .code(1)
        .err_has("missing_scope")
        .err_has("audit:read");

    // --follow: the last event, then each new one as it happens.
    let mut child = home
        .command(
            &[
                "audit",
                "--follow",
                "--action",
                "pat.created",
                "--limit",
                "1",
                "--json",
                "--poll-interval-ms",
                "100",
                "--max-events",
                "3",
            ],
            &[("LATCHKEY_URL", &url), ("LATCHKEY_TOKEN", &admin_token)],
        )
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next_event = || -> Value {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("an event line from --follow");
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(next_event()["target"]["name"], "second");
    pat(&admin, "third", None).await;
    pat(&admin, "fourth", None).await;
    assert_eq!(next_event()["target"]["name"], "third");
    assert_eq!(next_event()["target"]["name"], "fourth");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("--follow did not stop after --max-events");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}
