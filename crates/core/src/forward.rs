//! Forward authentication rules (`[[forward_auth.rules]]` in the server's
//! configuration file): which scope a request a reverse proxy asks about
//! needs, by its method and path, and on which project.
//!
//! A path pattern is made of `/`-separated segments: a literal, `{project}`
//! (one segment that must be a UUID, the project the scope is needed on),
//! `*` (any one segment) or, last only, `**` (whatever follows, nothing
//! included). The first rule that matches decides.
//!
//! The request's path is read the way servers behind a proxy read it:
//! percent-decoded, without empty or `.` segments, `..` applied. A path
//! that could be read two ways (an encoded `/` or `\`, a raw `\`, a `;`,
//! control characters, bad percent-encoding, `..` above the root) is refused
//! rather than guessed: a guess that differs from the upstream's would let a
//! request past the rule meant for it. (`;` starts a path parameter that
//! Java servers drop, `/admin;x/` being `/admin/` to them and not to others;
//! `\` is a separator to some servers.)

use crate::scope::Scope;
use uuid::Uuid;

/// Longest path (as sent, before decoding) and most segments read.
pub const MAX_PATH_BYTES: usize = 8 * 1024;
pub const MAX_SEGMENTS: usize = 256;
/// Longest method name read.
pub const MAX_METHOD_BYTES: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Project,
    One,
    Rest,
}

/// A parsed `path` of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    segments: Vec<Segment>,
}

/// Why a rule's `path` is not a pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("a pattern starts with /")]
    NoLeadingSlash,
    #[error(
        "empty segment (// or a trailing /); write /a for /a and /a/, /a/** for what is below"
    )]
    EmptySegment,
    #[error("** stands for the rest of the path: only as the last segment")]
    RestNotLast,
    #[error("{{project}} may appear once")]
    ProjectTwice,
    #[error(
        "segment {0:?}: * and ** stand for whole segments, and {{project}} is the only placeholder"
    )]
    BadSegment(String),
    #[error("segment {0:?}: only printable ASCII other than % ? # ; \\ and spaces")]
    BadCharacter(String),
    #[error("longer than {MAX_PATH_BYTES} bytes or {MAX_SEGMENTS} segments")]
    TooLong,
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<PathPattern, PatternError> {
        let rest = text.strip_prefix('/').ok_or(PatternError::NoLeadingSlash)?;
        if text.len() > MAX_PATH_BYTES {
            return Err(PatternError::TooLong);
        }
        if rest.is_empty() {
            return Ok(PathPattern { segments: vec![] });
        }
        let mut segments = Vec::new();
        for part in rest.split('/') {
            if segments.last() == Some(&Segment::Rest) {
                return Err(PatternError::RestNotLast);
            }
            let segment = match part {
                "" => return Err(PatternError::EmptySegment),
                "{project}" if segments.contains(&Segment::Project) => {
                    return Err(PatternError::ProjectTwice)
                }
                "{project}" => Segment::Project,
                "*" => Segment::One,
                "**" => Segment::Rest,
                // `.` and `..` never survive the reading of a request path.
                "." | ".." => return Err(PatternError::BadSegment(part.into())),
                _ if part.contains(['{', '}', '*']) => {
                    return Err(PatternError::BadSegment(part.into()))
                }
                _ if !part.bytes().all(|b| {
                    b.is_ascii_graphic() && !matches!(b, b'%' | b'?' | b'#' | b';' | b'\\')
                }) =>
                {
                    return Err(PatternError::BadCharacter(part.into()))
                }
                _ => Segment::Literal(part.into()),
            };
            segments.push(segment);
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(PatternError::TooLong);
        }
        Ok(PathPattern { segments })
    }

    /// `Some(project)` when the path matches (`project` is the `{project}`
    /// segment, if the pattern has one).
    fn matches(&self, path: &RequestPath) -> Option<Option<Uuid>> {
        let mut project = None;
        let mut given = path.segments.iter();
        for (i, segment) in self.segments.iter().enumerate() {
            if *segment == Segment::Rest {
                debug_assert_eq!(i + 1, self.segments.len());
                return Some(project);
            }
            let part = given.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::One => {}
                Segment::Project => project = Some(Uuid::try_parse(part).ok()?),
                Segment::Rest => unreachable!("handled above"),
            }
        }
        given.next().is_none().then_some(project)
    }
}

/// A request path as the upstream will read it: decoded segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPath {
    segments: Vec<String>,
}

