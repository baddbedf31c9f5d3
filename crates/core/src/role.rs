//! System roles and organization plans.

use crate::scope::{Scope, ScopeSet};
use serde::{Deserialize, Serialize};

/// System roles, lowest to highest; each holds every scope of the one below it.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Belongs to the organization but reaches projects only through project roles.
    Member,
    Viewer,
    InteractiveViewer,
    Editor,
    Developer,
    Admin,
}

const VIEWER: ScopeSet = ScopeSet::of(&[Scope::PROJECTS_READ, Scope::CONTENT_READ]);
const INTERACTIVE_VIEWER: ScopeSet = VIEWER.union(ScopeSet::of(&[
    Scope::CONTENT_EXPORT,
    Scope::COMMENTS_WRITE,
    Scope::SCHEDULES_WRITE,
]));
const EDITOR: ScopeSet = INTERACTIVE_VIEWER.union(ScopeSet::of(&[Scope::CONTENT_WRITE]));
const DEVELOPER: ScopeSet = EDITOR.union(ScopeSet::of(&[
    Scope::CONNECTIONS_WRITE,
    Scope::PREVIEWS_WRITE,
    Scope::DEPLOY_WRITE,
]));
const ADMIN: ScopeSet = DEVELOPER.union(ScopeSet::of(&[
    Scope::PROJECTS_WRITE,
    Scope::MEMBERS_WRITE,
    Scope::ROLES_WRITE,
    Scope::API_KEYS_WRITE,
    Scope::SERVICE_ACCOUNTS_WRITE,
    Scope::TOKENS_ADMIN,
    Scope::AUDIT_READ,
]));

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Member,
        Role::Viewer,
        Role::InteractiveViewer,
        Role::Editor,
        Role::Developer,
        Role::Admin,
    ];

    pub const fn scopes(self) -> ScopeSet {
        match self {
            Role::Member => ScopeSet::EMPTY,
            Role::Viewer => VIEWER,
            Role::InteractiveViewer => INTERACTIVE_VIEWER,
            Role::Editor => EDITOR,
            Role::Developer => DEVELOPER,
            Role::Admin => ADMIN,
        }
    }

    /// The role's scopes in an instance's catalog: `admin` holds every
    /// scope of it, operator-defined ones included; the other roles hold
    /// built-in scopes only.
    pub fn scopes_in(self, catalog: &crate::scope::ScopeCatalog) -> ScopeSet {
        match self {
            Role::Admin => catalog.all(),
            other => other.scopes(),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Viewer => "viewer",
            Role::InteractiveViewer => "interactive_viewer",
            Role::Editor => "editor",
            Role::Developer => "developer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// `member` means nothing on a project: project roles start at `viewer`.
    pub const fn is_project_role(self) -> bool {
        !matches!(self, Role::Member)
    }
}

/// An organization's plan; service accounts and custom roles need `enterprise`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Enterprise,
}

impl Plan {
    pub const fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        match s {
            "free" => Some(Plan::Free),
            "enterprise" => Some(Plan::Enterprise),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeCatalog;

    #[test]
    fn each_role_includes_the_one_below_it() {
        for pair in Role::ALL.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].scopes().is_subset_of(pair[1].scopes()));
            assert_ne!(pair[0].scopes(), pair[1].scopes());
        }
    }

    #[test]
    fn role_scope_sets_match_the_specification() {
        let catalog = ScopeCatalog::default();
        let names = |r: Role| catalog.names(r.scopes());
        assert!(names(Role::Member).is_empty());
        assert_eq!(names(Role::Viewer), ["projects:read", "content:read"]);
        assert_eq!(
            names(Role::InteractiveViewer),
            [
                "projects:read",
                "content:read",
                "content:export",
                "comments:write",
                "schedules:write"
            ]
        );
        assert_eq!(names(Role::Editor).len(), 6);
        assert!(names(Role::Editor).contains(&"content:write".to_string()));
        assert_eq!(names(Role::Developer).len(), 9);
        assert_eq!(
            catalog.names(Role::Admin.scopes()),
            catalog.names(catalog.all())
        );
    }

    #[test]
    fn admin_holds_operator_scopes_too() {
        let catalog = ScopeCatalog::with_custom([("billing:read", "")]).unwrap();
        let billing = catalog.parse("billing:read").unwrap();
        assert!(Role::Admin.scopes_in(&catalog).contains(billing));
        assert_eq!(Role::Admin.scopes_in(&catalog), catalog.all());
        for role in &Role::ALL[..5] {
            assert!(!role.scopes_in(&catalog).contains(billing));
            assert_eq!(role.scopes_in(&catalog), role.scopes());
        }
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json_like(role);
            assert_eq!(json, role.as_str());
        }
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(Plan::parse("enterprise"), Some(Plan::Enterprise));
        assert_eq!(Plan::parse("gold"), None);
    }

    // serde's rename must agree with `as_str`, which storage and the API both use.
    fn serde_json_like(role: Role) -> String {
        use serde::de::value::{Error, StrDeserializer};
        use serde::de::IntoDeserializer;
        let de: StrDeserializer<'_, Error> = role.as_str().into_deserializer();
        let back = Role::deserialize(de).unwrap();
        back.as_str().to_string()
    }
}
