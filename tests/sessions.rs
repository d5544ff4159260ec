//! The session rules over real WebSockets against a real server.

mod common;

use std::time::Duration;

use common::{Got, start};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn customer_creates_an_idle_session_with_a_nine_digit_id_and_a_token() {
    let srv = start(|_| {}).await;
    let mut c = srv.connect_customer(None).await.unwrap();
    c.send(json!({"t": "create", "url": "https://shop.example/", "title": "Shop", "tab": "a"}))
        .await;
    let s = c.expect("session").await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(id.len(), 9);
    assert_eq!(
        s["spaced"],
        format!("{} {} {}", &id[..3], &id[3..6], &id[6..])
    );
    assert_eq!(
        (s["state"].as_str(), s["mode"].as_str()),
        (Some("idle"), Some("pointer"))
    );
    assert_eq!(s["token"].as_str().unwrap().len(), 64);
    assert!(s["rules"].is_object());
}

#[tokio::test]
async fn agent_joins_and_the_customer_is_told_to_start_capture() {
    let srv = start(|_| {}).await;
    let (mut c, id, _) = srv.customer().await;
    let mut a = srv.agent(&id, "alice").await;
    let s = a.expect("session").await;
    assert_eq!(
        (s["state"].as_str(), s["agent"].as_str()),
        (Some("active"), Some("alice"))
    );
    assert!(
        s.get("token").is_none(),
        "the agent never sees the customer's token"
    );
    let joined = c.expect("joined").await;
    assert_eq!(
        (joined["agent"].as_str(), joined["reconnect"].as_bool()),
        (Some("alice"), Some(false))
    );
}

#[tokio::test]
async fn content_is_relayed_byte_for_byte_once_active() {
    let srv = start(|_| {}).await;
    let (mut c, mut a, _, _) = srv.active("alice").await;
    let raw =
        r#"{"v":1,"t":"mutation","s":1,"adds":[{"id":5,"tag":"p","text":"hé"}],"extra":[1,2,3]}"#;
    c.send_raw(Message::text(raw)).await;
    match a.next().await {
        Got::Msg(m) => assert_eq!(m, serde_json::from_str::<serde_json::Value>(raw).unwrap()),
        other => panic!("{other:?}"),
    }
    c.send_raw(Message::binary(vec![1u8, 1, 0, 0, 0, 2, 9, 9, 9]))
        .await;
    let bin = a.expect("binary").await;
    assert_eq!(bin["len"], 9);
    a.send(json!({"t": "pointer", "x": 10, "y": 20})).await;
    assert_eq!(c.expect("pointer").await["x"], 10);
}

#[tokio::test]
async fn nothing_of_the_page_flows_while_idle() {
    let srv = start(|_| {}).await;
    let (mut c, _, _) = srv.customer().await;
    c.send(json!({"t": "snapshot", "html": "<p>secret</p>"}))
        .await;
    let err = c.expect("error").await;
    assert_eq!(err["code"], "not_allowed");
}

#[tokio::test]
async fn each_side_exits_and_the_other_is_told_the_reason() {
    let srv = start(|_| {}).await;
    for (who, reason) in [("customer", "customer_exit"), ("agent", "agent_exit")] {
        let (mut c, mut a, id, _) = srv.active(&format!("agent-{who}")).await;
        let (leaver, other) = if who == "customer" {
            (&mut c, &mut a)
        } else {
            (&mut a, &mut c)
        };
        leaver.send(json!({"t": "exit"})).await;
        let (code, last) = other.closed().await;
        assert_eq!(code, 4000);
        let ended = last.unwrap();
        assert_eq!(ended["reason"], reason);
        assert!(!ended["message"].as_str().unwrap().is_empty());
        // The ID now means nothing: no re-join, by anyone.
        let mut again = srv.agent(&id, "someone-else").await;
        let (code, err) = again.closed().await;
        assert_eq!(
            (code, err.unwrap()["code"].as_str().map(String::from)),
            (4004, Some("no_such_session".into()))
        );
    }
}

