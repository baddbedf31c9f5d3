//! Arguments several commands share: expiries, times, roles.

use crate::output::rfc3339;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use time::{Date, Duration, OffsetDateTime, Time};

/// How long a new credential lives when no expiry flag is given.
pub const DEFAULT_LIFETIME_DAYS: i64 = 30;

/// `12h`, `30d`, `2w`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: use a number and h, d or w, e.g. 12h, 30d, 2w");
    let s = s.trim();
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(format!("{s:?}: the duration must be more than zero"));
    }
    // Ten years is more than anyone means; it keeps the arithmetic safe.
    if n > 24 * 3660 {
        return Err(format!("{s:?} is too long"));
    }
    match unit {
        'h' => Ok(Duration::hours(n)),
        'd' => Ok(Duration::days(n)),
        'w' => Ok(Duration::weeks(n)),
        _ => Err(bad()),
    }
}

/// An RFC 3339 time, or a date `YYYY-MM-DD` (midnight UTC at its start).
pub fn parse_when(s: &str) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &format)
        .map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
        .map_err(|_| {
            format!("{s:?} is not a date (2026-03-01) or an RFC 3339 time (2026-03-01T12:00:00Z)")
        })
}

/// A point in the past: a duration ago (`1h`, `7d`), a date or a time.
pub fn parse_since(s: &str) -> Result<OffsetDateTime, String> {
    match parse_duration(s) {
        Ok(d) => Ok(OffsetDateTime::now_utc() - d),
        Err(_) => parse_when(s).map_err(|_| {
            format!("{s:?} is not a duration ago (1h, 7d), a date (2026-03-01) or an RFC 3339 time")
        }),
    }
}

/// The expiry of a new credential: at most one of these, else 30 days.
#[derive(Args, Debug, Clone)]
#[group(multiple = false)]
pub struct NewExpiry {
    /// Expire after this long: 12h, 7d, 30d, 2w (default 30d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires_in: Option<Duration>,
    /// Expire at this date (midnight UTC) or RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub expires_at: Option<OffsetDateTime>,
    /// Never expire. Such a credential cannot be rotated, only revoked.
    #[arg(long)]
    pub no_expiry: bool,
}

impl NewExpiry {
    /// The `expiresAt` to send: a time, or null for `--no-expiry`.
    pub fn value(&self) -> Value {
        if self.no_expiry {
            return Value::Null;
        }
        let at = match (self.expires_in, self.expires_at) {
            (_, Some(at)) => at,
            (Some(d), None) => OffsetDateTime::now_utc() + d,
            (None, None) => OffsetDateTime::now_utc() + Duration::days(DEFAULT_LIFETIME_DAYS),
        };
        json!(rfc3339(at))
    }
}

/// The new expiry a rotation requires: exactly one of these.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct RotateExpiry {
    /// The new secret expires after this long: 12h, 7d, 30d, 2w.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires_in: Option<Duration>,
    /// The new secret expires at this date (midnight UTC) or RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub expires_at: Option<OffsetDateTime>,
}

impl RotateExpiry {
    pub fn body(&self) -> Value {
        let at = match (self.expires_in, self.expires_at) {
            (_, Some(at)) => at,
            (Some(d), None) => OffsetDateTime::now_utc() + d,
            // clap requires one of the two.
            (None, None) => OffsetDateTime::now_utc() + Duration::days(DEFAULT_LIFETIME_DAYS),
        };
        json!({ "expiresAt": rfc3339(at) })
    }
}

/// A system role, lowest to highest (PRODUCT.md §1).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemRole {
    Member,
    Viewer,
    #[value(name = "interactive_viewer", alias = "interactive-viewer")]
    InteractiveViewer,
    Editor,
    Developer,
    Admin,
}

impl SystemRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemRole::Member => "member",
            SystemRole::Viewer => "viewer",
            SystemRole::InteractiveViewer => "interactive_viewer",
            SystemRole::Editor => "editor",
            SystemRole::Developer => "developer",
            SystemRole::Admin => "admin",
        }
    }
}

/// A system role by name, or a custom role by UUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleRef {
    System(SystemRole),
    Custom(uuid::Uuid),
}

pub fn parse_role_ref(s: &str) -> Result<RoleRef, String> {
    if let Ok(uuid) = uuid::Uuid::parse_str(s) {
        return Ok(RoleRef::Custom(uuid));
    }
    SystemRole::from_str(s, true).map(RoleRef::System).map_err(|_| {
        format!(
            "{s:?} is not a role: give member, viewer, interactive_viewer, editor, developer, admin, or a custom role's id"
        )
    })
}

impl RoleRef {
    /// `{"role": …}` or `{"customRoleUuid": …}`, into `body`.
    pub fn put(&self, body: &mut Value) {
        match self {
            RoleRef::System(r) => body["role"] = json!(r.as_str()),
            RoleRef::Custom(u) => body["customRoleUuid"] = json!(u.to_string()),
        }
    }
}

/// `PROJECT:ROLE` of a project-scoped service account; the project by id or
/// name (split at the last colon: a name may hold one, a role never does).
#[derive(Clone, Debug)]
pub struct ProjectGrant {
    pub project: String,
    pub role: RoleRef,
}

pub fn parse_project_grant(s: &str) -> Result<ProjectGrant, String> {
    let (project, role) = s
        .rsplit_once(':')
        .filter(|(p, r)| !p.is_empty() && !r.is_empty())
        .ok_or_else(|| format!("{s:?}: give PROJECT:ROLE, e.g. 3f2c…:developer or web:viewer"))?;
    Ok(ProjectGrant {
        project: project.to_string(),
        role: parse_role_ref(role)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert_eq!(parse_duration("2w").unwrap(), Duration::weeks(2));
        for bad in ["", "d", "0d", "-1d", "3x", "1.5d", "999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            rfc3339(parse_when("2030-03-01").unwrap()),
            "2030-03-01T00:00:00Z"
        );
        assert!(parse_when("2030-03-01T12:00:00+02:00").is_ok());
        assert!(parse_when("tomorrow").is_err());
        assert!(parse_since("1h").unwrap() < OffsetDateTime::now_utc());
    }

    #[test]
    fn roles_and_grants() {
        assert_eq!(
            parse_role_ref("interactive_viewer").unwrap(),
            RoleRef::System(SystemRole::InteractiveViewer)
        );
        assert!(parse_role_ref("owner").is_err());
        let g = parse_project_grant("a:b:viewer").unwrap();
        assert_eq!(g.project, "a:b");
        assert_eq!(g.role, RoleRef::System(SystemRole::Viewer));
        assert!(parse_project_grant("web").is_err());
        assert!(parse_project_grant(":viewer").is_err());
    }
}
