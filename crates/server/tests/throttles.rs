//! Throttles that hit the right people, the client address behind trusted
//! proxies, refused credentials that do not flood the audit log, the
//! authentication cache under a flood of unknown tokens, and
//! `WWW-Authenticate` on every `401` (API.md, second part). Each test is
//! named after the finding it reproduces; the real server on 127.0.0.1:0, on
//! SQLite and on PostgreSQL.

#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

use latchkey_server::ServeConfig;
use serde_json::{json, Value};
use support::{Auth, Backend, Resp, TestApp, ADMIN_EMAIL, PASSWORD};

/// Like `on_both_backends!`, for tests that start their own servers.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        )*
    };
}

on_both!(
    concurrent_wrong_logins_are_counted_before_hashing,
    an_attacker_cannot_lock_the_right_password_out_from_another_address,
    verify_never_refuses_a_valid_token,
    forward_auth_counts_with_verify_and_never_refuses_a_valid_token,
    forwarded_for_is_believed_only_from_trusted_proxies,
    sign_in_counters_are_shared_by_replicas_and_survive_restarts,
    a_revoked_token_flood_writes_one_refusal_a_minute,
    unknown_tokens_do_not_evict_cached_credentials,
    every_401_carries_www_authenticate,
    a_right_password_gives_the_account_its_allowance_back,
    a_full_window_lifts_when_it_ends,
);

/// The test client reaches the server from 127.0.0.1: trusting it lets a
/// test speak for any client address through `X-Forwarded-For`.
fn behind_proxy(config: &mut ServeConfig) {
    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
}

/// A server and the configuration it was started with, to start more on the
/// same database.
async fn spawn(
    backend: Backend,
    configure: impl FnOnce(&mut ServeConfig),
) -> (TestApp, ServeConfig) {
    let mut saved = None;
    let app = TestApp::spawn_with(backend, |config| {
        configure(config);
        saved = Some(config.clone());
    })
    .await;
    (app, saved.expect("configured"))
}

