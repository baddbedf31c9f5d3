//! What an unauthenticated client can do to the server itself: password
//! hashing behind a bounded queue, silent and idle connections closed on
//! time, a connection cap, and oversize chunked bodies refused like sized
//! ones. The heavy versions (thousands of connections, minutes of argon2)
//! are scripts in `bench/abuse/`, not tests.

#[allow(dead_code, unused_imports)]
#[path = "api/support.rs"]
mod support;

use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Auth, Backend, TestApp, ADMIN_EMAIL, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(app: &TestApp) -> SocketAddr {
    app.server.as_ref().expect("running").addr
}

/// Closes the keep-alive connections the test client kept from setting the
/// app up, so that a test of the connection cap counts only its own.
async fn close_pooled_connections(app: &mut TestApp) {
    app.http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(100)).await;
}

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

/// Reads until the server closes the connection; the time it took, or
/// `None` when it stays open past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// One `GET /healthz` on an open connection; panics unless it answers 200.
async fn healthz_on(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: latchkey\r\n\r\n")
        .await
        .expect("request sent");
    let response = read_response(stream, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// Reads one response (headers and a `Content-Length` body).
async fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(text);
            }
        }
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_the_header_read_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.header_read_timeout_secs = 1).await;
    let opened = Instant::now();
    let mut silent = TcpStream::connect(addr(&app)).await.expect("connect");
    let mut partial = TcpStream::connect(addr(&app)).await.expect("connect");
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: latchkey\r\n")
        .await
        .expect("half a request");
    for (what, stream) in [("silent", &mut silent), ("partial", &mut partial)] {
        closed_within(stream, Duration::from_secs(4))
            .await
            .unwrap_or_else(|| panic!("the {what} connection stays open"));
        let closed = opened.elapsed();
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_secs(3),
            "{what}: closed after {closed:?}"
        );
    }
    // A connection that sends its request at once is served.
    let mut prompt = TcpStream::connect(addr(&app)).await.expect("connect");
    healthz_on(&mut prompt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_kept_for_the_keep_alive_timeout_then_closed() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout_secs = 1;
        c.keep_alive_timeout_secs = 2;
    })
    .await;
    let mut conn = TcpStream::connect(addr(&app)).await.expect("connect");
    healthz_on(&mut conn).await;
    // Idle for longer than the header-read timeout: still open.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    healthz_on(&mut conn).await;
    let answered = Instant::now();
    let closed = closed_within(&mut conn, Duration::from_secs(5))
        .await
        .expect("the idle connection is closed");
    let idle = answered.elapsed();
    assert!(
        idle >= Duration::from_millis(1800) && idle < Duration::from_secs(4),
        "closed after {idle:?} idle ({closed:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_a_new_client_waits_for_room() {
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout_secs = 30;
        c.max_connections = Some(2);
    })
    .await;
    close_pooled_connections(&mut app).await;
    // Two clients in the middle of their headers hold the two places (they
    // are not idle, so nothing makes room by closing them).
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr(&app)).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .expect("a first line");
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(addr(&app)).await.expect("connect");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: latchkey\r\n\r\n")
        .await
        .expect("request sent");
    assert!(
        read_response(&mut third, Duration::from_millis(800))
            .await
            .is_none(),
        "the third client is not served while two are open"
    );
    drop(slow.pop());
    let response = read_response(&mut third, Duration::from_secs(3))
        .await
        .expect("served once a place is free");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_silent_connections_make_room() {
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout_secs = 30;
        c.max_connections = Some(2);
    })
    .await;
    close_pooled_connections(&mut app).await;
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(addr(&app)).await.expect("connect"));
    }
    // Longer than a client needs to send its request after connecting.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let started = Instant::now();
    let mut client = TcpStream::connect(addr(&app)).await.expect("connect");
    healthz_on(&mut client).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "answered in {:?}",
        started.elapsed()
    );
    for s in &mut silent {
        assert!(
            closed_within(s, Duration::from_secs(1)).await.is_some(),
            "a silent connection was closed to make room"
        );
    }
}

/// Sends `size` bytes of JSON-ish body in 8 KiB chunks; the status line and
/// body of the answer.
async fn chunked_post(addr: SocketAddr, path: &str, content_type: &str, size: usize) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: latchkey\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let (mut read, mut write) = stream.into_split();
    // The server may answer and stop reading before the body is all sent.
    let writer = tokio::spawn(async move {
        let chunk = vec![b'a'; 8192];
        let mut sent = 0;
        while sent < size {
            let n = chunk.len().min(size - sent);
            let framed = [format!("{n:x}\r\n").as_bytes(), &chunk[..n], b"\r\n"].concat();
            if write.write_all(&framed).await.is_err() {
                return write;
            }
            sent += n;
        }
        let _ = write.write_all(b"0\r\n\r\n").await;
        // Dropping the write half would half-close the socket, which the
        // server takes for a client gone.
        write
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), read.read_to_end(&mut got)).await;
    drop(writer.await);
    String::from_utf8_lossy(&got).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_64_kib_is_payload_too_large() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let api = chunked_post(addr(&app), "/api/v1/login", "application/json", 70 * 1024).await;
    assert!(api.starts_with("HTTP/1.1 413"), "{api}");
    assert!(api.contains(r#""code":"payload_too_large""#), "{api}");
    let form = chunked_post(
        addr(&app),
        "/login",
        "application/x-www-form-urlencoded",
        70 * 1024,
    )
    .await;
    assert!(form.starts_with("HTTP/1.1 413"), "{form}");
    // Under the limit, the same framing reaches the handler.
    let small = chunked_post(addr(&app), "/api/v1/login", "application/json", 1024).await;
    assert!(small.starts_with("HTTP/1.1 400"), "{small}");
}

/// A sign-in that could not be checked (the hash queue full) is no failed
/// sign-in: an attacker who keeps the queue busy from elsewhere cannot make
/// the real user's own attempts lock them out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_hash_queue_does_not_count_as_failed_sign_ins() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.password_hash_concurrency = Some(1);
        c.password_hash_wait_ms = 1;
    })
    .await;
    let login = |email: &'static str, password: &'static str| {
        let (http, base) = (app.http.clone(), app.base.clone());
        async move {
            http.post(format!("{base}/api/v1/login"))
                .json(&json!({ "email": email, "password": password }))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }
    };
    // Twice: someone else's sign-in holds the one hashing slot while the
    // admin tries the right password (fewer times at once than the limit,
    // since attempts in flight count too).
    let mut turned_away = 0;
    for _ in 0..2 {
        let busy = tokio::spawn(login("someone@else.test", "wrong password"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut tries = tokio::task::JoinSet::new();
        for _ in 0..8 {
            tries.spawn(login(ADMIN_EMAIL, PASSWORD));
        }
        let statuses = tries.join_all().await;
        assert!(
            statuses.iter().all(|s| [200, 503].contains(s)),
            "{statuses:?}"
        );
        turned_away += statuses.iter().filter(|s| **s == 503).count();
        busy.await.expect("busy sign-in");
    }
    // More than the limit of ten would have counted as failures.
    assert!(
        turned_away > 10,
        "the slot was busy for most: {turned_away}"
    );
    // None of those counted: the right password still signs in.
    let r = app.try_login(ADMIN_EMAIL, PASSWORD, None).await;
    assert_eq!(r.status, 200, "body: {}", r.body);
}
