//! One test body for every store backend, so they cannot drift apart.

use cobrowse::domain::account::{AccountRole, SignIn, SsoGrant};
use cobrowse::domain::editor_grant::{EditorToken, EditorTokenKind};
use cobrowse::domain::rule_set::Rules;
use cobrowse::domain::session_history::{HistoryEvent, HistoryFilter};
use cobrowse::domain::sso::OidcLogin;
use cobrowse::domain::webhook::Delivery;
use cobrowse::session::Millis;
use cobrowse::store::{Store, StoreError};

pub async fn check(store: &dyn Store) {
    store.ping().await.unwrap();

    // Accounts.
    store
        .add_account("alice", "h1", AccountRole::Agent, 1)
        .await
        .unwrap();
    store
        .add_account("root", "h2", AccountRole::Admin, 2)
        .await
        .unwrap();
    assert!(matches!(
        store.add_account("alice", "x", AccountRole::Agent, 3).await,
        Err(StoreError::Exists(_))
    ));
    store.set_disabled("alice", true).await.unwrap();
    store.set_password("alice", "h3").await.unwrap();
    let alice = store.account("alice").await.unwrap().unwrap();
    assert!(alice.disabled && alice.password_hash == "h3" && alice.role == AccountRole::Agent);
    assert!(matches!(
        store.set_disabled("nobody", true).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.accounts().await.unwrap().len(), 2);

    // Accounts a provider made: found by its subject, never given a password,
    // never taking another account's name.
    store
        .add_sso_account("ann@example.com", AccountRole::Agent, "okta", "sub-1", 3)
        .await
        .unwrap();
    let ann = store.sso_account("okta", "sub-1").await.unwrap().unwrap();
    assert_eq!(
        (
            ann.name.as_str(),
            ann.sso_provider.as_deref(),
            ann.password_hash.as_str()
        ),
        ("ann@example.com", Some("okta"), "")
    );
    assert!(store.sso_account("other", "sub-1").await.unwrap().is_none());
    assert!(matches!(
        store
            .add_sso_account("alice", AccountRole::Agent, "okta", "sub-2", 3)
            .await,
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(
        store.set_password("ann@example.com", "h").await,
        Err(StoreError::Conflict(_))
    ));
    store
        .set_role("ann@example.com", AccountRole::Admin)
        .await
        .unwrap();
    assert_eq!(
        store
            .account("ann@example.com")
            .await
            .unwrap()
            .unwrap()
            .role,
        AccountRole::Admin
    );
    store
        .add_sign_in(&SignIn {
            token_hash: "s1".into(),
            account: "ann@example.com".into(),
            role: AccountRole::Admin,
            created_at: 3,
            expires_at: 1000,
            sso: None,
        })
        .await
        .unwrap();
    // Sign-ins a provider can be asked about again are claimed once per round.
    store
        .add_sign_in(&SignIn {
            token_hash: "s2".into(),
            account: "ann@example.com".into(),
            role: AccountRole::Agent,
            created_at: 3,
            expires_at: 1000,
            sso: Some(SsoGrant {
                provider: "okta".into(),
                refresh_token: "r1".into(),
                checked_at: 3,
            }),
        })
        .await
        .unwrap();
    assert!(
        store
            .claim_sso_checks("okta", 2, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.claim_sso_checks("okta", 5, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].sso.as_ref().unwrap().checked_at, 10);
    assert!(
        store
            .claim_sso_checks("okta", 5, 11)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_sso_checks("other", 20, 21)
            .await
            .unwrap()
            .is_empty()
    );
    store.set_sso_refresh("s2", "r2").await.unwrap();
    let again = store.claim_sso_checks("okta", 20, 21).await.unwrap();
    assert_eq!(again[0].sso.as_ref().unwrap().refresh_token, "r2");
    // Expired sign-ins are not worth asking about.
    assert!(
        store
            .claim_sso_checks("okta", 2000, 2001)
            .await
            .unwrap()
            .is_empty()
    );
    store.remove_sign_ins("ann@example.com").await.unwrap();
    assert!(store.sign_in("s2", 22).await.unwrap().is_none());
    assert!(store.sign_in("s1", 4).await.unwrap().is_none());

    // A sign-in through a provider under way is taken once, and not after expiry.
    let login = |state: &str, expires_at| OidcLogin {
        state_hash: state.into(),
        provider: "okta".into(),
        browser_hash: "b".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        console: AccountRole::Admin,
        expires_at,
    };
    let far = cobrowse::clock::now_ms() + 60_000;
    store.add_oidc_login(&login("st1", far)).await.unwrap();
    store.add_oidc_login(&login("st2", far)).await.unwrap();
    assert_eq!(
        store.take_oidc_login("st1", 5).await.unwrap(),
        Some(login("st1", far))
    );
    assert_eq!(store.take_oidc_login("st1", 5).await.unwrap(), None);
    assert_eq!(store.take_oidc_login("st2", far + 1).await.unwrap(), None);

    // One-time links work once and not after expiry.
    store.add_login_link("t1", "root", 100).await.unwrap();
    store.add_login_link("t2", "root", 100).await.unwrap();
    assert_eq!(
        store.take_login_link("t1", 50).await.unwrap().as_deref(),
        Some("root")
    );
    assert_eq!(store.take_login_link("t1", 50).await.unwrap(), None);
    assert_eq!(store.take_login_link("t2", 101).await.unwrap(), None);

    // API keys by hash; revoked keys stop working.
    let key = store
        .add_api_key("crm", "hash-a", "cbk_abcd", 5)
        .await
        .unwrap();
    assert_eq!(store.api_key("hash-a").await.unwrap().unwrap().name, "crm");
    store.revoke_api_key(key.id, 6).await.unwrap();
    assert!(store.api_key("hash-a").await.unwrap().is_none());
    assert_eq!(store.api_keys().await.unwrap()[0].revoked_at, Some(6));

    // Rule sets are versioned.
    let rules = Rules {
        mask: vec!["#ssn".into()],
        ..Rules::default()
    };
    let v1 = store
        .create_rule_set("checkout", "*/checkout*", &rules, "root", 10)
        .await
        .unwrap();
    let v2 = store
        .update_rule_set(
            v1.id,
            v1.version,
            "checkout",
            "*/pay*",
            &Rules::default(),
            "root",
            11,
        )
        .await
        .unwrap();
    assert_eq!((v1.version, v2.version, v1.id), (1, 2, v2.id));
    assert_eq!(store.rule_sets().await.unwrap(), vec![v2.clone()]);

    // Created, updated at a version, renamed, deleted and revived: every step is a version.
    assert!(matches!(
        store
            .create_rule_set("checkout", "*", &rules, "root", 12)
            .await,
        Err(StoreError::Exists(_))
    ));
    let acct = store
        .create_rule_set("account", "*/account*", &rules, "ann", 13)
        .await
        .unwrap();
    assert_eq!(
        (
            acct.version,
            store
                .rule_set(acct.id)
                .await
                .unwrap()
                .unwrap()
                .name
                .as_str()
        ),
        (1, "account")
    );
    let more = Rules {
        mask: vec!["#ssn".into()],
        block: vec!["img.avatar".into()],
        ..Rules::default()
    };
    let acct2 = store
        .update_rule_set(acct.id, 1, "profile", "*/profile*", &more, "bob", 14)
        .await
        .unwrap();
    assert_eq!(
        (
            acct2.version,
            acct2.name.as_str(),
            acct2.updated_by.as_str(),
            acct2.rules.block.len()
        ),
        (2, "profile", "bob", 1)
    );
    assert!(matches!(
        store
            .update_rule_set(acct.id, 1, "profile", "*", &more, "cy", 15)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .update_rule_set(acct.id, 2, "checkout", "*", &more, "cy", 15)
            .await,
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(
        store
            .update_rule_set(9999, 1, "x", "*", &more, "cy", 15)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_rule_set(acct.id, Some(1), "cy", 16).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .delete_rule_set(acct.id, Some(2), "cy", 16)
        .await
        .unwrap();
    assert!(store.rule_set(acct.id).await.unwrap().is_none());
    assert_eq!(store.rule_sets().await.unwrap().len(), 1);
    assert!(matches!(
        store.delete_rule_set(acct.id, None, "cy", 17).await,
        Err(StoreError::NotFound(_))
    ));
    let versions = store.rule_set_versions(acct.id).await.unwrap();
    let story: Vec<(i64, &str, &str, bool, Millis)> = versions
        .iter()
        .map(|v| {
            (
                v.version,
                v.name.as_str(),
                v.changed_by.as_str(),
                v.deleted,
                v.changed_at,
            )
        })
        .collect();
    assert_eq!(
        story,
        [
            (3, "profile", "cy", true, 16),
            (2, "profile", "bob", false, 14),
            (1, "account", "ann", false, 13)
        ]
    );
    assert_eq!(versions[1].rules, more);
    let back = store
        .create_rule_set("profile", "*/p*", &rules, "dee", 18)
        .await
        .unwrap();
    assert_eq!((back.id, back.version), (acct.id, 4));
    assert_eq!(store.rule_set_versions(acct.id).await.unwrap().len(), 4);
    assert_eq!(store.rule_set_versions(9999).await.unwrap(), vec![]);
    assert_eq!(
        store.rule_set_versions(v2.id).await.unwrap()[0].name,
        "checkout"
    );

    // Editor grants: a link works once and not after expiry; sessions until expiry.
    let grant = |hash: &str, kind, expires_at| EditorToken {
        token_hash: hash.into(),
        kind,
        account: "root".into(),
        origin: "https://shop.example".into(),
        url: "https://shop.example/checkout".into(),
        rule_set: "checkout".into(),
        url_pattern: "https://shop.example/checkout*".into(),
        expires_at,
    };
    store
        .add_editor_token(&grant("l1", EditorTokenKind::Link, 100))
        .await
        .unwrap();
    store
        .add_editor_token(&grant("l2", EditorTokenKind::Link, 100))
        .await
        .unwrap();
    store
        .add_editor_token(&grant("s1", EditorTokenKind::Session, 200))
        .await
        .unwrap();
    assert_eq!(
        store.take_editor_link("l1", 50).await.unwrap(),
        Some(grant("l1", EditorTokenKind::Link, 100))
    );
    assert_eq!(store.take_editor_link("l1", 50).await.unwrap(), None);
    assert_eq!(
        store.take_editor_link("s1", 50).await.unwrap(),
        None,
        "a session token is no link"
    );
    assert_eq!(
        store.editor_session("l2", 50).await.unwrap(),
        None,
        "a link is no session token"
    );
    assert_eq!(
        store
            .editor_session("s1", 150)
            .await
            .unwrap()
            .unwrap()
            .rule_set,
        "checkout"
    );
    assert_eq!(store.take_editor_link("l2", 101).await.unwrap(), None);
    assert_eq!(store.editor_session("s1", 201).await.unwrap(), None);
    store
        .add_editor_token(&grant("s2", EditorTokenKind::Session, 900))
        .await
        .unwrap();
    assert_eq!(
        store.remove_editor_tokens("root").await.unwrap(),
        2,
        "s1 (expired, not yet purged) and s2"
    );
    assert_eq!(store.editor_session("s2", 300).await.unwrap(), None);

    // History.
    let created = HistoryEvent::Created {
        interaction_id: Some("c1".into()),
        channel: Some("chat".into()),
        url: "u1".into(),
    };
    store
        .record("111111111-1000", "111111111", 1000, &created)
        .await
        .unwrap();
    store
        .record(
            "111111111-1000",
            "111111111",
            1001,
            &HistoryEvent::Activated {
                agent: "alice".into(),
            },
        )
        .await
        .unwrap();
    let page = HistoryEvent::PageVisited {
        url: "u2".into(),
        title: "Two".into(),
    };
    store
        .record("111111111-1000", "111111111", 1002, &page)
        .await
        .unwrap();
    let mode = HistoryEvent::ModeChanged {
        mode: "write".into(),
        cause: "allowed".into(),
    };
    store
        .record("111111111-1000", "111111111", 1003, &mode)
        .await
        .unwrap();
    store
        .record(
            "111111111-1000",
            "111111111",
            1004,
            &HistoryEvent::Ended {
                reason: "agent_exit".into(),
            },
        )
        .await
        .unwrap();
    store
        .record("222222222-5000", "222222222", 5000, &created)
        .await
        .unwrap();
    let detail = store
        .history_detail("111111111-1000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.summary.agent.as_deref(), Some("alice"));
    assert_eq!(
        (detail.summary.activated_at, detail.summary.ended_at),
        (Some(1001), Some(1004))
    );
    assert_eq!(detail.summary.end_reason.as_deref(), Some("agent_exit"));
    assert_eq!(detail.pages.len(), 2);
    assert_eq!(detail.mode_changes.len(), 1);
    assert_eq!(detail.events.len(), 5);
    let all = store
        .history(&HistoryFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
        ["222222222-5000", "111111111-1000"]
    );
    let by_agent = HistoryFilter {
        agent: Some("alice".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.history(&by_agent).await.unwrap().len(), 1);
    let by_reason = HistoryFilter {
        end_reason: Some("inactivity".into()),
        limit: 10,
        ..Default::default()
    };
    assert!(store.history(&by_reason).await.unwrap().is_empty());
    let by_date = HistoryFilter {
        from: Some(2000),
        to: Some(6000),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.history(&by_date).await.unwrap().len(), 1);
    assert_eq!(store.purge_history(2000).await.unwrap(), 1);
    assert!(
        store
            .history_detail("111111111-1000")
            .await
            .unwrap()
            .is_none()
    );

    // Webhooks and their deliveries.
    let hook = store
        .add_webhook("http://127.0.0.1:9/h", "s3cret-s3cret-s3", 7)
        .await
        .unwrap();
    assert_eq!(store.webhooks().await.unwrap().len(), 1);
    let d = Delivery {
        url: hook.url.clone(),
        event: "session.created".into(),
        status: "delivered".into(),
        attempts: 1,
        error: None,
        at: 8,
    };
    store.record_delivery(&d).await.unwrap();
    assert_eq!(store.deliveries(10).await.unwrap()[0].status, "delivered");
    store.remove_webhook(hook.id).await.unwrap();
    assert!(store.webhooks().await.unwrap().is_empty());
}