/// Why a request path is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("must be a path starting with /")]
    NoLeadingSlash,
    #[error("longer than {MAX_PATH_BYTES} bytes or {MAX_SEGMENTS} segments")]
    TooLong,
    #[error("malformed percent-encoding")]
    BadPercent,
    #[error("not UTF-8 once percent-decoded")]
    NotUtf8,
    #[error("an encoded /, a \\ or a ; makes the path ambiguous")]
    Ambiguous,
    #[error("control characters in the path")]
    Control,
    #[error(".. climbs above the root")]
    AboveRoot,
}

impl RequestPath {
    /// Reads a request target (`/a/b?query`): the query and any fragment
    /// are dropped, each segment is percent-decoded, empty and `.` segments
    /// are dropped and `..` removes the segment before it.
    pub fn parse(target: &str) -> Result<RequestPath, PathError> {
        if target.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        let path = target.split(['?', '#']).next().unwrap_or("");
        let rest = path.strip_prefix('/').ok_or(PathError::NoLeadingSlash)?;
        let mut segments: Vec<String> = Vec::new();
        for raw in rest.split('/') {
            let part = decode_segment(raw)?;
            match part.as_str() {
                "" | "." => {}
                ".." => {
                    segments.pop().ok_or(PathError::AboveRoot)?;
                }
                _ => segments.push(part),
            }
            if segments.len() > MAX_SEGMENTS {
                return Err(PathError::TooLong);
            }
        }
        Ok(RequestPath { segments })
    }
}

fn decode_segment(raw: &str) -> Result<String, PathError> {
    // A raw `;` only: an encoded one is a character of the segment to all.
    if raw.contains(';') {
        return Err(PathError::Ambiguous);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadPercent)?;
            // Two hex digits exactly (`from_str_radix` alone would take `+1`).
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(PathError::BadPercent);
            }
            let hex = std::str::from_utf8(hex).map_err(|_| PathError::BadPercent)?;
            let decoded = u8::from_str_radix(hex, 16).map_err(|_| PathError::BadPercent)?;
            if decoded == b'/' {
                return Err(PathError::Ambiguous);
            }
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| PathError::NotUtf8)?;
    if text.contains('\\') {
        return Err(PathError::Ambiguous);
    }
    if text.chars().any(char::is_control) {
        return Err(PathError::Control);
    }
    Ok(text)
}

/// A method name as HTTP writes one (a token), upper-cased.
pub fn method_name(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= MAX_METHOD_BYTES
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    ok.then(|| text.to_ascii_uppercase())
}

/// One `[[forward_auth.rules]]` entry, checked.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Upper-cased; `None` matches any method.
    methods: Option<Vec<String>>,
    path: PathPattern,
    scope: Scope,
}

/// What is wrong with a rule, and in which of its fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    pub field: &'static str,
    pub message: String,
}

