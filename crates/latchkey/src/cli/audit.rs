//! `audit`: the organization's audit log, a page of it, or `--follow`.

use super::args::{parse_since, parse_when};
use super::{read, Failure};
use crate::client::Api;
use crate::output::{self, actor, or_dash, rfc3339, Mode, Table};
use clap::Args;
use latchkey_core::CredentialKind;
use latchkey_server::wire::{AuditEventView, Paged};
use serde_json::Value;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const AUDIT: &str = "/api/v1/org/audit-logs";
/// The server's largest page.
const MAX_PAGE: u32 = 500;
/// How many past events `--follow` shows before waiting for new ones.
const FOLLOW_BACKLOG: u32 = 10;

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only this action, e.g. pat.created, member.suspended, auth.refused.
    #[arg(long)]
    action: Option<String>,
    /// Only events whose actor (user, API key, service account) has this id.
    #[arg(long, value_name = "UUID")]
    actor: Option<uuid::Uuid>,
    /// Only events whose target has this id.
    #[arg(long, value_name = "UUID")]
    target: Option<uuid::Uuid>,
    /// Events at or after this: a duration ago (1h, 7d), a date, or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    since: Option<OffsetDateTime>,
    /// Events at or before this: a date or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when, conflicts_with = "follow")]
    until: Option<OffsetDateTime>,
    /// How many events (1 to 500; default 50, or the last 10 with --follow).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: Option<u32>,
    /// The next page: the cursor the previous page ended with.
    #[arg(long, conflicts_with = "follow")]
    cursor: Option<String>,
    /// Keep printing new events, oldest first, until interrupted (Ctrl-C).
    #[arg(long, short = 'f')]
    follow: bool,
    /// How often --follow asks the server, in milliseconds.
    #[arg(long, hide = true, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(50..))]
    poll_interval_ms: u64,
    /// Stop --follow after this many events (for tests and scripts).
    #[arg(long, hide = true)]
    max_events: Option<u64>,
}

impl AuditArgs {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(a) = &self.action {
            q.push(("action", a.clone()));
        }
        if let Some(a) = self.actor {
            q.push(("actorUuid", a.to_string()));
        }
        if let Some(t) = self.target {
            q.push(("targetUuid", t.to_string()));
        }
        if let Some(u) = self.until {
            q.push(("until", rfc3339(u)));
        }
        q
    }
}

pub async fn audit(args: AuditArgs, api: &Api, mode: Mode) -> Result<(), Failure> {
    if args.follow {
        return follow(args, api, mode).await;
    }
    let mut query = args.query();
    if let Some(since) = args.since {
        query.push(("since", rfc3339(since)));
    }
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(cursor) = &args.cursor {
        query.push(("cursor", cursor.clone()));
    }
    let answer = api.get_query(AUDIT, &query).await?;
    if mode.json {
        output::json(&answer);
        return Ok(());
    }
    let page: Paged<AuditEventView> = read(&answer)?;
    if mode.quiet {
        page.items.iter().for_each(|e| println!("{}", e.uuid));
        return Ok(());
    }
    let mut table = Table::new(&["AT", "ACTION", "ACTOR", "CREDENTIAL", "TARGET", "IP"]);
    for e in &page.items {
        table.row(row(e));
    }
    table.print("no audit events");
    if let Some(cursor) = &page.next_cursor {
        eprintln!("More events: add `--cursor {cursor}`.");
    }
    Ok(())
}

/// A page's events, each as the server wrote it (for `--json`) and as read.
fn events(answer: &Value) -> Result<(Vec<Event>, Option<String>), Failure> {
    let page: Paged<Value> = read(answer)?;
    let events = page
        .items
        .into_iter()
        .map(|raw| {
            Ok(Event {
                view: read(&raw)?,
                raw,
            })
        })
        .collect::<Result<_, Failure>>()?;
    Ok((events, page.next_cursor))
}

struct Event {
    raw: Value,
    view: AuditEventView,
}

