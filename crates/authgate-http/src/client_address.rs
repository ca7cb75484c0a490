//! Who the client is: the TCP peer, or — when the peer is one of
//! `AUTHGATE_TRUSTED_PROXIES` — the right-most address of `X-Forwarded-For`
//! (or `Forwarded: for=`) that is not itself a trusted proxy. Resolved once
//! per request ([`ClientAddress`] in the request's extensions), so rate
//! limits, audit rows and logs see the same address. A client that is not a
//! trusted proxy cannot name another address: its headers are ignored.

use crate::middleware::TrustedProxies;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The client address of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The client of a request from `peer` with `headers`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, proxies: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !proxies.contains(peer) {
        return peer;
    }
    // Hops in order (client first); the right-most untrusted one is the
    // client as the nearest trusted proxy saw it.
    let hops = forwarded_for(headers);
    hops.into_iter()
        .rev()
        .map(canonical)
        .find(|hop| !proxies.contains(*hop))
        .unwrap_or(peer)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses of `X-Forwarded-For`, or else of `Forwarded`'s `for=`
/// parameters, in order; entries that are not addresses (`unknown`,
/// obfuscated names) are left out.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let xff: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_hop)
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(value.trim().trim_matches('"')))
                    .flatten()
            })
        })
        .collect()
}

/// One hop: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(inner, _)| inner.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 10] = [
            // An untrusted peer: its headers are ignored (a spoof).
            (
                "198.51.100.9",
                &[("x-forwarded-for", "203.0.113.7")],
                "198.51.100.9",
            ),
            (
                "10.1.2.3",
                &[("x-forwarded-for", "203.0.113.7")],
                "203.0.113.7",
            ),
            // The client's own entry left of the proxy's is not believed.
            (
                "10.1.2.3",
                &[("x-forwarded-for", "6.6.6.6, 203.0.113.7")],
                "203.0.113.7",
            ),
            // Trusted hops are skipped from the right.
            (
                "10.1.2.3",
                &[("x-forwarded-for", "203.0.113.7, 10.9.9.9")],
                "203.0.113.7",
            ),
            (
                "10.1.2.3",
                &[
                    ("x-forwarded-for", "203.0.113.7"),
                    ("x-forwarded-for", "192.0.2.1"),
                ],
                "203.0.113.7",
            ),
            (
                "10.1.2.3",
                &[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")],
                "2001:db8::7",
            ),
            (
                "10.1.2.3",
                &[("forwarded", "for=203.0.113.8, for=10.0.0.2")],
                "203.0.113.8",
            ),
            ("10.1.2.3", &[("x-forwarded-for", "unknown")], "10.1.2.3"),
            ("10.1.2.3", &[], "10.1.2.3"),
            (
                "::ffff:10.1.2.3",
                &[("x-forwarded-for", "203.0.113.7:5555")],
                "203.0.113.7",
            ),
        ];
        for (peer, sent, client) in cases {
            assert_eq!(
                resolve(peer.parse().unwrap(), &headers(sent), &proxies).to_string(),
                client,
                "{peer} {sent:?}"
            );
        }
    }
}
