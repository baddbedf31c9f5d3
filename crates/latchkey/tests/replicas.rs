//! Several `latchkey serve` processes on one PostgreSQL database: changes made
//! through one replica hold on every other within a second, racing rotations
//! have one winner, and a PostgreSQL restart is survived without a restart.

mod support;

use latchkey_store::testing::PgDatabase;
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{in_days, Client, ServerProcess};

const KEY: &str = "replica-test-secret-key-0123456789abcdef";
const ADMIN: &str = "admin@acme.test";
const PASSWORD: &str = "replica-admin-password";

fn replica(url: &str, first: bool) -> ServerProcess {
    // A cache that would keep a credential for ten minutes: a change can only
    // reach the other replica in time through its change notices.
    let mut env = vec![
        ("LATCHKEY_SECRET_KEY", KEY),
        ("LATCHKEY_AUTH_CACHE_TTL_SECS", "600"),
    ];
    if first {
        env.extend([
            ("LATCHKEY_SETUP_ORG_NAME", "Acme"),
            ("LATCHKEY_SETUP_ADMIN_EMAIL", ADMIN),
            ("LATCHKEY_SETUP_ADMIN_PASSWORD", PASSWORD),
        ]);
    }
    ServerProcess::start_with(&[OsStr::new("--database-url"), OsStr::new(url)], &env)
}

/// `GET /api/v1/user` with the token, or with the client's session.
async fn get_user(client: &Client, token: Option<&str>) -> (u16, Value) {
    client
        .call(reqwest::Method::GET, "/api/v1/user", token, None)
        .await
}

