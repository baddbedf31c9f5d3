//! Prometheus metrics (`GET /metrics`). Counters are looked up once at
//! start; counting on the request path is one atomic increment.

use crate::error::AuthFailure;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

const FAILURES: [AuthFailure; 6] = [
    AuthFailure::MissingCredentials,
    AuthFailure::MalformedToken,
    AuthFailure::InvalidToken,
    AuthFailure::TokenExpired,
    AuthFailure::TokenRevoked,
    AuthFailure::AccountSuspended,
];

pub struct Metrics {
    registry: Registry,
    /// 1xx … 5xx.
    responses: [Counter; 5],
    auth_ok: Counter,
    auth_refused: [Counter; 6],
    cache_hits: Counter,
    cache_misses: Counter,
    cache_entries: Gauge,
    /// Password hashes running now (`passwords::PasswordQueue`).
    pub password_hash_in_flight: Gauge,
    /// Requests waiting for their turn to hash.
    pub password_hash_waiting: Gauge,
    /// Requests turned away with `503` by a full or slow queue.
    pub password_hash_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let responses = Family::<ClassLabel, Counter>::default();
        registry.register(
            "latchkey_http_responses",
            "HTTP responses by status class",
            responses.clone(),
        );
        let auth = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "latchkey_token_authentications",
            "Token authentications by outcome",
            auth.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "latchkey_auth_cache_hits",
            "Token lookups answered from memory",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        registry.register(
            "latchkey_auth_cache_misses",
            "Token lookups that read the database",
            cache_misses.clone(),
        );
        let cache_entries = Gauge::default();
        registry.register(
            "latchkey_auth_cache_entries",
            "Resolved credentials held in memory",
            cache_entries.clone(),
        );
        let password_hash_in_flight = Gauge::default();
        registry.register(
            "latchkey_password_hash_in_flight",
            "Password hashes running now",
            password_hash_in_flight.clone(),
        );
        let password_hash_waiting = Gauge::default();
        registry.register(
            "latchkey_password_hash_waiting",
            "Requests waiting for their turn to hash a password",
            password_hash_waiting.clone(),
        );
        let password_hash_refused = Counter::default();
        registry.register(
            "latchkey_password_hash_refused",
            "Requests answered 503 because the password queue was full or too slow",
            password_hash_refused.clone(),
        );
        let class = |class| responses.get_or_create(&ClassLabel { class }).clone();
        let outcome = |outcome| auth.get_or_create(&OutcomeLabel { outcome }).clone();
        Metrics {
            responses: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            auth_ok: outcome("ok"),
            auth_refused: FAILURES.map(|f| outcome(f.code())),
            cache_hits,
            cache_misses,
            cache_entries,
            password_hash_in_flight,
            password_hash_waiting,
            password_hash_refused,
            registry,
        }
    }
}

impl Metrics {
    pub fn response(&self, status: u16) {
        if let Some(counter) = self
            .responses
            .get(usize::from(status / 100).wrapping_sub(1))
        {
            counter.inc();
        }
    }

    pub fn authenticated(&self) {
        self.auth_ok.inc();
    }

    pub fn refused(&self, failure: AuthFailure) {
        if let Some(i) = FAILURES.iter().position(|f| *f == failure) {
            self.auth_refused[i].inc();
        }
    }

    pub fn cache_lookup(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    /// The OpenMetrics text of every metric, `cache_entries` as of now.
    pub fn render(&self, cache_entries: usize) -> String {
        self.cache_entries
            .set(i64::try_from(cache_entries).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_openmetrics() {
        let m = Metrics::default();
        m.response(200);
        m.response(404);
        m.response(404);
        m.response(999);
        m.authenticated();
        m.refused(AuthFailure::TokenRevoked);
        m.cache_lookup(true);
        let text = m.render(7);
        assert!(
            text.contains(r#"latchkey_http_responses_total{class="2xx"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"latchkey_http_responses_total{class="4xx"} 2"#));
        assert!(text.contains(r#"latchkey_token_authentications_total{outcome="ok"} 1"#));
        assert!(text.contains(r#"latchkey_token_authentications_total{outcome="token_revoked"} 1"#));
        assert!(text.contains("latchkey_auth_cache_hits_total 1"));
        assert!(text.contains("latchkey_auth_cache_entries 7"));
        assert!(text.ends_with("# EOF\n"));
    }
}
