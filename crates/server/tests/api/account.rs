//! A person's own account: changing the password.

use crate::on_both_backends;
use crate::support::{TestApp, ADMIN_EMAIL, PASSWORD};
use serde_json::json;

on_both_backends!(
    a_new_password_ends_every_other_session,
    a_password_change_needs_the_current_password_and_a_session,
);

const NEW_PASSWORD: &str = "a much longer passphrase";

/// The session that changes the password stays; every other session of the
/// account ends at once (its cached entry too); tokens keep working; the old
/// password no longer signs in, the new one does; one audit event, with no
/// password in it.
async fn a_new_password_ends_every_other_session(app: TestApp) {
    let other = app.login(ADMIN_EMAIL, PASSWORD).await;
    // Both sessions are cached before the change.
    app.get("/api/v1/user", &other).await.expect(200);
    app.get("/api/v1/user", &app.admin.session)
        .await
        .expect(200);
    app.post(
        "/api/v1/user/me/password",
        &app.admin.session,
        json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD }),
    )
    .await
    .expect(204);
    app.get("/api/v1/user", &app.admin.session)
        .await
        .expect(200);
    app.get("/api/v1/user", &other)
        .await
        .expect_error(401, "token_revoked");
    app.get("/api/v1/user", &app.admin.pat).await.expect(200);
    app.try_login(ADMIN_EMAIL, PASSWORD, None)
        .await
        .expect_error(401, "invalid_login");
    app.try_login(ADMIN_EMAIL, NEW_PASSWORD, None)
        .await
        .expect(200);
    let events = app
        .get(
            "/api/v1/org/audit-logs?action=user.password_changed",
            &app.admin.pat,
        )
        .await;
    let events = events.expect(200)["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"]["uuid"], app.admin.uuid.as_str());
    let text = events[0].to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains(NEW_PASSWORD),
        "{text}"
    );
}

/// A wrong current password is a `400` naming it (and counts as a failed
/// sign-in: enough of them are `429`); a short new one names
/// `newPassword`; a token, however powerful, cannot change a password.
async fn a_password_change_needs_the_current_password_and_a_session(app: TestApp) {
    let change =
        |current: &str, new: &str| json!({ "currentPassword": current, "newPassword": new });
    let short = app
        .post(
            "/api/v1/user/me/password",
            &app.admin.session,
            change(PASSWORD, "short"),
        )
        .await;
    short.expect_error(400, "invalid_request");
    assert_eq!(short.body["error"]["details"]["field"], "newPassword");
    app.post(
        "/api/v1/user/me/password",
        &app.admin.pat,
        change(PASSWORD, NEW_PASSWORD),
    )
    .await
    .expect_error(403, "forbidden");
    let mut last = None;
    for _ in 0..12 {
        let wrong = app
            .post(
                "/api/v1/user/me/password",
                &app.admin.session,
                change("not the password", NEW_PASSWORD),
            )
            .await;
        if wrong.status == 429 {
            last = Some(wrong);
            break;
        }
        wrong.expect_error(400, "invalid_request");
        assert_eq!(wrong.body["error"]["details"]["field"], "currentPassword");
    }
    let throttled = last.expect("wrong current passwords are throttled");
    throttled.expect_error(429, "rate_limited");
    assert!(throttled.headers.get("retry-after").is_some());
    // Nothing changed: the password is the old one.
    app.get("/api/v1/user", &app.admin.session)
        .await
        .expect(200);
}