impl Event {
    /// `at` as the server wrote it, for the next `since`.
    fn at(&self) -> Option<String> {
        self.view.at.format(&Rfc3339).ok()
    }
}

fn row(e: &AuditEventView) -> Vec<String> {
    let mut action = e.action.clone();
    if let Some(code) = e.details.get("code").and_then(Value::as_str) {
        action.push_str(&format!(" ({code})"));
    }
    let credential = match &e.credential {
        Some(c) if c.kind == CredentialKind::Session => "session".to_string(),
        Some(c) => match &c.display_prefix {
            Some(p) => format!("{} {p}", c.kind.as_str()),
            None => c.kind.as_str().to_string(),
        },
        None => "-".to_string(),
    };
    let target = match &e.target {
        Some(t) => format!("{} {}", t.kind.as_str(), t.name),
        None => "-".to_string(),
    };
    let at = e.at.to_offset(time::UtcOffset::UTC);
    let at = format!(
        "{} {:02}:{:02}:{:02}Z",
        at.date(),
        at.hour(),
        at.minute(),
        at.second()
    );
    vec![
        at,
        action,
        e.actor
            .as_ref()
            .map(actor)
            .unwrap_or_else(|| "-".to_string()),
        credential,
        target,
        or_dash(e.ip.as_deref()),
    ]
}

fn print_event(e: &Event, mode: Mode) {
    if mode.json {
        println!("{}", e.raw);
    } else if mode.quiet {
        println!("{}", e.view.uuid);
    } else {
        println!("{}", row(&e.view).join("  "));
    }
}

/// Polls for events newer than the newest one printed and prints them
/// oldest first. `since` is inclusive and times may repeat (the store keeps
/// seconds), so the newest event printed is found in each answer (newest
/// first, in the order the server wrote them): only what precedes it is new.
async fn follow(args: AuditArgs, api: &Api, mode: Mode) -> Result<(), Failure> {
    let interval = Duration::from_millis(args.poll_interval_ms);
    let base = args.query();
    let mut since: Option<String> = args.since.map(rfc3339);
    let mut newest: Option<uuid::Uuid> = None;
    let mut printed: u64 = 0;
    let reached = |printed: u64| args.max_events.is_some_and(|m| printed >= m);

    let mut query = base.clone();
    if let Some(since) = &since {
        query.push(("since", since.clone()));
    }
    query.push(("limit", args.limit.unwrap_or(FOLLOW_BACKLOG).to_string()));
    let (backlog, _) = events(&api.get_query(AUDIT, &query).await?)?;
    for e in backlog.iter().rev() {
        if reached(printed) {
            return Ok(());
        }
        print_event(e, mode);
        printed += 1;
    }
    // Even events left unprinted by --max-events are the past, not news.
    if let Some(e) = backlog.first() {
        newest = Some(e.view.uuid);
        since = e.at();
    }
    loop {
        if reached(printed) {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
        let answer = match new_events(api, &base, since.as_deref()).await {
            Ok(events) => events,
            // A server restarting is no reason to stop following.
            Err(Failure::Unreachable(why)) => {
                eprintln!("latchkey: warning: {why}; retrying");
                continue;
            }
            Err(other) => return Err(other),
        };
        let fresh = match &newest {
            Some(id) => answer
                .iter()
                .position(|e| e.view.uuid == *id)
                .unwrap_or(answer.len()),
            None => answer.len(),
        };
        for e in answer[..fresh].iter().rev() {
            if reached(printed) {
                return Ok(());
            }
            print_event(e, mode);
            printed += 1;
            newest = Some(e.view.uuid);
            since = e.at();
        }
    }
}

/// Every event at or after `since`, newest first, through every page.
async fn new_events(
    api: &Api,
    base: &[(&'static str, String)],
    since: Option<&str>,
) -> Result<Vec<Event>, Failure> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = base.to_vec();
        if let Some(since) = since {
            query.push(("since", since.to_string()));
        }
        query.push(("limit", MAX_PAGE.to_string()));
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let (page, next) = events(&api.get_query(AUDIT, &query).await?)?;
        all.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}
