//! Invitation codes, passwords and sign-in.

use crate::harness::*;
use crate::on_both_backends;
use crate::support::{Auth, TestApp, ADMIN_EMAIL, PASSWORD};
use serde_json::{json, Value};

on_both_backends!(invite_codes_and_passwords, login_bad_input,);

/// Codes that are not codes: `404`; a bad password: `400 password`, and
/// the code still works afterwards (once).
pub(crate) async fn invite_codes_and_passwords(app: TestApp) {
    let (_, code) = app.add_member("invitee@acme.test", "viewer").await;
    let code = code.expect("invite");
    let good = json!({ "password": "a fine password" });
    let long = "a".repeat(10_000);
    for bad in [
        long.as_str(),
        &"a".repeat(65),
        "unknown",
        "%FF",
        "%C3%28",
        "%00",
        &format!("{code}%00"),
        &format!("{code}x"),
        &code.to_uppercase(),
    ] {
        let resp = app
            .post(&format!("/api/v1/invites/{bad}"), &Auth::None, good.clone())
            .await;
        assert_error(&resp, 404, "not_found", &bad[..bad.len().min(80)]);
    }
    // The body is read before the code is looked up.
    let resp = app
        .post(
            &format!("/api/v1/invites/{long}"),
            &Auth::None,
            json!({ "password": 5 }),
        )
        .await;
    assert_invalid(&resp, Some("password"), "10 KB code, numeric password");
    let path = format!("/api/v1/invites/{code}");
    let bad: Vec<(Value, &str)> = vec![
        (json!({ "password": 12345678 }), "password"),
        (json!({ "password": null }), "password"),
        (json!({ "password": ["a fine password"] }), "password"),
        (
            json!({ "password": { "value": "a fine password" } }),
            "password",
        ),
        (json!({ "password": true }), "password"),
        (json!({}), "password"),
        (json!({ "password": "" }), "password"),
        (json!({ "password": "short" }), "password"),
        (json!({ "password": "p".repeat(257) }), "password"),
        (json!({ "password": "p".repeat(60 * 1024) }), "password"),
        (json!({ "password": "a fine password", "name": 5 }), "name"),
        (
            json!({ "password": "a fine password", "name": " " }),
            "name",
        ),
    ];
    for (body, field) in bad {
        let resp = app.post(&path, &Auth::None, body.clone()).await;
        assert_invalid(
            &resp,
            Some(field),
            &body.to_string()[..body.to_string().len().min(80)],
        );
    }
    let resp = app
        .post(
            &path,
            &Auth::None,
            json!({ "password": "p".repeat(256), "name": "Invitee" }),
        )
        .await;
    assert_eq!(resp.expect(200)["user"]["name"], "Invitee");
    let resp = app.post(&path, &Auth::None, good).await;
    assert_error(&resp, 404, "not_found", "a used code");
    app.login("invitee@acme.test", &"p".repeat(256)).await;
    healthy(&app).await;
}

/// Login: over-long fields are `400` naming them; anything else that is not
/// an account (a NUL in the email included) is the one `401 invalid_login`.
pub(crate) async fn login_bad_input(app: TestApp) {
    let huge = "x".repeat(60 * 1024);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "email": huge, "password": PASSWORD }), "email"),
        (
            json!({ "email": format!("{}@acme.test", "a".repeat(245)), "password": PASSWORD }),
            "email",
        ),
        (
            json!({ "email": ADMIN_EMAIL, "password": huge }),
            "password",
        ),
        (
            json!({ "email": ADMIN_EMAIL, "password": "p".repeat(257) }),
            "password",
        ),
    ];
    for (body, field) in cases {
        let resp = app.post("/api/v1/login", &Auth::None, body).await;
        assert_invalid(&resp, Some(field), field);
    }
    let refused = [
        ("admin@acme.test\u{0}", PASSWORD),
        ("admin\u{0}@acme.test", PASSWORD),
        ("admin@acme.test\u{7}", PASSWORD),
        ("", PASSWORD),
        (ADMIN_EMAIL, ""),
        (ADMIN_EMAIL, "\u{0}"),
    ];
    for (email, password) in refused {
        let resp = app.try_login(email, password, None).await;
        assert_error(
            &resp,
            401,
            "invalid_login",
            &format!("{email:?} / {password:?}"),
        );
    }
    let resp = app
        .try_login(
            ADMIN_EMAIL,
            PASSWORD,
            Some(&uuid::Uuid::new_v4().to_string()),
        )
        .await;
    assert_error(
        &resp,
        404,
        "not_found",
        "an organization the user is not in",
    );
    // None of that locked the account out.
    app.login(ADMIN_EMAIL, PASSWORD).await;
    healthy(&app).await;
}