#[tokio::test]
async fn second_agent_is_refused_with_the_reason() {
    let srv = start(|_| {}).await;
    let (_c, _a, id, _) = srv.active("alice").await;
    let mut bob = srv.agent(&id, "bob").await;
    let (code, err) = bob.closed().await;
    assert_eq!(code, 4009);
    assert_eq!(err.unwrap()["code"], "session_has_agent");
}

#[tokio::test]
async fn an_agent_in_a_session_cannot_join_another() {
    let srv = start(|_| {}).await;
    let (_c, _a, _, _) = srv.active("alice").await;
    let (_c2, id2, _) = srv.customer().await;
    let mut again = srv.agent(&id2, "alice").await;
    let (code, err) = again.closed().await;
    assert_eq!(code, 4009);
    assert_eq!(err.unwrap()["code"], "agent_in_other_session");
}

#[tokio::test]
async fn unknown_and_malformed_ids_say_no_such_session() {
    let srv = start(|_| {}).await;
    for id in ["123456789", "12345", "abc"] {
        let mut a = srv.agent(id, "alice").await;
        let (code, err) = a.closed().await;
        assert_eq!(
            (code, err.unwrap()["code"].as_str().map(String::from)),
            (4004, Some("no_such_session".into()))
        );
    }
}

#[tokio::test]
async fn unauthenticated_and_forged_agents_are_refused() {
    let srv = start(|_| {}).await;
    let (_c, id, _) = srv.customer().await;
    let mut none = srv.connect_agent(&id, None, None).await;
    assert_eq!(none.closed().await.0, 4001);
    let forged = cobrowse::auth::Tokens::new(b"not the server's secret, not at all").agent_token(
        "mallory",
        cobrowse::clock::now_ms(),
        60_000,
    );
    let mut bad = srv.connect_agent(&id, Some(&forged), None).await;
    let (code, err) = bad.closed().await;
    assert_eq!(
        (code, err.unwrap()["code"].as_str().map(String::from)),
        (4001, Some("unauthorized".into()))
    );
    // The session is still waiting for a real agent.
    let mut alice = srv.agent(&id, "alice").await;
    alice.expect("session").await;
}

#[tokio::test]
async fn disabled_accounts_cannot_join() {
    let srv = start(|_| {}).await;
    let store = &srv.app().store;
    store
        .add_account(
            "carol",
            "x",
            cobrowse::domain::account::AccountRole::Agent,
            0,
        )
        .await
        .unwrap();
    store.set_disabled("carol", true).await.unwrap();
    let (_c, id, _) = srv.customer().await;
    let mut carol = srv.agent(&id, "carol").await;
    let (code, err) = carol.closed().await;
    assert_eq!(code, 4001);
    assert!(
        err.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
}

#[tokio::test]
async fn customer_from_a_site_not_allowed_is_refused_before_upgrade() {
    let srv = start(|c| c.allowed_origins = vec!["https://shop.example".into()]).await;
    let err = srv
        .connect_customer(Some("https://evil.example"))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("403"), "{err}");
    srv.connect_customer(Some("https://shop.example"))
        .await
        .expect("listed site");
    srv.connect_customer(None)
        .await
        .expect("the server's own origin");
}

#[tokio::test]
async fn agent_socket_from_a_foreign_page_is_refused() {
    let srv = start(|_| {}).await;
    let (_c, id, _) = srv.customer().await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/ws/agent?v=1&session={id}", srv.host),
    )
    .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    req.headers_mut()
        .insert("cookie", "cobrowse_agent=whatever".parse().unwrap());
    let err = common::Client::connect(req)
        .await
        .err()
        .expect("cross-site hijack refused");
    assert!(err.to_string().contains("403"));
}

#[tokio::test]
async fn join_attempts_are_rate_limited_per_agent() {
    let srv = start(|c| c.limits.join_attempts_per_minute_per_agent = 3).await;
    for _ in 0..3 {
        let mut a = srv.agent("111111111", "guesser").await;
        assert_eq!(a.closed().await.0, 4004);
    }
    let mut a = srv.agent("111111111", "guesser").await;
    let (code, err) = a.closed().await;
    assert_eq!(
        (code, err.unwrap()["code"].as_str().map(String::from)),
        (4029, Some("rate_limited".into()))
    );
}