/// `POST /api/v1/login` from `from` (sent as `X-Forwarded-For`).
async fn login_from(
    base: &str,
    http: &reqwest::Client,
    from: &str,
    email: &str,
    password: &str,
) -> u16 {
    http.post(format!("{base}/api/v1/login"))
        .header("X-Forwarded-For", from)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login request")
        .status()
        .as_u16()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// Every `auth.refused` event of one credential.
async fn refusals_of(app: &TestApp, credential: &str) -> Vec<Value> {
    let page = app
        .get(
            "/api/v1/org/audit-logs?action=auth.refused&limit=500",
            &app.admin.pat,
        )
        .await;
    page.expect(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["credential"]["uuid"] == credential)
        .cloned()
        .collect()
}

async fn revoked_pat(app: &TestApp, name: &str) -> (String, String) {
    let (uuid, token) = app
        .create_pat(&app.admin.session, json!({ "name": name }))
        .await;
    let gone = app
        .delete(
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
            &app.admin.session,
        )
        .await;
    assert_eq!(gone.status, 204);
    (uuid, token)
}

/// Finding: `check()` ran before argon2 and `record_failure()` after it, so
/// 200 concurrent wrong logins from one address all reached the password
/// check. Now each attempt is counted before it is hashed.
async fn concurrent_wrong_logins_are_counted_before_hashing(backend: Backend) {
    let (app, _) = spawn(backend, |_| {}).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, base) = (app.http.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/api/v1/login"))
                .json(&json!({ "email": ADMIN_EMAIL, "password": "a guess" }))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert!(
        count(&statuses, 401) <= 10,
        "at most the limit reach the password check: {statuses:?}"
    );
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        50,
        "{statuses:?}"
    );
    // Many accounts from one address: the address has a limit of its own.
    let mut tasks = Vec::new();
    for i in 0..130 {
        let (http, base) = (app.http.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/api/v1/login"))
                .json(&json!({ "email": format!("sprayed{i}@acme.test"), "password": "a guess" }))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    // The ten wrong admin logins above count toward the address too.
    assert!(
        count(&statuses, 401) <= 40,
        "at most the address's limit reach the password check: {} of {statuses:?}",
        count(&statuses, 401)
    );
    assert_eq!(count(&statuses, 401) + count(&statuses, 429), 130);
}

/// Finding: ten wrong passwords locked the real user out from every address
/// for 15 minutes. The lock is on (account, address) now.
async fn an_attacker_cannot_lock_the_right_password_out_from_another_address(backend: Backend) {
    let (app, _) = spawn(backend, behind_proxy).await;
    let attacker = "198.51.100.66";
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(login_from(&app.base, &app.http, attacker, ADMIN_EMAIL, "a guess").await);
    }
    assert_eq!(count(&statuses, 401), 10, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 5, "{statuses:?}");
    // The attacker's own address stays locked for this account, even with
    // the right password…
    assert_eq!(
        login_from(&app.base, &app.http, attacker, ADMIN_EMAIL, PASSWORD).await,
        429
    );
    // …but the user signs in from anywhere else.
    assert_eq!(
        login_from(&app.base, &app.http, "203.0.113.5", ADMIN_EMAIL, PASSWORD).await,
        200
    );
    // And a success there does not unlock the attacker.
    assert_eq!(
        login_from(&app.base, &app.http, attacker, ADMIN_EMAIL, "a guess").await,
        429
    );
}

/// Finding: 60 bad tokens a minute from one address (a backend verifying for
/// all its users is one address) locked out every real verification.
async fn verify_never_refuses_a_valid_token(backend: Backend) {
    let (app, _) = spawn(backend, |_| {}).await;
    let verify = |token: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": token }),
            )
            .await
        }
    };
    let mut refused = 0;
    for i in 0..100 {
        let r = verify(format!("lkpat_not_a_token_{i}")).await;
        match r.status {
            200 => assert_eq!(r.results()["valid"], false),
            429 => refused += 1,
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert!(refused > 0, "invalid tokens over the limit are refused");
    for _ in 0..5 {
        let valid = verify(app.admin.pat_token.clone()).await;
        assert_eq!(valid.expect(200)["valid"], true, "{}", valid.body);
    }
    let again = verify("lkpat_still_not_a_token".into()).await;
    again.expect_error(429, "rate_limited");
    assert!(again.headers.get("retry-after").is_some());
}

/// `/auth/forward` is asked for every user behind a proxy from one address:
/// its refused credentials count toward the same limit as `/auth/verify`'s
/// (60 a minute), missing ones do not (nothing was guessed), and a valid
/// token is never refused.
async fn forward_auth_counts_with_verify_and_never_refuses_a_valid_token(backend: Backend) {
    let (app, _) = spawn(backend, |_| {}).await;
    for _ in 0..70 {
        app.get("/auth/forward", &Auth::None)
            .await
            .expect_error(401, "missing_credentials");
    }
    for i in 0..30 {
        let r = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": format!("lkpat_not_a_token_{i}") }),
            )
            .await;
        assert_eq!(r.expect(200)["valid"], false);
    }
    let mut refused = 0;
    for i in 0..40 {
        let r = app
            .get(
                "/auth/forward",
                &Auth::Token(format!("lkpat_not_a_token_{i}")),
            )
            .await;
        match (r.status, r.code()) {
            (401, "malformed_token") => {}
            (429, "rate_limited") => refused += 1,
            other => panic!("unexpected {other:?}: {}", r.body),
        }
    }
    assert_eq!(
        refused, 10,
        "the 61st invalid answer is refused, counted with verify's"
    );
    let r = app
        .get("/auth/forward", &Auth::Token("lkpat_again".into()))
        .await;
    r.expect_error(429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    for _ in 0..5 {
        let valid = app.get("/auth/forward", &app.admin.pat).await;
        assert_eq!(valid.status, 200, "{}", valid.body);
    }
}

/// The address in the `project.created` event of the project `name`.
async fn ip_of(app: &TestApp, name: &str) -> Value {
    let events = app
        .get(
            "/api/v1/org/audit-logs?action=project.created&limit=500",
            &app.admin.pat,
        )
        .await;
    events.expect(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["target"]["name"] == name)
        .map(|e| e["ip"].clone())
        .unwrap_or_else(|| panic!("no event for {name}"))
}

/// Finding: behind a reverse proxy everyone was one address.
async fn forwarded_for_is_believed_only_from_trusted_proxies(backend: Backend) {
    let (app, _) = spawn(backend, |config| {
        config.trusted_proxies = vec![
            "127.0.0.1/32".parse().expect("cidr"),
            "10.0.0.0/8".parse().expect("cidr"),
        ];
    })
    .await;
    let create = |name: &str, header: (&str, &str)| {
        app.http
            .post(format!("{}/api/v1/org/projects", app.base))
            .header("Authorization", format!("ApiKey {}", app.admin.pat_token))
            .header(header.0, header.1)
            .json(&json!({ "name": name }))
            .send()
    };
    // The right-most address that is not a trusted proxy; what the client
    // itself wrote to the left of it is not believed.
    assert_eq!(
        create(
            "chained",
            ("X-Forwarded-For", "192.0.2.1, 203.0.113.9, 10.1.2.3")
        )
        .await
        .expect("request")
        .status(),
        201
    );
    assert_eq!(ip_of(&app, "chained").await, "203.0.113.9");
    assert_eq!(
        create(
            "standard",
            ("Forwarded", "for=\"[2001:db8::7]:4711\";proto=https")
        )
        .await
        .expect("request")
        .status(),
        201
    );
    assert_eq!(ip_of(&app, "standard").await, "2001:db8::7");
    // Refusals name the client too.
    let (uuid, token) = revoked_pat(&app, "gone").await;
    let refused = app
        .http
        .get(format!("{}/api/v1/user", app.base))
        .header("Authorization", format!("ApiKey {token}"))
        .header("X-Forwarded-For", "203.0.113.44")
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 401);
    assert_eq!(refusals_of(&app, &uuid).await[0]["ip"], "203.0.113.44");

    // From a peer that is not trusted, the header is ignored.
    let (direct, _) = spawn(backend, |_| {}).await;
    let resp = direct
        .http
        .post(format!("{}/api/v1/org/projects", direct.base))
        .header(
            "Authorization",
            format!("ApiKey {}", direct.admin.pat_token),
        )
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&json!({ "name": "direct" }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 201);
    assert_eq!(ip_of(&direct, "direct").await, "127.0.0.1");
}

