//! The served JavaScript and the server speak the same protocol: the message types the customer
//! script sends with a sequence number and the agent input it replays are the server's lists
//! (src/protocol.rs), and every end reason the server can send has words on both sides.

use std::fs;
use std::path::Path;

use cobrowse::protocol::{AGENT_INPUT, CUSTOMER_CONTENT};
use cobrowse::session::EndReason;

fn source(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// What stands in `src` between `marker` and the next `end`.
fn between<'a>(src: &'a str, path: &str, marker: &str, end: &str) -> &'a str {
    let start = src
        .find(marker)
        .unwrap_or_else(|| panic!("{path}: no `{marker}`"))
        + marker.len();
    let len = src[start..]
        .find(end)
        .unwrap_or_else(|| panic!("{path}: `{marker}` has no `{end}`"));
    &src[start..start + len]
}

/// The quoted strings of the array literal that follows `marker` in `src`.
fn string_list(src: &str, path: &str, marker: &str) -> Vec<String> {
    between(src, path, marker, "]")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .unwrap_or_else(|| panic!("{path}: `{s}` in `{marker}` is not a quoted string"))
                .to_owned()
        })
        .collect()
}

/// The keys of the object literal that follows `marker` in `src`, up to its closing `};`.
fn object_keys(src: &str, path: &str, marker: &str) -> Vec<String> {
    between(src, path, marker, "\n};")
        .lines()
        .filter_map(|line| line.trim().split_once(':'))
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_customer_script_numbers_exactly_the_messages_the_server_relays() {
    let path = "web/customer/core.js";
    let relayed = string_list(&source(path), path, "const RELAYED = new Set([");
    let mut expected = vec!["page".to_owned()];
    expected.extend(CUSTOMER_CONTENT.iter().map(|t| t.to_string()));
    assert_eq!(
        relayed, expected,
        "{path} RELAYED: `page` and CUSTOMER_CONTENT"
    );
}

#[test]
fn the_customer_script_replays_exactly_the_agent_input_the_server_relays() {
    let path = "web/customer/main.js";
    let input = string_list(&source(path), path, "const INPUT = [");
    assert_eq!(input, AGENT_INPUT, "{path} INPUT: AGENT_INPUT");
}

#[test]
fn every_end_reason_has_words_for_the_customer_and_the_agent() {
    let customer = object_keys(
        &source("web/customer/ui.js"),
        "web/customer/ui.js",
        "const EN = {",
    );
    let translations: Vec<(String, Vec<String>)> = ["de", "es", "fr"]
        .iter()
        .map(|lang| {
            let path = format!("web/customer/i18n-{lang}.js");
            let keys = object_keys(&source(&path), &path, "export default {");
            (path, keys)
        })
        .collect();
    let console = object_keys(
        &source("web/agent/app.js"),
        "web/agent/app.js",
        "const ENDS = {",
    );
    let admin = object_keys(
        &source("web/admin/admin.js"),
        "web/admin/admin.js",
        "const REASONS = {",
    );
    for reason in EndReason::ALL.map(EndReason::as_str) {
        assert!(
            customer.iter().any(|k| k == reason),
            "web/customer/ui.js EN: no `{reason}`"
        );
        for (path, keys) in &translations {
            assert!(keys.iter().any(|k| k == reason), "{path}: no `{reason}`");
        }
        assert!(
            console.iter().any(|k| k == reason),
            "web/agent/app.js ENDS: no `{reason}`"
        );
        assert!(
            admin.iter().any(|k| k == reason),
            "web/admin/admin.js REASONS: no `{reason}`"
        );
    }
}
