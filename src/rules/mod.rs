//! DOM restriction rule sets, checked before they are stored (pure code, no I/O).
//!
//! A rule set reaches every customer page its URL pattern matches, and the
//! customer script hands each selector to the browser's own parser. A selector
//! the browser rejects is skipped there (one bad rule must not break capture),
//! which would silently leave a field unmasked: so the server refuses it when
//! an administrator saves it, saying which selector and why ([`selector`]).

mod selector;

use serde::Serialize;

use crate::domain::rule_set::Rules;

pub use selector::{MAX_SELECTOR_LEN, SelectorError, check_selector};

pub const MAX_SELECTORS_PER_LIST: usize = 200;
pub const MAX_PATTERN_LEN: usize = 2048;
pub const MAX_NAME_LEN: usize = 100;

/// Why a rule set was refused: the field (`name`, `url_pattern`, `mask[2]`…),
/// the value as given, and the reason in plain words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field} {value:?}: {message}")]
pub struct RuleError {
    pub field: String,
    pub value: String,
    pub message: String,
}

/// Trims every selector and drops duplicates, keeping the order.
pub fn normalize(rules: &Rules) -> Rules {
    fn clean(list: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        for s in list.iter().map(|s| s.trim()) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
        out
    }
    Rules {
        mask: clean(&rules.mask),
        disable: clean(&rules.disable),
        block: clean(&rules.block),
    }
}

/// Checks a whole rule set (after [`normalize`]); the first problem found is returned.
pub fn check_rule_set(name: &str, url_pattern: &str, rules: &Rules) -> Result<(), RuleError> {
    check_name(name).map_err(|message| RuleError {
        field: "name".into(),
        value: name.into(),
        message,
    })?;
    check_url_pattern(url_pattern).map_err(|message| RuleError {
        field: "url_pattern".into(),
        value: url_pattern.into(),
        message,
    })?;
    check_rules(rules)
}

/// Checks the three selector lists.
pub fn check_rules(rules: &Rules) -> Result<(), RuleError> {
    for (list, selectors) in [
        ("mask", &rules.mask),
        ("disable", &rules.disable),
        ("block", &rules.block),
    ] {
        if selectors.len() > MAX_SELECTORS_PER_LIST {
            return Err(RuleError {
                field: list.into(),
                value: format!("{} selectors", selectors.len()),
                message: format!("at most {MAX_SELECTORS_PER_LIST} selectors per list"),
            });
        }
        for (i, s) in selectors.iter().enumerate() {
            check_selector(s).map_err(|e| RuleError {
                field: format!("{list}[{i}]"),
                value: s.clone(),
                message: e.to_string(),
            })?;
        }
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a rule set needs a name".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!("a name has at most {MAX_NAME_LEN} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot contain control characters".into());
    }
    Ok(())
}

/// A pattern is matched against the whole page address, `*` standing for anything.
pub fn check_url_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err(
            "a URL pattern is required (use * for every page of every allowed site)".into(),
        );
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "a URL pattern has at most {MAX_PATTERN_LEN} characters"
        ));
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{c:?} is not allowed in a URL pattern: page addresses contain no spaces or control characters (write a space as %20)"
        ));
    }
    let rest = if let Some(r) = pattern
        .strip_prefix("https://")
        .or_else(|| pattern.strip_prefix("http://"))
    {
        r
    } else if pattern.starts_with('*') {
        return Ok(());
    } else {
        return Err("a pattern is matched against the whole page address: start it with https://, http:// or *, \
                    e.g. https://shop.example/checkout*"
            .into());
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty() {
        return Err("the pattern has no host after the scheme, e.g. https://shop.example/*".into());
    }
    if !host.contains('*')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
    {
        return Err(format!(
            "{host:?} is not a host name (letters, digits, - and . with an optional :port)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_patterns() {
        for p in [
            "*",
            "https://shop.example/*",
            "http://127.0.0.1:8080/demo/*",
            "*/checkout*",
            "https://*.shop.example/*",
            "https://shop.example/a?b=1",
        ] {
            assert!(check_url_pattern(p).is_ok(), "{p}");
        }
        assert!(check_url_pattern("").unwrap_err().contains("required"));
        assert!(
            check_url_pattern("shop.example/*")
                .unwrap_err()
                .contains("start it with")
        );
        assert!(
            check_url_pattern("https:///x")
                .unwrap_err()
                .contains("no host")
        );
        assert!(
            check_url_pattern("https://shop example/")
                .unwrap_err()
                .contains("not allowed")
        );
        assert!(
            check_url_pattern("https://sh@p/")
                .unwrap_err()
                .contains("not a host")
        );
        assert!(
            check_url_pattern(&format!("https://a/{}", "x".repeat(3000)))
                .unwrap_err()
                .contains("at most")
        );
    }

    #[test]
    fn rule_sets_name_the_list_and_index_of_a_bad_selector() {
        let rules = Rules {
            mask: vec!["#ok".into()],
            disable: vec![],
            block: vec!["#fine".into(), "div >".into()],
        };
        let e = check_rule_set("Checkout", "https://shop.example/*", &rules).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("block[1]", "div >"));
        assert!(e.message.contains("dangling"));
        assert_eq!(
            check_rule_set(" ", "*", &Rules::default())
                .unwrap_err()
                .field,
            "name"
        );
        assert_eq!(
            check_rule_set("x", "nope", &Rules::default())
                .unwrap_err()
                .field,
            "url_pattern"
        );
        let many = Rules {
            mask: vec!["a".into(); MAX_SELECTORS_PER_LIST + 1],
            ..Rules::default()
        };
        assert_eq!(check_rules(&many).unwrap_err().field, "mask");
    }

    #[test]
    fn normalize_trims_and_drops_duplicates() {
        let r = normalize(&Rules {
            mask: vec![" #a ".into(), "#a".into(), "#b".into()],
            ..Rules::default()
        });
        assert_eq!(r.mask, vec!["#a", "#b"]);
    }
}