/// Finding: throttles lived in each process, so N replicas allowed N times
/// the attempts and a restart forgot them. Two servers on one PostgreSQL
/// database share the sign-in counter; on either backend a restart keeps it.
async fn sign_in_counters_are_shared_by_replicas_and_survive_restarts(backend: Backend) {
    let (mut app, config) = spawn(backend, |_| {}).await;
    let other = match backend {
        Backend::Postgres => Some(
            latchkey_server::start(config.clone())
                .await
                .expect("second replica"),
        ),
        Backend::Sqlite => None,
    };
    let bases: Vec<String> = match &other {
        Some(b) => vec![app.base.clone(), format!("http://{}", b.addr)],
        None => vec![app.base.clone()],
    };
    let mut statuses = Vec::new();
    for i in 0..10 {
        statuses.push(
            login_from(
                &bases[i % bases.len()],
                &app.http,
                "-",
                ADMIN_EMAIL,
                "a guess",
            )
            .await,
        );
    }
    assert_eq!(count(&statuses, 401), 10, "{statuses:?}");
    for base in &bases {
        assert_eq!(
            login_from(base, &app.http, "-", ADMIN_EMAIL, "a guess").await,
            429,
            "every replica sees the failures counted by the others"
        );
    }
    if let Some(other) = other {
        other.stop().await;
    }
    app.server.take().expect("running").stop().await;
    let restarted = latchkey_server::start(config).await.expect("restart");
    assert_eq!(
        login_from(
            &format!("http://{}", restarted.addr),
            &app.http,
            "-",
            ADMIN_EMAIL,
            "a guess"
        )
        .await,
        429,
        "a restart keeps the count"
    );
    restarted.stop().await;
}

