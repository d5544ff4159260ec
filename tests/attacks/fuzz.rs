//! Whatever bytes arrive, the parsers that read them never panic, and nothing one party
//! sends ends the other party's session (only `exit`, and the customer's own
//! `interaction_end`, end a session by design).

use std::time::Duration;

use cobrowse::protocol::{self, Kind};
use cobrowse::session::{Role, State};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::start;

/// Control messages of both parties, near misses, and the ones that end a session; the
/// content, relay and input types come from the protocol's own tables.
const CONTROL: &[&str] = &[
    "create",
    "resume",
    "page",
    "tab",
    "interaction_end",
    "control_grant",
    "control_deny",
    "control_revoke",
    "request_control",
    "ping",
    "Exit",
    "exit ",
    "",
    "__proto__",
    "constructor",
];

fn types() -> Vec<&'static str> {
    let tables = [
        protocol::CUSTOMER_CONTENT,
        protocol::AGENT_RELAY,
        protocol::AGENT_INPUT,
    ];
    CONTROL
        .iter()
        .chain(tables.into_iter().flatten())
        .copied()
        .collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A well-formed envelope (`v` 1, a known or near-miss type) around a hostile payload.
fn envelope() -> impl Strategy<Value = String> {
    (
        prop::sample::select(types()),
        prop_oneof![any::<u32>().prop_map(Value::from), json_value()],
        prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..5),
    )
        .prop_map(|(t, s, extra)| {
            let mut m: serde_json::Map<String, Value> = extra.into_iter().collect();
            m.insert("v".into(), json!(1));
            m.insert("t".into(), json!(t));
            m.insert("s".into(), s);
            Value::Object(m).to_string()
        })
}

/// A text frame: an envelope, one with another version, or any text at all.
fn frame() -> impl Strategy<Value = String> {
    let versioned = (json_value(), envelope()).prop_map(|(v, text)| {
        let mut m: Value = serde_json::from_str(&text).unwrap();
        m["v"] = v;
        m.to_string()
    });
    prop_oneof![3 => envelope(), 1 => versioned, 1 => "\\PC{0,300}", 1 => any::<String>()]
}

proptest! {
    #[test]
    fn the_envelope_parser_never_panics_and_agrees_with_the_type_table(text in frame()) {
        for role in [Role::Customer, Role::Agent] {
            if let Ok((kind, env)) = protocol::parse_text(role, &text) {
                prop_assert_eq!(Some(kind), protocol::classify(role, &env.t));
            }
        }
    }

    #[test]
    fn the_binary_header_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let got = protocol::parse_binary(Role::Customer, &bytes);
        if let Ok(seq) = got {
            prop_assert!(bytes.len() >= 6 && bytes[0] == 1);
            prop_assert_eq!(seq, u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]));
        }
        prop_assert!(protocol::parse_binary(Role::Agent, &bytes).is_err(), "agents send no binary");
    }

    #[test]
    fn the_selector_validator_never_panics(s in "\\PC{0,80}") {
        let _ = cobrowse::rules::check_selector(&s);
    }

    #[test]
    fn accepted_selectors_stay_accepted_in_a_list(s in "[a-z#.\\[\\]=\"' >+~:()*-]{1,40}") {
        if cobrowse::rules::check_selector(&s).is_ok() {
            let list = format!("{s}, {s}");
            prop_assert!(cobrowse::rules::check_selector(&list).is_ok());
        }
    }

    #[test]
    fn the_url_pattern_matcher_never_panics_and_means_what_it_says(
        pattern in "\\PC{0,40}",
        url in "\\PC{0,60}",
        prefix in "[a-z:/.]{0,20}",
    ) {
        let _ = cobrowse::rules::check_url_pattern(&pattern);
        let _ = cobrowse::domain::url_pattern::url_matches(&pattern, &url);
        prop_assert!(cobrowse::domain::url_pattern::url_matches("*", &url));
        let (starts, longer) = (format!("{prefix}*"), format!("{prefix}{url}"));
        prop_assert!(cobrowse::domain::url_pattern::url_matches(&starts, &longer));
        if !url.contains('*') {
            let more = format!("{url}x");
            prop_assert!(cobrowse::domain::url_pattern::url_matches(&url, &url));
            prop_assert!(!cobrowse::domain::url_pattern::url_matches(&url, &more));
        }
    }
}

/// Frames that end a session by design, whoever sends them.
fn ends_by_design(text: &str) -> bool {
    let t = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|m| m["t"].as_str().map(String::from));
    matches!(t.as_deref(), Some("exit" | "interaction_end"))
}

/// Runs `cases` sessions; in each, one party (`role`) sends hostile frames, then the other
/// party must still be connected to a live, active session.
async fn hostile_party_keeps_the_session(role: Role, cases: u32) {
    let srv = start(|c| c.limits.max_messages_per_second = 10_000).await;
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    // Frames the server takes for what they say they are, so that each reaches the
    // session's rules (any other text closes the sender's connection at once, and
    // the parser's own properties are above).
    let strategy = prop::collection::vec(envelope(), 1..60);
    for case in 0..cases {
        let frames = strategy.new_tree(&mut runner).unwrap().current();
        let (customer, agent, id, _) = srv.active(&format!("agent-{case}")).await;
        let (mut hostile, mut other) = match role {
            Role::Customer => (customer, agent),
            Role::Agent => (agent, customer),
        };
        let taken = |t: &&String| protocol::parse_text(role, t).is_ok_and(|(k, _)| k != Kind::Exit);
        for text in frames.iter().filter(taken).filter(|t| !ends_by_design(t)) {
            hostile.send_raw(Message::text(text.clone())).await;
        }
        hostile.send(json!({"t": "ping"})).await;
        // Whatever became of the hostile connection, the other party's session holds.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let session = srv
            .app()
            .live
            .sessions
            .get(id.parse().unwrap())
            .await
            .unwrap();
        let state = session.map(|s| s.state);
        assert_eq!(state, Some(State::Active), "case {case}: {frames:?}");
        other.send(json!({"t": "ping"})).await;
        other.expect("pong").await;
        other.send(json!({"t": "exit"})).await;
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_hostile_customer_never_ends_the_agents_session() {
    hostile_party_keeps_the_session(Role::Customer, 24).await;
}

#[tokio::test]
async fn a_hostile_agent_never_ends_the_customers_session() {
    hostile_party_keeps_the_session(Role::Agent, 24).await;
}
