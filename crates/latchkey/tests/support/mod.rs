//! Running the real `latchkey` binary for a test, and talking to it.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// A `latchkey serve` process whose output is captured in full.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    log: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    /// `latchkey serve` on SQLite in `data_dir`.
    pub fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start_with(&[OsStr::new("--data-dir"), data_dir.as_os_str()], extra_env)
    }

    /// `latchkey serve --bind 127.0.0.1:0 ARGS…`.
    pub fn start_with(args: &[&OsStr], extra_env: &[(&str, &str)]) -> ServerProcess {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env("LATCHKEY_LOG", "trace")
            .env("LATCHKEY_LAST_USED_FLUSH_SECS", "1")
            .env_remove("LATCHKEY_SECRET_KEY")
            .env_remove("LATCHKEY_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("latchkey starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let log = log.clone();
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(addr) = line.split("addr=").nth(1) {
                        let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
                    }
                    log.lock().unwrap().push_str(&line);
                    log.lock().unwrap().push('\n');
                }
            }));
        }
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("server did not start: {}", log.lock().unwrap()));
        ServerProcess {
            child,
            base: format!("http://{addr}"),
            log,
            readers,
        }
    }

    /// SIGTERM, then wait: the graceful path (flushes lastUsedAt).
    pub fn stop(mut self) -> String {
        // Signalled directly (not through /bin/kill, whose argument parsing
        // differs between versions); the child is not reaped yet, so its pid
        // is still its own.
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill only sends a signal to our own child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The readers end at the end of the output: the log is complete.
        for reader in self.readers.drain(..) {
            reader.join().expect("a log reader");
        }
        let log = self.log.lock().unwrap().clone();
        log
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.to_string(),
            cookie: None,
            csrf: None,
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        } else if let (Some(c), Some(x)) = (&self.cookie, &self.csrf) {
            req = req
                .header("Cookie", format!("latchkey_session={c}"))
                .header("X-CSRF-Token", x);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value)
    }

    pub async fn login(&mut self, email: &str, password: &str) {
        let resp = self
            .http
            .post(format!("{}/api/v1/login", self.base))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status(), 200);
        let cookie = resp
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        let body: Value = resp.json().await.unwrap();
        self.cookie = Some(cookie);
        self.csrf = Some(body["results"]["csrfToken"].as_str().unwrap().to_string());
    }
}

pub fn in_days(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}