/// Finding: a flood with one revoked secret wrote one `auth.refused` row per
/// request. Now: the first refusal at once (`count` 1), the rest of the
/// minute in one event with `details.count` (written when the minute ends, or
/// at shutdown).
async fn a_revoked_token_flood_writes_one_refusal_a_minute(backend: Backend) {
    let (mut app, config) = spawn(backend, |_| {}).await;
    let (uuid, token) = revoked_pat(&app, "leaked").await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (http, base, token) = (app.http.clone(), app.base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let r = http
                    .get(format!("{base}/api/v1/user"))
                    .header("Authorization", format!("Bearer {token}"))
                    .header("User-Agent", format!("flood {worker}"))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(r.status(), 401);
            }
        }));
    }
    for t in tasks {
        t.await.expect("flood");
    }
    let first = refusals_of(&app, &uuid).await;
    assert_eq!(first.len(), 1, "the first refusal is written at once");
    assert_eq!(first[0]["details"]["count"], 1);
    assert_eq!(first[0]["details"]["code"], "token_revoked");
    // Stopping writes what is pending; a new server reads the log.
    app.server.take().expect("running").stop().await;
    let restarted = latchkey_server::start(config).await.expect("restart");
    app.base = format!("http://{}", restarted.addr);
    let events = refusals_of(&app, &uuid).await;
    assert!(events.len() <= 2, "{} rows", events.len());
    let total: u64 = events
        .iter()
        .map(|e| e["details"]["count"].as_u64().expect("details.count"))
        .sum();
    assert_eq!(total, 200, "{events:?}");
    assert!(events
        .iter()
        .all(|e| e["details"]["code"] == "token_revoked"));
    restarted.stop().await;
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn cache_hits(app: &TestApp) -> u64 {
    let text = app.get("/metrics", &Auth::None).await.body;
    metric(
        text.as_str().expect("text"),
        "latchkey_auth_cache_hits_total",
    )
}

