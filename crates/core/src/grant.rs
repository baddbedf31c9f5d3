//! Grants: what gives a principal its scopes. A member's organization role,
//! a project role, an API key's role, a service account's role or project
//! rows are each one grant: a system role, a custom role, or (service
//! accounts made before roles existed) legacy `org:*` scopes. This is the
//! one place a grant becomes a [`ScopeSet`].

use crate::id::RoleId;
use crate::role::Role;
use crate::scope::{ScopeCatalog, ScopeSet};

/// A role as given and stored: a membership's, a project role's, a service
/// account's row. A system role or one custom role, never both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleRef {
    System(Role),
    Custom(RoleId),
}

impl RoleRef {
    /// As stored in two columns: the custom role when one is named (the
    /// system role beside it is then `member` and says nothing).
    pub fn from_columns(role: Role, custom: Option<RoleId>) -> RoleRef {
        match custom {
            Some(uuid) => RoleRef::Custom(uuid),
            None => RoleRef::System(role),
        }
    }

    /// The system role shown for it: its own, or `member` beside a custom role.
    pub fn base_role(self) -> Role {
        match self {
            RoleRef::System(role) => role,
            RoleRef::Custom(_) => Role::Member,
        }
    }

    pub fn custom(self) -> Option<RoleId> {
        match self {
            RoleRef::System(_) => None,
            RoleRef::Custom(uuid) => Some(uuid),
        }
    }
}

/// The legacy scopes of early service accounts, lowest first.
pub const LEGACY_SCOPES: [&str; 3] = ["org:view", "org:edit", "org:admin"];

/// The system role a legacy scope stands for.
pub fn legacy_scope_role(name: &str) -> Option<Role> {
    match name {
        "org:view" => Some(Role::Viewer),
        "org:edit" => Some(Role::Editor),
        "org:admin" => Some(Role::Admin),
        _ => None,
    }
}

/// The highest role a list of legacy scopes stands for, if any does.
pub fn legacy_role(names: &[String]) -> Option<Role> {
    names.iter().filter_map(|s| legacy_scope_role(s)).max()
}

/// Where a grant applies. Operator-defined scopes are held by the `admin`
/// role organization-wide only; on a project a system role gives its
/// built-in scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Organization,
    Project,
}

