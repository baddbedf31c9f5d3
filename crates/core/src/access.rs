//! Effective scopes: what a principal may do, in its organization or on one
//! project, at the moment of a request.

use crate::scope::ScopeSet;
use serde::{Deserialize, Serialize};

/// What a service account reaches, fixed when it is created: the whole
/// organization (a role), or only its project rows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountScope {
    Organization,
    Project,
}

impl AccountScope {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountScope::Organization => "organization",
            AccountScope::Project => "project",
        }
    }

    pub fn parse(s: &str) -> Option<AccountScope> {
        match s {
            "organization" => Some(AccountScope::Organization),
            "project" => Some(AccountScope::Project),
            _ => None,
        }
    }
}

/// The kind of credential a request was made with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Session,
    Pat,
    ApiKey,
    ServiceAccount,
}

impl CredentialKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::Pat => "pat",
            CredentialKind::ApiKey => "api_key",
            CredentialKind::ServiceAccount => "service_account",
        }
    }

    pub fn parse(s: &str) -> Option<CredentialKind> {
        [
            CredentialKind::Session,
            CredentialKind::Pat,
            CredentialKind::ApiKey,
            CredentialKind::ServiceAccount,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// What one principal holds in one organization, re-read for every request.
///
/// `base` is what the principal's organization-wide role gives (a user's
/// organization role, an API key's role); `narrowing` is a personal access
/// token's own scope list, `None` when the token carries the full role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    base: ScopeSet,
    narrowing: Option<ScopeSet>,
}

impl Access {
    pub const fn new(base: ScopeSet, narrowing: Option<ScopeSet>) -> Access {
        Access { base, narrowing }
    }

    const fn narrow(&self, scopes: ScopeSet) -> ScopeSet {
        match self.narrowing {
            Some(n) => scopes.intersection(n),
            None => scopes,
        }
    }

    /// Scopes that hold across the organization.
    pub const fn org_scopes(&self) -> ScopeSet {
        self.narrow(self.base)
    }

    /// Scopes on one project: the higher of the organization role and the
    /// project role (for nested system roles, the union is the higher one),
    /// then narrowed by the token.
    pub const fn project_scopes(&self, project_role: Option<ScopeSet>) -> ScopeSet {
        match project_role {
            Some(p) => self.narrow(self.base.union(p)),
            None => self.narrow(self.base),
        }
    }

    /// What this principal may put on a credential it mints: everything it
    /// holds anywhere in the organization (its organization scopes and every
    /// project role's), never more than its own token carries.
    pub const fn grantable(&self, all_project_roles: ScopeSet) -> ScopeSet {
        self.narrow(self.base.union(all_project_roles))
    }

    /// Scopes on a project before the token's narrowing: whether the
    /// principal can see the project at all (a narrowed token that lacks a
    /// scope there is told `missing_scope`, not `not_found`).
    pub const fn project_scopes_unnarrowed(&self, project_role: Option<ScopeSet>) -> ScopeSet {
        match project_role {
            Some(p) => self.base.union(p),
            None => self.base,
        }
    }

    pub const fn narrowing(&self) -> Option<ScopeSet> {
        self.narrowing
    }
}

/// `Err` holds the requested scopes that may not be granted.
pub fn check_grant(requested: ScopeSet, grantable: ScopeSet) -> Result<(), ScopeSet> {
    let refused = requested.difference(grantable);
    if refused.is_empty() {
        Ok(())
    } else {
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;
    use crate::scope::Scope;
    use proptest::prelude::*;

    fn role() -> impl Strategy<Value = Role> {
        prop::sample::select(Role::ALL.to_vec())
    }

    fn set() -> impl Strategy<Value = ScopeSet> {
        prop::collection::vec(0u8..16, 0..16).prop_map(|v| {
            let mut s = ScopeSet::EMPTY;
            for i in v {
                s.insert(crate::scope::BUILTIN_SCOPES_AS_SCOPES[i as usize]);
            }
            s
        })
    }

    #[test]
    fn member_has_no_project_access_without_a_project_role() {
        let access = Access::new(Role::Member.scopes(), None);
        assert!(access.project_scopes(None).is_empty());
        assert_eq!(
            access.project_scopes(Some(Role::Editor.scopes())),
            Role::Editor.scopes()
        );
    }

    #[test]
    fn narrowed_token_keeps_only_its_listed_scopes() {
        let listed = ScopeSet::of(&[Scope::CONTENT_READ, Scope::MEMBERS_WRITE]);
        let as_viewer = Access::new(Role::Viewer.scopes(), Some(listed));
        assert_eq!(as_viewer.org_scopes(), ScopeSet::of(&[Scope::CONTENT_READ]));
        let as_admin = Access::new(Role::Admin.scopes(), Some(listed));
        assert_eq!(as_admin.org_scopes(), listed);
    }

    proptest! {
        #[test]
        fn project_role_is_the_higher_of_the_two(org in role(), project in role()) {
            let access = Access::new(org.scopes(), None);
            let expected = if org >= project { org } else { project };
            prop_assert_eq!(access.project_scopes(Some(project.scopes())), expected.scopes());
        }

        #[test]
        fn effective_scopes_never_exceed_role_or_token(
            org in role(), project in role(), listed in set()
        ) {
            let access = Access::new(org.scopes(), Some(listed));
            let on_project = access.project_scopes(Some(project.scopes()));
            prop_assert!(on_project.is_subset_of(listed));
            prop_assert!(on_project.is_subset_of(org.scopes().union(project.scopes())));
            prop_assert!(access.org_scopes().is_subset_of(on_project));
        }

        #[test]
        fn nothing_minted_is_more_powerful_than_its_minter(
            org in role(), listed in prop::option::of(set()), requested in set()
        ) {
            let minter = Access::new(org.scopes(), listed);
            let grantable = minter.grantable(ScopeSet::EMPTY);
            match check_grant(requested, grantable) {
                Ok(()) => prop_assert!(requested.is_subset_of(minter.org_scopes())),
                Err(refused) => {
                    prop_assert!(!refused.is_empty());
                    prop_assert!(refused.is_subset_of(requested));
                    prop_assert!(refused.intersection(grantable).is_empty());
                }
            }
        }
    }
}
