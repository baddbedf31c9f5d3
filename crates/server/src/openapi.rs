//! The OpenAPI document as served, finished from the handlers' annotations
//! with what is written once instead of on each handler: the success
//! envelope around each JSON body, the error body on every failure, the
//! security schemes and which operations need a credential, the statuses
//! any authenticated operation, any body and any parameter can answer; the
//! rules the server checks, as JSON Schema assertions (patterns of
//! `core::limits`, the catalog's scopes, the shapes of requests); unique
//! operation ids and the links from each creation.

use serde_json::{json, Map, Value};

/// Operations that need no credential.
const PUBLIC: [&str; 6] = [
    "/api/v1/login",
    "/api/v1/auth/verify",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/openapi.json",
];

/// Authenticated by a resource server (instance-level), not by an
/// organization's credential; OAuth's own error body for `401`.
const RESOURCE_SERVER: [&str; 1] = ["/oauth2/introspect"];

/// Accepted without a credential, or with the invited account's session.
const SESSION_OPTIONAL: [&str; 1] = ["/api/v1/invites/{code}"];

/// A token in the `Authorization` header only, no session: what a reverse
/// proxy passes on.
const TOKEN_ONLY: [&str; 1] = ["/auth/forward"];

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// The only UUID form latchkey writes, and the one its documents promise.
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A scope of this server's catalog (`GET /api/v1/org/scopes`); the served
/// document lists them, custom scopes included.
#[derive(utoipa::ToSchema)]
#[schema(as = Scope)]
pub struct ScopeName(#[allow(dead_code)] String);

/// A system role from `viewer` up: what an API key, an organization-scoped
/// service account and any project role may be (`member` would give nothing).
pub fn role_from_viewer() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let roles = latchkey_core::Role::ALL
        .into_iter()
        .filter(|r| *r != latchkey_core::Role::Member)
        .map(latchkey_core::Role::as_str);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(roles))
        .description(Some("A system role from `viewer` up."))
        .build()
}

/// Null, or a system role from `viewer` up.
pub fn optional_role_from_viewer() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(role_from_viewer())
            .build(),
    )
}

/// Names of the rules of `latchkey_core::limits`, as `format` markers on
/// the handlers' fields; `finish` puts the rule's pattern in their place.
pub const NAME: &str = "latchkey-name";
pub const EMAIL: &str = "latchkey-email";

/// The document the handlers' annotations describe, with what they share.
/// `scopes` are the catalog's names, for the `Scope` schema.
pub fn finish(doc: utoipa::openapi::OpenApi, scopes: &[String]) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let Some(root) = doc.as_object_mut() else {
        return doc;
    };
    let components = root
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(components) = components {
        if let Some(schemas) = components
            .entry("schemas")
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            finish_schemas(schemas, scopes);
        }
        components.insert("securitySchemes".into(), security_schemes());
    }
    let rules = Rules {
        name: latchkey_core::limits::name_pattern(),
        email: latchkey_core::limits::email_pattern(),
    };
    assert_formats(&mut doc, &rules);
    let Some(root) = doc.as_object_mut() else {
        return doc;
    };
    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                    finish_operation(path, method, op);
                }
            }
        }
        unique_operation_ids(paths);
        link_creations(paths);
    }
    doc
}

/// Handlers are named for what they do in their module (`list`, `create`);
/// an operation id is unique in the document, so a shared name is prefixed
/// with the operation's tag (`api_keys_create`).
fn unique_operation_ids(paths: &mut Map<String, Value>) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for item in paths.values() {
        for method in METHODS {
            if let Some(id) = item
                .pointer(&format!("/{method}/operationId"))
                .and_then(Value::as_str)
            {
                *seen.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let Some(id) = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                continue;
            };
            if seen.get(&id).copied().unwrap_or(0) < 2 {
                continue;
            }
            let tag = op
                .get("tags")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
                .unwrap_or("api")
                .replace(' ', "_");
            op.insert("operationId".into(), json!(format!("{tag}_{id}")));
        }
    }
}

