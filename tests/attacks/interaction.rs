//! A customer binds their session to someone else's chat ID, so that the agent of that chat
//! (whose desktop finds sessions by interaction) joins a page of the attacker's choosing.
//! Where the site's backend signs its customers' interaction IDs, that binding is refused.

use serde_json::{Value, json};

use crate::common::{Got, TestServer, start};

const SITE: &str = "https://shop.example";
const SECRET: &str = "the shop's backend keeps this one, 32+ chars";

/// Creates a session from the shop bound to `interaction`: the answer's type, error code, close.
async fn create(srv: &TestServer, interaction: Value) -> (String, Option<String>, u16) {
    let mut c = srv.connect_customer(Some(SITE)).await.unwrap();
    c.send(json!({"t": "create", "url": format!("{SITE}/cart"), "title": "", "tab": "t", "interaction": interaction}))
        .await;
    match c.next().await {
        Got::Msg(m) if m["t"] == "session" => ("session".into(), None, 0),
        Got::Msg(m) => {
            let (code, _) = c.closed().await;
            let error = m["code"].as_str().map(String::from);
            (m["t"].as_str().unwrap().into(), error, code)
        }
        Got::Closed(code, _) => ("closed".into(), None, code),
    }
}

#[tokio::test]
async fn someone_elses_chat_cannot_be_claimed_without_the_sites_signature() {
    let srv = start(|c| {
        c.allowed_origins = vec![SITE.into()];
        c.interactions.sites = vec![cobrowse::config::InteractionSite {
            origin: SITE.into(),
            secret: SECRET.into(),
        }];
    })
    .await;
    let expires = jsonwebtoken::get_current_timestamp() + 600;
    let sign = |id: &str, exp: u64| cobrowse::interactions::sign(SECRET, SITE, "chat", exp, id);

    let unsigned = create(
        &srv,
        json!({"id": "chat-of-someone-else", "channel": "chat"}),
    )
    .await;
    assert_eq!(
        unsigned,
        ("error".into(), Some("bad_interaction".into()), 4001)
    );

    let mine = sign("chat-mine", expires);
    let reused = json!({"id": "chat-of-someone-else", "channel": "chat", "expires": expires, "signature": mine});
    assert_eq!(
        create(&srv, reused).await.1.as_deref(),
        Some("bad_interaction")
    );

    let old = expires - 3600;
    let stale = json!({"id": "chat-mine", "channel": "chat", "expires": old, "signature": sign("chat-mine", old)});
    assert_eq!(
        create(&srv, stale).await.1.as_deref(),
        Some("bad_interaction")
    );

    let ok = json!({"id": "chat-mine", "channel": "chat", "expires": expires, "signature": mine});
    assert_eq!(
        create(&srv, ok).await.0,
        "session",
        "the site's own signature binds"
    );
    srv.stop().await;
}

#[tokio::test]
async fn with_signatures_required_a_site_without_a_secret_binds_nothing() {
    let srv = start(|c| {
        c.allowed_origins = vec![SITE.into()];
        c.interactions.require_signature = true;
    })
    .await;
    let free = create(&srv, json!({"id": "chat-1", "channel": "chat"})).await;
    assert_eq!(free.1.as_deref(), Some("bad_interaction"));
    let mut plain = srv.connect_customer(Some(SITE)).await.unwrap();
    plain
        .send(json!({"t": "create", "url": format!("{SITE}/"), "title": "", "tab": "t"}))
        .await;
    plain.expect("session").await;
    srv.stop().await;
}
