//! `auth.refused` events, collapsed so that a flood of one refused secret
//! cannot fill the append-only audit table or take the writer from real
//! changes.
//!
//! Per credential, secret (display prefix) and code: the first refusal is
//! written at once with `details.count` 1, so the log shows it as it happens.
//! The refusals after it are counted in memory; when the window (a minute)
//! ends they are written as one event with `details.count` (how many it
//! stands for) and `details.since` (the first of them), dated by and naming
//! the client of the last one; then the next window starts, already counting,
//! so a flood that goes on writes one event a minute. A window with nothing
//! after its first event ends silently. Pending counts are written at
//! shutdown. Windows are per replica: N replicas write up to N events a
//! minute for one credential.

use latchkey_core::AuditEvent;
use latchkey_core::OrgId;
use std::collections::HashMap;
use std::sync::Mutex;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Past this many open windows, refusals are written one by one again
/// rather than forgotten (only real credentials of known organizations reach
/// here, so this takes that many refused credentials at once).
const MAX_OPEN: usize = 100_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    org: OrgId,
    credential: Option<Uuid>,
    display_prefix: Option<String>,
    code: &'static str,
}

struct Window {
    opened: OffsetDateTime,
    /// Refusals since the last event written: how many, the first one's
    /// time, and the last one.
    count: u64,
    since: Option<OffsetDateTime>,
    last: Option<AuditEvent>,
}

pub struct RefusalLog {
    window: Duration,
    open: Mutex<HashMap<Key, Window>>,
}

fn with_count(mut event: AuditEvent, count: u64, since: Option<OffsetDateTime>) -> AuditEvent {
    if let Some(details) = event.details.as_object_mut() {
        details.insert("count".into(), count.into());
        if let Some(since) = since.and_then(|t| t.format(&Rfc3339).ok()) {
            details.insert("since".into(), since.into());
        }
    }
    event
}

impl RefusalLog {
    pub fn new(window: Duration) -> RefusalLog {
        RefusalLog {
            window,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A refusal of `code`, as its event: the event to write now when it
    /// opens a window, nothing when it is counted into one.
    pub fn note(&self, event: AuditEvent, code: &'static str) -> Option<AuditEvent> {
        let credential = event.credential.as_ref();
        let key = Key {
            org: event.org_uuid,
            credential: credential.and_then(|c| c.uuid),
            display_prefix: credential.and_then(|c| c.display_prefix.clone()),
            code,
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(window) = open.get_mut(&key) {
            window.count += 1;
            window.since.get_or_insert(event.at);
            window.last = Some(event);
            return None;
        }
        if open.len() < MAX_OPEN {
            open.insert(
                key,
                Window {
                    opened: event.at,
                    count: 0,
                    since: None,
                    last: None,
                },
            );
        }
        Some(with_count(event, 1, None))
    }

    /// The summaries of the windows ended by `now` (of every window, at
    /// shutdown), to be written.
    pub fn due(&self, now: OffsetDateTime, all: bool) -> Vec<AuditEvent> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        open.retain(|_, w| {
            if !all && w.opened + self.window > now {
                return true;
            }
            match w.last.take() {
                Some(last) => {
                    out.push(with_count(last, w.count, w.since));
                    *w = Window {
                        opened: now,
                        count: 0,
                        since: None,
                        last: None,
                    };
                    !all
                }
                None => false,
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::{AuditAction, CredentialKind, CredentialRef};
    use serde_json::json;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    fn refusal(credential: Uuid, at: OffsetDateTime) -> AuditEvent {
        AuditEvent {
            org_uuid: latchkey_core::OrgId::from_uuid(Uuid::nil()),
            at,
            action: AuditAction::AuthRefused,
            actor: None,
            credential: Some(CredentialRef {
                kind: CredentialKind::Pat,
                uuid: Some(credential),
                name: Some("leaked".into()),
                display_prefix: Some("lkpat_abcd".into()),
            }),
            target: None,
            ip: None,
            user_agent: None,
            details: json!({ "code": "token_revoked" }),
        }
    }

    #[test]
    fn the_first_is_written_and_the_rest_of_the_minute_summed_up() {
        let log = RefusalLog::new(Duration::minutes(1));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = log
            .note(refusal(a, T0), "token_revoked")
            .expect("written now");
        assert_eq!(
            first.details,
            json!({ "code": "token_revoked", "count": 1 })
        );
        for i in 1..=99 {
            assert!(log
                .note(
                    refusal(a, T0 + Duration::milliseconds(i * 100)),
                    "token_revoked"
                )
                .is_none());
        }
        assert!(log.note(refusal(b, T0), "token_revoked").is_some());
        assert!(log.due(T0 + Duration::seconds(59), false).is_empty());
        let due = log.due(T0 + Duration::minutes(1), false);
        assert_eq!(due.len(), 1, "b had nothing after its first event");
        assert_eq!(due[0].details["count"], 99);
        assert_eq!(due[0].details["since"], "2026-11-23T12:00:00.1Z");
        // The flood goes on: the next minute is counted, not written at once.
        let t1 = T0 + Duration::minutes(1);
        assert!(log.note(refusal(a, t1), "token_revoked").is_none());
        assert!(log.note(refusal(b, t1), "token_revoked").is_some());
        let rest = log.due(t1, true);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].details["count"], 1);
        assert!(log.due(t1, true).is_empty(), "shutdown writes each once");
    }
}
