//! A customer-side client that does not play by the script's rules: it opens tab after
//! tab, streams a page nobody watches, or changes its address in a loop. Each is bounded.

use std::time::Duration;

use serde_json::json;

use crate::common::start;

#[tokio::test]
async fn a_session_opens_a_bounded_number_of_tabs() {
    let srv = start(|_| {}).await;
    let (_first, id, token) = srv.customer().await;
    let mut tabs = vec![];
    for n in 1..cobrowse::session::MAX_TABS {
        let mut tab = srv
            .resume(&id, &token, &format!("{}/demo/{n}", srv.url))
            .await;
        tab.expect("session").await;
        tabs.push(tab);
    }
    let mut one_more = srv
        .resume(&id, &token, &format!("{}/demo/x", srv.url))
        .await;
    let (code, err) = one_more.closed().await;
    assert_eq!(
        (code, err.unwrap()["code"].as_str().map(String::from)),
        (4029, Some("too_many_tabs".into()))
    );
    drop(tabs.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = srv
        .resume(&id, &token, &format!("{}/demo/y", srv.url))
        .await;
    again.expect("session").await;
    srv.stop().await;
}

#[tokio::test]
async fn an_idle_session_streaming_content_is_cut_off() {
    let srv = start(|_| {}).await;
    let (mut c, _id, _token) = srv.customer().await;
    let mut sent = 0;
    for _ in 0..200 {
        c.send(json!({"t": "mutation", "tx": [[1, "nobody is watching"]]}))
            .await;
        sent += 1;
    }
    let (code, _) = c.closed().await;
    assert_eq!(code, 4400, "closed after {sent} frames sent while idle");
    srv.stop().await;
}

#[tokio::test]
async fn a_page_changing_its_address_in_a_loop_does_not_fill_the_history() {
    let srv = start(|_| {}).await;
    let (mut c, mut a, id, _) = srv.active("alice").await;
    for n in 0..120 {
        c.send(json!({"t": "page", "url": format!("https://shop.example/loop/{n}"), "title": ""}))
            .await;
    }
    a.expect("page").await;
    a.send(json!({"t": "exit"})).await;
    c.closed().await;
    let store = &srv.app().store;
    let mut pages = None;
    for _ in 0..50 {
        let list = store.history(&Default::default()).await.unwrap();
        if let Some(s) = list
            .iter()
            .find(|s| s.session_id == id && s.end_reason.is_some())
        {
            pages = Some(
                store
                    .history_detail(&s.key)
                    .await
                    .unwrap()
                    .unwrap()
                    .pages
                    .len(),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pages = pages.expect("the session is in the history");
    let bound = cobrowse::session::PAGES_PER_MINUTE as usize + 1;
    assert!(pages <= bound, "{pages} pages recorded, at most {bound}");
    srv.stop().await;
}
