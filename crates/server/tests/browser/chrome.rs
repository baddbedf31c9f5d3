//! A real headless Chromium, driven over WebDriver by chromedriver: Debian's
//! `chromium` and `chromium-driver` (`.ci/run` installs them). Nothing is
//! downloaded. Each test gets its own chromedriver, profile and screenshots
//! folder under `target/browser-screenshots/<test>/`.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn program(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

pub struct Browser {
    pub client: Client,
    pub base: String,
    driver: std::process::Child,
    _profile: TempDir,
    shots: PathBuf,
}

/// Where screenshots go: the workspace's target directory.
fn screenshots_dir(test: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("browser-screenshots").join(test)
}

impl Browser {
    /// Starts chromedriver and a fresh Chromium profile at 1280×900.
    pub async fn start(test: &str, base: &str) -> Browser {
        let chromium = program("LATCHKEY_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("LATCHKEY_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = std::process::Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // Its own process group, so dropping the browser stops Chromium too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start {chromedriver} ({e}); install Debian's chromium and chromium-driver (.ci/run does)")
        });
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("chromedriver did not start a session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let shots = screenshots_dir(test);
        std::fs::create_dir_all(&shots).expect("screenshots dir");
        Browser {
            client,
            base: base.to_string(),
            driver,
            _profile: profile,
            shots,
        }
    }

    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    /// Waits for the element (pages load after clicks).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks something that loads a new page, and waits for that page: a
    /// lookup right after a plain click could still find the old page.
    pub async fn go(&self, css: &str) {
        self.script("window.__latchkeyOldPage = true; return null;")
            .await;
        self.click(css).await;
        let started = Instant::now();
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.__latchkeyOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if loaded {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "clicking {css} loaded no new page"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    pub async fn heading(&self) -> String {
        self.text("main h1").await
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("url").to_string()
    }

    pub async fn title(&self) -> String {
        self.client.title().await.expect("title")
    }

    pub async fn script(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.expect("script")
    }

    /// Saves a PNG of the window as `<name>.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    pub async fn sign_in(&self, email: &str, password: &str) {
        self.open("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.go("form button[type=submit]").await;
        self.find("nav[aria-label=Settings]").await;
    }

    /// Ends the WebDriver session (Chromium quits), then stops chromedriver.
    pub async fn close(self) {
        let client = self.client.clone();
        let _ = client.close().await;
        // Drop stops what is left.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and any Chromium process it started share its process
        // group. The group is signalled before chromedriver is reaped, while
        // its pid (the group's id) cannot have been given to anything else.
        if let Ok(pgid) = libc::pid_t::try_from(self.driver.id()) {
            // SAFETY: killpg only sends a signal; the group is our child's.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
        let _ = self.driver.wait();
    }
}
