//! Who a request really comes from when a reverse proxy stands in front.
//!
//! Per-IP limits (sessions started, join attempts, sign-ins) key on the
//! client's address. Behind nginx every socket peer is nginx, so the address
//! has to come from `X-Forwarded-For`, but only when the peer is a proxy we
//! trust: anyone else could write any address there and dodge the limits.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A setting that is neither an address nor a CIDR range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} is not an IP address or CIDR range (e.g. \"192.0.2.1\", \"10.0.0.0/8\", \"::1\"){1}"
)]
pub struct BadRange(String, &'static str);

/// One address or a CIDR range of them, as operators write it:
/// `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IpRange(IpNet);

impl IpRange {
    /// Whether `ip` falls in the range. An IPv4 client seen on an IPv6
    /// socket (`::ffff:10.0.0.1`) counts as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl FromStr for IpRange {
    type Err = BadRange;

    /// Refuses host bits under the mask (`10.0.0.1/8`): it is more likely a
    /// typo for one address than a wish to trust a whole network.
    fn from_str(s: &str) -> Result<Self, BadRange> {
        let bad = |why| BadRange(s.to_string(), why);
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad(""))?;
        let net = match prefix {
            None => IpNet::from(addr),
            Some(p) => p
                .parse::<u8>()
                .ok()
                .and_then(|p| IpNet::new(addr, p).ok())
                .ok_or_else(|| bad(": the prefix length is out of range"))?,
        };
        if net.network() != addr {
            return Err(bad(": it has bits set below the mask"));
        }
        Ok(IpRange(net))
    }
}

/// As written back (`config check`): one address plain, a range with its prefix.
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl TryFrom<String> for IpRange {
    type Error = BadRange;
    fn try_from(s: String) -> Result<Self, BadRange> {
        s.parse()
    }
}

impl From<IpRange> for String {
    fn from(r: IpRange) -> String {
        r.to_string()
    }
}

fn trusted(ip: IpAddr, proxies: &[IpRange]) -> bool {
    proxies.iter().any(|r| r.contains(ip))
}

/// One `X-Forwarded-For` entry: an address, or an address with a port as
/// some proxies write it (`203.0.113.7:51234`, `[2001:db8::1]:443`).
fn entry(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client's address: the socket peer, unless the peer is a trusted
/// proxy; then the right-most `X-Forwarded-For` address that is not itself a
/// trusted proxy (each proxy appends the address it was reached from, so
/// entries left of the last untrusted one were written by the client and
/// may be anything). `forwarded_for` holds the header's values in the order
/// they came. An entry that is not an address stops the walk: whatever stands
/// from there on cannot be vouched for, so the peer is used.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    proxies: &[IpRange],
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    let mut furthest = peer;
    let entries = forwarded_for.rev().flat_map(|v| v.rsplit(','));
    for raw in entries {
        let Some(ip) = entry(raw) else {
            return peer;
        };
        if !trusted(ip, proxies) {
            return ip;
        }
        furthest = ip;
    }
    // Every hop was one of ours (a health check from inside, say).
    furthest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PROXIES: &[&str] = &["127.0.0.1", "10.0.0.0/8", "::1"];

    fn client(peer: &str, headers: &[&str]) -> IpAddr {
        client_ip(ip(peer), headers.iter().copied(), &ranges(PROXIES))
    }

    #[test]
    fn ranges_parse_as_operators_write_them() {
        let r: IpRange = "10.0.0.0/8".parse().unwrap();
        assert!(r.contains(ip("10.255.1.2")) && !r.contains(ip("11.0.0.1")));
        assert!(
            r.contains(ip("::ffff:10.1.2.3")),
            "IPv4 seen on an IPv6 socket"
        );
        let one: IpRange = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
        assert_eq!(one.to_string(), "192.0.2.7");
        assert_eq!(r.to_string(), "10.0.0.0/8");
    }

    #[test]
    fn bad_ranges_say_why() {
        for (s, why) in [
            ("10.0.0/8", ""),
            ("proxy.internal", ""),
            ("10.0.0.0/33", "prefix length"),
            ("::/129", "prefix length"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.1/8", "below the mask"),
        ] {
            let err = s.parse::<IpRange>().unwrap_err().to_string();
            assert!(err.contains(s) && err.contains(why), "{s}: {err}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client("203.0.113.5", &["198.51.100.1"]), ip("203.0.113.5"));
        assert_eq!(client("203.0.113.5", &[]), ip("203.0.113.5"));
    }

    #[test]
    fn a_trusted_peer_names_the_client() {
        assert_eq!(client("127.0.0.1", &["203.0.113.5"]), ip("203.0.113.5"));
        assert_eq!(client("::1", &["2001:db8::7"]), ip("2001:db8::7"));
        assert_eq!(
            client("::ffff:127.0.0.1", &["203.0.113.5"]),
            ip("203.0.113.5")
        );
        assert_eq!(client("127.0.0.1", &[]), ip("127.0.0.1"), "no header");
    }

    #[test]
    fn what_the_client_wrote_itself_is_passed_over() {
        // The client sent "198.51.100.1"; the proxy appended the real address.
        assert_eq!(
            client("127.0.0.1", &["198.51.100.1, 203.0.113.5"]),
            ip("203.0.113.5")
        );
        // Through two of our proxies, and over two header lines.
        assert_eq!(
            client("10.0.0.2", &["198.51.100.1, 203.0.113.5", "10.0.0.1"]),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn ports_are_tolerated_and_garbage_falls_back_to_the_peer() {
        assert_eq!(
            client("127.0.0.1", &["203.0.113.5:51234"]),
            ip("203.0.113.5")
        );
        assert_eq!(
            client("127.0.0.1", &["[2001:db8::7]:443"]),
            ip("2001:db8::7")
        );
        assert_eq!(client("127.0.0.1", &["unknown"]), ip("127.0.0.1"));
        assert_eq!(client("127.0.0.1", &["203.0.113.5, "]), ip("127.0.0.1"));
        // Garbage left of the client's address is never reached.
        assert_eq!(
            client("127.0.0.1", &["junk, 203.0.113.5"]),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn when_every_hop_is_ours_the_furthest_one_is_the_client() {
        assert_eq!(client("127.0.0.1", &["10.1.1.1, 10.0.0.9"]), ip("10.1.1.1"));
    }

    #[test]
    fn no_trusted_proxies_means_the_peer_as_before() {
        let peer = ip("127.0.0.1");
        assert_eq!(client_ip(peer, ["203.0.113.5"].into_iter(), &[]), peer);
    }
}