/// What a creation answers with, and the operations that take it: OpenAPI
/// links, so that a client (or a fuzzer's stateful phase) can follow a
/// created resource to where it is read, changed and deleted.
const CREATIONS: [(&str, &str, &str, &[&str]); 6] = [
    (
        "/api/v1/org/api-keys",
        "uuid",
        "uuid",
        &["/api/v1/org/api-keys/{uuid}"],
    ),
    (
        "/api/v1/org/projects",
        "projectUuid",
        "projectUuid",
        &["/api/v1/projects/{projectUuid}"],
    ),
    (
        "/api/v1/org/roles",
        "uuid",
        "roleUuid",
        &["/api/v1/org/roles/{roleUuid}"],
    ),
    (
        "/api/v1/org/users",
        "userUuid",
        "userUuid",
        &[
            "/api/v1/org/users/{userUuid}",
            "/api/v1/org/invites/{userUuid}",
        ],
    ),
    (
        "/api/v1/service-accounts",
        "uuid",
        "uuid",
        &["/api/v1/service-accounts/{uuid}"],
    ),
    (
        "/api/v1/user/me/personal-access-tokens",
        "uuid",
        "uuid",
        &[
            "/api/v1/user/me/personal-access-tokens/{uuid}",
            "/api/v1/org/personal-access-tokens/{uuid}",
        ],
    ),
];

fn link_creations(paths: &mut Map<String, Value>) {
    for (creator, field, parameter, prefixes) in CREATIONS {
        let mut links = Map::new();
        for (path, item) in paths.iter() {
            if !prefixes.iter().any(|p| path.starts_with(p)) {
                continue;
            }
            for method in METHODS {
                let Some(id) = item
                    .pointer(&format!("/{method}/operationId"))
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                links.insert(
                    id.to_string(),
                    json!({
                        "operationId": id,
                        "parameters": { parameter: format!("$response.body#/results/{field}") },
                    }),
                );
            }
        }
        if let Some(created) = paths
            .get_mut(creator)
            .and_then(|item| item.pointer_mut("/post/responses/201"))
            .and_then(Value::as_object_mut)
        {
            created.insert("links".into(), Value::Object(links));
        }
    }
}

/// The error body; the catalog's scopes; the rules between fields.
fn finish_schemas(schemas: &mut Map<String, Value>, scopes: &[String]) {
    schemas.insert("Error".into(), error_schema());
    if let Some(scope) = schemas.get_mut("Scope").and_then(Value::as_object_mut) {
        scope.insert("enum".into(), json!(scopes));
    }
    for (name, schema) in schemas.iter_mut() {
        if let Some(schema) = schema.as_object_mut() {
            one_role(name, schema);
        }
    }
    if let Some(schema) = schemas
        .get_mut("CreateServiceAccountRequest")
        .and_then(Value::as_object_mut)
    {
        schema.insert("oneOf".into(), service_account_shapes());
    }
}

/// Requests that give a role take `role` or `customRoleUuid`, never both
/// (a null is as good as leaving it out); where a role is what the request
/// is for, one of them.
fn one_role(name: &str, schema: &mut Map<String, Value>) {
    let has = |p: &str| schema.get("properties").and_then(|ps| ps.get(p)).is_some();
    if !(name.ends_with("Request") && has("role") && has("customRoleUuid")) {
        return;
    }
    let given =
        |p: &str| json!({ "required": [p], "properties": { p: { "not": { "type": "null" } } } });
    schema.insert(
        "not".into(),
        json!({ "allOf": [given("role"), given("customRoleUuid")] }),
    );
    if [
        "AddMemberRequest",
        "ProjectRowRequest",
        "ProjectRoleRequest",
    ]
    .contains(&name)
    {
        schema.insert(
            "anyOf".into(),
            json!([given("role"), given("customRoleUuid")]),
        );
    }
}

/// The four shapes of `CreateServiceAccountRequest` (the fields are the
/// derived schema's): organization scope with a system role from `viewer`
/// up, with a custom role, or with legacy scopes; or project scope with its
/// rows. What a shape does not use is absent or null.
fn service_account_shapes() -> serde_json::Value {
    use serde_json::json;
    let unused = |fields: &[&str]| -> serde_json::Map<String, serde_json::Value> {
        fields
            .iter()
            .map(|f| (f.to_string(), json!({ "type": "null" })))
            .collect()
    };
    let shape = |scope: &str, field: &str, schema: serde_json::Value, others: &[&str]| {
        let mut properties = unused(others);
        properties.insert("scope".into(), json!({ "const": scope }));
        properties.insert(field.into(), schema);
        json!({ "required": ["scope", field], "properties": properties })
    };
    let org_roles: Vec<&str> = latchkey_core::Role::ALL
        .iter()
        .filter(|r| **r != latchkey_core::Role::Member)
        .map(|r| r.as_str())
        .collect();
    json!([
        shape(
            "organization",
            "role",
            json!({ "type": "string", "enum": org_roles }),
            &["customRoleUuid", "scopes", "projects"]
        ),
        shape(
            "organization",
            "customRoleUuid",
            json!({ "type": "string", "format": "uuid" }),
            &["role", "scopes", "projects"]
        ),
        shape(
            "organization",
            "scopes",
            json!({ "type": "array", "minItems": 1, "items": { "type": "string", "enum": latchkey_core::grant::LEGACY_SCOPES } }),
            &["role", "customRoleUuid", "projects"]
        ),
        shape(
            "project",
            "projects",
            json!({ "type": "array", "minItems": 1, "maxItems": latchkey_core::limits::MAX_PROJECT_ROWS, "items": { "$ref": "#/components/schemas/ProjectRowRequest" } }),
            &["role", "customRoleUuid", "scopes"]
        ),
    ])
}