/// Finding: unknown tokens took the same cache as real credentials, so a
/// flood of them evicted every real entry.
async fn unknown_tokens_do_not_evict_cached_credentials(backend: Backend) {
    // A long TTL: what is tested is eviction by unknown tokens, and a slow
    // flood (a loaded machine) must not let the entries expire instead.
    let (app, _) = spawn(backend, |config| {
        config.auth_cache_capacity = 1_000;
        config.auth_cache_ttl_secs = 3_600;
    })
    .await;
    // Real credentials, each seen once (cached, but not yet used again).
    let mut real = vec![app.admin.pat.clone()];
    for i in 0..20 {
        let (_, token) = app
            .create_pat(&app.admin.session, json!({ "name": format!("real {i}") }))
            .await;
        real.push(Auth::Token(token));
    }
    for auth in &real {
        app.get("/api/v1/user", auth).await.expect(200);
    }
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (http, base) = (app.http.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..625 {
                let unknown = latchkey_core::TokenSecret::generate(
                    latchkey_core::TokenKind::PersonalAccessToken,
                    &mut rand::thread_rng(),
                );
                // Each twice, as a client retrying would: a cache that
                // favours what is seen again keeps them over real entries.
                for _ in 0..2 {
                    let r = http
                        .get(format!("{base}/api/v1/user"))
                        .header("Authorization", format!("ApiKey {}", unknown.expose()))
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(r.status(), 401);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("flood");
    }
    let before = cache_hits(&app).await;
    for auth in &real {
        app.get("/api/v1/user", auth).await.expect(200);
    }
    assert_eq!(
        cache_hits(&app).await - before,
        real.len() as u64,
        "the real credentials are still cached after 10,000 unknown tokens"
    );
}

#[track_caller]
fn www_authenticate(r: &Resp) -> &str {
    assert_eq!(r.status, 401, "{}", r.body);
    r.headers
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate on {}", r.body))
        .to_str()
        .expect("ascii")
}

/// Finding: no `WWW-Authenticate` on `401` (RFC 6750).
async fn every_401_carries_www_authenticate(backend: Backend) {
    let (app, _) = spawn(backend, |_| {}).await;
    const REFUSED: &str = r#"Bearer realm="latchkey", error="invalid_token""#;
    const MISSING: &str = r#"Bearer realm="latchkey""#;
    let none = app.get("/api/v1/user", &Auth::None).await;
    assert_eq!(www_authenticate(&none), MISSING);
    let malformed = app.get("/api/v1/user", &Auth::Token("nope".into())).await;
    assert_eq!(www_authenticate(&malformed), REFUSED);
    let scheme = app
        .get("/api/v1/user", &Auth::Header("Basic abc".into()))
        .await;
    assert_eq!(www_authenticate(&scheme), REFUSED);
    let unknown = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ApiKey,
        &mut rand::thread_rng(),
    );
    let unknown = app
        .get(
            "/api/v1/org/projects",
            &Auth::Token(unknown.expose().into()),
        )
        .await;
    assert_eq!(www_authenticate(&unknown), REFUSED);
    let (_, token) = revoked_pat(&app, "revoked").await;
    let revoked = app.get("/api/v1/user", &Auth::Token(token)).await;
    revoked.expect_error(401, "token_revoked");
    assert_eq!(www_authenticate(&revoked), REFUSED);
    let session = app
        .get(
            "/api/v1/user",
            &Auth::SessionNoCsrf {
                cookie: "not-a-session".into(),
            },
        )
        .await;
    assert_eq!(www_authenticate(&session), REFUSED);
    let login = app.try_login(ADMIN_EMAIL, "a guess", None).await;
    login.expect_error(401, "invalid_login");
    assert_eq!(www_authenticate(&login), MISSING);
    // Not on other errors.
    let forbidden = app.post("/api/v1/logout", &app.admin.pat, json!({})).await;
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.headers.get("www-authenticate").is_none());
}

/// Nine wrong passwords and then the right one: the right one starts the
/// account afresh, so ten more wrong ones are answered (and the eleventh is
/// refused) — not one more.
async fn a_right_password_gives_the_account_its_allowance_back(backend: Backend) {
    let (app, _) = spawn(backend, |_| {}).await;
    let login =
        |password: &'static str| login_from(&app.base, &app.http, "-", ADMIN_EMAIL, password);
    for _ in 0..9 {
        assert_eq!(login("a guess").await, 401);
    }
    assert_eq!(login(PASSWORD).await, 200);
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(login("a guess").await);
    }
    assert_eq!(
        statuses,
        [vec![401; 10], vec![429]].concat(),
        "ten wrong passwords after the right one"
    );
}

/// A full window refuses even the right password until it ends, and then
/// lets the account in. The window's start is moved in the database to five
/// seconds before its end (room for a busy machine): fifteen minutes pass in
/// five seconds.
async fn a_full_window_lifts_when_it_ends(backend: Backend) {
    let (app, _) = spawn(backend, |_| {}).await;
    for _ in 0..10 {
        assert_eq!(
            login_from(&app.base, &app.http, "-", ADMIN_EMAIL, "a guess").await,
            401
        );
    }
    let window = 15 * 60;
    let moved = app
        .operator_sql(&format!(
            "UPDATE throttles SET window_start = window_start - {}, forget_at = forget_at - {}",
            window - 5,
            window - 5
        ))
        .await;
    assert_eq!(moved, 2, "the account's window and the address's");
    let refused = app.try_login(ADMIN_EMAIL, PASSWORD, None).await;
    refused.expect_error(429, "rate_limited");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&retry), "Retry-After {retry}");
    tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 500)).await;
    app.try_login(ADMIN_EMAIL, PASSWORD, None).await.expect(200);
}
