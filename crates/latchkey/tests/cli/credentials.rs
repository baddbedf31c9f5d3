//! Personal access tokens, API keys and service accounts from the command line.

use crate::harness::*;
use crate::support::{in_days, Client, BIN};
use serde_json::{json, Value};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_access_tokens() {
    let (server, _admin, admin_token) = start(&[]).await;
    let url = server.base();
    let home = Home::new();
    let cli = |args: &[&str]| home.ci(&url, &admin_token, args);

    // `TOKEN=$(latchkey tokens create --name ci --quiet)`; 30 days by default.
    let ci = cli(&["tokens", "create", "--name", "ci", "--quiet"]).token("lkpat_");
    let me = home.ci(&url, &ci, &["whoami", "--json"]).json();
    assert_eq!(me["credential"]["name"], "ci");
    let expires = time::OffsetDateTime::parse(
        me["credential"]["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours() as f64 / 24.0;
    assert!((29.9..=30.1).contains(&days), "{days}");
    // Whole days left, rounded up, as the web pages say it: the token was
    // made for now + 30 days a moment ago.
    home.ci(&url, &ci, &["whoami"]).ok().out_has("(in 30 days)");

    // --json: the created object, with its token; scopes narrowed.
    let narrow = cli(&[
        "tokens",
        "create",
        "--name",
        "narrow",
        "--scope",
        "projects:read",
        "--scope",
        "api_keys:write",
        "--expires-in",
        "7d",
        "--json",
    ])
    .json();
    assert_eq!(narrow["name"], "narrow");
    assert_eq!(narrow["scopes"], json!(["projects:read", "api_keys:write"]));
    let narrow_token = narrow["token"].as_str().unwrap().to_string();
    assert!(narrow_token.starts_with("lkpat_"));
    // For a person: a summary, then the token alone on its line.
    let human = cli(&[
        "tokens",
        "create",
        "--name",
        "human",
        "--expires-at",
        &in_days(10)[..10],
    ]);
    human.ok().err_has("not shown again");
    let lines: Vec<&str> = human.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{human:#?}");
    assert!(lines[0].contains("\"human\""));
    assert!(lines[1].starts_with("lkpat_") && lines[1].len() == 44);

    // The main refusal: a scope the creator does not hold.
    home.ci(
        &url,
        &narrow_token,
        &[
            "tokens",
            "create",
            "--name",
            "wider",
            "--scope",
            "members:write",
        ],
    )
    .code(1)
    .err_has("scopes_not_grantable")
    .err_has("members:write");
    // --json: the API's error object on stderr.
    let refused = home.ci(
        &url,
        &narrow_token,
        &[
            "tokens",
            "create",
            "--name",
            "wider",
            "--scope",
            "members:write",
            "--json",
        ],
    );
    refused.code(1);
    let error: Value = serde_json::from_str(refused.stderr.trim()).unwrap();
    assert_eq!(error["error"]["code"], "scopes_not_grantable");
    assert_eq!(error["error"]["statusCode"], 403);
    assert_eq!(
        error["error"]["details"]["scopes"],
        json!(["members:write"])
    );

    // Lists: never a secret.
    let secrets = [
        admin_token.as_str(),
        ci.as_str(),
        narrow_token.as_str(),
        lines[1],
    ];
    cli(&["tokens", "list"])
        .ok()
        .out_has("NAME")
        .out_has("narrow")
        .out_has("projects:read, api_keys:write")
        .out_has("(full role)")
        .out_has(&ci[..10])
        .hides(&secrets);
    let list = cli(&["tokens", "list", "--json"]).json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|t| t.get("token").is_none()));
    let ids = cli(&["tokens", "list", "--quiet"]);
    assert_eq!(ids.ok().stdout.lines().count(), 4);
    let narrow_id = narrow["uuid"].as_str().unwrap();
    assert!(ids.stdout.contains(narrow_id));

    // Edit, by name: rename, re-scope; the expiry only forward.
    let edited = cli(&[
        "tokens",
        "edit",
        "narrow",
        "--name",
        "narrower",
        "--scope",
        "projects:read",
        "--json",
    ])
    .json();
    assert_eq!(edited["name"], "narrower");
    assert_eq!(edited["scopes"], json!(["projects:read"]));
    cli(&["tokens", "edit", narrow_id, "--expires-in", "30d"])
        .code(1)
        .err_has("expiry_extension_not_allowed");
    cli(&["tokens", "edit", narrow_id, "--expires-in", "1d"])
        .ok()
        .out_has("narrower");

    // Rotate: the new secret works, the old is dead; once an hour.
    let ci_id = list.iter().find(|t| t["name"] == "ci").unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let rotated =
        cli(&["tokens", "rotate", &ci_id, "--expires-in", "30d", "--quiet"]).token("lkpat_");
    home.ci(&url, &ci, &["whoami"])
        .code(1)
        .err_has("token_revoked")
        .err_has("hint: the server refused the token");
    home.ci(&url, &rotated, &["whoami"]).ok();
    cli(&["tokens", "rotate", "ci", "--expires-in", "30d"])
        .code(1)
        .err_has("rate_limited");
    // No expiry: cannot be rotated.
    let forever = cli(&[
        "tokens",
        "create",
        "--name",
        "forever",
        "--no-expiry",
        "--json",
    ])
    .json();
    assert_eq!(forever["expiresAt"], Value::Null);
    cli(&["tokens", "rotate", "forever", "--expires-at", &in_days(5)])
        .code(1)
        .err_has("rotation_requires_expiry");

    // Revoke, by id; again is not found; an unknown name is refused here.
    cli(&["tokens", "revoke", &ci_id]).ok().out_has("Revoked");
    home.ci(&url, &rotated, &["whoami"])
        .code(1)
        .err_has("token_revoked");
    cli(&["tokens", "revoke", &ci_id])
        .code(1)
        .err_has("not_found");
    cli(&["tokens", "revoke", "no-such-token"])
        .code(1)
        .err_has("not_found");

    // whoami warns on stderr when the credential expires within 7 days.
    let soon = cli(&[
        "tokens",
        "create",
        "--name",
        "soon",
        "--expires-in",
        "3d",
        "--quiet",
    ])
    .token("lkpat_");
    home.ci(&url, &soon, &["whoami"])
        .ok()
        .err_has("warning: this credential expires in 3 days")
        .err_has("latchkey tokens rotate");
    let later = home.ci(&url, &admin_token, &["whoami"]);
    assert!(!later.ok().stderr.contains("warning"), "{later:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys() {
    let (server, admin, admin_token) = start(&[]).await;
    let url = server.base();
    let home = Home::new();
    let cli = |args: &[&str]| home.ci(&url, &admin_token, args);

    let viewer = cli(&[
        "api-keys", "create", "--name", "reader", "--role", "viewer", "--quiet",
    ])
    .token("lkkey_");
    let me = home.ci(&url, &viewer, &["whoami", "--json"]).json();
    assert_eq!(me["credential"]["kind"], "api_key");
    assert_eq!(me["principal"]["type"], "api_key");
    assert_eq!(me["role"], "viewer");
    home.ci(&url, &viewer, &["whoami"])
        .ok()
        .out_has("API key \"reader\"");

    let deploy = cli(&[
        "api-keys",
        "create",
        "--name",
        "deploy",
        "--role",
        "developer",
        "--expires-in",
        "30d",
        "--json",
    ])
    .json();
    assert_eq!(deploy["role"], "developer");
    assert_eq!(deploy["createdBy"]["type"], "user");
    let deploy_token = deploy["token"].as_str().unwrap().to_string();

    cli(&["api-keys", "list"])
        .ok()
        .out_has("deploy")
        .out_has("developer")
        .out_has("reader")
        .out_has(&format!("user {ADMIN}"))
        .hides(&[&viewer, &deploy_token, &admin_token]);
    let list = cli(&["api-keys", "list", "--json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k.get("token").is_none()));

    // Main refusals: a role above the creator's; a key without the scope; a
    // key on the PAT routes.
    let (_, narrow) = pat(&admin, "keys-only", Some(json!(["api_keys:write"]))).await;
    home.ci(
        &url,
        &narrow,
        &["api-keys", "create", "--name", "x", "--role", "admin"],
    )
    .code(1)
    .err_has("role_too_high");
    home.ci(&url, &viewer, &["api-keys", "list"])
        .code(1)
        .err_has("missing_scope")
        .err_has("api_keys:write");
    home.ci(&url, &viewer, &["tokens", "list"])
        .code(1)
        .err_has("forbidden");

    // Rotate by name: the old secret dies.
    let rotated = cli(&[
        "api-keys",
        "rotate",
        "deploy",
        "--expires-in",
        "60d",
        "--quiet",
    ])
    .token("lkkey_");
    home.ci(&url, &deploy_token, &["whoami"])
        .code(1)
        .err_has("token_revoked");
    home.ci(&url, &rotated, &["whoami"]).ok();
    // Created with no expiry by default? No: 30 days; --no-expiry cannot rotate.
    cli(&[
        "api-keys",
        "create",
        "--name",
        "old",
        "--role",
        "viewer",
        "--no-expiry",
        "--quiet",
    ])
    .token("lkkey_");
    cli(&["api-keys", "rotate", "old", "--expires-in", "1d"])
        .code(1)
        .err_has("rotation_requires_expiry");

    // Revoke.
    cli(&["api-keys", "revoke", "reader"])
        .ok()
        .out_has("Revoked API key");
    home.ci(&url, &viewer, &["whoami"])
        .code(1)
        .err_has("token_revoked");
    cli(&["api-keys", "revoke", "reader"])
        .code(1)
        .err_has("not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts() {
    // The cache off: the plan changes under a running server below.
    let env = [("LATCHKEY_AUTH_CACHE_CAPACITY", "0")];
    let (mut server, _, admin_token) = start(&env).await;
    let home = Home::new();

    // A free organization lists (nothing), but cannot create.
    home.ci(&server.base(), &admin_token, &["service-accounts", "list"])
        .ok();
    home.ci(
        &server.base(),
        &admin_token,
        &[
            "service-accounts",
            "create",
            "--description",
            "x",
            "--role",
            "viewer",
        ],
    )
    .code(1)
    .err_has("plan_required");
    server.restart_with(&env, |data| {
        let out = Command::new(BIN)
            .args(["org", "set-plan", "Acme", "enterprise", "--data-dir"])
            .arg(data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    let url = server.base();
    let mut admin = Client::new(&url);
    admin.login(ADMIN, PASSWORD).await;
    let cli = |args: &[&str]| home.ci(&url, &admin_token, args);
    let web = project(&admin, "web").await;
    let api_project = project(&admin, "api").await;

    let org_wide = cli(&[
        "service-accounts",
        "create",
        "--description",
        "deployer",
        "--role",
        "viewer",
        "--json",
    ])
    .json();
    assert_eq!(org_wide["scope"], "organization");
    assert_eq!(org_wide["role"], "viewer");
    let sa_token = org_wide["token"].as_str().unwrap().to_string();
    assert!(sa_token.starts_with("lksvc_"));
    let me = home.ci(&url, &sa_token, &["whoami", "--json"]).json();
    assert_eq!(me["credential"]["kind"], "service_account");

    let scoped = cli(&[
        "service-accounts",
        "create",
        "--description",
        "per-project",
        "--project",
        "web:developer",
        "--project",
        &format!("{api_project}:viewer"),
        "--json",
    ])
    .json();
    assert_eq!(scoped["scope"], "project");
    assert_eq!(scoped["projectCount"], 2);
    let grants = scoped["projects"].as_array().unwrap();
    assert!(grants
        .iter()
        .any(|g| g["projectUuid"] == web.as_str() && g["role"] == "developer"));

    cli(&["service-accounts", "list"])
        .ok()
        .out_has("deployer")
        .out_has("2 projects")
        .out_has("web=developer")
        .hides(&[&sa_token]);
    let list = cli(&["service-accounts", "list", "--json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a.get("token").is_none()));
    cli(&["service-accounts", "show", "per-project"])
        .ok()
        .out_has("api")
        .out_has("viewer");

    // A custom role, by name.
    let (status, role) = admin
        .call(
            reqwest::Method::POST,
            "/api/v1/org/roles",
            None,
            Some(json!({ "name": "Readers", "scopes": ["projects:read"] })),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let custom = cli(&[
        "service-accounts",
        "create",
        "--description",
        "custom",
        "--custom-role",
        "Readers",
        "--json",
    ])
    .json();
    assert_eq!(custom["customRole"]["name"], "Readers");
    cli(&["service-accounts", "list"])
        .ok()
        .out_has("custom Readers");
    cli(&[
        "service-accounts",
        "create",
        "--description",
        "x",
        "--custom-role",
        "Nobody",
    ])
    .code(1)
    .err_has("no custom role");

    // The main refusal: a credential without service_accounts:write.
    home.ci(&url, &sa_token, &["service-accounts", "list"])
        .code(1)
        .err_has("missing_scope");

    let rotated = cli(&[
        "service-accounts",
        "rotate",
        "deployer",
        "--expires-in",
        "7d",
        "--quiet",
    ])
    .token("lksvc_");
    home.ci(&url, &sa_token, &["whoami"])
        .code(1)
        .err_has("token_revoked");
    cli(&["service-accounts", "delete", "deployer"])
        .ok()
        .out_has("Deleted");
    home.ci(&url, &rotated, &["whoami"])
        .code(1)
        .err_has("token_revoked");
    cli(&["service-accounts", "delete", "deployer"])
        .code(1)
        .err_has("not_found");
}
