//! The resource proxy's rules: which URLs the agent's view may load through
//! the server, the resolver that keeps it off private networks, a small
//! TTL cache, and the rewriting of stylesheet URLs so they come back here too.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::auth::Origins;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("only absolute http(s) URLs can be loaded")]
    BadUrl,
    #[error("{0} is not an allowed origin for page resources")]
    Origin(String),
    #[error("{0} resolves to a private or loopback address")]
    Private(String),
    #[error("resource larger than {0} bytes")]
    TooLarge(usize),
    #[error("content type {0:?} is not an image, font or stylesheet")]
    ContentType(String),
    #[error("the site answered {0}")]
    Upstream(String),
}

/// Loopback, private, link-local, unique-local, unspecified and the like: the
/// proxy must never become a way into the server's own network.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) // shared address space
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Which URLs may be fetched, and which hosts may resolve to private addresses.
#[derive(Clone, Debug)]
pub struct Policy {
    origins: Origins,
    /// Hosts the operator named by IP address in the list: only these may be
    /// private, because someone chose them; a name never may (DNS can lie).
    private_ok: Vec<String>,
}

impl Policy {
    pub fn new(list: &[String]) -> Self {
        let origins = Origins::new(list);
        let private_ok = origins
            .list()
            .iter()
            .filter_map(|o| url::Url::parse(o).ok())
            .filter_map(|u| match u.host()? {
                url::Host::Ipv4(_) | url::Host::Ipv6(_) => u.host_str().map(str::to_string),
                url::Host::Domain(_) => None,
            })
            .collect();
        Policy {
            origins,
            private_ok,
        }
    }

    pub fn check(&self, raw: &str) -> Result<url::Url, ProxyError> {
        let url = url::Url::parse(raw).map_err(|_| ProxyError::BadUrl)?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
        {
            return Err(ProxyError::BadUrl);
        }
        let origin = url.origin().ascii_serialization();
        if !self.origins.allows(&origin, None) {
            return Err(ProxyError::Origin(origin));
        }
        Ok(url)
    }

    pub fn may_be_private(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.private_ok
            .iter()
            .any(|h| h.trim_start_matches('[').trim_end_matches(']') == host)
    }
}

