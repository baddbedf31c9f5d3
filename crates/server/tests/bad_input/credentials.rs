//! Garbage where a credential goes: the Authorization header and the session cookie.

use crate::harness::*;
use crate::on_both_backends;
use crate::support::{Auth, TestApp};
use latchkey_core::{TokenKind, TokenSecret};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(garbage_authorization, garbage_session_cookie,);

/// Garbage in `Authorization`: `401 malformed_token`, before any lookup; a
/// well-formed token nobody issued: `401 invalid_token`.
pub(crate) async fn garbage_authorization(app: TestApp) {
    let fx = fixture(&app).await;
    let token = app.admin.pat_token.clone();
    let mut wrong_checksum = token.clone();
    let last = wrong_checksum.pop().unwrap();
    wrong_checksum.push(if last == 'A' { 'B' } else { 'A' });
    let mut non_ascii = token.clone().into_bytes();
    non_ascii[20] = 0xe9;
    let headers: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("spaces", b"   ".to_vec()),
        ("scheme only", b"ApiKey".to_vec()),
        ("Bearer only", b"Bearer".to_vec()),
        (
            "scheme and 44 spaces",
            format!("ApiKey {}", " ".repeat(44)).into_bytes(),
        ),
        ("Basic", b"Basic abc".to_vec()),
        (
            "Basic with credentials",
            b"Basic YWRtaW46cGFzc3dvcmQ=".to_vec(),
        ),
        ("unknown scheme", format!("Token {token}").into_bytes()),
        ("no scheme", token.clone().into_bytes()),
        ("tab for a space", format!("ApiKey\t{token}").into_bytes()),
        ("short", b"ApiKey lkpat_abc".to_vec()),
        (
            "wrong checksum",
            format!("ApiKey {wrong_checksum}").into_bytes(),
        ),
        (
            "wrong prefix",
            format!("ApiKey lkxyz_{}", &token[6..]).into_bytes(),
        ),
        (
            "upper-case prefix",
            format!("Bearer LKPAT_{}", &token[6..]).into_bytes(),
        ),
        ("two tokens", format!("ApiKey {token} {token}").into_bytes()),
        (
            "not base62",
            format!("ApiKey lkpat_{}", "-".repeat(38)).into_bytes(),
        ),
        (
            "10 KB",
            format!("ApiKey {}", "a".repeat(10_000)).into_bytes(),
        ),
        (
            "non-ASCII bytes",
            [b"ApiKey ".as_slice(), &[0xff, 0xfe, 0x80, 0xe9]].concat(),
        ),
        (
            "a non-ASCII byte in a token",
            [b"ApiKey ".as_slice(), &non_ascii].concat(),
        ),
    ];
    let pats = "/api/v1/user/me/personal-access-tokens";
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/user".into(), None),
        (
            Method::POST,
            "/api/v1/org/projects".into(),
            Some(json!({ "name": "p" })),
        ),
        (
            Method::PATCH,
            format!("/api/v1/projects/{}", fx.project),
            Some(json!({ "name": "p" })),
        ),
        (Method::DELETE, format!("{pats}/{}", fx.pat), None),
        (Method::POST, "/api/v1/logout".into(), None),
    ];
    for (method, path, body) in &routes {
        for (label, value) in &headers {
            let resp = send_with_headers(
                &app,
                method.clone(),
                path,
                &[("authorization", value)],
                body.clone(),
            )
            .await;
            assert_error(
                &resp,
                401,
                "malformed_token",
                &format!("{method} {path}: {label}"),
            );
        }
        // Well-formed, checksum and all, but never issued.
        for kind in TokenKind::ALL {
            let unknown = TokenSecret::generate(kind, &mut rand::thread_rng());
            let resp = app
                .send(
                    method.clone(),
                    path,
                    &Auth::Token(unknown.expose().to_string()),
                    body.clone(),
                )
                .await;
            assert_error(
                &resp,
                401,
                "invalid_token",
                &format!("{method} {path}: unknown {kind:?}"),
            );
        }
    }
    // Nothing above was accepted: the token and its project are intact.
    app.get(&format!("{pats}/{}", fx.pat), &app.admin.pat)
        .await
        .expect(200);
    // Loose but valid spellings still work.
    for header in [
        format!("ApiKey {token}  "),
        format!("bearer {token}"),
        format!("ApiKey   {token}"),
    ] {
        app.get("/api/v1/user", &Auth::Header(header.clone()))
            .await
            .expect(200);
    }
    // The same garbage asked about through /auth/verify: 200, not valid.
    let unknown = TokenSecret::generate(TokenKind::ApiKey, &mut rand::thread_rng());
    let asked: [(&str, &str); 8] = [
        ("", "malformed_token"),
        ("   ", "malformed_token"),
        (&format!("ApiKey {token}"), "malformed_token"),
        (&wrong_checksum, "malformed_token"),
        (&format!("lkxyz_{}", &token[6..]), "malformed_token"),
        (&format!("lkpat_{}é", &token[6..42]), "malformed_token"),
        (&"a".repeat(1024), "malformed_token"),
        (unknown.expose(), "invalid_token"),
    ];
    for (asked, code) in asked {
        let resp = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": asked }),
            )
            .await;
        let r = resp.expect(200);
        assert_eq!(
            (r["valid"].as_bool(), r["code"].as_str()),
            (Some(false), Some(code)),
            "{asked:?}"
        );
    }
    healthy(&app).await;
}

