//! HTTP handlers, one module per resource. Each is thin: parse, authorize
//! (one visible call), apply the domain rule, store, render.

pub mod api_keys;
pub mod audit;
pub mod catalog;
pub mod identity;
pub mod members;
pub mod ops;
pub mod pats;
pub mod projects;
pub mod session;
pub mod verify;

use axum::http::StatusCode;
use axum::Json;
use latchkey_core::{Plan, Role};
use latchkey_store::{Org, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Every success body: `{"status": "ok", "results": …}`.
#[derive(Serialize)]
pub struct Envelope<T> {
    status: &'static str,
    results: T,
}

pub type JsonOk<T> = Json<Envelope<T>>;

pub fn ok<T: Serialize>(results: T) -> Json<Envelope<T>> {
    Json(Envelope {
        status: "ok",
        results,
    })
}

pub fn created<T: Serialize>(results: T) -> (StatusCode, Json<Envelope<T>>) {
    (StatusCode::CREATED, ok(results))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub uuid: Uuid,
    pub name: String,
    pub plan: Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl OrgView {
    pub fn of(org: &Org) -> OrgView {
        OrgView {
            uuid: org.uuid,
            name: org.name.clone(),
            plan: org.plan,
            role: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub uuid: Uuid,
    pub email: String,
    pub name: Option<String>,
}

impl UserView {
    pub fn of(user: &User) -> UserView {
        UserView {
            uuid: user.uuid,
            email: user.email.clone(),
            name: user.name.clone(),
        }
    }
}

/// A role to give: `{role}` or `{customRoleUuid}`. Custom roles come with the
/// enterprise plan; until an organization has them a `customRoleUuid` names
/// nothing that exists.
pub fn system_role(
    role: Option<Role>,
    custom_role_uuid: Option<Uuid>,
) -> Result<Option<Role>, crate::error::ApiError> {
    match (role, custom_role_uuid) {
        (Some(_), Some(_)) => Err(crate::error::ApiError::invalid(
            "role",
            "give either role or customRoleUuid, not both",
        )),
        (_, Some(_)) => Err(crate::error::ApiError::invalid(
            "customRoleUuid",
            "no such custom role in this organization",
        )),
        (role, None) => Ok(role),
    }
}

/// `?limit=&cursor=`
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 500, default 50.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<latchkey_store::PageRequest, crate::error::ApiError> {
        use latchkey_core::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(crate::error::ApiError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_LIMIT}"),
            ));
        }
        if self.cursor.as_ref().is_some_and(|c| c.len() > 200) {
            return Err(crate::error::ApiError::invalid(
                "cursor",
                "not a cursor this server gave out",
            ));
        }
        Ok(latchkey_store::PageRequest {
            limit,
            cursor: self.cursor.clone(),
        })
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Serializes a freshly minted secret: the one place it leaves the process.
pub fn reveal<S: serde::Serializer>(
    token: &Option<latchkey_core::TokenSecret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match token {
        Some(t) => s.serialize_str(t.expose()),
        None => s.serialize_none(),
    }
}