#[tokio::test]
async fn join_attempts_are_rate_limited_per_ip() {
    let srv = start(|c| c.limits.join_attempts_per_minute_per_ip = 2).await;
    for i in 0..2 {
        let mut a = srv.agent("111111111", &format!("g{i}")).await;
        assert_eq!(a.closed().await.0, 4004);
    }
    let mut a = srv.agent("111111111", "g3").await;
    assert_eq!(a.closed().await.0, 4029);
}

#[tokio::test]
async fn agent_input_is_dropped_in_pointer_mode_and_counted() {
    let srv = start(|_| {}).await;
    let (mut c, mut a, _, _) = srv.active("alice").await;
    for t in [
        "click", "dblclick", "key", "type", "select", "check", "scroll", "navigate",
    ] {
        a.send(json!({"t": t, "target": 7})).await;
        let err = a.expect("error").await;
        assert_eq!(err["code"], "not_allowed", "{t}");
    }
    // Pointer and pointer-mode marks do flow.
    a.send(json!({"t": "mark", "x": 1, "y": 2})).await;
    assert_eq!(c.expect("mark").await["x"], 1);
    let metrics = srv
        .http()
        .get(format!("{}/metrics", srv.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped: f64 = metrics
        .lines()
        .find(|l| l.starts_with("cobrowse_agent_input_dropped_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(dropped >= 8.0, "{dropped}");
}

#[tokio::test]
async fn write_mode_needs_the_customers_consent_and_can_be_revoked() {
    let srv = start(|_| {}).await;
    let (mut c, mut a, _, _) = srv.active("alice").await;
    a.send(json!({"t": "request_control"})).await;
    let req = c.expect("control").await;
    assert_eq!(
        (req["state"].as_str(), req["expires_in_ms"].as_u64()),
        (Some("requested"), Some(30_000))
    );
    assert_eq!(a.expect("control").await["state"], "requested");
    c.send(json!({"t": "control_grant"})).await;
    assert_eq!(a.expect("mode").await["mode"], "write");
    assert_eq!(c.expect("mode").await["mode"], "write");
    a.send(json!({"t": "click", "target": 3})).await;
    assert_eq!(c.expect("click").await["target"], 3);
    c.send(json!({"t": "control_revoke"})).await;
    let m = a.expect("mode").await;
    assert_eq!(
        (m["mode"].as_str(), m["cause"].as_str()),
        (Some("pointer"), Some("revoked"))
    );
    a.send(json!({"t": "type", "text": "x"})).await;
    assert_eq!(a.expect("error").await["code"], "not_allowed");
    // A customer cannot grant what was not asked.
    c.send(json!({"t": "control_grant"})).await;
    assert_eq!(c.expect("error").await["code"], "no_control_pending");
}

#[tokio::test]
async fn unanswered_control_request_is_denied_after_the_timeout() {
    let srv = start(|c| c.timeouts.control_answer = Duration::from_millis(300)).await;
    let (mut c, mut a, _, _) = srv.active("alice").await;
    a.send(json!({"t": "request_control"})).await;
    c.expect("control").await;
    assert_eq!(a.expect("control").await["state"], "requested");
    assert_eq!(a.expect("control").await["state"], "timed_out");
    a.send(json!({"t": "click"})).await;
    assert_eq!(a.expect("error").await["code"], "not_allowed");
}

#[tokio::test]
async fn idle_session_ends_when_no_agent_joins_in_time() {
    let srv = start(|c| c.timeouts.join = Duration::from_millis(300)).await;
    let (mut c, id, _) = srv.customer().await;
    let (code, ended) = c.closed().await;
    assert_eq!(
        (code, ended.unwrap()["reason"].as_str().map(String::from)),
        (4000, Some("join_timeout".into()))
    );
    let mut a = srv.agent(&id, "late").await;
    assert_eq!(a.closed().await.0, 4004);
}

#[tokio::test]
async fn inactive_session_ends_after_the_inactivity_timeout() {
    let srv = start(|c| c.timeouts.inactivity = Duration::from_millis(400)).await;
    let (mut c, mut a, _, _) = srv.active("alice").await;
    let (code, ended) = a.closed().await;
    assert_eq!(
        (code, ended.unwrap()["reason"].as_str().map(String::from)),
        (4000, Some("inactivity".into()))
    );
    assert_eq!(c.closed().await.1.unwrap()["reason"], "inactivity");
}

#[tokio::test]
async fn agent_gone_past_grace_ends_the_session_and_a_quick_return_does_not() {
    let srv = start(|c| c.timeouts.agent_grace = Duration::from_millis(600)).await;
    let (mut c, a, id, _) = srv.active("alice").await;
    drop(a);
    assert_eq!(c.expect("presence").await["connected"], false);
    let mut back = srv.agent(&id, "alice").await;
    back.expect("session").await;
    let joined = c.expect("joined").await;
    assert_eq!(
        joined["reconnect"], true,
        "a returning agent gets a fresh snapshot"
    );
    drop(back);
    let (code, ended) = c.closed().await;
    assert_eq!(
        (code, ended.unwrap()["reason"].as_str().map(String::from)),
        (4000, Some("agent_gone".into()))
    );
}

#[tokio::test]
async fn customer_reload_within_grace_keeps_the_session_and_past_it_ends() {
    let srv = start(|c| c.timeouts.customer_grace = Duration::from_millis(700)).await;
    let (c, mut a, id, token) = srv.active("alice").await;
    drop(c);
    assert_eq!(a.expect("presence").await["connected"], false);
    let mut next = srv.resume(&id, &token, "https://shop.example/cart").await;
    let s = next.expect("session").await;
    assert_eq!(
        (s["id"].as_str(), s["state"].as_str()),
        (Some(id.as_str()), Some("active"))
    );
    assert!(s.get("token").is_none());
    assert_eq!(next.expect("joined").await["reconnect"], true);
    assert_eq!(a.expect("presence").await["connected"], true);
    drop(next);
    let (code, ended) = a.closed().await;
    assert_eq!(
        (code, ended.unwrap()["reason"].as_str().map(String::from)),
        (4000, Some("customer_gone".into()))
    );
}

/// The agent leaves while the customer's next page is loading: the page,
/// resuming, is told that, not that the session is unknown. Only the
/// customer's token learns it.
#[tokio::test]
async fn a_customer_back_just_after_the_end_is_told_why_it_ended() {
    let srv = start(|_| {}).await;
    let (c, mut a, id, token) = srv.active("alice").await;
    drop(c);
    assert_eq!(a.expect("presence").await["connected"], false);
    a.send(json!({"t": "exit"})).await;
    a.closed().await;
    let mut stranger = srv
        .resume(&id, &"0".repeat(64), "https://shop.example/")
        .await;
    let (code, err) = stranger.closed().await;
    assert_eq!(
        (code, err.unwrap()["code"].as_str().map(String::from)),
        (4004, Some("no_such_session".into()))
    );
    let mut back = srv.resume(&id, &token, "https://shop.example/cart").await;
    let (code, ended) = back.closed().await;
    let ended = ended.unwrap();
    assert_eq!(
        (code, ended["t"].as_str(), ended["reason"].as_str()),
        (4000, Some("ended"), Some("agent_exit"))
    );
}

#[tokio::test]
async fn the_id_alone_does_not_resume_a_session() {
    let srv = start(|_| {}).await;
    let (_c, id, _) = srv.customer().await;
    let mut thief = srv.resume(&id, &"0".repeat(64), "https://x/").await;
    let (code, err) = thief.closed().await;
    assert_eq!(
        (code, err.unwrap()["code"].as_str().map(String::from)),
        (4004, Some("no_such_session".into())),
        "a wrong token is told what an unknown ID is"
    );
}

#[tokio::test]
async fn interaction_end_from_the_page_ends_the_session() {
    let srv = start(|_| {}).await;
    let (mut c, id, _) = srv
        .customer_with(json!({"interaction": {"id": "chat-7", "channel": "chat"}}))
        .await;
    let mut a = srv.agent(&id, "alice").await;
    a.expect("session").await;
    c.send(json!({"t": "interaction_end"})).await;
    assert_eq!(a.closed().await.1.unwrap()["reason"], "interaction_ended");
}

#[tokio::test]
async fn malformed_unknown_and_wrong_version_messages_close_only_their_sender() {
    let srv = start(|_| {}).await;
    let cases: [(&str, &str); 4] = [
        ("not json", "malformed"),
        (r#"{"v":1,"t":"frobnicate","s":1}"#, "unknown_type"),
        (r#"{"v":9,"t":"pointer","s":1}"#, "wrong_version"),
        (r#"{"v":1,"t":"snapshot","s":1}"#, "unknown_type"),
    ];
    for (i, (frame, code)) in cases.into_iter().enumerate() {
        let (mut c, mut a, _, _) = srv.active(&format!("agent-{i}")).await;
        a.send_raw(Message::text(frame)).await;
        let (close, err) = a.closed().await;
        assert_eq!(
            (close, err.unwrap()["code"].as_str().map(String::from)),
            (4400, Some(code.to_string())),
            "{frame}"
        );
        // The customer's session lives on: an agent may come back within grace.
        c.send(json!({"t": "ping"})).await;
        c.expect("pong").await;
    }
    let (mut c, _, _) = srv.customer().await;
    c.send_raw(Message::binary(vec![1u8, 9])).await;
    assert_eq!(c.closed().await.0, 4400);
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let srv = start(|c| c.limits.max_message_bytes = 64 * 1024).await;
    let (mut c, _a, _, _) = srv.active("alice").await;
    let big = format!(
        r#"{{"v":1,"t":"mutation","s":1,"pad":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    c.send_raw(Message::text(big)).await;
    let (code, _) = c.closed().await;
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn message_floods_are_cut_off_with_4029() {
    let srv = start(|c| c.limits.max_messages_per_second = 20).await;
    let (mut c, _a, _, _) = srv.active("alice").await;
    // More than the server's read buffer holds: the explanation must survive
    // the unread rest of the flood.
    for _ in 0..400 {
        c.send_raw(Message::text(r#"{"v":1,"t":"pointer","s":1}"#))
            .await;
    }
    let (code, err) = c.closed().await;
    assert_eq!(
        (code, err.unwrap()["code"].as_str().map(String::from)),
        (4029, Some("rate_limited".into()))
    );
}

#[tokio::test]
async fn several_tabs_only_the_shown_one_talks() {
    let srv = start(|_| {}).await;
    let (mut tab1, mut a, id, token) = srv.active("alice").await;
    let mut tab2 = srv.resume(&id, &token, "https://shop.example/other").await;
    tab2.expect("session").await;
    tab2.expect("joined").await;
    // Tab 2 opened last: it is shown; tab 1 is told to pause.
    tab1.expect("paused").await;
    tab1.send(json!({"t": "mutation", "from": 1})).await;
    tab2.send(json!({"t": "mutation", "from": 2})).await;
    assert_eq!(a.expect("mutation").await["from"], 2);
    // The customer goes back to tab 1: it is asked for a fresh snapshot.
    tab1.send(json!({"t": "tab"})).await;
    tab1.expect("resync").await;
    tab2.expect("paused").await;
    tab1.send(json!({"t": "mutation", "from": 1})).await;
    assert_eq!(a.expect("mutation").await["from"], 1);
    a.send(json!({"t": "pointer", "to": "shown"})).await;
    assert_eq!(tab1.expect("pointer").await["to"], "shown");
    // Closing a tab does not end anything while another is open.
    drop(tab2);
    a.quiet("presence", 300).await;
}

#[tokio::test]
async fn graceful_shutdown_ends_sessions_with_a_reason() {
    let srv = start(|_| {}).await;
    let (mut c, mut a, _, _) = srv.active("alice").await;
    let stopping = tokio::spawn(srv.stop());
    assert_eq!(c.closed().await.1.unwrap()["reason"], "server_shutdown");
    assert_eq!(a.closed().await.1.unwrap()["reason"], "server_shutdown");
    stopping.await.unwrap();
}