/// One grant, borrowed from wherever it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant<'a> {
    System(Role),
    /// A custom role's scope names as stored; a name the catalog no longer
    /// has (an operator removed a custom scope) gives nothing.
    Custom(&'a [String]),
    /// Legacy scopes: what the highest role they stand for gives.
    Legacy(&'a [String]),
    /// A custom role that was deleted: nothing.
    Gone,
}

impl<'a> Grant<'a> {
    /// A stored role with, for a custom role, its scope names as read
    /// (`None` once the role is deleted: then it gives nothing).
    pub fn of(role: RoleRef, custom_scopes: Option<&'a [String]>) -> Grant<'a> {
        match (role, custom_scopes) {
            (RoleRef::System(role), _) => Grant::System(role),
            (RoleRef::Custom(_), Some(names)) => Grant::Custom(names),
            (RoleRef::Custom(_), None) => Grant::Gone,
        }
    }

    pub fn scopes(self, catalog: &ScopeCatalog, reach: Reach) -> ScopeSet {
        match self {
            Grant::System(role) => match reach {
                Reach::Organization => role.scopes_in(catalog),
                Reach::Project => role.scopes(),
            },
            Grant::Custom(names) => catalog.parse_known(names.iter().map(String::as_str)),
            Grant::Legacy(names) => legacy_role(names)
                .map(|role| Grant::System(role).scopes(catalog, reach))
                .unwrap_or(ScopeSet::EMPTY),
            Grant::Gone => ScopeSet::EMPTY,
        }
    }
}

/// Everything that reaches a principal at one reach, together: a member's
/// own role and each of their teams' roles (organization-wide), or every
/// role that reaches one project. For system roles, which nest, this is
/// what the highest of them gives; for custom roles, the union of their
/// scopes. Nothing reaches: nothing.
pub fn scopes_of_all<'a>(
    grants: impl IntoIterator<Item = Grant<'a>>,
    catalog: &ScopeCatalog,
    reach: Reach,
) -> ScopeSet {
    grants.into_iter().fold(ScopeSet::EMPTY, |all, g| {
        all.union(g.scopes(catalog, reach))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn catalog() -> ScopeCatalog {
        ScopeCatalog::with_custom([("billing:read", "Read invoices"), ("billing:write", "Pay")])
            .expect("catalog")
    }

    fn role() -> impl Strategy<Value = Role> {
        proptest::sample::select(Role::ALL.to_vec())
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        let c = catalog();
        let mut known: Vec<String> = c.entries().map(|(n, _)| n.to_string()).collect();
        known.extend(["org:view", "org:edit", "org:admin", "nope", ""].map(String::from));
        proptest::collection::vec(proptest::sample::select(known), 0..8)
    }

    proptest! {
        #[test]
        fn a_system_grant_gives_its_role_and_a_project_no_more(r in role()) {
            let c = catalog();
            let org = Grant::System(r).scopes(&c, Reach::Organization);
            let project = Grant::System(r).scopes(&c, Reach::Project);
            prop_assert_eq!(org, r.scopes_in(&c));
            prop_assert_eq!(project, r.scopes());
            prop_assert!(project.is_subset_of(org));
        }

        #[test]
        fn a_custom_grant_is_exactly_its_names_in_the_catalog(ns in names(), reach in proptest::sample::select(vec![Reach::Organization, Reach::Project])) {
            let c = catalog();
            let got = Grant::Custom(&ns).scopes(&c, reach);
            let want = ns.iter().filter_map(|n| c.parse(n)).fold(ScopeSet::EMPTY, |mut s, x| { s.insert(x); s });
            prop_assert_eq!(got, want);
            prop_assert!(got.is_subset_of(c.all()));
        }

        #[test]
        fn legacy_scopes_give_their_highest_roles_set(ns in names()) {
            let c = catalog();
            let got = Grant::Legacy(&ns).scopes(&c, Reach::Organization);
            let highest = ns.iter().filter_map(|n| legacy_scope_role(n)).max();
            prop_assert_eq!(got, highest.map(|r| r.scopes_in(&c)).unwrap_or(ScopeSet::EMPTY));
            for n in &ns {
                if let Some(r) = legacy_scope_role(n) {
                    prop_assert!(r.scopes_in(&c).is_subset_of(got));
                }
            }
        }

        #[test]
        fn a_stored_role_is_its_custom_role_when_one_is_named(r in role(), ns in names(), custom in any::<bool>(), exists in any::<bool>()) {
            let stored = RoleRef::from_columns(r, custom.then(|| RoleId::from_uuid(uuid::Uuid::nil())));
            let g = Grant::of(stored, exists.then_some(ns.as_slice()));
            match (custom, exists) {
                (true, true) => prop_assert_eq!(g, Grant::Custom(&ns)),
                (true, false) => prop_assert_eq!(g, Grant::Gone),
                (false, _) => prop_assert_eq!(g, Grant::System(r)),
            }
            prop_assert_eq!(stored.base_role(), if custom { Role::Member } else { r });
            prop_assert_eq!(stored.custom().is_some(), custom);
        }
    }

    fn grant_of<'a>(choice: &'a (Option<Role>, Vec<String>)) -> Grant<'a> {
        match choice.0 {
            Some(r) => Grant::System(r),
            None => Grant::Custom(&choice.1),
        }
    }

    proptest! {
        #[test]
        fn system_roles_together_give_the_highest(rs in proptest::collection::vec(role(), 0..6), reach in proptest::sample::select(vec![Reach::Organization, Reach::Project])) {
            let c = catalog();
            let got = scopes_of_all(rs.iter().map(|r| Grant::System(*r)), &c, reach);
            let want = rs.iter().max().map(|r| Grant::System(*r).scopes(&c, reach)).unwrap_or(ScopeSet::EMPTY);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn grants_together_give_each_ones_scopes_and_no_more(
            gs in proptest::collection::vec((proptest::option::of(role()), names()), 0..6),
            reach in proptest::sample::select(vec![Reach::Organization, Reach::Project]),
        ) {
            let c = catalog();
            let got = scopes_of_all(gs.iter().map(grant_of), &c, reach);
            let mut rest = got;
            for g in &gs {
                let one = grant_of(g).scopes(&c, reach);
                // Each grant's scopes are held...
                prop_assert!(one.is_subset_of(got));
                rest = rest.difference(one);
            }
            // ...and nothing that none of them gives.
            prop_assert!(rest.is_empty());
            // Order does not matter, and a grant given twice adds nothing.
            let mut reversed: Vec<Grant> = gs.iter().map(grant_of).collect();
            reversed.reverse();
            let twice = reversed.iter().copied().chain(reversed.iter().copied());
            prop_assert_eq!(scopes_of_all(twice, &c, reach), got);
        }
    }

    #[test]
    fn each_legacy_scope_stands_for_its_role() {
        let c = catalog();
        for (name, role) in LEGACY_SCOPES
            .iter()
            .zip([Role::Viewer, Role::Editor, Role::Admin])
        {
            let one = [name.to_string()];
            assert_eq!(
                Grant::Legacy(&one).scopes(&c, Reach::Organization),
                role.scopes_in(&c)
            );
        }
        assert_eq!(Grant::Gone.scopes(&c, Reach::Organization), ScopeSet::EMPTY);
    }
}
