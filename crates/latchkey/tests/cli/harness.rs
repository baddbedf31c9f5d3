//! A server and a client home for each test, and reading what the client printed.

use crate::support::{in_days, Client, ServerProcess, BIN};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) const PASSWORD: &str = "cli-admin-password-5e2a";
pub(crate) const ADMIN: &str = "admin@acme.test";

/// A server that is killed even when the test panics.
pub(crate) struct Server {
    pub(crate) process: Option<ServerProcess>,
    pub(crate) data: PathBuf,
    pub(crate) _dir: tempfile::TempDir,
}

impl Server {
    pub(crate) fn start(extra_env: &[(&str, &str)]) -> Server {
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

    pub(crate) fn base(&self) -> String {
        self.process.as_ref().unwrap().base.clone()
    }

    /// Stop, let `f` work on the data directory, start again on it.
    pub(crate) fn restart_with(&mut self, extra_env: &[(&str, &str)], f: impl FnOnce(&Path)) {
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
pub(crate) async fn start(extra_env: &[(&str, &str)]) -> (Server, Client, String) {
    let server = Server::start(extra_env);
    let mut admin = Client::new(&server.base());
    admin.login(ADMIN, PASSWORD).await;
    // No expiry: what the commands make (some without an expiry) may not
    // outlive the token that makes it.
    let token = pat_expiring(&admin, "cli-admin", None, None).await.1;
    (server, admin, token)
}

/// A PAT of the session's user, expiring in 30 days: (uuid, token).
pub(crate) async fn pat(admin: &Client, name: &str, scopes: Option<Value>) -> (String, String) {
    pat_expiring(admin, name, scopes, Some(in_days(30))).await
}

pub(crate) async fn pat_expiring(
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

pub(crate) async fn project(admin: &Client, name: &str) -> String {
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
pub(crate) struct Home {
    pub(crate) dir: tempfile::TempDir,
}

#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    #[track_caller]
    pub(crate) fn code(&self, code: i32) -> &Out {
        assert_eq!(self.code, code, "exit code; {self:#?}");
        self
    }

    #[track_caller]
    pub(crate) fn ok(&self) -> &Out {
        self.code(0)
    }

    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        self.ok();
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    #[track_caller]
    pub(crate) fn err_has(&self, needle: &str) -> &Out {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        self
    }

    #[track_caller]
    pub(crate) fn out_has(&self, needle: &str) -> &Out {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}: {self:#?}"
        );
        self
    }

    /// Neither stream holds any of these secrets.
    #[track_caller]
    pub(crate) fn hides(&self, secrets: &[&str]) -> &Out {
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
    pub(crate) fn token(&self, prefix: &str) -> String {
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
    pub(crate) fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn config_dir(&self) -> PathBuf {
        self.dir.path().join("xdg").join("latchkey")
    }

    pub(crate) fn config_file(&self) -> PathBuf {
        self.config_dir().join("config.toml")
    }

    pub(crate) fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
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

    pub(crate) fn output(mut cmd: Command, stdin: Option<&str>) -> Out {
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

    pub(crate) fn run(&self, args: &[&str]) -> Out {
        Home::output(self.command(args, &[]), None)
    }

    pub(crate) fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        Home::output(self.command(args, env), None)
    }

    pub(crate) fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        Home::output(self.command(args, &[]), Some(stdin))
    }

    /// As a CI job: LATCHKEY_URL and LATCHKEY_TOKEN, no stored login.
    pub(crate) fn ci(&self, url: &str, token: &str, args: &[&str]) -> Out {
        self.run_env(args, &[("LATCHKEY_URL", url), ("LATCHKEY_TOKEN", token)])
    }
}

#[cfg(unix)]
pub(crate) fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An address where nothing listens.
pub(crate) fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A web server that is not latchkey: every request gets a small HTML page.
pub(crate) fn foreign_url() -> String {
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
