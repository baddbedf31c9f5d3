//! `/auth/forward` (API.md, "Forward authentication for reverse proxies"):
//! the identity headers, what is needed (query, rules, Envoy's sub-path),
//! refusals with the API's error body, revocation at once, the cache. The
//! real proxies in front of it are in `tests/proxies/`.

use crate::on_both_backends;
use crate::support::{Auth, Backend, Resp, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    the_answer_names_the_caller_as_verify_does,
    refusals_are_the_apis_with_a_challenge,
    a_scope_in_the_query_is_required,
    a_project_decides_by_its_own_roles,
    revocation_holds_on_the_next_request,
    a_cached_token_reads_nothing,
    names_are_safe_header_values,
    the_document_describes_it,
);

/// The rules of `examples/latchkey.toml`, the file the README shows and the
/// proxy tests run.
pub fn example_rules() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/latchkey.toml")
}

pub async fn forward(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = app.http.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp {
        status,
        body,
        headers,
    }
}

fn header<'r>(resp: &'r Resp, name: &str) -> &'r str {
    resp.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", resp.headers))
        .to_str()
        .expect("ASCII")
}

/// The seven headers, as `/auth/verify` describes the same token.
async fn assert_identity(app: &TestApp, resp: &Resp, token: &str) {
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.body, Value::Null, "an empty body");
    let verified = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": token }),
        )
        .await;
    let v = verified.expect(200);
    assert_eq!(
        header(resp, "x-latchkey-principal-type"),
        v["principal"]["type"]
    );
    assert_eq!(
        header(resp, "x-latchkey-principal-id"),
        v["principal"]["uuid"]
    );
    assert_eq!(
        header(resp, "x-latchkey-principal-name"),
        v["principal"]["name"]
    );
    assert_eq!(header(resp, "x-latchkey-org-id"), v["org"]["uuid"]);
    assert_eq!(
        header(resp, "x-latchkey-credential-kind"),
        v["credential"]["kind"]
    );
    assert_eq!(
        header(resp, "x-latchkey-credential-id"),
        v["credential"]["uuid"]
    );
    let scopes: Vec<&str> = v["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .map(|s| s.as_str().expect("a scope"))
        .collect();
    assert_eq!(header(resp, "x-latchkey-scopes"), scopes.join(" "));
}

async fn api_key(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let r = app
        .post(
            "/api/v1/org/api-keys",
            &app.admin.pat,
            json!({ "name": name, "role": role }),
        )
        .await;
    let r = r.expect(201);
    (
        r["uuid"].as_str().expect("uuid").into(),
        r["token"].as_str().expect("token").into(),
    )
}

async fn the_answer_names_the_caller_as_verify_does(app: TestApp) {
    let admin = app.admin.pat_token.clone();
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&admin), &[]).await;
    assert_identity(&app, &resp, &admin).await;
    assert_eq!(header(&resp, "x-latchkey-principal-type"), "user");
    assert_eq!(header(&resp, "x-latchkey-credential-kind"), "pat");
    // Any method, and `ApiKey` as well as `Bearer`.
    for method in [
        "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "HEAD",
    ] {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let resp = forward(&app, method.clone(), "/auth/forward", Some(&admin), &[]).await;
        assert_eq!(resp.status, 200, "{method}: {}", resp.body);
        assert_eq!(header(&resp, "x-latchkey-principal-id"), app.admin.uuid);
    }
    let resp = app.get("/auth/forward", &app.admin.pat).await;
    assert_eq!(header(&resp, "x-latchkey-principal-id"), app.admin.uuid);
    // An API key and a service account are themselves.
    let (_, key) = api_key(&app, "deploy key", "developer").await;
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&key), &[]).await;
    assert_identity(&app, &resp, &key).await;
    assert_eq!(header(&resp, "x-latchkey-credential-kind"), "api_key");
    app.set_plan("enterprise").await;
    let account = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.pat,
            json!({ "description": "nightly export", "scope": "organization", "role": "viewer" }),
        )
        .await;
    let account = account.expect(201)["token"]
        .as_str()
        .expect("token")
        .to_string();
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&account), &[]).await;
    assert_identity(&app, &resp, &account).await;
    assert_eq!(
        header(&resp, "x-latchkey-principal-type"),
        "service_account"
    );
    assert_eq!(
        header(&resp, "x-latchkey-scopes"),
        "projects:read content:read"
    );
    // A narrowed PAT says its own scopes; one with none says none.
    let (_, none) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "nothing", "scopes": [] }),
        )
        .await;
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&none), &[]).await;
    assert_identity(&app, &resp, &none).await;
    assert_eq!(header(&resp, "x-latchkey-scopes"), "");
}

