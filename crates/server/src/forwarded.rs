//! The client's address: the socket peer, or, when the peer is one of the
//! operator's trusted proxies (`--trusted-proxies`), the address the proxies
//! name. Resolved once at the edge (a layer of the router) and read by
//! `auth::client_of` for audit events and throttles.
//!
//! Which header: `X-Forwarded-For` when the request has one, else
//! `Forwarded` (RFC 7239). Most proxies append to `X-Forwarded-For` and pass
//! a client's own `Forwarded` through untouched, so preferring the standard
//! header would let a client name itself behind them; a proxy that writes
//! only `Forwarded` must drop an incoming `X-Forwarded-For`.
//!
//! Which address: walking from the right (the hop nearest to us), the first
//! one that is not itself a trusted proxy; what lies to its left was written
//! by the client and is not believed. A hop that is not an address
//! (`unknown`, an obfuscated name, garbage) ends the walk at the trusted hop
//! that passed it on.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;

/// The client address resolved at the edge, kept in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

/// Hops read from the right at most: a header is bounded anyway, and no
/// real chain of proxies is longer.
const MAX_HOPS: usize = 32;

impl TrustedProxies {
    pub fn new(nets: &[IpNet]) -> TrustedProxies {
        TrustedProxies(nets.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, by the rules above.
    /// No proxy is trusted: every client is its socket peer.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = if headers.contains_key("x-forwarded-for") {
            list(headers, "x-forwarded-for").collect()
        } else {
            list(headers, "forwarded")
                .filter_map(|element| {
                    element.split(';').find_map(|pair| {
                        let (name, value) = pair.split_once('=')?;
                        name.trim().eq_ignore_ascii_case("for").then_some(value)
                    })
                })
                .collect()
        };
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// The comma-separated items of every `name` header, in order.
fn list<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]:443`, quoted
/// or not.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let host = match hop.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.0,
        None => hop.rsplit_once(':')?.0,
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(&nets.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>())
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(t.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_right_most_address_that_is_not_a_trusted_proxy() {
        let t = trusted(&["10.0.0.0/8", "fd00::/8"]);
        let peer = ip("10.0.0.1");
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.2.3.4")]);
        assert_eq!(t.client(peer, &h), ip("203.0.113.9"));
        // Several headers are one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9:5555, 10.2.3.4"),
        ]);
        assert_eq!(t.client(peer, &h), ip("203.0.113.9"));
        // Only proxies: the left-most of them.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.2.3.4")]);
        assert_eq!(t.client(peer, &h), ip("10.9.9.9"));
        // Garbage where the client should be: the proxy that passed it on.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, nonsense, 10.2.3.4")]);
        assert_eq!(t.client(peer, &h), ip("10.2.3.4"));
        let h = headers(&[("x-forwarded-for", "")]);
        assert_eq!(t.client(peer, &h), peer);
        // IPv4-mapped peers are IPv4.
        assert_eq!(
            t.client(
                ip("::ffff:10.0.0.1"),
                &headers(&[("x-forwarded-for", "203.0.113.9")])
            ),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_when_there_is_no_x_forwarded_for() {
        let t = trusted(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, For=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1",
        )]);
        assert_eq!(t.client(peer, &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(t.client(peer, &h), peer);
        // With both, X-Forwarded-For wins: most proxies write it and pass
        // the client's own Forwarded through.
        let h = headers(&[
            ("forwarded", "for=1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(t.client(peer, &h), ip("203.0.113.9"));
    }
}
