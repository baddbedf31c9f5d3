//! Throttle windows: how many attempts a key (an account and an address, an
//! address) may make, counted *before* the attempt is checked, so that
//! concurrent attempts cannot all slip in. The rule is here, once; whoever
//! keeps the windows (the database for sign-ins, memory for verifications)
//! applies it atomically. Time is a parameter.

use time::{Duration, OffsetDateTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Attempts a window allows.
    pub limit: u32,
    /// How long a window lasts (before any backoff).
    pub window: Duration,
    /// Backoff: a window that ends full makes the next one twice as long,
    /// up to `2^max_doublings` windows. 0: no backoff.
    pub max_doublings: u32,
}

/// One key's current window, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: OffsetDateTime,
    pub attempts: u32,
    /// How many windows in a row ended full (the backoff's exponent).
    pub strikes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Counted; `window_start` names the window, to give the attempt back.
    Allowed { window_start: OffsetDateTime },
    /// Refused until the window ends, in whole seconds (at least 1).
    Refused { retry_after: u64 },
}

impl Rule {
    /// A window's length after `strikes` full windows in a row.
    pub fn length(&self, strikes: u32) -> Duration {
        let doublings = strikes.min(self.max_doublings).min(30);
        self.window * (1i32 << doublings)
    }

    pub fn end_of(&self, w: &Window) -> OffsetDateTime {
        w.start + self.length(w.strikes)
    }

    /// When a window may be forgotten: a full one is remembered for one
    /// more (longer) window, so that its strike counts.
    pub fn forget_at(&self, w: &Window) -> OffsetDateTime {
        let end = self.end_of(w);
        if w.attempts >= self.limit {
            end + self.length(w.strikes.saturating_add(1))
        } else {
            end
        }
    }

    /// Counts one attempt, or refuses it: the window to store and the answer.
    pub fn take(&self, stored: Option<Window>, now: OffsetDateTime) -> (Window, Decision) {
        let fresh = |strikes| Window {
            start: now,
            attempts: 0,
            strikes,
        };
        let mut w = match stored {
            None => fresh(0),
            Some(w) if now >= self.forget_at(&w) => fresh(0),
            Some(w) if now >= self.end_of(&w) => {
                // Only a window that ended full earns a longer next one.
                let strikes = if w.attempts >= self.limit {
                    w.strikes.saturating_add(1).min(self.max_doublings)
                } else {
                    0
                };
                fresh(strikes)
            }
            Some(w) => w,
        };
        if w.attempts >= self.limit {
            let wait = (self.end_of(&w) - now).whole_seconds().max(1);
            return (
                w,
                Decision::Refused {
                    retry_after: u64::try_from(wait).unwrap_or(1),
                },
            );
        }
        w.attempts += 1;
        (
            w,
            Decision::Allowed {
                window_start: w.start,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    fn rule(max_doublings: u32) -> Rule {
        Rule {
            limit: 3,
            window: Duration::minutes(15),
            max_doublings,
        }
    }

    /// Takes `n` attempts at `at`, returning the last answer.
    fn take_n(r: &Rule, w: &mut Option<Window>, n: u32, at: OffsetDateTime) -> Decision {
        let mut last = None;
        for _ in 0..n {
            let (next, d) = r.take(*w, at);
            *w = Some(next);
            last = Some(d);
        }
        last.expect("n > 0")
    }

    #[test]
    fn allows_the_limit_then_refuses_until_the_window_ends() {
        let r = rule(0);
        let mut w = None;
        assert_eq!(
            take_n(&r, &mut w, 3, T0),
            Decision::Allowed { window_start: T0 }
        );
        let at = T0 + Duration::minutes(5);
        assert_eq!(
            take_n(&r, &mut w, 1, at),
            Decision::Refused { retry_after: 600 }
        );
        assert_eq!(w.map(|w| w.attempts), Some(3), "a refusal is not counted");
        let later = T0 + Duration::minutes(15);
        assert_eq!(
            take_n(&r, &mut w, 1, later),
            Decision::Allowed {
                window_start: later
            }
        );
    }

    #[test]
    fn full_windows_in_a_row_double_the_next_one() {
        let r = rule(2);
        let mut w = None;
        take_n(&r, &mut w, 3, T0);
        // Second window: 30 minutes.
        let t1 = T0 + Duration::minutes(15);
        take_n(&r, &mut w, 3, t1);
        assert_eq!(
            take_n(&r, &mut w, 1, t1),
            Decision::Refused {
                retry_after: 30 * 60
            }
        );
        // Third: 60 minutes, and no longer after that (max_doublings 2).
        let t2 = t1 + Duration::minutes(30);
        take_n(&r, &mut w, 3, t2);
        assert_eq!(w.map(|w| w.strikes), Some(2));
        let t3 = t2 + Duration::minutes(60);
        take_n(&r, &mut w, 3, t3);
        assert_eq!(
            take_n(&r, &mut w, 1, t3),
            Decision::Refused {
                retry_after: 60 * 60
            }
        );
    }

    #[test]
    fn a_window_that_ends_short_of_the_limit_forgives() {
        let r = rule(4);
        let mut w = None;
        take_n(&r, &mut w, 3, T0);
        let t1 = T0 + Duration::minutes(15);
        take_n(&r, &mut w, 1, t1);
        assert_eq!(w.map(|w| w.strikes), Some(1));
        let t2 = t1 + Duration::minutes(30);
        take_n(&r, &mut w, 1, t2);
        assert_eq!(w.map(|w| w.strikes), Some(0));
        // Long silence forgets even a full window.
        let mut w = None;
        take_n(&r, &mut w, 3, T0);
        let stored = w.expect("window");
        assert_eq!(r.forget_at(&stored), T0 + Duration::minutes(15 + 30));
        let (fresh, _) = r.take(w, T0 + Duration::hours(2));
        assert_eq!(fresh.strikes, 0);
    }
}