async fn refusals_are_the_apis_with_a_challenge(app: TestApp) {
    let resp = forward(&app, Method::GET, "/auth/forward", None, &[]).await;
    resp.expect_error(401, "missing_credentials");
    assert_eq!(
        header(&resp, "www-authenticate"),
        r#"Bearer realm="latchkey""#
    );
    assert!(resp.headers.get("x-latchkey-principal-id").is_none());
    // A session is not what a proxy passes on.
    let resp = app.get("/auth/forward", &app.admin.session).await;
    resp.expect_error(401, "missing_credentials");
    for (token, code) in [
        ("lkpat_not_a_token", "malformed_token"),
        (
            latchkey_core::TokenSecret::generate(
                latchkey_core::TokenKind::PersonalAccessToken,
                &mut rand::thread_rng(),
            )
            .expose(),
            "invalid_token",
        ),
    ] {
        let resp = forward(&app, Method::GET, "/auth/forward", Some(token), &[]).await;
        resp.expect_error(401, code);
        assert_eq!(
            header(&resp, "www-authenticate"),
            r#"Bearer realm="latchkey", error="invalid_token""#
        );
    }
    let resp = app
        .get("/auth/forward", &Auth::Header("Basic YWxpY2U6cHc=".into()))
        .await;
    resp.expect_error(401, "malformed_token");
}

async fn a_scope_in_the_query_is_required(app: TestApp) {
    let viewer = app.person("viewer@acme.test", "viewer").await;
    let token = Some(viewer.pat_token.as_str());
    let ok = forward(
        &app,
        Method::GET,
        "/auth/forward?scope=content:read",
        token,
        &[],
    )
    .await;
    assert_identity(&app, &ok, &viewer.pat_token).await;
    let resp = forward(
        &app,
        Method::GET,
        "/auth/forward?scope=content:write",
        token,
        &[],
    )
    .await;
    resp.expect_error(403, "missing_scope");
    assert_eq!(
        resp.body["error"]["details"]["requiredScope"],
        "content:write"
    );
    assert!(resp.headers.get("x-latchkey-principal-id").is_none());
    // Unknown parameters are ignored, as everywhere in the API.
    let resp = forward(
        &app,
        Method::GET,
        "/auth/forward?scope=content:read&x=1",
        token,
        &[],
    )
    .await;
    assert_eq!(resp.status, 200);
}

async fn a_project_decides_by_its_own_roles(app: TestApp) {
    let project = app.create_project("website").await;
    let other = app.create_project("intranet").await;
    let member = app.person("member@acme.test", "member").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", member.uuid),
        &app.admin.pat,
        json!({ "role": "editor" }),
    )
    .await
    .expect(200);
    let token = Some(member.pat_token.as_str());
    let ask = |scope: &str, project: &str| format!("/auth/forward?scope={scope}&project={project}");
    let on = forward(
        &app,
        Method::GET,
        &ask("content:write", &project),
        token,
        &[],
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.body);
    // Organization-wide the member holds nothing; on another project neither.
    for path in [
        "/auth/forward?scope=content:read".to_string(),
        ask("content:read", &other),
        ask("deploy:write", &project),
    ] {
        let resp = forward(&app, Method::GET, &path, token, &[]).await;
        resp.expect_error(403, "missing_scope");
    }
    // A project that does not exist (or is another organization's) is a
    // 403 like any other, for the admin too: no 404 tells it apart.
    let nowhere = uuid::Uuid::new_v4().to_string();
    let admin = Some(app.admin.pat_token.as_str());
    let resp = forward(
        &app,
        Method::GET,
        &ask("content:read", &nowhere),
        admin,
        &[],
    )
    .await;
    resp.expect_error(403, "missing_scope");
    let resp = forward(&app, Method::GET, &ask("content:read", &other), admin, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    // The same question asked of /auth/verify has the same answer.
    for (project, allowed) in [(&project, true), (&other, false)] {
        let v = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": member.pat_token, "scope": "content:write", "projectUuid": project }),
            )
            .await;
        assert_eq!(v.expect(200)["allowed"], allowed);
    }
}

