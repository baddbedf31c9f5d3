//! What every proxy test shares: latchkey with the example rules, the echoing
//! app, a proxy process killed on drop, and the scenario each proxy must pass.

use crate::support::{Backend, Person, TestApp};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The addresses the example files are written for, which the tests replace.
pub const EXAMPLE_LATCHKEY: &str = "127.0.0.1:8080";
pub const EXAMPLE_APP: &str = "127.0.0.1:3000";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example(path: &str) -> String {
    let file = repo().join("examples").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A proxy binary that must be there: the test fails, never skips.
pub fn binary(path: PathBuf, how: &str) -> PathBuf {
    assert!(path.exists(), "{} is missing; {how}", path.display());
    path
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The app behind the proxy: answers every request with what it saw of it
/// (method, URI, and every `X-Latchkey-*` header with all its values).
pub async fn start_app() -> SocketAddr {
    async fn echo(request: axum::extract::Request) -> axum::Json<Value> {
        let mut seen = serde_json::Map::new();
        for name in request.headers().keys() {
            if name.as_str().starts_with("x-latchkey-") {
                let values: Vec<Value> = request
                    .headers()
                    .get_all(name)
                    .iter()
                    .map(|v| json!(String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                seen.insert(name.to_string(), Value::Array(values));
            }
        }
        axum::Json(json!({
            "app": true,
            "method": request.method().as_str(),
            "uri": request.uri().to_string(),
            "headers": seen,
        }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the app");
    let addr = listener.local_addr().expect("app address");
    let app = axum::Router::new().fallback(echo);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A proxy process, killed (and reaped) when dropped; its output goes to a
/// file in its directory, shown when it does not come up.
pub struct ProxyProcess {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl ProxyProcess {
    pub fn spawn(mut command: Command, port: u16, dir: tempfile::TempDir) -> ProxyProcess {
        let log = dir.path().join("proxy.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        ProxyProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Until a request without a token comes back as latchkey's 401 through
    /// the proxy: listening, configured, and talking to latchkey.
    pub async fn ready(&mut self, http: &reqwest::Client) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the proxy exited ({status}):\n{}", self.log());
            }
            if let Ok(r) = http.get(format!("{}/", self.base)).send().await {
                if r.status() == 401 {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the proxy did not answer latchkey's 401 within 20 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// latchkey with the example rules, and who is in it.
pub struct World {
    pub app: TestApp,
    pub project: String,
    /// `member` in the organization, `viewer` on `project`: content:read
    /// there, nothing organization-wide.
    pub member: Person,
}

pub async fn world() -> World {
    let rules = repo().join("examples/latchkey.toml");
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.config = Some(rules)).await;
    let project = app.create_project("website").await;
    let member = app.person("member@acme.test", "member").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", member.uuid),
        &app.admin.pat,
        json!({ "role": "viewer" }),
    )
    .await
    .expect(200);
    World {
        app,
        project,
        member,
    }
}

/// An example file with latchkey's, the app's and the proxy's addresses
/// replaced by the test's: each `(from, to)` must occur in it.
pub fn render(text: &str, replacements: &[(&str, String)]) -> String {
    replacements
        .iter()
        .fold(text.to_string(), |text, (from, to)| {
            assert!(text.contains(from), "{from:?} is not in the example");
            text.replace(from, to)
        })
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// What the app saw, when the request reached it.
    pub fn app_saw(&self) -> Option<&Value> {
        (self.body["app"] == true).then_some(&self.body)
    }

    #[track_caller]
    pub fn seen_header(&self, name: &str) -> Option<Vec<String>> {
        let saw = self.app_saw().expect("the request reached the app");
        saw["headers"][name].as_array().map(|vs| {
            vs.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
    }
}

pub async fn send(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http.request(method, url);
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("the proxy answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

/// What every proxy must do, through the proxy at `base`. A proxy that
/// `strips_all` removes every `X-Latchkey-*` header a client sent, not only
/// the seven latchkey answers with (nginx can only replace those seven).
pub async fn scenario(world: &World, base: &str, strips_all: bool) {
    let http = &world.app.http;
    let app = &world.app;
    let url = |path: &str| format!("{base}{path}");
    let member = Some(world.member.pat_token.as_str());
    let admin = Some(app.admin.pat_token.as_str());
    let reports = format!("/projects/{}/reports/2024/q1.pdf", world.project);

    // No token: latchkey's 401 and its challenge; the app never sees it.
    let r = send(http, "GET", &url("/"), None, &[]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.app_saw().is_none());
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.starts_with(r#"Bearer realm="latchkey""#),
        "{challenge:?}"
    );
    let r = send(http, "GET", &url("/"), Some("lkpat_not_a_token"), &[]).await;
    assert_eq!(r.status, 401, "{}", r.body);

    // A valid token: the app sees who is calling.
    let r = send(http, "GET", &url("/about?x=1"), admin, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let saw = r.app_saw().expect("reached the app").clone();
    assert_eq!(saw["uri"], "/about?x=1");
    let one = |name: &str| r.seen_header(name).unwrap_or_default();
    assert_eq!(one("x-latchkey-principal-type"), ["user"]);
    assert_eq!(one("x-latchkey-principal-id"), [app.admin.uuid.as_str()]);
    assert_eq!(one("x-latchkey-principal-name"), [app.admin.email.as_str()]);
    assert_eq!(one("x-latchkey-org-id"), [app.org_uuid.as_str()]);
    assert_eq!(one("x-latchkey-credential-kind"), ["pat"]);
    assert_eq!(one("x-latchkey-credential-id").len(), 1);
    let scopes = one("x-latchkey-scopes");
    assert!(
        scopes.len() == 1 && scopes[0].split(' ').any(|s| s == "members:write"),
        "{scopes:?}"
    );

    // A rule's scope that is not held: 403 (admin pages need members:write).
    let r = send(http, "GET", &url("/admin/users"), member, &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.app_saw().is_none());
    let r = send(http, "GET", &url("/admin/users"), admin, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A `{project}` rule: the member's role on that project decides.
    let r = send(http, "GET", &url(&reports), member, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.seen_header("x-latchkey-principal-id"),
        Some(vec![world.member.uuid.clone()])
    );
    let r = send(http, "POST", &url(&reports), member, &[]).await;
    assert_eq!(r.status, 403, "writing needs content:write: {}", r.body);
    let elsewhere = format!("/projects/{}/reports/x", uuid::Uuid::new_v4());
    let r = send(http, "GET", &url(&elsewhere), member, &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(http, "POST", &url(&reports), admin, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A scope named in the forward-auth URL, per location.
    let r = send(http, "PUT", &url("/uploads/logo.png"), member, &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(http, "PUT", &url("/uploads/logo.png"), admin, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A client cannot choose what is needed: its query is not the
    // forward-auth URL's, and its forwarded headers are not the proxy's.
    // (The member holds content:read on the project: were the query
    // latchkey's, this would pass.)
    let sneaky = format!("/admin/users?scope=content:read&project={}", world.project);
    let r = send(http, "GET", &url(&sneaky), member, &[]).await;
    assert_eq!(
        r.status, 403,
        "a client's ?scope= is not latchkey's: {}",
        r.body
    );
    for forged in [
        ("X-Forwarded-Uri", "/about"),
        ("X-Original-URI", "/about"),
        ("X-Forwarded-Method", "OPTIONS"),
    ] {
        let r = send(http, "GET", &url("/admin/users"), member, &[forged]).await;
        assert!(
            r.app_saw().is_none() && r.status >= 400,
            "{forged:?} let a request through: {} {}",
            r.status,
            r.body
        );
    }

    // A client cannot forge who it is: the app sees latchkey's headers only,
    // even where latchkey's value is empty (the member has no
    // organization-wide scope).
    let forged = [
        (
            "X-Latchkey-Principal-Id",
            "00000000-0000-0000-0000-000000000000",
        ),
        ("X-Latchkey-Scopes", "members:write"),
        ("X-Latchkey-Org-Id", "forged"),
        ("X-Latchkey-Role", "admin"),
    ];
    let r = send(http, "GET", &url("/about"), member, &forged).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.seen_header("x-latchkey-principal-id"),
        Some(vec![world.member.uuid.clone()])
    );
    assert_eq!(
        r.seen_header("x-latchkey-org-id"),
        Some(vec![app.org_uuid.clone()])
    );
    let scopes = r.seen_header("x-latchkey-scopes").unwrap_or_default();
    assert!(
        scopes.iter().all(String::is_empty),
        "forged scopes reached the app: {scopes:?}"
    );
    if strips_all {
        assert_eq!(r.seen_header("x-latchkey-role"), None);
    }
    // …and without a token, nothing reaches the app at all.
    let r = send(http, "GET", &url("/about"), None, &forged).await;
    assert_eq!(r.status, 401);

    // Revocation holds on the very next request.
    let (uuid, token) = app
        .create_pat(&app.admin.session, json!({ "name": "through the proxy" }))
        .await;
    let r = send(http, "GET", &url("/about"), Some(&token), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.delete(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &app.admin.session,
    )
    .await
    .expect(204);
    let r = send(http, "GET", &url("/about"), Some(&token), &[]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.app_saw().is_none());
    // The credential refused was named in latchkey's audit log.
    let events = app
        .get("/api/v1/org/audit-logs?action=auth.refused", &app.admin.pat)
        .await;
    let events = events.expect(200)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|e| e["details"]["code"] == "token_revoked"),
        "{events:?}"
    );
}
