//! What every operation of the OpenAPI document has in common, written
//! once instead of on each handler: the success envelope around each JSON
//! body, the error body on every failure, the security schemes and which
//! operations need a credential, and the statuses any authenticated
//! operation, any body and any parameter can answer.

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

/// Accepted without a credential, or with the invited account's session.
const SESSION_OPTIONAL: [&str; 1] = ["/api/v1/invites/{code}"];

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// The document the handlers' annotations describe, with what they share.
pub fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let Some(root) = doc.as_object_mut() else {
        return doc;
    };
    let components = root
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(components) = components {
        components
            .entry("schemas")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|schemas| schemas.insert("Error".into(), error_schema()));
        components.insert("securitySchemes".into(), security_schemes());
    }
    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                    finish_operation(path, method, op);
                }
            }
        }
    }
    doc
}

fn finish_operation(path: &str, method: &str, op: &mut Map<String, Value>) {
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
    if !path.starts_with("/api/") {
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
            "description": "`Authorization: Bearer <token>`: a personal access token, API key or service account token",
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
    fn public_operations_need_no_credential() {
        let mut op = json!({ "responses": { "200": { "description": "" } } });
        finish_operation("/healthz", "get", op.as_object_mut().unwrap());
        assert_eq!(op["security"], json!([]));
        assert!(op["responses"].get("401").is_none());
    }
}
