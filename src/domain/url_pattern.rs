//! The URL patterns rule sets apply to: a URL with `*` wildcards.

/// Whether a page URL falls under a rule set's pattern (`*` matches anything).
pub fn url_matches(pattern: &str, url: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields at least one part");
    let Some(mut remaining) = url.strip_prefix(first) else {
        return false;
    };
    if rest.is_empty() {
        return remaining.is_empty();
    }
    let (last, middle) = rest.split_last().expect("rest is not empty");
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_patterns_with_wildcards() {
        assert!(url_matches(
            "https://shop.example/*",
            "https://shop.example/checkout?x=1"
        ));
        assert!(url_matches(
            "*/checkout*",
            "https://shop.example/checkout.html"
        ));
        assert!(url_matches(
            "https://shop.example/a",
            "https://shop.example/a"
        ));
        assert!(!url_matches(
            "https://shop.example/a",
            "https://shop.example/ab"
        ));
        assert!(!url_matches(
            "https://shop.example/*",
            "https://evil.example/shop.example/"
        ));
        assert!(url_matches("*", "anything"));
        assert!(url_matches("*a*b*c", "xaybzc"));
        assert!(!url_matches("*a*b*c", "xcybza"));
    }
}
