//! A person's own account: changing the password, listing and ending
//! sessions.

use crate::on_both_backends;
use crate::support::{Auth, TestApp, ADMIN_EMAIL, PASSWORD};
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    a_new_password_ends_every_other_session,
    a_password_change_needs_the_current_password_and_a_session,
    a_person_lists_and_ends_their_sessions,
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

/// The list shows every live session of the account with where it signed in
/// from, marks the caller's, and fills in the last use within the flush
/// interval; ending one stops it at once (cached or not); ending all the
/// others leaves only the caller's; a token cannot see or end sessions.
async fn a_person_lists_and_ends_their_sessions(app: TestApp) {
    let sessions = "/api/v1/user/me/sessions";
    let second = app.login(ADMIN_EMAIL, PASSWORD).await;
    let third = app.login(ADMIN_EMAIL, PASSWORD).await;
    app.get("/api/v1/user", &second).await.expect(200);
    let listed = app.get(sessions, &app.admin.session).await;
    let listed = listed.expect(200).as_array().expect("sessions").clone();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        listed.iter().filter(|s| s["current"] == true).count(),
        1,
        "{listed:?}"
    );
    for s in &listed {
        assert_eq!(s["ip"], "127.0.0.1", "{s}");
        assert_eq!(s["orgUuid"], app.org_uuid.as_str());
        assert!(s["createdAt"].is_string() && s["expiresAt"].is_string());
    }
    // The second session's own view names it, with its last use once the
    // batch is written.
    let mut seen = None;
    for _ in 0..40 {
        let own = app.get(sessions, &second).await;
        let own = own.expect(200).as_array().expect("sessions").clone();
        let me = own
            .into_iter()
            .find(|s| s["current"] == true)
            .expect("current");
        if me["lastSeenAt"].is_string() {
            seen = Some(me);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second_view = seen.expect("lastSeenAt is written within the flush interval");
    let second_uuid = second_view["uuid"].as_str().expect("uuid").to_string();

    app.get(sessions, &app.admin.pat)
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("{sessions}/{second_uuid}"), &app.admin.pat)
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("{sessions}/{second_uuid}"), &app.admin.session)
        .await
        .expect(204);
    app.get("/api/v1/user", &second)
        .await
        .expect_error(401, "token_revoked");
    app.delete(&format!("{sessions}/{second_uuid}"), &app.admin.session)
        .await
        .expect_error(404, "not_found");
    // Another account's session is not this account's to end.
    let (_, code) = app.add_member("other@acme.test", "viewer").await;
    app.post(
        &format!("/api/v1/invites/{}", code.expect("an invite")),
        &Auth::None,
        json!({ "password": PASSWORD }),
    )
    .await
    .expect(200);
    let other = app.login("other@acme.test", PASSWORD).await;
    let others = app.get(sessions, &other).await;
    let other_uuid = others.expect(200)[0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    app.delete(&format!("{sessions}/{other_uuid}"), &app.admin.session)
        .await
        .expect_error(404, "not_found");
    app.get("/api/v1/user", &other).await.expect(200);

    app.delete(sessions, &app.admin.session).await.expect(204);
    app.get("/api/v1/user", &third)
        .await
        .expect_error(401, "token_revoked");
    let left = app.get(sessions, &app.admin.session).await;
    let left = left.expect(200).as_array().expect("sessions").clone();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    app.get("/api/v1/user", &other).await.expect(200);
}