async fn revocation_holds_on_the_next_request(app: TestApp) {
    let (uuid, token) = app
        .create_pat(&app.admin.session, json!({ "name": "to revoke" }))
        .await;
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&token), &[]).await;
    assert_eq!(resp.status, 200);
    app.delete(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &app.admin.session,
    )
    .await
    .expect(204);
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&token), &[]).await;
    resp.expect_error(401, "token_revoked");
    let (key_uuid, key) = api_key(&app, "key to revoke", "viewer").await;
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&key), &[]).await;
    assert_eq!(resp.status, 200);
    app.delete(&format!("/api/v1/org/api-keys/{key_uuid}"), &app.admin.pat)
        .await
        .expect(204);
    let resp = forward(&app, Method::GET, "/auth/forward", Some(&key), &[]).await;
    resp.expect_error(401, "token_revoked");
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn a_cached_token_reads_nothing(app: TestApp) {
    let project = app.create_project("website").await;
    let token = app.admin.pat_token.clone();
    let path = format!("/auth/forward?scope=content:read&project={project}");
    // The first answer fills the caches (the credential, the project's
    // existence); from then on each is a cache hit and no miss.
    forward(&app, Method::GET, &path, Some(&token), &[]).await;
    let counts = |text: Value| {
        let text = text.as_str().expect("metrics text").to_string();
        (
            metric(&text, "latchkey_auth_cache_hits_total"),
            metric(&text, "latchkey_auth_cache_misses_total"),
        )
    };
    let before = counts(app.get("/metrics", &Auth::None).await.body);
    for _ in 0..10 {
        let resp = forward(&app, Method::GET, &path, Some(&token), &[]).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
    }
    let after = counts(app.get("/metrics", &Auth::None).await.body);
    assert_eq!((after.0 - before.0, after.1 - before.1), (10, 0));
}

