//! Scopes are permission strings `resource:action`. Inside latchkey a scope is
//! an index into the instance's catalog and a set of scopes is a bitset, so the
//! checks on the request path are a few integer operations.

use std::fmt;

/// A scope of the catalog: an index, resolved to its name through [`ScopeCatalog`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Scope(u8);

/// The most scopes one instance's catalog may hold (built-in plus operator-defined).
pub const MAX_SCOPES: usize = 128;

macro_rules! builtin_scopes {
    ($( $konst:ident = $idx:literal, $name:literal, $desc:literal; )*) => {
        impl Scope {
            $( pub const $konst: Scope = Scope($idx); )*
        }
        /// The built-in scopes, in catalog order: (name, description).
        pub const BUILTIN_SCOPES: &[(&str, &str)] = &[ $( ($name, $desc), )* ];
    };
}

builtin_scopes! {
    PROJECTS_READ = 0, "projects:read", "See projects and their settings";
    CONTENT_READ = 1, "content:read", "Read content";
    CONTENT_EXPORT = 2, "content:export", "Export content";
    COMMENTS_WRITE = 3, "comments:write", "Write comments";
    SCHEDULES_WRITE = 4, "schedules:write", "Create and change schedules";
    CONTENT_WRITE = 5, "content:write", "Create and change content";
    CONNECTIONS_WRITE = 6, "connections:write", "Manage connections";
    PREVIEWS_WRITE = 7, "previews:write", "Manage previews";
    DEPLOY_WRITE = 8, "deploy:write", "Deploy";
    PROJECTS_WRITE = 9, "projects:write", "Create, rename and delete projects";
    MEMBERS_WRITE = 10, "members:write", "Manage members and project access";
    ROLES_WRITE = 11, "roles:write", "Manage custom roles";
    API_KEYS_WRITE = 12, "api_keys:write", "Manage organization API keys";
    SERVICE_ACCOUNTS_WRITE = 13, "service_accounts:write", "Manage service accounts";
    TOKENS_ADMIN = 14, "tokens:admin", "See and revoke every member's personal access tokens";
    AUDIT_READ = 15, "audit:read", "Read the audit log";
}

impl Scope {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A set of scopes of one catalog.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u128);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub const fn of(scopes: &[Scope]) -> ScopeSet {
        let mut bits = 0u128;
        let mut i = 0;
        while i < scopes.len() {
            bits |= 1u128 << scopes[i].0;
            i += 1;
        }
        ScopeSet(bits)
    }

    pub const fn union(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }

    pub const fn intersection(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & other.0)
    }

    /// The scopes of `self` that are not in `other`.
    pub const fn difference(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & !other.0)
    }

    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & (1u128 << scope.0) != 0
    }

    pub const fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= 1u128 << scope.0;
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        (0..MAX_SCOPES as u8)
            .filter(move |i| self.0 & (1u128 << i) != 0)
            .map(Scope)
    }

    /// The raw bits, for storage and caches; only meaningful with the same catalog.
    pub const fn bits(self) -> u128 {
        self.0
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|s| s.0)).finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("scope `{0}` is not of the form resource:action")]
    BadName(String),
    #[error("scope `{0}` is defined twice")]
    Duplicate(String),
    #[error("the scope catalog holds at most {MAX_SCOPES} scopes")]
    TooMany,
}

/// The scopes this instance knows: the built-in ones, then the operator's own.
#[derive(Clone, Debug)]
pub struct ScopeCatalog {
    entries: Vec<(String, String)>,
}

impl Default for ScopeCatalog {
    fn default() -> Self {
        ScopeCatalog {
            entries: BUILTIN_SCOPES
                .iter()
                .map(|(n, d)| (n.to_string(), d.to_string()))
                .collect(),
        }
    }
}

/// `resource:action`, lowercase letters, digits, `_` and `-`, at most 64 characters.
pub fn is_well_formed_scope(name: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    name.len() <= 64 && matches!(name.split_once(':'), Some((r, a)) if ok(r) && ok(a))
}

impl ScopeCatalog {
    /// The built-in catalog extended with operator-defined scopes.
    pub fn with_custom<I, N, D>(custom: I) -> Result<ScopeCatalog, CatalogError>
    where
        I: IntoIterator<Item = (N, D)>,
        N: Into<String>,
        D: Into<String>,
    {
        let mut catalog = ScopeCatalog::default();
        for (name, description) in custom {
            let name = name.into();
            if !is_well_formed_scope(&name) {
                return Err(CatalogError::BadName(name));
            }
            if catalog.parse(&name).is_some() {
                return Err(CatalogError::Duplicate(name));
            }
            if catalog.entries.len() == MAX_SCOPES {
                return Err(CatalogError::TooMany);
            }
            catalog.entries.push((name, description.into()));
        }
        Ok(catalog)
    }