/// Resolves names for the proxy's HTTP client and drops private addresses,
/// so a DNS answer cannot point an allowed name at the internal network.
pub struct Resolver(pub Arc<Policy>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| !is_private(a.ip()) || policy.may_be_private(&host))
                .collect();
            if allowed.is_empty() {
                return Err(
                    Box::new(ProxyError::Private(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The content types the agent's view needs from a site.
pub fn allowed_type(content_type: &str) -> bool {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    t.starts_with("image/")
        || t.starts_with("font/")
        || t == "text/css"
        || t.starts_with("application/font-")
        || t.starts_with("application/x-font-")
        || t == "application/vnd.ms-fontobject"
        || t == "application/octet-stream"
}

/// Rewrites `url(…)` and `@import "…"` in a stylesheet to absolute URLs
/// (against `base`) wrapped by `wrap`, so the agent's browser asks us for them.
pub fn rewrite_css(css: &str, base: &url::Url, wrap: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(css.len() + 64);
    let mut rest = css;
    loop {
        let next_url = rest.find("url(");
        let next_import = rest.find("@import");
        let (at, is_import) = match (next_url, next_import) {
            (None, None) => break,
            (Some(u), Some(i)) if i < u => (i, true),
            (Some(u), _) => (u, false),
            (None, Some(i)) => (i, true),
        };
        if is_import {
            out.push_str(&rest[..at + 7]);
            rest = &rest[at + 7..];
            let trimmed = rest.trim_start();
            let quote = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'');
            if let Some(q) = quote
                && let Some(end) = trimmed[1..].find(q)
            {
                out.push_str(&rest[..rest.len() - trimmed.len()]);
                let target = &trimmed[1..1 + end];
                out.push_str(&format!("\"{}\"", absolute(base, target, &wrap)));
                rest = &trimmed[end + 2..];
            }
            continue;
        }
        out.push_str(&rest[..at + 4]);
        rest = &rest[at + 4..];
        let Some(close) = rest.find(')') else { break };
        let inner = rest[..close].trim();
        let target = inner.trim_matches(|c| c == '"' || c == '\'');
        out.push_str(&format!("\"{}\"", absolute(base, target, &wrap)));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn absolute(base: &url::Url, target: &str, wrap: &impl Fn(&str) -> String) -> String {
    if target.starts_with("data:") || target.starts_with('#') {
        return target.to_string();
    }
    match base.join(target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => wrap(u.as_str()),
        _ => String::from("about:invalid"),
    }
}

/// How long the site lets a resource be reused, from its `Cache-Control`: `s-maxage`, else
/// `max-age`; zero for `no-store` and `no-cache` (the proxy cannot revalidate, so what the
/// site wants checked every time is fetched every time); `None` when it says neither.
pub fn site_ttl(cache_control: Option<&str>) -> Option<Duration> {
    let (mut max_age, mut s_maxage) = (None, None);
    for directive in cache_control?.split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim().trim_matches('"').parse::<u64>().ok()),
            None => (directive.trim(), None),
        };
        match name.to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return Some(Duration::ZERO),
            "max-age" => max_age = value,
            "s-maxage" => s_maxage = value,
            _ => {}
        }
    }
    s_maxage.or(max_age).map(Duration::from_secs)
}

/// A fetched resource as the proxy keeps it.
#[derive(Clone)]
pub struct Cached {
    pub content_type: String,
    pub body: Bytes,
    expires: Instant,
}

impl Cached {
    /// How much longer it may be reused.
    pub fn fresh_for(&self) -> Duration {
        self.expires.saturating_duration_since(Instant::now())
    }
}

/// Recently fetched resources, bounded in bytes, each kept for the time its site allows,
/// at most `ttl` (also the time for a site that says nothing).
pub struct Cache {
    ttl: Duration,
    max_bytes: usize,
    inner: Mutex<(HashMap<String, Cached>, VecDeque<String>, usize)>,
}

impl Cache {
    pub fn new(ttl: Duration, max_bytes: usize) -> Self {
        Cache {
            ttl,
            max_bytes,
            inner: Mutex::new((HashMap::new(), VecDeque::new(), 0)),
        }
    }

    /// The time an entry is kept, given what its site allows (`site_ttl`).
    pub fn ttl(&self, site: Option<Duration>) -> Duration {
        site.map_or(self.ttl, |t| t.min(self.ttl))
    }

    pub fn get(&self, url: &str) -> Option<Cached> {
        let inner = self.inner.lock().expect("cache lock");
        inner
            .0
            .get(url)
            .filter(|c| c.expires > Instant::now())
            .cloned()
    }

    /// Keeps `body` for `ttl` (from `Cache::ttl`); nothing for a zero one.
    pub fn put(&self, url: &str, content_type: String, body: Bytes, ttl: Duration) {
        if body.len() > self.max_bytes / 4 || ttl.is_zero() {
            return;
        }
        let mut guard = self.inner.lock().expect("cache lock");
        let (map, order, size) = &mut *guard;
        if let Some(old) = map.insert(
            url.to_string(),
            Cached {
                content_type,
                body: body.clone(),
                expires: Instant::now() + ttl,
            },
        ) {
            *size -= old.body.len();
        } else {
            order.push_back(url.to_string());
        }
        *size += body.len();
        while *size > self.max_bytes {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            if let Some(gone) = map.remove(&oldest) {
                *size -= gone.body.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_allowed_origins_and_http_urls() {
        let p = Policy::new(&[
            "https://shop.example".into(),
            "http://127.0.0.1:9000".into(),
        ]);
        assert!(p.check("https://shop.example/img/a.png").is_ok());
        assert_eq!(
            p.check("https://evil.example/a.png"),
            Err(ProxyError::Origin("https://evil.example".into()))
        );
        assert_eq!(p.check("javascript:alert(1)"), Err(ProxyError::BadUrl));
        assert_eq!(
            p.check("https://user:pw@shop.example/a.png"),
            Err(ProxyError::BadUrl)
        );
        assert!(p.check("/relative.png").is_err());
        assert!(
            p.may_be_private("127.0.0.1")
                && !p.may_be_private("shop.example")
                && !p.may_be_private("10.0.0.1")
        );
    }

    #[test]
    fn stylesheet_urls_come_back_through_the_proxy() {
        let base = url::Url::parse("https://shop.example/css/site.css").unwrap();
        let css = r#"@import 'theme.css'; a{background:url(../img/a.png)} b{background:url( "data:image/png;base64,xx" )} @font-face{src:url('/f.woff2')}"#;
        let out = rewrite_css(css, &base, |u| format!("/proxy?url={u}"));
        assert!(
            out.contains(r#"@import "/proxy?url=https://shop.example/css/theme.css""#),
            "{out}"
        );
        assert!(
            out.contains(r#"url("/proxy?url=https://shop.example/img/a.png")"#),
            "{out}"
        );
        assert!(out.contains(r#"url("data:image/png;base64,xx")"#), "{out}");
        assert!(
            out.contains(r#"url("/proxy?url=https://shop.example/f.woff2")"#),
            "{out}"
        );
        assert!(
            rewrite_css("a{b:url(javascript:alert(1))}", &base, |u| u.to_string())
                .contains("about:invalid")
        );
    }

    #[test]
    fn content_types_and_cache_bounds() {
        assert!(
            allowed_type("image/png")
                && allowed_type("text/css; charset=utf-8")
                && allowed_type("font/woff2")
        );
        assert!(!allowed_type("text/html") && !allowed_type("application/javascript"));
        let cache = Cache::new(Duration::from_secs(60), 100);
        let ttl = cache.ttl(None);
        cache.put("a", "image/png".into(), Bytes::from(vec![0; 20]), ttl);
        cache.put("b", "image/png".into(), Bytes::from(vec![0; 20]), ttl);
        assert!(cache.get("a").is_some());
        for i in 0..10 {
            cache.put(
                &format!("c{i}"),
                "image/png".into(),
                Bytes::from(vec![0; 20]),
                ttl,
            );
        }
        assert!(cache.get("a").is_none(), "oldest entries go first");
        cache.put("huge", "image/png".into(), Bytes::from(vec![0; 60]), ttl);
        assert!(
            cache.get("huge").is_none(),
            "entries over a quarter of the cache are not kept"
        );
        cache.put(
            "gone",
            "image/png".into(),
            Bytes::from(vec![0; 1]),
            Duration::ZERO,
        );
        assert!(cache.get("gone").is_none(), "a zero TTL keeps nothing");
    }

    #[test]
    fn the_sites_cache_control_bounds_the_ttl() {
        let cap = Cache::new(Duration::from_secs(300), 100);
        let ttl = |cc: Option<&str>| cap.ttl(site_ttl(cc)).as_secs();
        assert_eq!(ttl(None), 300, "a site that says nothing: the default");
        assert_eq!(ttl(Some("public")), 300);
        assert_eq!(ttl(Some("public, max-age=60")), 60);
        assert_eq!(
            ttl(Some("max-age=60, s-maxage=5")),
            5,
            "s-maxage is for shared caches"
        );
        assert_eq!(ttl(Some("Max-Age=\"30\"")), 30);
        assert_eq!(
            ttl(Some("max-age=31536000, immutable")),
            300,
            "never longer than ours"
        );
        assert_eq!(
            ttl(Some("max-age=600, no-cache")),
            0,
            "revalidation wanted: not kept"
        );
        assert_eq!(ttl(Some("no-store")), 0);
        assert_eq!(ttl(Some("max-age=soon")), 300, "a bad value says nothing");
    }
}