struct Rules {
    name: String,
    email: String,
}

/// `format` is only an annotation in JSON Schema 2020-12: a client (or a
/// fuzzer) may read `{"type": "string", "format": "uuid"}` as "any string".
/// Where a format is what the server checks, the document says so in
/// assertions: a UUID has its pattern, a name or an email its rule's
/// pattern, and a nullable formatted value is "null, or a string of that
/// format" rather than a type list beside an annotation validators skip.
fn assert_formats(value: &mut Value, rules: &Rules) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| assert_formats(v, rules)),
        Value::Object(object) => {
            object.values_mut().for_each(|v| assert_formats(v, rules));
            let Some(format) = object.get("format").and_then(Value::as_str) else {
                return;
            };
            match format {
                "uuid" if !object.contains_key("pattern") => {
                    object.insert("pattern".into(), json!(UUID_PATTERN));
                }
                NAME => {
                    object.remove("format");
                    object.insert("pattern".into(), json!(rules.name));
                }
                EMAIL => {
                    object.remove("format");
                    object.insert("pattern".into(), json!(rules.email));
                    object.insert(
                        "maxLength".into(),
                        json!(latchkey_core::limits::MAX_EMAIL_CHARS),
                    );
                }
                _ => {}
            }
            if !object.contains_key("format") {
                return;
            }
            let nullable = object
                .get("type")
                .and_then(Value::as_array)
                .is_some_and(|t| t.len() == 2 && t.contains(&json!("null")));
            if !nullable {
                return;
            }
            let Some(kind) = object
                .get("type")
                .and_then(Value::as_array)
                .and_then(|t| t.iter().find(|t| *t != "null"))
                .cloned()
            else {
                return;
            };
            let mut formatted = std::mem::take(object);
            formatted.insert("type".into(), kind);
            // What describes the property stays on the property.
            if let Some(description) = formatted.remove("description") {
                object.insert("description".into(), description);
            }
            object.insert(
                "oneOf".into(),
                json!([{ "type": "null" }, Value::Object(formatted)]),
            );
        }
        _ => {}
    }
}

fn finish_operation(path: &str, method: &str, op: &mut Map<String, Value>) {
    if RESOURCE_SERVER.contains(&path) {
        return finish_resource_server_operation(op);
    }
    let public = PUBLIC.contains(&path);
    let optional = SESSION_OPTIONAL.contains(&path);
    // A session changes nothing without its CSRF token.
    let session = if method == "get" {
        json!({ "session": [] })
    } else {
        json!({ "session": [], "csrf": [] })
    };
    let security = if public {
        json!([])
    } else if TOKEN_ONLY.contains(&path) {
        json!([{ "bearer": [] }, { "apiKey": [] }])
    } else if optional {
        json!([{}, session])
    } else {
        json!([{ "bearer": [] }, { "apiKey": [] }, session])
    };
    op.insert("security".into(), security);
    let has_body = op.contains_key("requestBody");
    let has_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": description }));
    };
    if !public && !optional {
        add(
            "401",
            "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled",
        );
    }
    if method != "get" && !public && !optional {
        add(
            "403",
            "forbidden: a session request that changes anything without its X-CSRF-Token",
        );
    }
    if has_body || has_params {
        add("400", "invalid_request: details.field names what is wrong");
    }
    if has_body {
        add("413", "payload_too_large: the body is over 64 KiB");
    }
    if !path.starts_with("/api/") && !TOKEN_ONLY.contains(&path) {
        // Operations: plain answers, no envelope.
        return;
    }
    add("503", "unavailable: the database is unreachable");
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        if status.starts_with('2') {
            wrap_success(response);
        } else {
            response.insert(
                "content".into(),
                json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }),
            );
        }
    }
}