impl Rule {
    /// `scope` is the catalog's, looked up by the caller (`None`: unknown).
    pub fn new(
        methods: Option<&[String]>,
        path: &str,
        scope_name: &str,
        scope: Option<Scope>,
    ) -> Result<Rule, RuleError> {
        let error = |field, message: String| RuleError { field, message };
        let methods = match methods {
            None => None,
            Some([]) => {
                return Err(error(
                    "methods",
                    "an empty list matches nothing; leave methods out to match any method".into(),
                ))
            }
            Some(list) => Some(
                list.iter()
                    .map(|m| {
                        method_name(m)
                            .ok_or_else(|| error("methods", format!("{m:?} is not a method name")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let path = PathPattern::parse(path).map_err(|e| error("path", e.to_string()))?;
        let scope = scope.ok_or_else(|| {
            error(
                "scope",
                format!("{scope_name:?} is not a scope of this server's catalog"),
            )
        })?;
        Ok(Rule {
            methods,
            path,
            scope,
        })
    }

    fn applies(&self, method: &str, path: &RequestPath) -> Option<Requirement> {
        let method_ok = self
            .methods
            .as_ref()
            .is_none_or(|ms| ms.iter().any(|m| m.eq_ignore_ascii_case(method)));
        if !method_ok {
            return None;
        }
        self.path.matches(path).map(|project| Requirement {
            scope: self.scope,
            project,
        })
    }
}

/// What one request needs: a scope, organization-wide or on a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub scope: Scope,
    pub project: Option<Uuid>,
}

/// The rules, in the file's order.
#[derive(Clone, Debug, Default)]
pub struct Rules(Vec<Rule>);

impl Rules {
    pub fn new(rules: Vec<Rule>) -> Rules {
        Rules(rules)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first rule that matches decides; `None` when none does.
    pub fn requirement(&self, method: &str, path: &RequestPath) -> Option<Requirement> {
        self.0.iter().find_map(|rule| rule.applies(method, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScopeCatalog;

    const P: &str = "0b6f1c1e-8d4a-4c7e-9f55-2a9f3c1d7e01";

    fn path(text: &str) -> RequestPath {
        RequestPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn matches(pattern: &str, target: &str) -> Option<Option<Uuid>> {
        PathPattern::parse(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .matches(&path(target))
    }

    fn rule(methods: Option<&[&str]>, pattern: &str, scope: &str) -> Rule {
        let catalog = ScopeCatalog::default();
        let methods: Option<Vec<String>> =
            methods.map(|ms| ms.iter().map(|m| m.to_string()).collect());
        Rule::new(methods.as_deref(), pattern, scope, catalog.parse(scope)).expect("a good rule")
    }

    #[test]
    fn literals_one_segment_and_the_rest() {
        assert_eq!(matches("/", "/"), Some(None));
        assert_eq!(matches("/", "/a"), None);
        assert_eq!(matches("/a/b", "/a/b"), Some(None));
        assert_eq!(matches("/a/b", "/a/b/"), Some(None));
        assert_eq!(matches("/a/b", "/a/c"), None);
        assert_eq!(matches("/a/b", "/a"), None);
        assert_eq!(matches("/a/b", "/a/b/c"), None);
        assert_eq!(matches("/a/b", "/A/b"), None, "literals are case-sensitive");
        assert_eq!(matches("/a/*/c", "/a/x/c"), Some(None));
        assert_eq!(matches("/a/*/c", "/a/c"), None);
        assert_eq!(matches("/a/*", "/a"), None);
        assert_eq!(matches("/a/**", "/a"), Some(None), "** takes nothing too");
        assert_eq!(matches("/a/**", "/a/"), Some(None));
        assert_eq!(matches("/a/**", "/a/x/y/z"), Some(None));
        assert_eq!(matches("/a/**", "/ab"), None);
        assert_eq!(matches("/**", "/"), Some(None));
        assert_eq!(matches("/**", "/anything/at/all"), Some(None));
    }

    #[test]
    fn the_project_segment_is_a_uuid() {
        let p = Uuid::try_parse(P).ok();
        let pattern = "/projects/{project}/reports/**";
        assert_eq!(matches(pattern, &format!("/projects/{P}/reports")), Some(p));
        assert_eq!(
            matches(pattern, &format!("/projects/{P}/reports/2024/q1.pdf?x=1")),
            Some(p)
        );
        assert_eq!(
            matches(pattern, &format!("/projects/{}/reports", P.to_uppercase())),
            Some(p),
            "any spelling of the same UUID is that project"
        );
        assert_eq!(matches(pattern, "/projects/website/reports"), None);
        assert_eq!(matches(pattern, &format!("/projects/{P}/other")), None);
        assert_eq!(matches("/p/{project}", &format!("/p/{P}")), Some(p));
    }

    #[test]
    fn request_paths_are_read_as_servers_read_them() {
        let read = |t: &str| path(t).segments;
        assert_eq!(read("/a//b/./c/"), ["a", "b", "c"]);
        assert_eq!(read("/a/x/../b"), ["a", "b"]);
        assert_eq!(read("/a/%62"), ["a", "b"]);
        assert_eq!(read("/a/%2e%2E/b"), ["b"]);
        assert_eq!(read("/caf%C3%A9?q=/x#f"), ["café"]);
        assert_eq!(read("/a?b/../.."), ["a"]);
        assert_eq!(read("/a%3Bb"), ["a;b"]);
        assert_eq!(read("/a?x=1;2"), ["a"]);
        assert_eq!(read("/"), Vec::<String>::new());
        assert_eq!(
            matches(
                "/projects/{project}/reports/**",
                &format!("/projects/{P}/x/../reports/y")
            ),
            Uuid::try_parse(P).ok().map(Some)
        );
        assert_eq!(matches("/admin/**", "//admin"), Some(None));
        assert_eq!(matches("/admin/**", "/./admin/"), Some(None));
        assert_eq!(matches("/admin/**", "/%61dmin"), Some(None));
    }

    #[test]
    fn ambiguous_request_paths_are_refused() {
        for (target, error) in [
            ("", PathError::NoLeadingSlash),
            ("a/b", PathError::NoLeadingSlash),
            ("http://host/a", PathError::NoLeadingSlash),
            ("/a%2Fb", PathError::Ambiguous),
            ("/a%2fb", PathError::Ambiguous),
            ("/a%5Cb", PathError::Ambiguous),
            ("/a\\b", PathError::Ambiguous),
            ("/admin;x/users", PathError::Ambiguous),
            ("/secret/..;/public", PathError::Ambiguous),
            ("/a%", PathError::BadPercent),
            ("/a%4", PathError::BadPercent),
            ("/a%zz", PathError::BadPercent),
            ("/a%+1", PathError::BadPercent),
            ("/a%FF", PathError::NotUtf8),
            ("/a%00", PathError::Control),
            ("/a%0A", PathError::Control),
            ("/..", PathError::AboveRoot),
            ("/a/../..", PathError::AboveRoot),
        ] {
            assert_eq!(RequestPath::parse(target), Err(error), "{target:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        assert_eq!(RequestPath::parse(&long), Err(PathError::TooLong));
        let deep = "/a".repeat(MAX_SEGMENTS + 1);
        assert_eq!(RequestPath::parse(&deep), Err(PathError::TooLong));
    }

    #[test]
    fn bad_patterns_say_why() {
        for (pattern, error) in [
            ("", PatternError::NoLeadingSlash),
            ("reports/**", PatternError::NoLeadingSlash),
            ("/a//b", PatternError::EmptySegment),
            ("/a/", PatternError::EmptySegment),
            ("/**/a", PatternError::RestNotLast),
            ("/{project}/{project}", PatternError::ProjectTwice),
            ("/a*", PatternError::BadSegment("a*".into())),
            ("/{org}", PatternError::BadSegment("{org}".into())),
            ("/{project", PatternError::BadSegment("{project".into())),
            ("/***", PatternError::BadSegment("***".into())),
            ("/..", PatternError::BadSegment("..".into())),
            ("/a b", PatternError::BadCharacter("a b".into())),
            ("/a%2F", PatternError::BadCharacter("a%2F".into())),
            ("/a?b", PatternError::BadCharacter("a?b".into())),
            ("/a;b", PatternError::BadCharacter("a;b".into())),
            ("/café", PatternError::BadCharacter("café".into())),
        ] {
            assert_eq!(PathPattern::parse(pattern), Err(error), "{pattern:?}");
        }
    }

    #[test]
    fn bad_rules_name_their_field() {
        let catalog = ScopeCatalog::default();
        let field = |methods: Option<Vec<String>>, path: &str, scope: &str| {
            Rule::new(methods.as_deref(), path, scope, catalog.parse(scope))
                .map(|_| ())
                .map_err(|e| e.field)
        };
        assert_eq!(field(None, "/a", "content:read"), Ok(()));
        assert_eq!(field(Some(vec![]), "/a", "content:read"), Err("methods"));
        assert_eq!(
            field(Some(vec!["GET POST".into()]), "/a", "content:read"),
            Err("methods")
        );
        assert_eq!(field(None, "a", "content:read"), Err("path"));
        assert_eq!(field(None, "/a", "content:reed"), Err("scope"));
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let catalog = ScopeCatalog::default();
        let scope = |s| catalog.parse(s).expect("scope");
        let rules = Rules::new(vec![
            rule(
                Some(&["GET", "head"]),
                "/projects/{project}/reports/**",
                "content:read",
            ),
            rule(
                Some(&["POST"]),
                "/projects/{project}/reports/**",
                "content:write",
            ),
            rule(None, "/admin/**", "members:write"),
            rule(None, "/**", "projects:read"),
        ]);
        let p = Uuid::try_parse(P).ok();
        let need = |method: &str, target: &str| rules.requirement(method, &path(target));
        let reports = format!("/projects/{P}/reports/q1");
        assert_eq!(
            need("GET", &reports),
            Some(Requirement {
                scope: scope("content:read"),
                project: p
            })
        );
        assert_eq!(
            need("HEAD", &reports).map(|r| r.scope),
            Some(scope("content:read"))
        );
        assert_eq!(
            need("get", &reports).map(|r| r.scope),
            Some(scope("content:read")),
            "methods compare without case, as some servers do"
        );
        assert_eq!(
            need("POST", &reports).map(|r| r.scope),
            Some(scope("content:write"))
        );
        assert_eq!(
            need("DELETE", &reports),
            Some(Requirement {
                scope: scope("projects:read"),
                project: None
            }),
            "no earlier rule takes DELETE: the catch-all does"
        );
        assert_eq!(
            need("PUT", "/admin/users").map(|r| r.scope),
            Some(scope("members:write"))
        );
        assert!(Rules::new(vec![rule(None, "/a", "content:read")])
            .requirement("GET", &path("/b"))
            .is_none());
        assert!(Rules::default().is_empty());
    }

    #[test]
    fn method_names_are_tokens() {
        assert_eq!(method_name("get").as_deref(), Some("GET"));
        assert_eq!(method_name("PROPFIND").as_deref(), Some("PROPFIND"));
        for bad in [
            "",
            "GET POST",
            "GET\n",
            "ÉTÉ",
            &"A".repeat(MAX_METHOD_BYTES + 1),
        ] {
            assert_eq!(method_name(bad), None, "{bad:?}");
        }
    }
}