/// A session cookie nobody issued: `401`; a real session without its CSRF
/// header (or with a garbage one): `403 forbidden`.
pub(crate) async fn garbage_session_cookie(app: TestApp) {
    let cookies: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"latchkey_session=garbage".to_vec(),
            "invalid_token",
        ),
        (
            "empty value",
            b"latchkey_session=".to_vec(),
            "invalid_token",
        ),
        (
            "quoted",
            b"latchkey_session=\"abc\"".to_vec(),
            "invalid_token",
        ),
        (
            "64 hex",
            format!("latchkey_session={}", "ab".repeat(32)).into_bytes(),
            "invalid_token",
        ),
        (
            "10 KB",
            format!("latchkey_session={}", "a".repeat(10_000)).into_bytes(),
            "invalid_token",
        ),
        (
            "twice",
            b"latchkey_session=a; latchkey_session=b".to_vec(),
            "invalid_token",
        ),
        (
            "no value",
            b"latchkey_session".to_vec(),
            "missing_credentials",
        ),
        ("another cookie", b"other=1".to_vec(), "missing_credentials"),
        ("separators", b";;; =; ".to_vec(), "missing_credentials"),
        (
            "non-ASCII bytes",
            [b"latchkey_session=".as_slice(), &[0xff, 0xfe]].concat(),
            "missing_credentials",
        ),
    ];
    let routes: [(Method, &str, Option<Value>); 4] = [
        (Method::GET, "/api/v1/user", None),
        (Method::GET, "/api/v1/orgs", None),
        (
            Method::POST,
            "/api/v1/org/projects",
            Some(json!({ "name": "p" })),
        ),
        (Method::POST, "/api/v1/logout", None),
    ];
    for (method, path, body) in &routes {
        for (label, cookie, code) in &cookies {
            let headers: [(&str, &[u8]); 2] = [("cookie", cookie), ("x-csrf-token", b"garbage")];
            let resp = send_with_headers(&app, method.clone(), path, &headers, body.clone()).await;
            assert_error(&resp, 401, code, &format!("{method} {path}: {label}"));
        }
    }
    let Auth::Session { cookie, .. } = &app.admin.session else {
        panic!("a session")
    };
    let cookie = format!("latchkey_session={cookie}");
    let bad_csrf: [&[u8]; 4] = [b"", b"garbage", &[0xff, 0xfe], &[b'a'; 10_000]];
    for csrf in bad_csrf {
        let headers: [(&str, &[u8]); 2] = [("cookie", cookie.as_bytes()), ("x-csrf-token", csrf)];
        let resp = send_with_headers(
            &app,
            Method::POST,
            "/api/v1/org/projects",
            &headers,
            Some(json!({ "name": "p" })),
        )
        .await;
        assert_error(
            &resp,
            403,
            "forbidden",
            &format!(
                "CSRF {:?}",
                String::from_utf8_lossy(&csrf[..csrf.len().min(8)])
            ),
        );
    }
    // The real session still works.
    app.get("/api/v1/user", &app.admin.session)
        .await
        .expect(200);
    healthy(&app).await;
}
