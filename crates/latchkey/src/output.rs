//! What the client prints: aligned tables and key/value blocks for people,
//! the API's `results` as JSON for machines.

use latchkey_core::Actor;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How the user asked for output (global `--json` / `--quiet`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mode {
    pub json: bool,
    pub quiet: bool,
}

/// Pretty JSON on stdout.
pub fn json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// A table with a header row, columns two spaces apart, the last one not
/// padded.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(width(cell));
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let cell = one_line(cell);
                if i + 1 < row.len() {
                    line.push_str(&cell);
                    line.push_str(&" ".repeat(widths[i].saturating_sub(width(&cell)) + 2));
                } else {
                    line.push_str(&cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The table on stdout, or `empty` on stderr when there are no rows.
    pub fn print(&self, empty: &str) {
        if self.rows.is_empty() {
            eprintln!("{empty}");
        } else {
            print!("{}", self.render());
        }
    }
}

/// Key/value lines, the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(&format!(
            "{:width$}  {}\n",
            format!("{k}:"),
            v,
            width = width + 1
        ));
    }
    out
}

/// A cell never breaks the table: control characters become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An optional value, or "-".
pub fn or_dash(v: Option<&str>) -> String {
    v.unwrap_or("-").to_string()
}

/// `2026-03-01 12:00Z`; `when_null` for none.
pub fn time(t: Option<OffsetDateTime>, when_null: &str) -> String {
    match t {
        Some(t) => short_time(t),
        None => when_null.to_string(),
    }
}

pub fn short_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// "in 3 days", "in 5 hours", "in 12 minutes". Days are whole days left,
/// rounded up, as on the web pages; a day or less is told in hours.
pub fn from_now(t: OffsetDateTime) -> String {
    let now = OffsetDateTime::now_utc();
    let left = t - now;
    let days = latchkey_core::policy::days_left(t, now);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if left.is_negative() {
        "already".to_string()
    } else if days > 1 {
        format!("in {days} days")
    } else if left.whole_hours() >= 1 {
        format!("in {}", plural(left.whole_hours(), "hour"))
    } else {
        format!("in {}", plural(left.whole_minutes().max(1), "minute"))
    }
}

/// An actor as "user Ada".
pub fn actor(a: &Actor) -> String {
    format!("{} {}", a.kind.as_str(), a.name)
}

/// A list of strings as "a, b, c"; `when_null` for none.
pub fn list(items: Option<&[String]>, when_null: &str) -> String {
    match items {
        Some([]) => "(none)".to_string(),
        Some(items) => items.join(", "),
        None => when_null.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "a\nb".into()]);
        t.row(vec!["1234".into(), "c".into()]);
        assert_eq!(t.render(), "ID    NAME\n1     a b\n1234  c\n");
    }
}