/// Token introspection: Basic or Bearer of a resource server; its answer
/// and `401` are RFC 7662's and RFC 6749's own bodies, any other failure the
/// API's error body.
fn finish_resource_server_operation(op: &mut Map<String, Value>) {
    op.insert(
        "security".into(),
        json!([{ "basic": [] }, { "bearer": [] }]),
    );
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for (status, description) in [
        (
            "400",
            "invalid_request: not a form, or no `token` (details.field names it)",
        ),
        (
            "401",
            "invalid_client: no valid resource server authentication",
        ),
        ("413", "payload_too_large: the body is over 64 KiB"),
        (
            "429",
            "rate_limited: too many failed client authentications from this address (Retry-After)",
        ),
        ("503", "unavailable: the database is unreachable"),
    ] {
        let response = responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": description }));
        if let Some(response) = response.as_object_mut() {
            response.insert("description".into(), description.into());
            if status != "401" {
                response.insert(
                    "content".into(),
                    json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }),
                );
            }
        }
    }
}

/// `{"status": "ok", "results": <the handler's schema>}`.
fn wrap_success(response: &mut Map<String, Value>) {
    let Some(schema) = response
        .get_mut("content")
        .and_then(|c| c.get_mut("application/json"))
        .and_then(|c| c.get_mut("schema"))
    else {
        return;
    };
    let results = schema.take();
    *schema = json!({
        "type": "object",
        "required": ["status", "results"],
        "properties": {
            "status": { "type": "string", "enum": ["ok"] },
            "results": results,
        },
    });
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["status", "error"],
        "properties": {
            "status": { "type": "string", "enum": ["error"] },
            "error": {
                "type": "object",
                "required": ["statusCode", "code", "message"],
                "properties": {
                    "statusCode": { "type": "integer" },
                    "code": { "type": "string", "description": "stable and machine-readable: invalid_request, missing_scope, not_found, …" },
                    "message": { "type": "string" },
                    "details": { "type": "object" },
                },
            },
        },
    })
}

fn security_schemes() -> Value {
    json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <token>`: a personal access token, API key or service account token; for POST /oauth2/introspect, a resource server's `lkrs_` secret",
        },
        "basic": {
            "type": "http",
            "scheme": "basic",
            "description": "a resource server's `clientId:secret` (each form-urlencoded first, RFC 6749 §2.3.1), for POST /oauth2/introspect",
        },
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: ApiKey <token>`, the same tokens",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "latchkey_session",
            "description": "the web session from POST /api/v1/login",
        },
        "csrf": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": "the csrfToken login returned; needed with the session on every request that changes anything",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successes_are_wrapped_and_failures_share_the_error_body() {
        let mut op = json!({
            "requestBody": {},
            "responses": {
                "200": { "description": "", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PatView" } } } },
                "404": { "description": "" },
            }
        });
        finish_operation(
            "/api/v1/user/me/personal-access-tokens/{uuid}",
            "patch",
            op.as_object_mut().unwrap(),
        );
        let r = &op["responses"];
        assert_eq!(
            r["200"]["content"]["application/json"]["schema"]["properties"]["results"]["$ref"],
            "#/components/schemas/PatView"
        );
        for status in ["400", "401", "403", "404", "413", "503"] {
            assert_eq!(
                r[status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error",
                "{status}"
            );
        }
        assert_eq!(op["security"][2], json!({ "session": [], "csrf": [] }));
    }

    #[test]
    fn formats_the_server_checks_are_assertions() {
        let mut doc = json!({
            "a": { "type": "string", "format": "uuid" },
            "b": { "type": ["string", "null"], "format": "date-time", "description": "when" },
            "c": { "type": ["string", "null"], "format": NAME },
        });
        let rules = Rules {
            name: "n".into(),
            email: "e".into(),
        };
        assert_formats(&mut doc, &rules);
        assert_eq!(doc["a"]["pattern"], UUID_PATTERN);
        assert_eq!(
            doc["b"],
            json!({ "description": "when", "oneOf": [{ "type": "null" }, { "type": "string", "format": "date-time" }] })
        );
        assert_eq!(
            doc["c"],
            json!({ "type": ["string", "null"], "pattern": "n" })
        );
    }

    #[test]
    fn public_operations_need_no_credential() {
        let mut op = json!({ "responses": { "200": { "description": "" } } });
        finish_operation("/healthz", "get", op.as_object_mut().unwrap());
        assert_eq!(op["security"], json!([]));
        assert!(op["responses"].get("401").is_none());
    }
}