/// Polls replica `b` until `done` holds; returns how long it took.
async fn until(b: &Client, token: Option<&str>, done: impl Fn(u16, &Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let (status, body) = get_user(b, token).await;
        if done(status, &body) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not seen on the other replica within a second: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `GET /auth/forward` with the token, as a reverse proxy asks.
async fn forward(client: &Client, token: &str) -> (u16, Value) {
    client
        .call(reqwest::Method::GET, "/auth/forward", Some(token), None)
        .await
}

/// Polls `/auth/forward` on replica `b` until it refuses `token` with
/// `code`; returns how long it took.
async fn until_forward_refuses(b: &Client, token: &str, code: &str) -> Duration {
    let start = Instant::now();
    loop {
        let (status, body) = forward(b, token).await;
        if status == 401 && body["error"]["code"] == code {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "/auth/forward on the other replica still answers {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn new_member(admin: &mut Client, email: &str, role: &str) -> (String, Client) {
    let post = reqwest::Method::POST;
    let (status, r) = admin
        .call(
            post.clone(),
            "/api/v1/org/users",
            None,
            Some(json!({ "email": email, "role": role })),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let uuid = r["results"]["userUuid"].as_str().unwrap().to_string();
    let code = r["results"]["inviteUrl"]
        .as_str()
        .unwrap()
        .trim_start_matches("/invite/")
        .to_string();
    // The invitee has no session: a signed-in client would accept as itself.
    let (status, _) = Client::new(&admin.base)
        .call(
            post,
            &format!("/api/v1/invites/{code}"),
            None,
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 200);
    let mut member = Client::new(&admin.base);
    member.login(email, PASSWORD).await;
    (uuid, member)
}

async fn pat(client: &Client, name: &str) -> (String, String) {
    let (status, r) = client
        .call(
            reqwest::Method::POST,
            "/api/v1/user/me/personal-access-tokens",
            None,
            Some(json!({ "name": name, "expiresAt": in_days(30) })),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    (
        r["results"]["uuid"].as_str().unwrap().to_string(),
        r["results"]["token"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_one_replica_hold_on_the_other_within_a_second() {
    let db = PgDatabase::create().await;
    let a = replica(&db.url, true);
    let b = replica(&db.url, false);
    let mut admin = Client::new(&a.base);
    admin.login(ADMIN, PASSWORD).await;
    let on_b = Client::new(&b.base);
    let (dev_uuid, dev) = new_member(&mut admin, "dev@acme.test", "developer").await;
    let (p1, t1) = pat(&dev, "one").await;
    let (p2, t2) = pat(&dev, "two").await;
    let (_, t3) = pat(&dev, "three").await;
    for t in [&t1, &t2, &t3] {
        assert_eq!(get_user(&on_b, Some(t)).await.0, 200);
    }
    let mut figures = Vec::new();

    let (status, _) = dev
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/user/me/personal-access-tokens/{p1}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);
    figures.push((
        "revoke",
        until(&on_b, Some(&t1), |s, b| {
            s == 401 && b["error"]["code"] == "token_revoked"
        })
        .await,
    ));

    // Forward auth answers from the same cache, kept current the same way.
    let (p4, t4) = pat(&dev, "four").await;
    assert_eq!(forward(&on_b, &t4).await.0, 200);
    let (status, _) = dev
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/user/me/personal-access-tokens/{p4}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);
    figures.push((
        "revoke (/auth/forward)",
        until_forward_refuses(&on_b, &t4, "token_revoked").await,
    ));

    let (status, r) = dev
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/user/me/personal-access-tokens/{p2}/rotate"),
            None,
            Some(json!({ "expiresAt": in_days(60) })),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let rotated = r["results"]["token"].as_str().unwrap().to_string();
    figures.push((
        "rotate",
        until(&on_b, Some(&t2), |s, b| {
            s == 401 && b["error"]["code"] == "token_revoked"
        })
        .await,
    ));
    assert_eq!(get_user(&on_b, Some(&rotated)).await.0, 200);

    let member = format!("/api/v1/org/users/{dev_uuid}");
    let (status, _) = admin
        .call(
            reqwest::Method::PATCH,
            &member,
            None,
            Some(json!({ "suspended": true })),
        )
        .await;
    assert_eq!(status, 200);
    figures.push((
        "suspend",
        until(&on_b, Some(&t3), |s, b| {
            s == 401 && b["error"]["code"] == "account_suspended"
        })
        .await,
    ));
    let (status, _) = admin
        .call(
            reqwest::Method::PATCH,
            &member,
            None,
            Some(json!({ "suspended": false })),
        )
        .await;
    assert_eq!(status, 200);
    until(&on_b, Some(&t3), |s, _| s == 200).await;

    let (status, _) = admin
        .call(
            reqwest::Method::PATCH,
            &member,
            None,
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(status, 200);
    figures.push((
        "demote",
        until(&on_b, Some(&t3), |s, b| {
            s == 200 && b["results"]["scopes"] == json!(["projects:read", "content:read"])
        })
        .await,
    ));

    // Sessions are cached like tokens, and ended on every replica alike:
    // by a logout, and by the member's removal.
    let mut second = Client::new(&a.base);
    second.login(ADMIN, PASSWORD).await;
    let second_on_b = Client {
        base: b.base.clone(),
        ..second.clone()
    };
    let dev_on_b = Client {
        base: b.base.clone(),
        ..dev.clone()
    };
    assert_eq!(get_user(&second_on_b, None).await.0, 200);
    assert_eq!(get_user(&dev_on_b, None).await.0, 200);
    let (status, _) = second
        .call(reqwest::Method::POST, "/api/v1/logout", None, None)
        .await;
    assert_eq!(status, 204);
    figures.push((
        "logout",
        until(&second_on_b, None, |s, b| {
            s == 401 && b["error"]["code"] == "invalid_token"
        })
        .await,
    ));

    let (status, _) = admin
        .call(reqwest::Method::DELETE, &member, None, None)
        .await;
    assert_eq!(status, 204);
    until(&dev_on_b, None, |s, b| {
        s == 401 && b["error"]["code"] == "token_revoked"
    })
    .await;
    figures.push((
        "remove",
        until(&on_b, Some(&t3), |s, b| {
            s == 401 && b["error"]["code"] == "token_revoked"
        })
        .await,
    ));

    for (what, took) in &figures {
        println!(
            "propagation to the other replica: {what} seen after {:.1} ms",
            took.as_secs_f64() * 1000.0
        );
    }
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_rotations_across_replicas_have_exactly_one_winner() {
    let db = PgDatabase::create().await;
    let a = replica(&db.url, true);
    let b = replica(&db.url, false);
    let mut admin = Client::new(&a.base);
    admin.login(ADMIN, PASSWORD).await;
    let (uuid, _) = pat(&admin, "raced").await;
    // The session lives in the database, so it works on either replica.
    let mut on_b = Client::new(&b.base);
    on_b.cookie = admin.cookie.clone();
    on_b.csrf = admin.csrf.clone();
    let path = format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate");
    let clients = std::sync::Arc::new([admin, on_b]);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let clients = clients.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            clients[i % 2]
                .call(
                    reqwest::Method::PATCH,
                    &path,
                    None,
                    Some(json!({ "expiresAt": in_days(30) })),
                )
                .await
                .0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let winners = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((winners, refused), (1, 23), "{statuses:?}");
    a.stop();
    b.stop();
}

/// A PostgreSQL cluster of the test's own, so stopping it disturbs no one else.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    bin: std::path::PathBuf,
}

impl Cluster {
    fn pg(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        // PostgreSQL refuses to run as root.
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn init() -> Cluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            assert!(Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster { dir, port, bin };
        let out = cluster
            .pg("initdb")
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(cluster.data())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("pgdata")
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .pg("pg_ctl")
            .args(["-w", "-l"])
            .arg(self.dir.path().join("log"))
            .arg("-D")
            .arg(self.data())
            .args(["-o", &opts, "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        let out = self
            .pg("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(self.data())
            .arg("stop")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_is_survived_without_a_restart() {
    let cluster = Cluster::init();
    let server = replica(&cluster.url(), true);
    let mut admin = Client::new(&server.base);
    admin.login(ADMIN, PASSWORD).await;
    let (_, token) = pat(&admin, "steady").await;
    let http = reqwest::Client::new();
    let ready = |base: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(ready(server.base.clone()).await, 200);

    // Light traffic throughout: every answer must be 200 or 503, never a 500
    // and never a wrong 401 for a good token.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (stop, base, token) = (stop.clone(), server.base.clone(), token.clone());
        tokio::spawn(async move {
            let client = Client::new(&base);
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seen.push(get_user(&client, Some(&token)).await);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    cluster.stop();
    let down = Instant::now();
    while ready(server.base.clone()).await != 503 {
        assert!(
            down.elapsed() < Duration::from_secs(10),
            "readyz never reported the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.start();
    let up = Instant::now();
    loop {
        if ready(server.base.clone()).await == 200 && get_user(&admin, Some(&token)).await.0 == 200
        {
            break;
        }
        assert!(
            up.elapsed() < Duration::from_secs(15),
            "latchkey did not recover after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "recovered {:.0} ms after PostgreSQL came back",
        up.elapsed().as_secs_f64() * 1000.0
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = traffic.await.unwrap();
    let unavailable = seen.iter().filter(|(s, _)| *s == 503).count();
    for (status, body) in &seen {
        assert!(
            *status == 200 || (*status == 503 && body["error"]["code"] == "unavailable"),
            "during the outage: {status} {body}"
        );
    }
    if unavailable == 0 {
        let log = server.stop();
        let notable: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.contains("WARN")
                    || l.contains("ERROR")
                    || l.contains("listener")
                    || l.contains("status=5")
            })
            .collect();
        panic!(
            "the traffic never saw the outage; server log:\n{}",
            notable.join("\n")
        );
    }
    // Nothing was lost: the token, its owner and a new write all work.
    assert_eq!(get_user(&admin, Some(&token)).await.0, 200);
    let _ = pat(&admin, "after").await;
    server.stop();
}