    pub fn parse(&self, name: &str) -> Option<Scope> {
        self.entries
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| Scope(i as u8))
    }

    /// Parses every name; on failure returns the names that are not in the catalog.
    pub fn parse_all<'a, I>(&self, names: I) -> Result<ScopeSet, Vec<String>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut set = ScopeSet::EMPTY;
        let mut unknown = Vec::new();
        for name in names {
            match self.parse(name) {
                Some(scope) => set.insert(scope),
                None => unknown.push(name.to_string()),
            }
        }
        if unknown.is_empty() {
            Ok(set)
        } else {
            Err(unknown)
        }
    }

    /// The known names among `names`; names no longer in the catalog (an
    /// operator removed a custom scope) drop out.
    pub fn parse_known<'a, I>(&self, names: I) -> ScopeSet
    where
        I: IntoIterator<Item = &'a str>,
    {
        names
            .into_iter()
            .filter_map(|n| self.parse(n))
            .fold(ScopeSet::EMPTY, |mut set, scope| {
                set.insert(scope);
                set
            })
    }

    pub fn name(&self, scope: Scope) -> &str {
        &self.entries[scope.index()].0
    }

    pub fn names(&self, set: ScopeSet) -> Vec<String> {
        set.iter().map(|s| self.name(s).to_string()).collect()
    }

    /// Every scope with its description, in catalog order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, d)| (n.as_str(), d.as_str()))
    }

    pub fn all(&self) -> ScopeSet {
        ScopeSet((0..self.entries.len()).fold(0u128, |bits, i| bits | 1u128 << i))
    }
}

#[cfg(test)]
pub(crate) const BUILTIN_SCOPES_AS_SCOPES: [Scope; 16] = {
    let mut out = [Scope(0); 16];
    let mut i = 0;
    while i < 16 {
        out[i] = Scope(i as u8);
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builtin_names_parse_back_to_their_index() {
        let catalog = ScopeCatalog::default();
        for (i, (name, _)) in BUILTIN_SCOPES.iter().enumerate() {
            assert_eq!(catalog.parse(name), Some(Scope(i as u8)));
            assert!(is_well_formed_scope(name), "{name}");
        }
        assert_eq!(catalog.parse("projects:read"), Some(Scope::PROJECTS_READ));
        assert_eq!(catalog.parse("audit:read"), Some(Scope::AUDIT_READ));
        assert_eq!(catalog.parse("nope:read"), None);
    }

    #[test]
    fn custom_scopes_extend_the_catalog_and_are_validated() {
        let catalog = ScopeCatalog::with_custom([("billing:read", "Read invoices")]).unwrap();
        let billing = catalog.parse("billing:read").unwrap();
        assert_eq!(billing.index(), BUILTIN_SCOPES.len());
        assert_eq!(catalog.name(billing), "billing:read");
        assert_eq!(
            ScopeCatalog::with_custom([("Billing", "")]).unwrap_err(),
            CatalogError::BadName("Billing".into())
        );
        assert_eq!(
            ScopeCatalog::with_custom([("content:read", "")]).unwrap_err(),
            CatalogError::Duplicate("content:read".into())
        );
        let too_many = (0..MAX_SCOPES).map(|i| (format!("x{i}:read"), String::new()));
        assert_eq!(
            ScopeCatalog::with_custom(too_many).unwrap_err(),
            CatalogError::TooMany
        );
    }

    #[test]
    fn parse_all_names_every_unknown_scope() {
        let catalog = ScopeCatalog::default();
        assert_eq!(
            catalog.parse_all(["content:read", "x:y", "projects:read", "z:w"]),
            Err(vec!["x:y".to_string(), "z:w".to_string()])
        );
    }

    fn any_set() -> impl Strategy<Value = ScopeSet> {
        (0u128..(1 << 16)).prop_map(ScopeSet)
    }

    proptest! {
        #[test]
        fn intersection_is_a_subset_of_both(a in any_set(), b in any_set()) {
            let i = a.intersection(b);
            prop_assert!(i.is_subset_of(a) && i.is_subset_of(b));
        }

        #[test]
        fn difference_is_empty_exactly_for_subsets(a in any_set(), b in any_set()) {
            prop_assert_eq!(a.difference(b).is_empty(), a.is_subset_of(b));
        }

        #[test]
        fn names_round_trip(a in any_set()) {
            let catalog = ScopeCatalog::default();
            let names = catalog.names(a);
            prop_assert_eq!(catalog.parse_all(names.iter().map(String::as_str)), Ok(a));
        }
    }
}