async fn names_are_safe_header_values(app: TestApp) {
    // Names refuse control characters; anything else is percent-encoded
    // UTF-8, `%` included, so the value is always a valid header.
    for (name, sent) in [
        ("Zoë's key", "Zo%C3%AB's key"),
        ("100% \"quoted\" <key>", "100%25 \"quoted\" <key>"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
    ] {
        let (_, key) = api_key(&app, name, "viewer").await;
        let resp = forward(&app, Method::GET, "/auth/forward", Some(&key), &[]).await;
        assert_eq!(resp.status, 200, "{name}: {}", resp.body);
        assert_eq!(header(&resp, "x-latchkey-principal-name"), sent);
        let decoded = percent_decode(sent);
        assert_eq!(decoded, name);
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

async fn the_document_describes_it(app: TestApp) {
    let doc = app.get("/api/v1/openapi.json", &Auth::None).await;
    let op = &doc.body["paths"]["/auth/forward"]["get"];
    assert_eq!(op["security"], json!([{ "bearer": [] }, { "apiKey": [] }]));
    let description = op["description"].as_str().expect("description");
    assert!(description.contains("Any method"), "{description}");
    let headers = op["responses"]["200"]["headers"]
        .as_object()
        .expect("headers");
    for name in latchkey_server::wire::forward::IDENTITY_HEADERS {
        assert!(
            headers.keys().any(|h| h.eq_ignore_ascii_case(name)),
            "{name} is not described"
        );
    }
    for status in ["400", "401", "403", "429"] {
        assert_eq!(
            op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "{status}"
        );
    }
    let params = op["parameters"].as_array().expect("parameters");
    let param = |name: &str| params.iter().find(|p| p["name"] == name).expect(name);
    assert_eq!(
        param("scope")["schema"]["$ref"],
        "#/components/schemas/Scope"
    );
    assert_eq!(
        param("project")["schema"]["pattern"],
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    );
}

// ---- rules from the configuration file ---------------------------------------------

async fn rules_on(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.config = Some(example_rules())).await;
    let project = app.create_project("website").await;
    let member = app.person("member@acme.test", "member").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", member.uuid),
        &app.admin.pat,
        json!({ "role": "viewer" }),
    )
    .await
    .expect(200);
    let token = Some(member.pat_token.as_str());
    let reports = format!("/projects/{project}/reports/2024/q1.pdf?download=1");
    let as_traefik = |method: &'static str, uri: String| {
        vec![
            ("X-Forwarded-Method", method.to_string()),
            ("X-Forwarded-Uri", uri),
        ]
    };
    let ask = |headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            forward(app, Method::GET, "/auth/forward", token, &headers).await
        }
    };
    // Reading reports needs content:read on the project: the member's
    // project role has it; writing them needs content:write, which it has not.
    assert_eq!(ask(as_traefik("GET", reports.clone())).await.status, 200);
    assert_eq!(ask(as_traefik("HEAD", reports.clone())).await.status, 200);
    let resp = ask(as_traefik("POST", reports.clone())).await;
    resp.expect_error(403, "missing_scope");
    assert_eq!(
        resp.body["error"]["details"]["requiredScope"],
        "content:write"
    );
    // nginx's names, and no method header: the request's own method.
    let nginx = vec![("X-Original-URI", reports.clone())];
    assert_eq!(ask(nginx).await.status, 200);
    // Another project's reports: the member has no role there.
    let elsewhere = format!("/projects/{}/reports/x", uuid::Uuid::new_v4());
    ask(as_traefik("GET", elsewhere))
        .await
        .expect_error(403, "missing_scope");
    // Dot segments, doubled slashes and percent-encoding do not slip past.
    for sneaky in [
        format!("/projects/{project}/./reports/x"),
        format!("//projects/{project}//reports/x"),
        format!("/projects/{project}/public/../reports/x"),
        format!("/projects/{project}/%72eports/x"),
    ] {
        let resp = ask(as_traefik("POST", sneaky.clone())).await;
        resp.expect_error(403, "missing_scope");
    }
    // …and what could be read two ways is refused.
    for ambiguous in [
        format!("/projects/{project}%2Freports/x"),
        format!("/projects/{project}\\reports/x"),
        "/admin;jsessionid=1/users".to_string(),
        "/a%zz".to_string(),
        "no-slash".to_string(),
    ] {
        let resp = ask(as_traefik("GET", ambiguous.clone())).await;
        resp.expect_error(400, "invalid_request");
        assert_eq!(
            resp.body["error"]["details"]["field"], "X-Forwarded-Uri",
            "{ambiguous}"
        );
    }
    // Admin pages need members:write organization-wide.
    ask(as_traefik("GET", "/admin/users".into()))
        .await
        .expect_error(403, "missing_scope");
    let admin = forward(
        &app,
        Method::GET,
        "/auth/forward",
        Some(&app.admin.pat_token),
        &[("X-Forwarded-Uri", "/admin/users")],
    )
    .await;
    assert_eq!(admin.status, 200);
    // No rule: a valid credential is enough.
    assert_eq!(ask(as_traefik("GET", "/about".into())).await.status, 200);
    // A scope in the query wins over the rules.
    let resp = forward(
        &app,
        Method::GET,
        "/auth/forward?scope=content:read",
        token,
        &[("X-Forwarded-Uri", "/admin/users")],
    )
    .await;
    resp.expect_error(403, "missing_scope");
    assert_eq!(
        resp.body["error"]["details"]["requiredScope"],
        "content:read"
    );
    // Two names for the URI (or method) that disagree: one is a client's.
    let resp = ask(vec![
        ("X-Forwarded-Uri", "/about".into()),
        ("X-Original-URI", reports.clone()),
    ])
    .await;
    resp.expect_error(400, "invalid_request");
    let resp = ask(vec![
        ("X-Forwarded-Uri", reports.clone()),
        ("X-Forwarded-Method", "GET".into()),
        ("X-Original-Method", "POST".into()),
    ])
    .await;
    resp.expect_error(400, "invalid_request");
    let resp = ask(as_traefik("GET POST", reports.clone())).await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.body["error"]["details"]["field"], "X-Forwarded-Method");
    // With rules, a request that names no scope must say what it is for.
    let resp = ask(vec![]).await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.body["error"]["details"]["field"], "X-Forwarded-Uri");

    // Envoy: the proxied path below /auth/forward, the request's own method;
    // the query is the client's and cannot name a scope.
    let below = |method: Method, path: String| {
        let app = &app;
        async move { forward(app, method, &format!("/auth/forward{path}"), token, &[]).await }
    };
    assert_eq!(below(Method::GET, reports.clone()).await.status, 200);
    below(Method::DELETE, reports.clone())
        .await
        .expect_error(403, "missing_scope");
    below(Method::GET, "/admin/users?scope=content:read".into())
        .await
        .expect_error(403, "missing_scope");
    assert_eq!(below(Method::GET, "/".into()).await.status, 200);
    assert_eq!(
        below(Method::GET, "/about?scope=nonsense".into())
            .await
            .status,
        200
    );
    let resp = below(Method::GET, "/a%2Fb".into()).await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.body["error"]["details"]["field"], "path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_from_the_configuration_file_sqlite() {
    rules_on(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_from_the_configuration_file_postgres() {
    rules_on(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rule_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let rule = |body: &str| {
        format!("[[forward_auth.rules]]\npath = \"/ok\"\nscope = \"content:read\"\n\n[[forward_auth.rules]]\n{body}\n")
    };
    for (text, says) in [
        (rule("path = \"/a\"\nscope = \"content:reed\""), "forward_auth.rules[1].scope"),
        (rule("path = \"a/**\"\nscope = \"content:read\""), "forward_auth.rules[1].path"),
        (rule("path = \"/**/a\"\nscope = \"content:read\""), "forward_auth.rules[1].path"),
        (rule("methods = []\npath = \"/a\"\nscope = \"content:read\""), "forward_auth.rules[1].methods"),
        (rule("methods = [\"GET POST\"]\npath = \"/a\"\nscope = \"content:read\""), "forward_auth.rules[1].methods"),
        (rule("path = \"/a\"\nscope = \"content:read\"\nmethod = [\"GET\"]"), "unknown field `method`"),
        (rule("path = \"/a\""), "missing field `scope`"),
        (rule("path = 1\nscope = \"content:read\""), "path"),
        ("[forward_auth]\nrule = []\n".to_string(), "unknown field `rule`"),
        // A custom scope of the same file is the catalog's.
        (
            "[[scopes]]\nname = \"billing:read\"\n[[forward_auth.rules]]\npath = \"/a\"\nscope = \"billing:write\"\n".to_string(),
            "forward_auth.rules[0].scope",
        ),
    ] {
        let path = dir.path().join("latchkey.toml");
        std::fs::write(&path, &text).unwrap();
        let mut config = latchkey_server::ServeConfig::for_data_dir(dir.path().join("data"));
        config.secret_key = Some(crate::support::SECRET_KEY.into());
        config.config = Some(path);
        let err = match latchkey_server::start(config).await {
            Ok(_) => panic!("started with {text:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{text:?}: {err}");
        assert!(err.contains("latchkey.toml"), "{err}");
    }
    // A custom scope may be required.
    let path = dir.path().join("latchkey.toml");
    std::fs::write(
        &path,
        "[[scopes]]\nname = \"billing:read\"\n[[forward_auth.rules]]\npath = \"/a\"\nscope = \"billing:read\"\n",
    )
    .unwrap();
    let mut config = latchkey_server::ServeConfig::for_data_dir(dir.path().join("data"));
    config.secret_key = Some(crate::support::SECRET_KEY.into());
    config.config = Some(path);
    latchkey_server::start(config)
        .await
        .expect("starts")
        .stop()
        .await;
}
