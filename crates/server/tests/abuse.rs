//! What an unauthenticated client can do to the server itself: password
//! hashing behind a bounded queue. The heavy version (minutes of argon2) is
//! a script in `bench/abuse/`, not a test.

#[allow(dead_code, unused_imports)]
#[path = "api/support.rs"]
mod support;

use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Auth, Backend, TestApp, ADMIN_EMAIL, PASSWORD};

/// A gauge's value in the `/metrics` text; `None` when it is not there.
fn gauge(text: &str, name: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashing_waits_in_a_bounded_queue() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.password_hash_concurrency = Some(1);
        c.password_hash_wait_ms = 300;
    })
    .await;
    // A real invite's code, so that its password is hashed even where the
    // code is checked first.
    let (_, code) = app.add_member("invited@acme.test", "member").await;
    let code = code.expect("a new user gets an invite");

    // Watch the queue while the burst runs.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (http, base, done) = (app.http.clone(), app.base.clone(), done.clone());
        tokio::spawn(async move {
            let (mut max_in_flight, mut max_waiting) = (None, None);
            while !done.load(Ordering::Relaxed) {
                let text = http
                    .get(format!("{base}/metrics"))
                    .send()
                    .await
                    .expect("metrics")
                    .text()
                    .await
                    .expect("metrics text");
                // `None` (never exposed) fails below.
                let in_flight = gauge(&text, "latchkey_password_hash_in_flight");
                let waiting = gauge(&text, "latchkey_password_hash_waiting");
                max_in_flight = max_in_flight.max(in_flight);
                max_waiting = max_waiting.max(waiting);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (max_in_flight, max_waiting)
        })
    };

    let started = Instant::now();
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..48 {
        let (http, base, code) = (app.http.clone(), app.base.clone(), code.clone());
        burst.spawn(async move {
            let request = if i % 2 == 0 {
                http.post(format!("{base}/api/v1/invites/{code}"))
                    .json(&json!({ "password": PASSWORD }))
            } else {
                http.post(format!("{base}/api/v1/login"))
                    .json(&json!({ "email": ADMIN_EMAIL, "password": "not the password" }))
            };
            let resp = request.send().await.expect("an answer");
            let status = resp.status().as_u16();
            let retry_after = resp.headers().get("retry-after").cloned();
            let body: serde_json::Value = resp.json().await.expect("a JSON body");
            (status, retry_after, body)
        });
    }
    let mut unavailable = 0;
    let mut accepted = 0;
    while let Some(answer) = burst.join_next().await {
        let (status, retry_after, body) = answer.expect("request task");
        match status {
            200 => accepted += 1,
            401 | 404 | 429 => {}
            503 => {
                unavailable += 1;
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                assert!(retry_after.is_some(), "a 503 says when to retry");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let (max_in_flight, max_waiting) = sampler.await.expect("sampler");

    assert!(accepted <= 1, "an invite is accepted once");
    assert!(
        unavailable > 0,
        "some requests are turned away, not queued without end"
    );
    let max_in_flight = max_in_flight.expect("the in-flight gauge is exposed");
    let max_waiting = max_waiting.expect("the waiting gauge is exposed");
    assert!(
        max_in_flight <= 1,
        "at most one hash at a time, saw {max_in_flight}"
    );
    assert!(max_waiting >= 1, "the sampler saw the queue in use");
    assert!(
        elapsed < Duration::from_secs(10),
        "turned away quickly: {elapsed:?}"
    );
    // And the server answers normally afterwards.
    assert_eq!(app.get("/healthz", &Auth::None).await.status, 200);
}
