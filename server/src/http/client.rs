//! Who is asking: the client's address, as seen through the proxies the operator trusts.
//!
//! Behind nginx or Caddy every connection comes from the proxy, so per-address limits
//! would treat the whole world as one client. `X-Forwarded-For` names the real client, but
//! anyone can send that header, so it is read only when the connection comes from a
//! trusted proxy (`CHARGELOG_TRUSTED_PROXIES`), and only its trusted tail is believed.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

/// Whether the connection's peer is one of the proxies the operator trusts, whose
/// forwarded headers (`X-Forwarded-For`, `-Proto`, `-Host`) are then believed.
pub fn is_trusted_proxy(peer: IpAddr, trusted: &[IpNet]) -> bool {
    let peer = canonical(peer);
    trusted.iter().any(|net| net.contains(&peer))
}

/// The client's address: the connection's peer, or, when the peer is a trusted proxy,
/// the address `X-Forwarded-For` names, read from the right (each proxy appends the
/// address it saw): the first hop that is not a trusted proxy. A hop that cannot be
/// read ends the walk at the trusted proxy before it, since everything to its left was
/// written by someone untrusted.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted_proxy(peer, trusted) {
        return peer;
    }
    let values: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let hops = values
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(|b| *b == b','));
    let mut client = peer;
    for hop in hops {
        let Some(hop) = std::str::from_utf8(hop)
            .ok()
            .and_then(|h| h.trim().parse::<IpAddr>().ok())
            .map(canonical)
        else {
            break;
        };
        client = hop;
        if !is_trusted_proxy(hop, trusted) {
            break;
        }
    }
    client
}

/// The key one client is counted under: an IPv4 address, or an IPv6 /64 (one customer
/// line usually holds a whole /64, so counting single IPv6 addresses would count nothing).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// IPv4 addresses written as IPv6 (`::ffff:1.2.3.4`) are IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Reads `CHARGELOG_TRUSTED_PROXIES`: addresses or networks, separated by commas.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| s.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = parse_trusted("127.0.0.1, 10.0.0.0/8").unwrap();
        let spoofed = headers("203.0.113.9");
        // A direct client cannot choose its address.
        assert_eq!(
            client_address(ip("198.51.100.7"), &spoofed, &trusted),
            ip("198.51.100.7")
        );
        // Through the proxy, the proxy's record counts.
        assert_eq!(
            client_address(ip("127.0.0.1"), &spoofed, &trusted),
            ip("203.0.113.9")
        );
        // A client that sends its own header gets it prepended to, not believed.
        let chain = headers("1.2.3.4, 203.0.113.9, 10.1.2.3");
        assert_eq!(
            client_address(ip("127.0.0.1"), &chain, &trusted),
            ip("203.0.113.9")
        );
        // Nothing forwarded, or unreadable: the proxy itself.
        assert_eq!(
            client_address(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers("1.2.3.4, junk"), &trusted),
            ip("127.0.0.1")
        );
        // Read from the right: junk the client wrote to the left of what the proxies
        // appended does not hide the address they saw.
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers("junk, 203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                &headers("junk, 203.0.113.9, 10.0.0.2"),
                &trusted
            ),
            ip("203.0.113.9")
        );
        // Junk between trusted hops: the last trusted hop before it.
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                &headers("203.0.113.9, junk, 10.0.0.2"),
                &trusted
            ),
            ip("10.0.0.2")
        );
        // Two header lines are one list, the later line to the right.
        let mut two = headers("198.51.100.1");
        two.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(
            client_address(ip("127.0.0.1"), &two, &trusted),
            ip("203.0.113.9")
        );
        // Only the trusted tail is read, however long the list.
        let long = format!("{}203.0.113.9", "junk,".repeat(10_000));
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers(&long), &trusted),
            ip("203.0.113.9")
        );
        // No trusted proxies: the header means nothing.
        assert_eq!(
            client_address(ip("127.0.0.1"), &spoofed, &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(limit_key(ip("192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn trusted_lists_are_checked() {
        assert_eq!(parse_trusted("").unwrap(), vec![]);
        assert_eq!(parse_trusted("::1, 192.168.0.0/16").unwrap().len(), 2);
        assert_eq!(parse_trusted("10.0.0.0/8, nginx"), Err("nginx".to_owned()));
    }
}
