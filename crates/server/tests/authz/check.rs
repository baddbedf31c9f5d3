//! One loop over the table, and the check that it covers every documented operation.

use crate::on_both_backends;
use crate::support::{Auth, TestApp};
use crate::table::*;
use crate::world::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Instant;

on_both_backends!(authorization_table,);

/// Why a response is not what the cell expects, if it is not.
pub(crate) fn mismatch(
    resp: &crate::support::Resp,
    expect: Expect,
    scope: Option<&str>,
) -> Option<String> {
    let body = &resp.body;
    match expect {
        Expect::Status(status) => {
            if resp.status != status {
                return Some(format!("expected {status}, got {}: {body}", resp.status));
            }
            // Enveloped API answers say so (health checks and the OpenAPI
            // document are not enveloped).
            if body.is_object() && body.get("results").is_some() && body["status"] != "ok" {
                return Some(format!("a success without status ok: {body}"));
            }
        }
        Expect::OAuth(status, code) => {
            if resp.status != status || resp.body != json!({ "error": code }) {
                return Some(format!(
                    "expected {status} {{\"error\": {code:?}}}, got {}: {body}",
                    resp.status
                ));
            }
            if status == 401
                && resp
                    .headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    != Some("Basic realm=\"latchkey\"")
            {
                return Some(format!("no Basic challenge: {:?}", resp.headers));
            }
        }
        Expect::Error(status, code) => {
            if (resp.status, resp.code()) != (status, code) {
                return Some(format!(
                    "expected {status} {code}, got {} {}: {body}",
                    resp.status,
                    resp.code()
                ));
            }
            if body["status"] != "error" || body["error"]["statusCode"] != status {
                return Some(format!("not an error envelope: {body}"));
            }
            if code == "missing_scope" && body["error"]["details"]["requiredScope"] != json!(scope)
            {
                return Some(format!("details.requiredScope should be {scope:?}: {body}"));
            }
            if code == "scopes_not_grantable"
                && body["error"]["details"]["scopes"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
            {
                return Some(format!("details.scopes should list the scopes: {body}"));
            }
        }
    }
    None
}

/// Every operation the server documents has rows, and every row is an
/// operation the server documents (or the OpenAPI document itself).
pub(crate) async fn check_coverage(app: &TestApp, rows: &[Row]) {
    let doc = app.get("/api/v1/openapi.json", &Auth::None).await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().expect("OpenAPI paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    documented.insert(("GET".to_string(), "/api/v1/openapi.json".to_string()));
    // A row may carry a query (`/auth/forward?scope=…`); the operation is its path.
    let tabled: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or(r.path);
            (r.method.to_string(), path.to_string())
        })
        .collect();
    let without_rows: Vec<_> = documented.difference(&tabled).collect();
    assert!(
        without_rows.is_empty(),
        "routes without rows in the authorization table: {without_rows:?}"
    );
    let undocumented: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "rows for routes the server does not document: {undocumented:?}"
    );
}

pub(crate) async fn authorization_table(app: TestApp) {
    let started = Instant::now();
    let rows = table();
    for r in &rows {
        if r.expect.contains(&SCOPE) {
            assert!(
                r.scope.is_some(),
                "{} {} expects missing_scope without naming the scope",
                r.method,
                r.path
            );
        }
    }
    check_coverage(&app, &rows).await;
    let world = build_world(&app).await;
    let setup = started.elapsed();

    let mut failures = Vec::new();
    let mut cells = 0;
    for r in &rows {
        for (column, who) in COLUMNS.iter().enumerate() {
            cells += 1;
            let (params, own_auth) = prepare(&app, &world, r.target, *who, cells).await;
            let path = fill(r.path, &params);
            let body = r
                .body
                .as_ref()
                .map(|b| serde_json::from_str(&fill(&b.to_string(), &params)).expect("body"));
            let auth = own_auth.as_ref().unwrap_or(&world.auth[column]);
            let resp = app.send(r.method.clone(), &path, auth, body).await;
            if let Some(why) = mismatch(&resp, r.expect[column], r.scope) {
                failures.push(format!(
                    "{} {} [{:?}] as {who:?}: {why}",
                    r.method, r.path, r.target
                ));
            }
        }
    }
    // The one principal of the resource-server routes gets its answer, and
    // its secret is no organization's credential.
    let (client_id, secret) = app.resource_server("authz").await;
    for r in rows
        .iter()
        .filter(|r| RESOURCE_SERVER_ROUTES.contains(&r.path))
    {
        assert!(r.expect.iter().all(|e| *e == CLIENT), "{}", r.path);
        let token = world.admin_token.clone();
        for auth in [
            format!("Bearer {secret}"),
            crate::support::basic(&client_id, &secret),
        ] {
            let resp = app.introspect(Some(&auth), &token).await;
            if resp.status != 200 || resp.body["active"] != true {
                failures.push(format!("{} as a resource server: {resp:?}", r.path));
            }
        }
    }
    let resp = app
        .get("/api/v1/user", &Auth::Header(format!("Bearer {secret}")))
        .await;
    if (resp.status, resp.code()) != (401, "invalid_token") {
        failures.push(format!(
            "a resource server's secret on the org API: {resp:?}"
        ));
    }
    eprintln!(
        "{:?}: {} rows x {} principals = {cells} cells; setup {:?}, total {:?}",
        app.backend,
        rows.len(),
        COLUMNS.len(),
        setup,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells differ from the table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
