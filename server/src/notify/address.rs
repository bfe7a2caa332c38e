//! Where a webhook may point: `http` or `https`, and, unless the operator allows it
//! (`CHARGELOG_NOTIFY_ALLOW_PRIVATE`), only public addresses, so that whoever can add an
//! endpoint cannot make chargelog call into its own network (the metadata service of a
//! cloud machine, an admin port on localhost). Checked when an endpoint is added and again
//! before every attempt, and the request then goes to exactly the addresses checked (no
//! second lookup, no redirects), so a name that changes its answer gains nothing.

use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Longest URL taken.
pub const MAX_URL_CHARS: usize = 2048;
/// How long a name may take to resolve.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL: {0}")]
    Parse(String),
    #[error("longer than {MAX_URL_CHARS} characters")]
    TooLong,
    #[error("only http and https URLs can receive notifications")]
    Scheme,
    #[error("the URL names no host")]
    NoHost,
    #[error("{0} could not be resolved: {1}")]
    Lookup(String, String),
    #[error("{host} resolves to {addr}, a loopback, private or link-local address; set CHARGELOG_NOTIFY_ALLOW_PRIVATE=true to allow it")]
    Private { host: String, addr: IpAddr },
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // 100.64.0.0/10, carrier-grade NAT
    let this_network = a == 0;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || shared
        || this_network
        || benchmarking
        || a >= 240)
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_is_public(v4);
    }
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8;
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || documentation)
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => v6_is_public(v6),
    }
}

/// The URL, parsed and checked for its form alone.
pub fn parse(text: &str) -> Result<Url, UrlError> {
    let text = text.trim();
    if text.chars().count() > MAX_URL_CHARS {
        return Err(UrlError::TooLong);
    }
    let url = Url::parse(text).map_err(|e| UrlError::Parse(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost);
    }
    Ok(url)
}

/// The addresses `url` resolves to, every one allowed.
pub async fn resolve(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, UrlError> {
    let host = url.host_str().ok_or(UrlError::NoHost)?;
    let port = url.port_or_known_default().unwrap_or(443);
    // `[::1]` arrives bracketed; a literal address needs no lookup.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((bare, port)))
            .await
            .map_err(|_| UrlError::Lookup(host.to_owned(), "timed out".into()))?
            .map_err(|e| UrlError::Lookup(host.to_owned(), e.to_string()))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(UrlError::Lookup(host.to_owned(), "no address".into()));
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(UrlError::Private {
                host: host.to_owned(),
                addr: bad.ip(),
            });
        }
    }
    Ok(addrs)
}

/// Parses and resolves: what adding an endpoint checks.
pub async fn check(text: &str, allow_private: bool) -> Result<Url, UrlError> {
    let url = parse(text)?;
    resolve(&url, allow_private).await?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_not_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
    }

    #[test]
    fn only_web_urls_with_a_host() {
        assert_eq!(parse("ftp://example.com/x"), Err(UrlError::Scheme));
        assert_eq!(parse("file:///etc/passwd"), Err(UrlError::Scheme));
        assert!(matches!(parse("not a url"), Err(UrlError::Parse(_))));
        assert_eq!(
            parse(&format!(
                "https://example.com/{}",
                "a".repeat(MAX_URL_CHARS)
            )),
            Err(UrlError::TooLong)
        );
        assert!(parse("https://hooks.example.com/chargelog?x=1").is_ok());
    }

    #[tokio::test]
    async fn private_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]:9/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:9/",
        ] {
            let url = parse(url).unwrap();
            assert!(
                matches!(resolve(&url, false).await, Err(UrlError::Private { .. })),
                "{url}"
            );
            assert!(resolve(&url, true).await.is_ok(), "{url}");
        }
    }
}
