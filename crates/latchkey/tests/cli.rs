//! The command-line client (issue 7): the real `latchkey` binary run as a
//! client of a real `latchkey serve`, with its own HOME and config dir.
//! Exit codes: 0 ok, 1 API refusal, 2 usage, 3 unreachable / not latchkey.

mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{in_days, Client, ServerProcess, BIN};

const PASSWORD: &str = "cli-admin-password-5e2a";
const ADMIN: &str = "admin@acme.test";

// --- harness ---------------------------------------------------------------

/// A server that is killed even when the test panics.
struct Server {
    process: Option<ServerProcess>,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra_env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut env = vec![
            ("LATCHKEY_SETUP_ORG_NAME", "Acme"),
            ("LATCHKEY_SETUP_ADMIN_EMAIL", ADMIN),
            ("LATCHKEY_SETUP_ADMIN_PASSWORD", PASSWORD),
        ];
        env.extend_from_slice(extra_env);
        Server {
            process: Some(ServerProcess::start(&data, &env)),
            data,
            _dir: dir,
        }
    }

    fn base(&self) -> String {
        self.process.as_ref().unwrap().base.clone()
    }

    /// Stop, let `f` work on the data directory, start again on it.
    fn restart_with(&mut self, extra_env: &[(&str, &str)], f: impl FnOnce(&Path)) {
        self.process.take().unwrap().stop();
        f(&self.data);
        self.process = Some(ServerProcess::start(&self.data, extra_env));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// The server, an admin web session, and a first PAT of the admin's.
async fn start(extra_env: &[(&str, &str)]) -> (Server, Client, String) {
    let server = Server::start(extra_env);
    let mut admin = Client::new(&server.base());
    admin.login(ADMIN, PASSWORD).await;
    // No expiry: what the commands make (some without an expiry) may not
    // outlive the token that makes it.
    let token = pat_expiring(&admin, "cli-admin", None, None).await.1;
    (server, admin, token)
}

/// A PAT of the session's user, expiring in 30 days: (uuid, token).
async fn pat(admin: &Client, name: &str, scopes: Option<Value>) -> (String, String) {
    pat_expiring(admin, name, scopes, Some(in_days(30))).await
}

async fn pat_expiring(
    admin: &Client,
    name: &str,
    scopes: Option<Value>,
    expires_at: Option<String>,
) -> (String, String) {
    let mut body = json!({ "name": name, "expiresAt": expires_at });
    if let Some(s) = scopes {
        body["scopes"] = s;
    }
    let (status, r) = admin
        .call(
            reqwest::Method::POST,
            "/api/v1/user/me/personal-access-tokens",
            None,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    (
        r["results"]["uuid"].as_str().unwrap().to_string(),
        r["results"]["token"].as_str().unwrap().to_string(),
    )
}

async fn project(admin: &Client, name: &str) -> String {
    let (status, r) = admin
        .call(
            reqwest::Method::POST,
            "/api/v1/org/projects",
            None,
            Some(json!({ "name": name })),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    r["results"]["projectUuid"].as_str().unwrap().to_string()
}

/// A user's own HOME and config directory: nothing shared between tests,
/// nothing read from the real one.
struct Home {
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn code(&self, code: i32) -> &Out {
        assert_eq!(self.code, code, "exit code; {self:#?}");
        self
    }

    #[track_caller]
    fn ok(&self) -> &Out {
        self.code(0)
    }

    #[track_caller]
    fn json(&self) -> Value {
        self.ok();
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    #[track_caller]
    fn err_has(&self, needle: &str) -> &Out {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        self
    }

    #[track_caller]
    fn out_has(&self, needle: &str) -> &Out {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}: {self:#?}"
        );
        self
    }

    /// Neither stream holds any of these secrets.
    #[track_caller]
    fn hides(&self, secrets: &[&str]) -> &Out {
        for s in secrets {
            assert!(
                !self.stdout.contains(s) && !self.stderr.contains(s),
                "a secret was printed: {self:#?}"
            );
        }
        self
    }

    /// The one line of a `--quiet` create or rotate: the token alone.
    #[track_caller]
    fn token(&self, prefix: &str) -> String {
        self.ok();
        let token = self.stdout.strip_suffix('\n').unwrap_or("");
        assert!(
            token.starts_with(prefix)
                && token.len() == 44
                && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "stdout is not one {prefix} token on its line: {self:#?}"
        );
        token.to_string()
    }
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("xdg").join("latchkey")
    }

    fn config_file(&self) -> PathBuf {
        self.config_dir().join("config.toml")
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env_remove("LATCHKEY_URL")
            .env_remove("LATCHKEY_TOKEN")
            .env_remove("LATCHKEY_LOG")
            .env_remove("LATCHKEY_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn output(mut cmd: Command, stdin: Option<&str>) -> Out {
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("latchkey runs");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        Home::output(self.command(args, &[]), None)
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        Home::output(self.command(args, env), None)
    }

    fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        Home::output(self.command(args, &[]), Some(stdin))
    }

    /// As a CI job: LATCHKEY_URL and LATCHKEY_TOKEN, no stored login.
    fn ci(&self, url: &str, token: &str, args: &[&str]) -> Out {
        self.run_env(args, &[("LATCHKEY_URL", url), ("LATCHKEY_TOKEN", token)])
    }
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An address where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A web server that is not latchkey: every request gets a small HTML page.
fn foreign_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<html><body>It works!</body></html>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{addr}")
}

// --- login, logout, the config file, precedence -----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_only_a_verified_token_privately() {
    let (server, admin, token) = start(&[]).await;
    let url = server.base();
    let home = Home::new();

    // Rejected tokens: nothing stored, the API's code said, exit 1.
    home.run_stdin(&["login", &url, "--token-stdin"], "lkpat_not-a-token\n")
        .code(1)
        .err_has("malformed_token")
        .err_has("nothing was stored");
    let (revoked_uuid, revoked) = pat(&admin, "revoked", None).await;
    let (status, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/user/me/personal-access-tokens/{revoked_uuid}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);
    home.run(&["login", &url, "--token", &revoked])
        .code(1)
        .err_has("token_revoked")
        .hides(&[&revoked]);
    assert!(
        !home.config_file().exists(),
        "a refused token is not stored"
    );
    assert!(!home.config_dir().exists());
    // No token at all is a usage error.
    home.run(&["login", &url]).code(2).err_has("--token-stdin");

    // A good one, from stdin; the URL's trailing slash is dropped.
    home.run_stdin(
        &["login", &format!("{url}/"), "--token-stdin"],
        &format!("{token}\n"),
    )
    .ok()
    .out_has("Acme")
    .out_has(ADMIN)
    .hides(&[&token]);
    let stored = std::fs::read_to_string(home.config_file()).unwrap();
    assert!(stored.contains(&token) && stored.contains(&format!("url = \"{url}\"")));
    #[cfg(unix)]
    {
        assert_eq!(mode_of(&home.config_file()), 0o600);
        assert_eq!(mode_of(&home.config_dir()), 0o700);
    }

    // Every command now uses it.
    home.run(&["whoami"])
        .ok()
        .out_has("Acme")
        .out_has("admin")
        .out_has("personal access token \"cli-admin\"")
        .out_has(&token[..10])
        .hides(&[&token]);
    let me = home.run(&["whoami", "--json"]).json();
    assert_eq!(me["org"]["name"], "Acme");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["principal"]["email"], ADMIN);
    assert_eq!(me["credential"]["kind"], "pat");
    assert_eq!(me["credential"]["name"], "cli-admin");
    assert!(me["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("audit:read")));

    // Logout forgets it; a second logout has nothing to do.
    home.run(&["logout"]).ok().out_has("Logged out");
    assert!(!home.config_file().exists());
    home.run(&["whoami"]).code(2).err_has("not logged in");
    home.run(&["logout"]).ok().out_has("Not logged in");

    // A config directory made too open by someone else is tightened.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.config_dir(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        home.run(&["login", &url, "--token", &token, "--quiet"])
            .ok()
            .hides(&[&token]);
        assert_eq!(mode_of(&home.config_dir()), 0o700);
        assert_eq!(mode_of(&home.config_file()), 0o600);
        // A file someone opened up is still read, with a warning.
        std::fs::set_permissions(home.config_file(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        home.run(&["whoami", "--quiet"])
            .ok()
            .err_has("readable by others");
    }

    // Without XDG_CONFIG_HOME: the platform's config directory.
    #[cfg(target_os = "linux")]
    {
        let plain = Home::new();
        let mut cmd = plain.command(&["login", &url, "--token-stdin"], &[]);
        cmd.env_remove("XDG_CONFIG_HOME");
        Home::output(cmd, Some(&token)).ok();
        let path = plain.dir.path().join(".config/latchkey/config.toml");
        assert_eq!(mode_of(&path), 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_beats_env_beats_stored_login() {
    let (server, admin, _) = start(&[]).await;
    let url = server.base();
    let file = pat(&admin, "file", None).await.1;
    let env = pat(&admin, "env", None).await.1;
    let flag = pat(&admin, "flag", None).await.1;
    let dead = dead_url();
    let home = Home::new();
    home.run(&["login", &url, "--token", &file]).ok();
    let name = |out: Out| out.json()["credential"]["name"].clone();

    assert_eq!(name(home.run(&["whoami", "--json"])), "file");
    assert_eq!(
        name(home.run_env(&["whoami", "--json"], &[("LATCHKEY_TOKEN", &env)])),
        "env"
    );
    assert_eq!(
        name(home.run_env(
            &["whoami", "--json", "--token", &flag],
            &[("LATCHKEY_TOKEN", &env)]
        )),
        "flag"
    );
    // An empty variable (a CI secret that is not set) counts as unset.
    assert_eq!(
        name(home.run_env(&["whoami", "--json"], &[("LATCHKEY_TOKEN", "")])),
        "file"
    );
    // The URL too: the environment's beats the file's, the flag beats both.
    home.run_env(
        &["whoami"],
        &[("LATCHKEY_URL", &dead), ("LATCHKEY_TOKEN", &env)],
    )
    .code(3)
    .err_has("cannot reach");
    assert_eq!(
        name(home.run_env(
            &["whoami", "--json", "--url", &url],
            &[("LATCHKEY_URL", &dead), ("LATCHKEY_TOKEN", &env)]
        )),
        "env"
    );
    // The stored token never goes to another server than the stored one.
    home.run_env(&["whoami"], &[("LATCHKEY_URL", &dead)])
        .code(2)
        .err_has("no token for");
    home.run(&["whoami", "--url", &format!("{url}/")]).ok();

    // CI: only the environment, nothing stored.
    let ci = Home::new();
    assert_eq!(name(ci.ci(&url, &env, &["whoami", "--json"])), "env");
    ci.run_env(&["whoami"], &[("LATCHKEY_URL", &url)])
        .code(2)
        .err_has("no token for");
    assert!(!ci.config_file().exists());

    // A broken config file is named, never quoted (it may hold a token), and
    // a job with both variables does not depend on it.
    let broken = Home::new();
    std::fs::create_dir_all(broken.config_dir()).unwrap();
    std::fs::write(
        broken.config_file(),
        format!("url = \"{url}\"\ntoken = {env}\n"),
    )
    .unwrap();
    broken
        .run(&["whoami"])
        .code(1)
        .err_has("not a valid latchkey config file")
        .hides(&[&env]);
    assert_eq!(name(broken.ci(&url, &flag, &["whoami", "--json"])), "flag");
}

// --- exit codes without a latchkey server ----------------------------------

#[test]
fn unreachable_and_foreign_servers_exit_3() {
    let home = Home::new();
    let token = "lkpat_0000000000000000000000000000000000000";
    let dead = dead_url();
    home.ci(&dead, token, &["whoami"])
        .code(3)
        .err_has("cannot reach the latchkey server")
        .hides(&[token]);
    home.run(&["login", &dead, "--token", token])
        .code(3)
        .hides(&[token]);
    assert!(!home.config_file().exists());

    let foreign = foreign_url();
    home.ci(&foreign, token, &["tokens", "list"])
        .code(3)
        .err_has("is not a latchkey API")
        .err_has("text/html");
    home.run_stdin(&["login", &foreign, "--token-stdin"], token)
        .code(3)
        .err_has("is not a latchkey API");
    assert!(!home.config_file().exists());
    // With --json the failure is one JSON line on stderr.
    let out = home.ci(&foreign, token, &["whoami", "--json"]);
    out.code(3);
    let error: Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(error["error"]["code"], "unreachable");
    assert_eq!(out.stdout, "");
}

#[test]
fn usage_errors_exit_2_and_completions_print() {
    let home = Home::new();
    home.run(&["whoami"]).code(2).err_has("not logged in");
    home.run(&["tokens", "frobnicate"]).code(2);
    home.run(&["tokens", "create"]).code(2).err_has("--name");
    home.run(&["tokens", "rotate", "x"])
        .code(2)
        .err_has("--expires-in");
    home.run(&["tokens", "create", "--name", "x", "--expires-in", "3x"])
        .code(2)
        .err_has("not a duration");
    home.run(&[
        "tokens",
        "create",
        "--name",
        "x",
        "--expires-in",
        "1d",
        "--no-expiry",
    ])
    .code(2);
    home.run(&["tokens", "edit", "x"]).code(2);
    home.run(&["api-keys", "create", "--name", "x", "--role", "owner"])
        .code(2);
    home.run(&["members", "set-role", "a@b.test", "owner"])
        .code(2);
    home.run(&["service-accounts", "create", "--description", "x"])
        .code(2);
    home.run(&["audit", "--since", "last tuesday"]).code(2);
    home.run(&["audit", "--limit", "501"]).code(2);
    home.run(&["whoami", "--json", "--quiet"]).code(2);
    home.ci("not a url", "lkpat_x", &["whoami"])
        .code(2)
        .err_has("not a server URL");
    home.run(&["login", "ftp://example.com", "--token", "x"])
        .code(2);
    assert!(!home.config_file().exists());

    for shell in ["bash", "zsh", "fish"] {
        let out = home.run(&["completions", shell]);
        out.ok();
        assert!(
            out.stdout.len() > 1000 && out.stdout.contains("api-keys"),
            "{shell}: {out:#?}"
        );
    }
    home.run(&["completions", "tcsh"]).code(2);
}

// --- personal access tokens -----------------------------------------------------

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

// --- API keys -----------------------------------------------------------------

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

// --- service accounts ---------------------------------------------------------

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

// --- projects, members ------------------------------------------------------

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

// --- audit ------------------------------------------------------------------

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
