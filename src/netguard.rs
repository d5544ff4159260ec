//! Keeping the server's outgoing requests (the resource proxy, webhooks) off the network
//! it stands in. Whoever chooses the URL (a customer's page, an administrator's webhook)
//! must not reach loopback, the private network, cloud metadata (169.254.169.254) or
//! another internal service through us.
//!
//! The address checked must be the address connected to: names are checked inside the
//! HTTP client's resolver (`Guard` as `reqwest::dns::Resolve`), whose answer is the one
//! the client connects to, so a DNS answer that changes between a check and the connection
//! (rebinding) changes nothing. Addresses written in the URL reach no resolver and are
//! checked by `Guard::check_url` before the request. A proxy from `HTTP_PROXY` would
//! resolve names itself, out of our sight: `Guard::client` turns them off.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};

/// An address (or a name resolving only to addresses) the server must not connect to.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0} is a private, loopback or otherwise internal address")]
pub struct Blocked(pub String);

const fn net4(net: Ipv4Addr, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(net, prefix)
}

const fn net6(net: Ipv6Addr, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(net, prefix)
}

/// IPv4 ranges that are not the public internet (IANA's special-purpose registry).
const V4_BLOCKED: &[Ipv4Net] = &[
    net4(Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    net4(Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    net4(Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space (carrier-grade NAT)
    net4(Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    net4(Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata
    net4(Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    net4(Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    net4(Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation (TEST-NET-1)
    net4(Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    net4(Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    net4(Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    net4(Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    net4(Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation (TEST-NET-3)
    net4(Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    net4(Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and 255.255.255.255 (broadcast)
];

/// IPv6 ranges that are not the public internet. The ranges that embed an IPv4 address
/// (mapped, NAT64, 6to4) are judged by that address instead: see `embedded_v4`.
const V6_BLOCKED: &[Ipv6Net] = &[
    net6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96), // unspecified, loopback, IPv4-compatible
    net6(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
    net6(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64), // discard-only
    net6(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments, Teredo
    net6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    net6(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
    net6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique local
    net6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
    net6(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local (deprecated)
    net6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8), // multicast
];

/// Whether the server must not connect to `ip` on someone else's say-so.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => V4_BLOCKED.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_private(IpAddr::V4(v4)),
            None => V6_BLOCKED.iter().any(|net| net.contains(&v6)),
        },
    }
}

/// The IPv4 address an IPv6 one stands for, where traffic to it reaches that IPv4
/// address: IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:AABB:CCDD::/48`). `64:ff9b::127.0.0.1` is loopback behind a NAT64 gateway.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    const NAT64: Ipv6Net = net6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
    const SIX_TO_FOUR: Ipv6Net = net6(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);
    let bits = u128::from(v6);
    if let Some(mapped) = v6.to_ipv4_mapped() {
        Some(mapped)
    } else if NAT64.contains(&v6) {
        Some(Ipv4Addr::from(bits as u32))
    } else if SIX_TO_FOUR.contains(&v6) {
        Some(Ipv4Addr::from((bits >> 80) as u32))
    } else {
        None
    }
}

/// The check for one kind of outgoing request: private addresses refused, except for the
/// hosts an operator wrote down as such.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    /// Hosts (as in URLs: `127.0.0.1`, `[::1]`) that may be private.
    exempt: Vec<String>,
    /// Every host may be private (`webhook_delivery.allow_private`).
    allow_all: bool,
}

impl Guard {
    /// Refuses every private address, except those of `exempt` hosts.
    pub fn new(exempt: Vec<String>) -> Self {
        Guard {
            exempt: exempt.iter().map(|h| bare(h).to_string()).collect(),
            allow_all: false,
        }
    }

    /// Refuses nothing: for an operator who chose internal receivers.
    pub fn allow_all() -> Self {
        Guard {
            exempt: vec![],
            allow_all: true,
        }
    }

    fn allows(&self, host: &str, ip: IpAddr) -> bool {
        self.allow_all || !is_private(ip) || self.exempt.iter().any(|h| h == bare(host))
    }

    /// Refuses a URL whose host is a private address written as such (it reaches no
    /// resolver); names are checked as they resolve.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Blocked> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        let host = url.host_str().unwrap_or_default();
        if self.allows(host, ip) {
            Ok(())
        } else {
            Err(Blocked(host.to_string()))
        }
    }

    /// An HTTP client that resolves through this guard and connects directly, never
    /// through a proxy named by `HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY`.
    pub fn client(
        self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, reqwest::Error> {
        builder.dns_resolver(Arc::new(self)).no_proxy().build()
    }
}

/// A host as the resolver and the operator write it: without IPv6 brackets.
fn bare(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let allowed: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| guard.allows(&host, a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Blocked(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `error` (from a request made with a guarded client) is a refusal by the guard.
pub fn blocked(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<Blocked>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(ip: &str) -> bool {
        is_private(ip.parse().unwrap())
    }

    /// One address inside each blocked range, its first and last where they matter.
    #[test]
    fn every_internal_ipv4_range_is_refused() {
        for ip in [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.10",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(private(ip), "{ip}");
        }
    }

    #[test]
    fn the_public_ipv4_internet_is_allowed_up_to_each_ranges_edge() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.0.3.0",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(!private(ip), "{ip}");
        }
    }

    #[test]
    fn every_internal_ipv6_range_is_refused() {
        for ip in [
            "::",
            "::1",
            "::10.0.0.1",   // IPv4-compatible
            "::8.8.8.8",    // IPv4-compatible, deprecated whatever it embeds
            "64:ff9b:1::1", // local-use NAT64
            "100::1",       // discard-only
            "2001::1",      // Teredo
            "2001:2::1",    // benchmarking
            "2001:db8::1",  // documentation
            "3fff::1",      // documentation
            "fc00::1",      // unique local
            "fd12:3456::1", // unique local
            "fe80::1",      // link-local
            "febf::1",      // link-local
            "fec0::1",      // site-local
            "ff02::1",      // multicast
            "ff0e::1",      // multicast
        ] {
            assert!(private(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_are_judged_by_the_ipv4_address() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a00:1",     // 10.0.0.1
            "64:ff9b::c612:1",    // 198.18.0.1
            "2002:7f00:1::",      // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::1",  // 6to4 of 169.254.169.254
            "2002:c0a8:101:1::1", // 6to4 of 192.168.1.1
        ] {
            assert!(private(ip), "{ip}");
        }
        for ip in ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(!private(ip), "{ip}");
        }
    }

    #[test]
    fn the_public_ipv6_internet_is_allowed() {
        for ip in [
            "2606:2800:220:1::1",
            "2001:4860:4860::8888",
            "2001:200::1",
            "2a00:1450:4001::1",
            "64:ff9b:2::1",
        ] {
            assert!(!private(ip), "{ip}");
        }
    }

    #[test]
    fn addresses_in_urls_are_checked_and_exempt_hosts_pass() {
        let url = |u: &str| url::Url::parse(u).unwrap();
        let guard = Guard::new(vec!["127.0.0.1".into(), "[::1]".into()]);
        assert!(guard.check_url(&url("http://127.0.0.1:9000/a")).is_ok());
        assert!(guard.check_url(&url("http://[::1]:9000/a")).is_ok());
        assert_eq!(
            guard.check_url(&url("http://10.0.0.1/a")),
            Err(Blocked("10.0.0.1".into()))
        );
        // The URL parser's spellings of an address are the address.
        assert!(guard.check_url(&url("http://0x7f.1/a")).is_ok());
        assert!(Guard::default().check_url(&url("http://0x7f.1/a")).is_err());
        assert!(
            Guard::default()
                .check_url(&url("http://2130706433/"))
                .is_err()
        );
        assert!(
            Guard::default()
                .check_url(&url("http://[::ffff:7f00:1]/"))
                .is_err()
        );
        assert!(
            Guard::default()
                .check_url(&url("https://shop.example/"))
                .is_ok()
        );
        assert!(
            Guard::allow_all()
                .check_url(&url("http://10.0.0.1/a"))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_by_the_resolver() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let refused = Guard::default().resolve(name("localhost")).await;
        let error = refused.err().expect("localhost is refused");
        assert!(blocked(&*error));
        let exempt = Guard::new(vec!["localhost".into()]);
        assert!(exempt.resolve(name("localhost")).await.is_ok());
    }

    /// `HTTP_PROXY` and friends, like a proxy set on the builder, are ignored: were one
    /// used, it would resolve and connect where the guard cannot see.
    #[tokio::test]
    async fn a_guarded_client_connects_directly_never_through_a_proxy() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_url = format!("http://{}/", target.local_addr().unwrap());
        let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
        let builder = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(&proxy_url).unwrap())
            .timeout(std::time::Duration::from_secs(2));
        let client = Guard::allow_all().client(builder).unwrap();
        let request = tokio::spawn(async move { client.get(target_url).send().await });
        let reached = tokio::select! {
            _ = target.accept() => "target",
            _ = proxy.accept() => "proxy",
        };
        assert_eq!(reached, "target");
        request.abort();
    }
}
