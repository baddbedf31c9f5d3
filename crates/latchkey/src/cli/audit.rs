//! `audit`: the organization's audit log, a page of it, or `--follow`.

use super::args::{parse_since, parse_when};
use super::Failure;
use crate::client::Api;
use crate::output::{self, actor, parse_time, rfc3339, s, Mode, Table};
use clap::Args;
use serde_json::Value;
use std::time::Duration;
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
    let page = api.get_query(AUDIT, &query).await?;
    if mode.json {
        output::json(&page);
        return Ok(());
    }
    let items = items(&page);
    if mode.quiet {
        items.iter().for_each(|e| println!("{}", s(e, "uuid")));
        return Ok(());
    }
    let mut table = Table::new(&["AT", "ACTION", "ACTOR", "CREDENTIAL", "TARGET", "IP"]);
    for e in &items {
        table.row(row(e));
    }
    table.print("no audit events");
    if let Some(cursor) = page.get("nextCursor").and_then(Value::as_str) {
        eprintln!("More events: add `--cursor {cursor}`.");
    }
    Ok(())
}

fn items(page: &Value) -> Vec<Value> {
    page.get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn row(e: &Value) -> Vec<String> {
    let mut action = s(e, "action");
    if let Some(code) = e
        .get("details")
        .and_then(|d| d.get("code"))
        .and_then(Value::as_str)
    {
        action.push_str(&format!(" ({code})"));
    }
    let credential = match e.get("credential") {
        Some(c) if c.get("kind").and_then(Value::as_str) == Some("session") => {
            "session".to_string()
        }
        Some(c) if c.is_object() => match c.get("displayPrefix").and_then(Value::as_str) {
            Some(p) => format!("{} {p}", s(c, "kind")),
            None => s(c, "kind"),
        },
        _ => "-".to_string(),
    };
    let target = match e.get("target") {
        Some(t) if t.is_object() => format!("{} {}", s(t, "type"), s(t, "name")),
        _ => "-".to_string(),
    };
    let at = match e.get("at").and_then(Value::as_str).and_then(parse_time) {
        Some(at) => {
            let at = at.to_offset(time::UtcOffset::UTC);
            format!(
                "{} {:02}:{:02}:{:02}Z",
                at.date(),
                at.hour(),
                at.minute(),
                at.second()
            )
        }
        None => s(e, "at"),
    };
    vec![
        at,
        action,
        actor(e.get("actor")),
        credential,
        target,
        s(e, "ip"),
    ]
}

fn print_event(e: &Value, mode: Mode) {
    if mode.json {
        println!("{e}");
    } else if mode.quiet {
        println!("{}", s(e, "uuid"));
    } else {
        println!("{}", row(e).join("  "));
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
    let mut newest: Option<String> = None;
    let mut printed: u64 = 0;
    let reached = |printed: u64| args.max_events.is_some_and(|m| printed >= m);

    let mut query = base.clone();
    if let Some(since) = &since {
        query.push(("since", since.clone()));
    }
    query.push(("limit", args.limit.unwrap_or(FOLLOW_BACKLOG).to_string()));
    let backlog = items(&api.get_query(AUDIT, &query).await?);
    for e in backlog.iter().rev() {
        if reached(printed) {
            return Ok(());
        }
        print_event(e, mode);
        printed += 1;
    }
    // Even events left unprinted by --max-events are the past, not news.
    if let Some(e) = backlog.first() {
        newest = Some(s(e, "uuid"));
        since = e.get("at").and_then(Value::as_str).map(str::to_string);
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
                .position(|e| s(e, "uuid") == *id)
                .unwrap_or(answer.len()),
            None => answer.len(),
        };
        for e in answer[..fresh].iter().rev() {
            if reached(printed) {
                return Ok(());
            }
            print_event(e, mode);
            printed += 1;
            newest = Some(s(e, "uuid"));
            since = e.get("at").and_then(Value::as_str).map(str::to_string);
        }
    }
}

/// Every event at or after `since`, newest first, through every page.
async fn new_events(
    api: &Api,
    base: &[(&'static str, String)],
    since: Option<&str>,
) -> Result<Vec<Value>, Failure> {
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
        let page = api.get_query(AUDIT, &query).await?;
        all.extend(items(&page));
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_string()),
            None => return Ok(all),
        }
    }
}
