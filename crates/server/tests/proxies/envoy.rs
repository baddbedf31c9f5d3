//! Envoy's `ext_authz` filter (HTTP service) as configured by
//! `examples/envoy/envoy.yaml`. Debian has no Envoy package, so this test is
//! the client Envoy would be: for each request it sends latchkey exactly what
//! Envoy's HTTP authorization service receives (envoy.extensions.filters.
//! http.ext_authz.v3.HttpService):
//!
//! - the original request's method (no `method_override` in the example),
//!   its path and query appended to `path_prefix` (read from the example);
//! - the headers Envoy always sends (`Host`, `Authorization`,
//!   `Content-Length: 0` since no body is buffered, its timeout header) and
//!   those the example's `allowed_headers` name (only `authorization`);
//! - a 2xx lets the request through with the answer's headers that match
//!   `allowed_upstream_headers` (`x-latchkey-` here) set on it, replacing a
//!   client's; anything else is sent back to the client with its status and
//!   the `allowed_client_headers`.

use crate::harness::{self, World};
use reqwest::header::HeaderMap;

/// The example's `path_prefix`, and that its header lists are as described.
fn envoy_contract() -> String {
    let yaml = harness::example("envoy/envoy.yaml");
    for line in [
        "- exact: authorization",
        "- prefix: x-latchkey-",
        "- exact: www-authenticate",
        "- remove: x-latchkey-principal-id",
    ] {
        assert!(yaml.contains(line), "envoy.yaml has no {line:?}");
    }
    assert!(!yaml.contains("method_override"));
    yaml.lines()
        .find_map(|l| l.trim().strip_prefix("path_prefix: "))
        .expect("a path_prefix")
        .trim()
        .to_string()
}

struct Check {
    status: u16,
    headers: HeaderMap,
}

/// What Envoy sends latchkey for a client's `method path` with `token`.
async fn check(
    world: &World,
    prefix: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> Check {
    let latchkey = &world.app.base;
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = world
        .app
        .http
        .request(method, format!("{latchkey}{prefix}{path}"))
        .header("host", "app.example")
        .header("content-length", "0")
        .header("x-envoy-expected-rq-timeout-ms", "1000");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let resp = req.send().await.expect("latchkey answers");
    Check {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_ext_authz_contract() {
    let prefix = envoy_contract();
    assert_eq!(prefix, "/auth/forward");
    let world = harness::world().await;
    let member = Some(world.member.pat_token.as_str());
    let admin = Some(world.app.admin.pat_token.as_str());
    let reports = format!("/projects/{}/reports/2024/q1.pdf?download=1", world.project);

    let c = check(&world, &prefix, "GET", "/", None).await;
    assert_eq!(c.status, 401);
    let challenge = c.headers.get("www-authenticate").expect("a challenge");
    assert_eq!(challenge, r#"Bearer realm="latchkey""#);

    // Allowed: every x-latchkey- header is there for Envoy to set upstream,
    // the empty scopes of the member too, so a client's are replaced.
    let c = check(&world, &prefix, "GET", &reports, member).await;
    assert_eq!(c.status, 200);
    for name in latchkey_server::wire::forward::IDENTITY_HEADERS {
        assert!(c.headers.get(name).is_some(), "{name} is missing");
    }
    assert_eq!(
        c.headers["x-latchkey-principal-id"],
        world.member.uuid.as_str()
    );
    assert_eq!(c.headers["x-latchkey-scopes"], "");

    // The method is the request's: writing reports needs content:write.
    assert_eq!(
        check(&world, &prefix, "PUT", &reports, member).await.status,
        403
    );
    assert_eq!(
        check(&world, &prefix, "PUT", &reports, admin).await.status,
        200
    );
    assert_eq!(
        check(&world, &prefix, "GET", "/admin/users", member)
            .await
            .status,
        403
    );
    // The query is the client's: it cannot name what is needed.
    let sneaky = format!("/admin/users?scope=content:read&project={}", world.project);
    let sneaky = check(&world, &prefix, "GET", &sneaky, member).await;
    assert_eq!(sneaky.status, 403);
    assert_eq!(
        check(&world, &prefix, "DELETE", "/about", member)
            .await
            .status,
        200
    );

    // Revocation: the very next check is refused.
    let app = &world.app;
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            serde_json::json!({ "name": "through envoy" }),
        )
        .await;
    assert_eq!(
        check(&world, &prefix, "GET", "/about", Some(&token))
            .await
            .status,
        200
    );
    app.delete(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &app.admin.session,
    )
    .await
    .expect(204);
    assert_eq!(
        check(&world, &prefix, "GET", "/about", Some(&token))
            .await
            .status,
        401
    );
}
