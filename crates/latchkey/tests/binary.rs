//! The real `latchkey` binary as a process: first start, operator commands,
//! and the proof that no secret reaches the data directory or the logs.

mod support;

use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{in_days, Client, ServerProcess, BIN};

const PASSWORD: &str = "first-admin-password-7d1c";

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_data_directory_or_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The setup service account's token is a secret given to the server (and
    // puts the organization on the plan that has service accounts).
    let setup_token = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ServiceAccount,
        &mut rand::thread_rng(),
    )
    .expose()
    .to_string();
    let server = ServerProcess::start(
        &data,
        &[
            ("LATCHKEY_SETUP_ORG_NAME", "Acme"),
            ("LATCHKEY_SETUP_ADMIN_EMAIL", "admin@acme.test"),
            ("LATCHKEY_SETUP_ADMIN_PASSWORD", PASSWORD),
            ("LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN", &setup_token),
        ],
    );
    let mut admin = Client::new(&server.base);
    admin.login("admin@acme.test", PASSWORD).await;
    let mut secrets: Vec<String> = vec![
        PASSWORD.to_string(),
        admin.cookie.clone().unwrap(),
        admin.csrf.clone().unwrap(),
        setup_token.clone(),
    ];
    let mut prefixes = vec![setup_token[..10].to_string()];
    let (status, _) = admin
        .call(
            reqwest::Method::GET,
            "/api/v1/user",
            Some(&setup_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "the setup service account works");

    // Tokens: created, used, rotated (twice over two tokens), revoked.
    let post = reqwest::Method::POST;
    let mut tokens = Vec::new();
    for (i, scopes) in [None, Some(json!(["content:read"]))]
        .into_iter()
        .enumerate()
    {
        let mut body = json!({ "name": format!("t{i}"), "expiresAt": in_days(30) });
        if let Some(s) = scopes {
            body["scopes"] = s;
        }
        let (status, r) = admin
            .call(
                post.clone(),
                "/api/v1/user/me/personal-access-tokens",
                None,
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{r}");
        let token = r["results"]["token"].as_str().unwrap().to_string();
        prefixes.push(token[..10].to_string());
        tokens.push((
            r["results"]["uuid"].as_str().unwrap().to_string(),
            token.clone(),
        ));
        secrets.push(token);
    }
    for (_, token) in &tokens {
        let (status, _) = admin
            .call(reqwest::Method::GET, "/api/v1/user", Some(token), None)
            .await;
        assert_eq!(status, 200);
    }
    let (uuid, token) = tokens[0].clone();
    let (status, r) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
            Some(&token),
            Some(json!({ "expiresAt": in_days(20) })),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let rotated = r["results"]["token"].as_str().unwrap().to_string();
    prefixes.push(rotated[..10].to_string());
    secrets.push(rotated.clone());
    // The old secret is refused (and the refusal audited), the new one works.
    assert_eq!(
        admin
            .call(reqwest::Method::GET, "/api/v1/user", Some(&token), None)
            .await
            .0,
        401
    );
    assert_eq!(
        admin
            .call(reqwest::Method::GET, "/api/v1/user", Some(&rotated), None)
            .await
            .0,
        200
    );
    let (status, _) = admin
        .call(
            post.clone(),
            "/api/v1/auth/verify",
            None,
            Some(json!({ "token": rotated, "scope": "content:read" })),
        )
        .await;
    assert_eq!(status, 200);
    let (_, second) = tokens[1].clone();
    let (status, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/user/me/personal-access-tokens/{}", tokens[1].0),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        admin
            .call(reqwest::Method::GET, "/api/v1/user", Some(&second), None)
            .await
            .0,
        401
    );

    // API keys and service accounts: created, used, rotated.
    for (path, body) in [
        (
            "/api/v1/org/api-keys",
            json!({ "name": "ci", "role": "viewer", "expiresAt": in_days(30) }),
        ),
        (
            "/api/v1/service-accounts",
            json!({ "description": "deployer", "scope": "organization", "role": "viewer", "expiresAt": in_days(30) }),
        ),
    ] {
        let (status, r) = admin.call(post.clone(), path, None, Some(body)).await;
        assert_eq!(status, 201, "{r}");
        let uuid = r["results"]["uuid"].as_str().unwrap().to_string();
        kept_and_used(&admin, &r, &mut prefixes, &mut secrets).await;
        let (status, r) = admin
            .call(
                reqwest::Method::PATCH,
                &format!("{path}/{uuid}/rotate"),
                None,
                Some(json!({ "expiresAt": in_days(20) })),
            )
            .await;
        assert_eq!(status, 200, "{r}");
        kept_and_used(&admin, &r, &mut prefixes, &mut secrets).await;
    }

    // An invite code and the password set with it are secrets too.
    let (status, r) = admin
        .call(
            post.clone(),
            "/api/v1/org/users",
            None,
            Some(json!({ "email": "new@acme.test", "role": "editor" })),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let code = r["results"]["inviteUrl"]
        .as_str()
        .unwrap()
        .trim_start_matches("/invite/")
        .to_string();
    secrets.push(code.clone());
    let member_password = "member-password-9f2e";
    secrets.push(member_password.to_string());
    // The invitee has no session: a signed-in client would accept as itself.
    let (status, _) = Client::new(&admin.base)
        .call(
            post.clone(),
            &format!("/api/v1/invites/{code}"),
            None,
            Some(json!({ "password": member_password })),
        )
        .await;
    assert_eq!(status, 200);
    // So is the member's own session, used once.
    let mut member = Client::new(&admin.base);
    member.login("new@acme.test", member_password).await;
    secrets.push(member.cookie.clone().unwrap());
    secrets.push(member.csrf.clone().unwrap());
    let (status, _) = member
        .call(reqwest::Method::GET, "/api/v1/org/projects", None, None)
        .await;
    assert_eq!(status, 200);
    // A changed password: neither the old nor the new one is kept or logged.
    let next_password = "member-password-next-3c7a";
    secrets.push(next_password.to_string());
    let (status, r) = member
        .call(
            post.clone(),
            "/api/v1/user/me/password",
            None,
            Some(json!({ "currentPassword": member_password, "newPassword": next_password })),
        )
        .await;
    assert_eq!(status, 204, "{r}");
    // A token made and rotated through the settings pages' forms: the page
    // shows the secret once, and it is not kept or logged either.
    let form_post = |path: String, fields: Vec<(&'static str, String)>| {
        let mut fields = fields;
        fields.push(("_csrf", admin.csrf.clone().unwrap()));
        admin
            .http
            .post(format!("{}{path}", server.base))
            .header(
                "Cookie",
                format!("latchkey_session={}", admin.cookie.clone().unwrap()),
            )
            .form(&fields)
            .send()
    };
    let shown_secret = |page: &str| {
        let at = page
            .find("id=\"new-token-secret\"")
            .expect("the secret on the page");
        let value = &page[at..];
        let start = value.find("value=\"").unwrap() + 7;
        value[start..start + 44].to_string()
    };
    let page = form_post(
        "/settings/tokens".into(),
        vec![("name", "from the page".into()), ("expiry", "30".into())],
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let from_page = shown_secret(&page);
    assert!(from_page.starts_with("lkpat_"), "{from_page}");
    prefixes.push(from_page[..10].to_string());
    secrets.push(from_page.clone());
    let (_, me) = admin
        .call(reqwest::Method::GET, "/api/v1/user", Some(&from_page), None)
        .await;
    let page_pat = me["results"]["credential"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let page = form_post(
        format!("/settings/tokens/{page_pat}/rotate"),
        vec![("expiry", "7".into())],
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    secrets.push(shown_secret(&page));

    // A resource server (operator command on the running server's data
    // directory) introspects a token by Bearer and by Basic; a wrong client
    // secret and an inactive token go through the error paths.
    let created = Command::new(BIN)
        .args(["resource-servers", "create", "gateway", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8(created.stdout).unwrap();
    let rs_secret = stdout.lines().last().unwrap().to_string();
    let rs_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("clientId: "))
        .unwrap()
        .to_string();
    assert!(!String::from_utf8_lossy(&created.stderr).contains(&rs_secret));
    prefixes.push(rs_secret[..10].to_string());
    secrets.push(rs_secret.clone());
    let wrong_rs = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ResourceServer,
        &mut rand::thread_rng(),
    )
    .expose()
    .to_string();
    secrets.push(wrong_rs.clone());
    let introspect = |auth: reqwest::RequestBuilder, token: String| async move {
        let resp = auth
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    };
    let url = format!("{}/oauth2/introspect", server.base);
    let live = setup_token.clone();
    let (status, body) =
        introspect(admin.http.post(&url).bearer_auth(&rs_secret), live.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"active\":true"), "{body}");
    let (status, body) = introspect(
        admin.http.post(&url).basic_auth(&rs_id, Some(&rs_secret)),
        setup_token.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(&rs_secret));
    let (status, body) = introspect(admin.http.post(&url).bearer_auth(&wrong_rs), live).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(&wrong_rs));
    let (status, body) = introspect(
        admin.http.post(&url).bearer_auth(&rs_secret),
        wrong_rs.clone(),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "{\"active\":false}"));
    let audit = Command::new(BIN)
        .args(["audit-instance", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(audit.status.success());
    assert!(!String::from_utf8_lossy(&audit.stdout).contains(&rs_secret));

    // A wrong password at login must not be logged either.
    let wrong = "wrong-password-b41d";
    secrets.push(wrong.to_string());
    let resp = admin
        .http
        .post(format!("{}/api/v1/login", server.base))
        .json(&json!({ "email": "new@acme.test", "password": wrong }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Let the lastUsedAt batch reach the database before stopping.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = server.stop();

    // The scan must be able to see what is there: display prefixes are stored
    // on purpose, and the logs did capture the requests.
    let files = files_under(&data);
    let everything: Vec<(PathBuf, Vec<u8>)> = files
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    assert!(everything.iter().any(|(p, _)| p.ends_with("latchkey.db")));
    for prefix in &prefixes {
        assert!(
            everything.iter().any(|(_, bytes)| contains(bytes, prefix)),
            "display prefix {prefix} should be stored"
        );
    }
    assert!(
        log.contains("/api/v1/user/me/personal-access-tokens"),
        "the request log was captured"
    );
    // The log was read to its end, past the server's last words.
    assert!(log.contains("shutting down"), "the whole log was read");
    // The server's own key is in its file and nowhere else.
    let key = std::fs::read_to_string(data.join("secret.key")).unwrap();
    let key = key.trim();
    assert_eq!(key.len(), 64, "a generated key");
    assert!(!log.contains(key), "the server key is in the logs");
    for (path, bytes) in &everything {
        if !path.ends_with("secret.key") {
            assert!(
                !contains(bytes, key),
                "the server key is in {}",
                path.display()
            );
        }
    }
    for secret in &secrets {
        // The part after the display prefix is the secret part of a token.
        let needle = if secret.starts_with("lk") && secret.len() == 44 {
            &secret[10..]
        } else {
            secret.as_str()
        };
        for (path, bytes) in &everything {
            assert!(
                !contains(bytes, needle),
                "a secret is in {}",
                path.display()
            );
        }
        assert!(!log.contains(needle), "a secret is in the logs");
    }
}

#[test]
fn the_generated_key_is_private_and_postgres_requires_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]);
    server.stop();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(data.join("secret.key")).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let out = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/postgres",
        ])
        .env_remove("LATCHKEY_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("LATCHKEY_SECRET_KEY is required with PostgreSQL"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_setup_and_set_plan() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let setup = |password: &str| {
        let mut child = Command::new(BIN)
            .args([
                "setup",
                "--org",
                "Initech",
                "--email",
                "boss@initech.test",
                "--password-stdin",
                "--data-dir",
            ])
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let first = setup("initech-password");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("created organization"));
    let again = setup("another-password");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
    let short = Command::new(BIN)
        .args([
            "setup",
            "--org",
            "Other",
            "--email",
            "x@y.test",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!short.status.success(), "an empty password is refused");

    let plan = Command::new(BIN)
        .args(["org", "set-plan", "Initech", "enterprise", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let missing = Command::new(BIN)
        .args(["org", "set-plan", "Nope", "free", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let bad_plan = Command::new(BIN)
        .args(["org", "set-plan", "Initech", "gold", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        bad_plan.status.code(),
        Some(2),
        "clap refuses an unknown plan"
    );

    // The server sees what the operator did; the first password still works.
    let server = ServerProcess::start(&data, &[]);
    let mut boss = Client::new(&server.base);
    boss.login("boss@initech.test", "initech-password").await;
    let (status, org) = boss
        .call(reqwest::Method::GET, "/api/v1/org", None, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(org["results"]["plan"], "enterprise");
    assert_eq!(org["results"]["name"], "Initech");
    server.stop();
}

/// The authentication cache's safety net: a change made behind the server's
/// back (an operator command on its SQLite file, which no cache hears of) is
/// seen once the cached credential is older than `LATCHKEY_AUTH_CACHE_TTL_SECS`
/// — not before, which proves the cache was answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_behind_the_servers_back_is_seen_within_the_cache_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ttl = Duration::from_secs(2);
    let server = ServerProcess::start(
        &data,
        &[
            ("LATCHKEY_SETUP_ORG_NAME", "Acme"),
            ("LATCHKEY_SETUP_ADMIN_EMAIL", "admin@acme.test"),
            ("LATCHKEY_SETUP_ADMIN_PASSWORD", PASSWORD),
            ("LATCHKEY_AUTH_CACHE_TTL_SECS", "2"),
        ],
    );
    let mut admin = Client::new(&server.base);
    admin.login("admin@acme.test", PASSWORD).await;
    let (status, r) = admin
        .call(
            reqwest::Method::POST,
            "/api/v1/user/me/personal-access-tokens",
            None,
            Some(json!({ "name": "cached", "expiresAt": in_days(30) })),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let token = r["results"]["token"].as_str().unwrap().to_string();
    let plan = || async {
        let (status, r) = admin
            .call(reqwest::Method::GET, "/api/v1/org", Some(&token), None)
            .await;
        assert_eq!(status, 200, "{r}");
        r["results"]["plan"].as_str().unwrap().to_string()
    };
    // The token's organization is cached from this request on (filled
    // after `before`, so it goes stale no earlier than `before` + TTL).
    let before = std::time::Instant::now();
    assert_eq!(plan().await, "free");
    let out = Command::new(BIN)
        .args(["org", "set-plan", "Acme", "enterprise", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        before.elapsed() < ttl,
        "the operator command took longer than the TTL"
    );
    assert_eq!(plan().await, "free", "still the cached answer");
    let mut seen = None;
    while before.elapsed() < ttl + Duration::from_secs(1) {
        if plan().await == "enterprise" {
            seen = Some(before.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.expect("the change is seen within the TTL");
    assert!(seen >= ttl, "seen after {seen:?}, before the TTL");
    server.stop();
}

/// The secret an answer carries, kept for the scan (with its display
/// prefix), and used once so it passes through the request path's logs.
async fn kept_and_used(
    client: &Client,
    answer: &Value,
    prefixes: &mut Vec<String>,
    secrets: &mut Vec<String>,
) {
    let token = answer["results"]["token"].as_str().unwrap().to_string();
    prefixes.push(token[..10].to_string());
    let (status, _) = client
        .call(reqwest::Method::GET, "/api/v1/user", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    secrets.push(token);
}

/// `latchkey resource-servers …` and `latchkey audit-instance` on the data
/// directory: the secret printed once, hashed with the server's key, names
/// unique without case, revocation by name or id, every change in the
/// instance log (never the secret).
#[test]
fn operator_resource_servers_and_the_instance_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("LATCHKEY_SECRET_KEY")
            .output()
            .unwrap()
    };
    let created = run(&["resource-servers", "create", "gateway"]);
    assert!(created.status.success(), "{created:?}");
    let out = String::from_utf8(created.stdout).unwrap();
    let secret = out.lines().last().unwrap().to_string();
    assert!(secret.starts_with("lkrs_") && secret.len() == 43, "{out}");
    let client_id = out
        .lines()
        .find_map(|l| l.strip_prefix("clientId: "))
        .unwrap()
        .to_string();
    let json = run(&["resource-servers", "create", "reports", "--json"]);
    assert!(json.status.success(), "{json:?}");
    let view: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(view["secret"].as_str().unwrap().starts_with("lkrs_"));

    let again = run(&["resource-servers", "create", "GATEWAY"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let bad = run(&["resource-servers", "create", "  "]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("name"));

    let list = run(&["resource-servers", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!String::from_utf8_lossy(&list.stdout).contains(&secret));
    assert!(run(&["resource-servers", "list"]).status.success());

    let revoked = run(&["resource-servers", "revoke", "Gateway"]);
    assert!(revoked.status.success(), "{revoked:?}");
    assert!(String::from_utf8_lossy(&revoked.stdout).contains(&client_id));
    let twice = run(&["resource-servers", "revoke", &client_id]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("revoked already"));
    assert!(!run(&["resource-servers", "revoke", "nobody"])
        .status
        .success());

    let audit = run(&["audit-instance", "--json"]);
    assert!(audit.status.success(), "{audit:?}");
    let text = String::from_utf8(audit.stdout).unwrap();
    let actions: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        actions,
        [
            "resource_server.revoked",
            "resource_server.created",
            "resource_server.created"
        ]
    );
    assert!(!text.contains(&secret[10..]));
    assert!(run(&["audit-instance"]).status.success());
    // The data directory holds the hash, never the secret.
    for file in files_under(&data) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, &secret),
            "{} holds the secret",
            file.display()
        );
    }
}

/// SQLite: the operator's `resource-servers revoke` runs in another process,
/// which cannot tell the running server; the revocation reaches it through
/// the cache TTL (PostgreSQL's notices make it immediate: the API tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_server_revoked_by_the_operator_is_refused_within_the_cache_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ttl = Duration::from_secs(2);
    let setup_token = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ServiceAccount,
        &mut rand::thread_rng(),
    )
    .expose()
    .to_string();
    let server = ServerProcess::start(
        &data,
        &[
            ("LATCHKEY_SETUP_ORG_NAME", "Acme"),
            ("LATCHKEY_SETUP_ADMIN_EMAIL", "admin@acme.test"),
            ("LATCHKEY_SETUP_ADMIN_PASSWORD", PASSWORD),
            ("LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN", &setup_token),
            ("LATCHKEY_AUTH_CACHE_TTL_SECS", "2"),
        ],
    );
    let created = Command::new(BIN)
        .args(["resource-servers", "create", "gateway", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let secret = String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let url = format!("{}/oauth2/introspect", server.base);
    let ask = || async {
        http.post(&url)
            .bearer_auth(&secret)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={setup_token}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let before = std::time::Instant::now();
    assert_eq!(ask().await, 200);
    let out = Command::new(BIN)
        .args(["resource-servers", "revoke", "gateway", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        before.elapsed() < ttl,
        "the operator command took longer than the TTL"
    );
    assert_eq!(ask().await, 200, "still the cached resource server");
    let mut seen = None;
    while before.elapsed() < ttl + Duration::from_secs(1) {
        if ask().await == 401 {
            seen = Some(before.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.expect("the revocation is seen within the TTL");
    assert!(seen >= ttl, "seen after {seen:?}, before the TTL");
    server.stop();
}
