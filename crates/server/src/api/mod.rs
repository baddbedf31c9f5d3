//! HTTP handlers, one module per resource. Each is thin: parse, authorize
//! (one visible call), apply the domain rule, store, render.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod catalog;
pub mod forward;
pub mod identity;
pub mod introspect;
pub mod members;
pub mod ops;
pub mod pats;
pub mod projects;
pub mod roles;
pub mod service_accounts;
pub mod session;
pub mod verify;

use axum::http::StatusCode;
use axum::Json;
use latchkey_core::{CredentialId, Grant, OrgId, Reach, RoleId};
use latchkey_core::{Plan, Role};
use latchkey_store::{Org, User};
use serde::Serialize;
use uuid::Uuid;

use crate::wire::{Envelope, OrgView, PageQuery, UserView};

pub type JsonOk<T> = Json<Envelope<T>>;

pub fn ok<T: Serialize>(results: T) -> Json<Envelope<T>> {
    Json(Envelope::ok(results))
}

pub fn created<T: Serialize>(results: T) -> (StatusCode, Json<Envelope<T>>) {
    (StatusCode::CREATED, ok(results))
}

impl OrgView {
    pub fn of(org: &Org) -> OrgView {
        OrgView {
            uuid: org.uuid.into(),
            name: org.name.clone(),
            plan: org.plan,
            role: None,
        }
    }
}

impl UserView {
    pub fn of(user: &User) -> UserView {
        UserView {
            uuid: user.uuid.into(),
            email: user.email.clone(),
            name: user.name.clone(),
        }
    }
}

/// A role being given: a system role, or a custom role (then `role` is
/// `member` and `scopes` are the custom role's).
#[derive(Clone, Debug)]
pub struct GivenRole {
    pub role: Role,
    pub custom: Option<latchkey_store::CustomRole>,
    pub scopes: latchkey_core::ScopeSet,
}

impl GivenRole {
    pub fn role_ref(&self) -> latchkey_store::RoleRef {
        match &self.custom {
            Some(c) => latchkey_store::RoleRef::Custom(c.uuid),
            None => latchkey_store::RoleRef::System(self.role),
        }
    }

    pub fn custom_uuid(&self) -> Option<RoleId> {
        self.custom.as_ref().map(|c| c.uuid)
    }

    /// For audit details.
    pub fn describe(&self) -> serde_json::Value {
        match &self.custom {
            Some(c) => serde_json::json!({ "customRole": { "uuid": c.uuid, "name": c.name } }),
            None => serde_json::json!({ "role": self.role }),
        }
    }
}

/// A `name` field, by the one rule every name follows (`limits::name`).
pub fn name(value: &str) -> crate::error::ApiResult<latchkey_core::limits::Name> {
    use latchkey_core::limits;
    Ok(limits::name("name", value, limits::MAX_NAME_CHARS)?)
}

/// An optional `name` field.
pub fn optional_name(
    value: Option<&str>,
) -> crate::error::ApiResult<Option<latchkey_core::limits::Name>> {
    value.map(name).transpose()
}

/// A role to give: `{role}` or `{customRoleUuid}`, not both. A custom role
/// must belong to the caller's organization (`400` naming `customRoleUuid`)
/// and needs the enterprise plan (`403 plan_required`).
pub async fn resolve_role(
    state: &crate::state::AppState,
    org: &Org,
    role: Option<Role>,
    custom_role_uuid: Option<Uuid>,
) -> Result<Option<GivenRole>, crate::error::ApiError> {
    use crate::error::ApiError;
    match (role, custom_role_uuid) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "role",
            "give either role or customRoleUuid, not both",
        )),
        (Some(role), None) => Ok(Some(GivenRole {
            role,
            custom: None,
            scopes: Grant::System(role).scopes(&state.catalog, Reach::Organization),
        })),
        (None, Some(uuid)) => {
            // An unknown uuid is named as such whatever the plan; a role that
            // exists (made before a move back to `free`) needs the plan.
            let custom = state
                .store
                .custom_role(org.uuid, uuid.into())
                .await?
                .ok_or_else(|| {
                    ApiError::invalid("customRoleUuid", "no such custom role in this organization")
                })?;
            if org.plan != Plan::Enterprise {
                return Err(ApiError::PlanRequired);
            }
            let scopes = Grant::Custom(&custom.scopes).scopes(&state.catalog, Reach::Organization);
            Ok(Some(GivenRole {
                role: Role::Member,
                custom: Some(custom),
                scopes,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// The organization's custom roles by uuid, for lists that name them.
pub async fn custom_role_names(
    state: &crate::state::AppState,
    org: OrgId,
) -> Result<std::collections::HashMap<RoleId, String>, crate::error::ApiError> {
    Ok(state
        .store
        .custom_roles(org)
        .await?
        .into_iter()
        .map(|r| (r.uuid, r.name))
        .collect())
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
            // `?cursor=` is the first page, as for the audit log's filters.
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
        })
    }
}

/// A new credential of `kind` in the caller's organization, created by the
/// caller, and its secret. What is particular to the kind (owner, scopes,
/// role) the handler sets before storing it.
pub fn mint(
    caller: &crate::auth::Caller,
    kind: latchkey_core::TokenKind,
    name: latchkey_core::limits::Name,
    expires_at: Option<time::OffsetDateTime>,
    at: time::OffsetDateTime,
) -> (latchkey_store::Credential, latchkey_core::TokenSecret) {
    let secret = latchkey_core::TokenSecret::generate(kind, &mut rand::thread_rng());
    let credential = latchkey_store::Credential {
        uuid: CredentialId::random(),
        // Only organization credentials are minted here (code, not input, picks the kind).
        kind: kind
            .credential_kind()
            .expect("mint makes organization credentials"),
        org_uuid: caller.org.uuid,
        owner_uuid: None,
        name: name.into(),
        display_prefix: secret.display_prefix().to_string(),
        scopes: None,
        role: None,
        expires_at,
        created_at: at,
        rotated_at: None,
        last_used_at: None,
        revoked_at: None,
        created_by: caller.actor(),
    };
    (credential, secret)
}
