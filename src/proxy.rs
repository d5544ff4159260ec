//! The resource proxy's rules: which URLs the agent's view may load through
//! the server (allowed origins, and no private address: `netguard`), what it
//! may load (stylesheets, images, fonts), a small TTL cache, and the rewriting
//! of stylesheet URLs so they come back here too.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::auth::Origins;
use crate::netguard::Guard;

mod css_urls;

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

/// Which URLs may be fetched, and which hosts may resolve to private addresses.
#[derive(Clone, Debug)]
pub struct Policy {
    origins: Origins,
    /// Private addresses refused, except the hosts the operator named by IP
    /// address in the list: someone chose them; a name never may (DNS can lie).
    guard: Guard,
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
            guard: Guard::new(private_ok),
        }
    }

    pub fn check(&self, raw: &str) -> Result<url::Url, ProxyError> {
        let url = url::Url::parse(raw).map_err(|_| ProxyError::BadUrl)?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(ProxyError::BadUrl);
        }
        let origin = url.origin().ascii_serialization();
        if !self.origins.allows(&origin, None) {
            return Err(ProxyError::Origin(origin));
        }
        self.guard
            .check_url(&url)
            .map_err(|blocked| ProxyError::Private(blocked.0))?;
        Ok(url)
    }

    /// The check on the addresses its requests connect to.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }
}

/// The content type to serve a site's answer with, if it is one the agent's view needs:
/// a stylesheet, an image or a font. Anything else (HTML, scripts, JSON…) is refused.
/// Fonts are often served as `application/octet-stream`: such an answer is taken for
/// the font its URL's extension names, and served as that font type.
pub fn served_type(content_type: &str, url: &url::Url) -> Option<String> {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ok = t.starts_with("image/")
        || t.starts_with("font/")
        || t == "text/css"
        || t.starts_with("application/font-")
        || t.starts_with("application/x-font-")
        || t == "application/vnd.ms-fontobject";
    if ok {
        return Some(content_type.to_string());
    }
    if t != "application/octet-stream" && t != "binary/octet-stream" {
        return None;
    }
    let extension = url.path().rsplit_once('.')?.1.to_ascii_lowercase();
    let font = match extension.as_str() {
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "eot" => "application/vnd.ms-fontobject",
        _ => return None,
    };
    Some(font.to_string())
}

/// Rewrites every URL a stylesheet can make the browser fetch (`css_urls`) to an absolute
/// URL (against `base`) wrapped by `wrap`, so the agent's browser asks us for them; data:
/// URLs and fragments stay as they are, any other scheme becomes `about:invalid`.
pub fn rewrite_css(css: &str, base: &url::Url, wrap: impl Fn(&str) -> String) -> String {
    css_urls::rewrite_css_urls(css, |target, _| absolute(base, target, &wrap))
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
            p.check("http://127.0.0.1:9000/a.png").is_ok(),
            "listed by address"
        );
        let internal = Policy::new(&["http://10.0.0.1".into(), "https://intranet.example".into()]);
        assert!(
            internal.check("http://10.0.0.1/a.png").is_ok(),
            "listed by address"
        );
        let guard = internal.guard();
        let url = |u: &str| url::Url::parse(u).unwrap();
        assert!(guard.check_url(&url("http://10.0.0.1/")).is_ok());
        assert!(guard.check_url(&url("http://10.0.0.2/")).is_err());
    }

    #[test]
    fn stylesheet_urls_come_back_through_the_proxy() {
        let base = url::Url::parse("https://shop.example/css/site.css").unwrap();
        let css = r#"@import 'theme.css'; a{background:url(../img/a.png)} b{background:url( "data:image/png;base64,xx" )} @font-face{src:url('/f.woff2')} c{background:\75 rl(c.png)}"#;
        let out = rewrite_css(css, &base, |u| format!("/proxy?url={u}"));
        assert!(
            out.contains(r#"@import "/proxy?url=https://shop.example/css/theme.css""#),
            "{out}"
        );
        assert!(
            out.contains(r#"url("/proxy?url=https://shop.example/img/a.png")"#),
            "{out}"
        );
        assert!(
            out.contains(r#"url( "data:image/png;base64,xx" )"#),
            "a URL kept keeps its spelling: {out}"
        );
        assert!(
            out.contains(r#"url("/proxy?url=https://shop.example/css/c.png")"#),
            "an escaped url() is one too: {out}"
        );
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
    fn only_stylesheets_images_and_fonts_are_served() {
        let at = |u: &str| url::Url::parse(u).unwrap();
        let page = at("https://shop.example/a");
        for t in [
            "image/png",
            "text/css; charset=utf-8",
            "font/woff2",
            "image/svg+xml",
        ] {
            assert_eq!(served_type(t, &page).as_deref(), Some(t));
        }
        for t in [
            "text/html",
            "application/javascript",
            "text/javascript",
            "application/json",
            "text/plain",
            "application/xml",
            "multipart/x-mixed-replace",
            "",
        ] {
            assert_eq!(served_type(t, &page), None, "{t}");
        }
        let font = at("https://shop.example/f/Inter.WOFF2?v=3");
        assert_eq!(
            served_type("application/octet-stream", &font).as_deref(),
            Some("font/woff2"),
            "an untyped font is served as the font its name says"
        );
        assert_eq!(served_type("application/octet-stream", &page), None);
        assert_eq!(
            served_type("application/octet-stream", &at("https://shop.example/x.js")),
            None
        );
    }

    #[test]
    fn cache_bounds() {
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
