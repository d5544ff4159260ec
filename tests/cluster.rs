//! Several nodes sharing Redis and PostgreSQL: no sticky sessions, every rule
//! held across the cluster, a node killed without warning, Redis going away.
//! The rules across nodes run twice: on one Redis and on a Redis Cluster.

mod common;

use std::time::{Duration, Instant};

use cobrowse::auth::Tokens;
use common::nodes::Node;
use common::scrape::{DROPPED, Scrape, flood_until_dropped};
use common::services::{Postgres, RedisKind, SharedRedis};
use common::{At, Got, chunk, seq_of};
use serde_json::json;

const SECRET: &str = "cluster-test-secret-0123456789abcdef";

/// Each scenario taking a [`RedisKind`] becomes two tests, `one_redis::…` and `redis_cluster::…`.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod one_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    any(missing_redis, missing_postgres),
                    ignore = "needs Redis and PostgreSQL (scripts/test installs them)"
                )]
                async fn $scenario() {
                    super::$scenario(super::RedisKind::One).await
                }
            )*
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    any(missing_redis, missing_postgres),
                    ignore = "needs Redis and PostgreSQL (scripts/test installs them)"
                )]
                async fn $scenario() {
                    super::$scenario(super::RedisKind::Cluster).await
                }
            )*
        }
    };
}

on_both!(
    customer_and_agent_on_different_nodes_work_as_on_one,
    two_agents_racing_on_two_nodes_exactly_one_wins,
    an_agent_holds_one_session_across_the_cluster,
    one_agent_racing_into_two_sessions_on_two_nodes_gets_one,
    concurrent_creations_get_unique_ids,
    each_timeout_fires_once_across_three_nodes,
    killing_the_node_that_holds_both_parties_loses_nothing,
    redis_going_away_is_told_and_recovered_from,
    a_customer_back_on_another_node_is_told_why_the_session_ended,
    two_parties_on_one_node_relay_without_redis,
    frames_keep_their_order_as_a_party_moves_between_nodes,
);

struct Cluster {
    nodes: Vec<Node>,
    redis: SharedRedis,
    _pg: Postgres,
}

impl Cluster {
    fn start(kind: RedisKind, n: usize, extra: &[(&str, &str)]) -> Cluster {
        let redis = SharedRedis::start(kind);
        let pg = Postgres::start();
        let mut env = vec![
            ("COBROWSE_AUTH__JWT_SECRET", SECRET.to_string()),
            ("COBROWSE_TIMEOUTS__TICK", "100ms".to_string()),
        ];
        // The command line names the database and one Redis (`serve --redis
        // --database`); a Redis Cluster comes from the environment.
        let mut flags = vec!["--database".to_string(), pg.url()];
        match redis.env() {
            ("COBROWSE_REDIS", url) => flags.extend(["--redis".to_string(), url]),
            other => env.push(other),
        }
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let nodes = (0..n).map(|_| Node::start_with(&flags, &env)).collect();
        Cluster {
            nodes,
            redis,
            _pg: pg,
        }
    }

    fn at(&self, i: usize) -> At {
        At::of(&self.nodes[i])
    }
}

trait OnNode {
    fn of(node: &Node) -> At;
}

impl OnNode for At {
    fn of(node: &Node) -> At {
        At {
            url: node.url.clone(),
            host: node.host.clone(),
            tokens: Tokens::new(SECRET.as_bytes()),
        }
    }
}

async fn customer_and_agent_on_different_nodes_work_as_on_one(kind: RedisKind) {
    let c = Cluster::start(kind, 3, &[]);
    let (n1, n2) = (c.at(0), c.at(1));
    let (mut customer, id, _) = n1.customer().await;
    let mut agent = n2.agent(&id, "alice").await;
    assert_eq!(agent.expect("session").await["state"], "active");
    customer.expect("joined").await;
    customer.send(json!({"t": "mutation", "n": 1})).await;
    assert_eq!(agent.expect("mutation").await["n"], 1);
    agent.send(json!({"t": "pointer", "x": 5})).await;
    assert_eq!(customer.expect("pointer").await["x"], 5);
    // Input is refused in pointer mode on the agent's node…
    agent.send(json!({"t": "click", "target": 1})).await;
    assert_eq!(agent.expect("error").await["code"], "not_allowed");
    // …and relayed once the customer, on another node, grants write mode.
    agent.send(json!({"t": "request_control"})).await;
    customer.expect("control").await;
    customer.send(json!({"t": "control_grant"})).await;
    assert_eq!(agent.expect("mode").await["mode"], "write");
    agent.send(json!({"t": "click", "target": 2})).await;
    assert_eq!(customer.expect("click").await["target"], 2);
    // The third node knows the session too.
    let key = c.at(2);
    let mut again = key.agent(&id, "bob").await;
    assert_eq!(again.closed().await.1.unwrap()["code"], "session_has_agent");
    customer.send(json!({"t": "exit"})).await;
    assert_eq!(agent.closed().await.1.unwrap()["reason"], "customer_exit");
}

async fn two_agents_racing_on_two_nodes_exactly_one_wins(kind: RedisKind) {
    let c = Cluster::start(
        kind,
        3,
        &[("COBROWSE_LIMITS__JOIN_ATTEMPTS_PER_MINUTE_PER_IP", "10000")],
    );
    for round in 0..15 {
        let (_customer, id, _) = c.at(0).customer().await;
        let (n2, n3) = (c.at(1), c.at(2));
        let (name_a, name_b) = (format!("racer-a{round}"), format!("racer-b{round}"));
        let (a, b) = tokio::join!(n2.agent(&id, &name_a), n3.agent(&id, &name_b));
        assert_eq!(
            outcomes([a, b]).await,
            ["joined", "session_has_agent"],
            "round {round}"
        );
    }
}

/// What each of two racing agents was told first, sorted: `joined` or the refusal's code.
async fn outcomes(racers: [common::Client; 2]) -> Vec<String> {
    let mut outcomes = Vec::new();
    for mut client in racers {
        outcomes.push(match client.next().await {
            Got::Msg(m) if m["t"] == "session" => "joined".to_string(),
            Got::Msg(m) => m["code"].as_str().unwrap_or("?").to_string(),
            Got::Closed(code, _) => format!("closed {code}"),
        });
    }
    outcomes.sort();
    outcomes
}

async fn an_agent_holds_one_session_across_the_cluster(kind: RedisKind) {
    let c = Cluster::start(kind, 2, &[]);
    let (_c1, id1, _) = c.at(0).customer().await;
    let (_c2, id2, _) = c.at(1).customer().await;
    let mut first = c.at(0).agent(&id1, "dana").await;
    first.expect("session").await;
    let mut second = c.at(1).agent(&id2, "dana").await;
    let (code, err) = second.closed().await;
    assert_eq!(
        (code, err.unwrap()["code"].as_str().map(String::from)),
        (4009, Some("agent_in_other_session".into()))
    );
    // Once the first ends, the agent is free on every node.
    first.send(json!({"t": "exit"})).await;
    first.closed().await;
    let mut third = c.at(1).agent(&id2, "dana").await;
    assert_eq!(third.expect("session").await["state"], "active");
}

async fn one_agent_racing_into_two_sessions_on_two_nodes_gets_one(kind: RedisKind) {
    let c = Cluster::start(kind, 2, &[]);
    for round in 0..15 {
        let (_c1, id1, _) = c.at(0).customer().await;
        let (_c2, id2, _) = c.at(1).customer().await;
        let agent = format!("twin{round}");
        let (n1, n2) = (c.at(0), c.at(1));
        let (a, b) = tokio::join!(n1.agent(&id1, &agent), n2.agent(&id2, &agent));
        assert_eq!(
            outcomes([a, b]).await,
            ["agent_in_other_session", "joined"],
            "round {round}"
        );
    }
}

/// Customers on three nodes create sessions all at once, over WebSocket as
/// the script does: every ID is unique among live sessions.
async fn concurrent_creations_get_unique_ids(kind: RedisKind) {
    const CREATIONS: usize = 10_000;
    const AT_ONCE: usize = 300;
    let c = Cluster::start(
        kind,
        3,
        &[
            ("COBROWSE_LIMITS__SESSIONS_PER_MINUTE_PER_IP", "1000000"),
            // Thousands of customers from one address, closing as fast as they open.
            ("COBROWSE_CONNECTIONS__PER_IP", "1000000"),
            // Every session stays live (no agent, customer gone) until the end.
            ("COBROWSE_TIMEOUTS__JOIN", "10m"),
            ("COBROWSE_TIMEOUTS__CUSTOMER_GRACE", "10m"),
        ],
    );
    let nodes: Vec<std::sync::Arc<At>> = (0..3).map(|i| std::sync::Arc::new(c.at(i))).collect();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let started = Instant::now();
    let creations: Vec<_> = (0..CREATIONS)
        .map(|i| {
            let (node, gate) = (nodes[i % 3].clone(), gate.clone());
            tokio::spawn(async move {
                let _turn = gate.acquire().await.unwrap();
                node.customer().await.1
            })
        })
        .collect();
    let mut ids = Vec::new();
    for creation in creations {
        ids.push(creation.await.unwrap());
    }
    println!(
        "{CREATIONS} sessions created on 3 nodes in {:?}",
        started.elapsed()
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CREATIONS);
    use cobrowse::hub::SessionState;
    let hub = cobrowse::hub::RedisHub::connect(&c.redis.config(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(hub.live().await.unwrap().len(), CREATIONS);
}

async fn each_timeout_fires_once_across_three_nodes(kind: RedisKind) {
    let (hook, seen) = common::webhook_receiver().await;
    let secret = "webhook-secret-0123456789";
    let hooks = format!(r#"[{{url="{hook}",secret="{secret}"}}]"#);
    let c = Cluster::start(
        kind,
        3,
        &[
            ("COBROWSE_TIMEOUTS__JOIN", "1s"),
            ("COBROWSE_WEBHOOKS", &hooks),
            ("COBROWSE_WEBHOOK_DELIVERY__ALLOW_PRIVATE", "true"),
        ],
    );
    let mut customers = Vec::new();
    for i in 0..12 {
        customers.push(c.at(i % 3).customer().await);
    }
    for (client, _, _) in customers.iter_mut() {
        assert_eq!(client.closed().await.1.unwrap()["reason"], "join_timeout");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ended: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(event, _)| event == "session.ended")
        .map(|(_, body)| body["session"]["id"].as_str().unwrap().to_string())
        .collect();
    let mut unique = ended.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (ended.len(), unique.len()),
        (12, 12),
        "every session ended exactly once: {ended:?}"
    );
    // The shared history (PostgreSQL) holds one end per session, from whichever node fired it.
    let store = cobrowse::store::SqlStore::connect(&c._pg.url())
        .await
        .unwrap();
    use cobrowse::store::Store;
    for id in &unique {
        let filter = cobrowse::domain::session_history::HistoryFilter {
            limit: 1000,
            ..Default::default()
        };
        let key = store
            .history(&filter)
            .await
            .unwrap()
            .into_iter()
            .find(|h| &h.session_id == id)
            .unwrap_or_else(|| panic!("session {id} is in the history"))
            .key;
        let detail = store.history_detail(&key).await.unwrap().unwrap();
        let ends: Vec<_> = detail
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.event,
                    cobrowse::domain::session_history::HistoryEvent::Ended { .. }
                )
            })
            .collect();
        assert_eq!(ends.len(), 1, "session {id}: {ends:?}");
        assert_eq!(detail.summary.end_reason.as_deref(), Some("join_timeout"));
    }
}

async fn killing_the_node_that_holds_both_parties_loses_nothing(kind: RedisKind) {
    let env = [
        ("COBROWSE_TIMEOUTS__CUSTOMER_GRACE", "8s"),
        ("COBROWSE_TIMEOUTS__AGENT_GRACE", "8s"),
    ];
    let mut c = Cluster::start(kind, 3, &env);
    let (n1, n2, n3) = (c.at(0), c.at(1), c.at(2));
    let (mut customer, id, token) = n1.customer().await;
    let mut agent = n1.agent(&id, "erin").await;
    agent.expect("session").await;
    customer.expect("joined").await;

    c.nodes[0].kill();
    let killed = Instant::now();
    // Both sides notice and reconnect to other nodes, as the scripts do.
    assert!(matches!(customer.next().await, Got::Closed(..)));
    let mut customer = n2.resume(&id, &token, "https://shop.example/after").await;
    assert_eq!(customer.expect("session").await["state"], "active");
    let mut agent = n3.agent(&id, "erin").await;
    assert_eq!(agent.expect("session").await["state"], "active");
    // The returning agent asks for, and gets, a fresh snapshot.
    assert_eq!(customer.expect("joined").await["reconnect"], true);
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "resumed in {:?}",
        killed.elapsed()
    );
    customer
        .send(json!({"t": "mutation", "typed": "after the crash"}))
        .await;
    assert_eq!(agent.expect("mutation").await["typed"], "after the crash");

    // Once the dead node's connections are counted gone, the live ones still count.
    tokio::time::sleep(Duration::from_secs(6)).await;
    customer
        .send(json!({"t": "mutation", "typed": "still here"}))
        .await;
    assert_eq!(agent.expect("mutation").await["typed"], "still here");
    // And the grace periods still work: the customer leaves for good, the session ends.
    drop(customer);
    agent.wait = Duration::from_secs(15);
    let (code, ended) = agent.closed().await;
    assert_eq!(
        (code, ended.unwrap()["reason"].as_str().map(String::from)),
        (4000, Some("customer_gone".into()))
    );
}

/// Two nodes (customer on one, agent on the other) lose Redis, then get it
/// back. On a cluster, the master that holds the session goes away (a partial
/// outage counts as an outage: the node cannot serve every session).
async fn redis_going_away_is_told_and_recovered_from(kind: RedisKind) {
    let mut redis = SharedRedis::keeping_data(kind);
    let pg = Postgres::start();
    let env = [
        redis.env(),
        ("COBROWSE_DATABASE", pg.url()),
        ("COBROWSE_AUTH__JWT_SECRET", SECRET.to_string()),
    ];
    let nodes = [Node::start(&env), Node::start(&env)];
    let [n1, n2] = nodes.each_ref().map(At::of);
    let (mut customer, id, _) = n1.customer().await;
    let mut agent = n2.agent(&id, "frank").await;
    agent.expect("session").await;
    customer.expect("joined").await;
    assert!(ready(&n1, 200).await && ready(&n2, 200).await);

    let holder = redis.holder(&format!("cb:{{{id}}}"));
    holder.stop();
    assert!(ready(&n1, 503).await, "readyz fails while Redis is away");
    for party in [&mut agent, &mut customer] {
        let told = party.expect("service").await;
        assert_eq!(told["available"], false);
        assert!(
            told["message"].as_str().unwrap().contains("trouble"),
            "{told}"
        );
    }
    let mut newcomer = n1.connect_customer(None).await.unwrap();
    newcomer
        .send(json!({"t": "create", "url": "https://shop.example/", "title": "x"}))
        .await;
    let (_, err) = newcomer.closed().await;
    let err = err.unwrap();
    assert_eq!(err["code"], "unavailable");
    assert!(err["message"].as_str().unwrap().contains("Redis"), "{err}");

    holder.restart();
    assert!(ready(&n1, 200).await, "the node recovers by itself");
    assert!(ready(&n2, 200).await);
    assert_eq!(agent.expect("service").await["available"], true);
    assert_eq!(customer.expect("service").await["available"], true);
    // Frames cross between the nodes again: on one Redis, only because the
    // connection manager resubscribed by itself.
    customer.send(json!({"t": "mutation", "n": 42})).await;
    assert_eq!(agent.expect("mutation").await["n"], 42);
    agent.send(json!({"t": "pointer", "x": 7})).await;
    assert_eq!(customer.expect("pointer").await["x"], 7);
    let (_c2, id2, _) = n2.customer().await;
    assert_ne!(id2, id);
}

/// A Redis without persistence restarts empty: it forgot the live sessions,
/// so their parties are told and let go rather than relaying on in a session
/// that no rule, lock or timeout covers any more.
#[tokio::test]
#[cfg_attr(
    any(missing_redis, missing_postgres),
    ignore = "needs Redis and PostgreSQL (scripts/test installs them)"
)]
async fn redis_restarting_empty_lets_go_of_the_sessions_it_forgot() {
    let mut c = Cluster::start(RedisKind::One, 2, &[]);
    let (n1, n2) = (c.at(0), c.at(1));
    let (mut customer, id, _) = n1.customer().await;
    let mut agent = n2.agent(&id, "hana").await;
    agent.expect("session").await;
    customer.expect("joined").await;

    let redis = c.redis.holder("");
    redis.stop();
    assert!(ready(&n1, 503).await);
    redis.restart();
    for party in [&mut customer, &mut agent] {
        party.wait = Duration::from_secs(10);
        let (code, err) = party.closed().await;
        assert_eq!(code, 4004);
        let err = err.unwrap();
        assert_eq!(err["code"], "no_such_session");
        assert!(
            err["message"].as_str().unwrap().contains("start a new one"),
            "{err}"
        );
    }
    // The agent is free again, and new sessions work.
    let (_c2, id2, _) = n1.customer().await;
    let mut again = n2.agent(&id2, "hana").await;
    assert_eq!(again.expect("session").await["state"], "active");
}

/// A node that Redis falls behind holds a bounded backlog of frames for it:
/// past `limits.publish_backlog_bytes` it drops page frames and counts them,
/// rather than queueing without bound, and relays again once Redis catches up
/// (the agent sees a sequence gap and asks for a fresh snapshot).
#[tokio::test]
#[cfg_attr(
    any(missing_redis, missing_postgres),
    ignore = "needs Redis and PostgreSQL (scripts/test installs them)"
)]
async fn a_node_redis_falls_behind_drops_frames_past_its_backlog() {
    let mut c = Cluster::start(
        RedisKind::One,
        2,
        &[("COBROWSE_LIMITS__PUBLISH_BACKLOG_BYTES", "1048576")],
    );
    let (n1, n2) = (c.at(0), c.at(1));
    let (mut customer, id, _) = n1.customer().await;
    let mut agent = n2.agent(&id, "pia").await;
    agent.expect("session").await;
    customer.expect("joined").await;
    // A frame a second on: its activity mark goes to Redis now, so that
    // none is due (and waited for) while Redis is paused.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    customer.send_raw(chunk(1, 100)).await;
    assert_eq!(seq_of(&agent.expect("binary").await), 1);
    let before = Scrape::at(&n1.url).await;

    // Redis answers nobody for 700 ms (less than a heartbeat's wait: the
    // node stays healthy) while the customer sends 2 MiB.
    let mut pause = redis::Client::open(c.redis.holder("").url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(700)
        .arg("ALL")
        .query_async::<()>(&mut pause)
        .await
        .unwrap();
    for s in 2..=9 {
        customer.send_raw(chunk(s, 256 * 1024)).await;
    }
    customer.send(json!({"t": "ping"})).await;
    customer.expect("pong").await;
    let dropped = Scrape::at(&n1.url).await.since(&before, DROPPED);
    assert!(
        (1.0..8.0).contains(&dropped),
        "{dropped} of 8 frames dropped"
    );

    // Redis is back: what was kept arrives, in order, then the next frame.
    customer.send_raw(chunk(10, 100)).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&10) {
        seen.push(seq_of(&agent.expect("binary").await));
    }
    assert_eq!(seen.len() as f64 + dropped, 9.0, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    agent.send(json!({"t": "resync"})).await;
    customer.expect("resync").await;
}

/// An agent that stops reading on another node than the customer: its node
/// drops the frames past its queue's bytes and counts them; the customer is
/// never held up.
#[tokio::test]
#[cfg_attr(
    any(missing_redis, missing_postgres),
    ignore = "needs Redis and PostgreSQL (scripts/test installs them)"
)]
async fn frames_to_a_receiver_that_stops_reading_on_another_node_are_dropped_and_counted() {
    let c = Cluster::start(
        RedisKind::One,
        2,
        &[
            ("COBROWSE_LIMITS__SEND_QUEUE_BYTES", "4194304"),
            ("COBROWSE_LIMITS__MAX_MESSAGE_BYTES", "1048576"),
            ("COBROWSE_LIMITS__MAX_MESSAGES_PER_SECOND", "10000"),
        ],
    );
    let (n1, n2) = (c.at(0), c.at(1));
    let (mut customer, id, _) = n1.customer().await;
    let mut agent = n2.agent(&id, "quinn").await;
    agent.expect("session").await;
    customer.expect("joined").await;
    let before = Scrape::at(&n2.url).await;
    // The agent reads nothing from here on.
    let sent = flood_until_dropped(&mut customer, &n2.url, &before).await;
    assert!(sent < 256, "{sent} chunks sent before the first drop");
    drop(agent);
}

/// The end is kept in Redis: the customer's next page, served by a third
/// node, learns that the agent left while it loaded.
async fn a_customer_back_on_another_node_is_told_why_the_session_ended(kind: RedisKind) {
    let c = Cluster::start(kind, 3, &[]);
    let (n1, n2, n3) = (c.at(0), c.at(1), c.at(2));
    let (customer, id, token) = n1.customer().await;
    let mut agent = n2.agent(&id, "ivan").await;
    agent.expect("session").await;
    drop(customer);
    assert_eq!(agent.expect("presence").await["connected"], false);
    agent.send(json!({"t": "exit"})).await;
    agent.closed().await;
    let mut back = n3.resume(&id, &token, "https://shop.example/next").await;
    back.wait = Duration::from_secs(5);
    let (code, ended) = back.closed().await;
    assert_eq!(
        (code, ended.unwrap()["reason"].as_str().map(String::from)),
        (4000, Some("agent_exit".into()))
    );
}

/// Waits for a node's `/readyz` to answer `code`.
async fn ready(at: &At, code: u16) -> bool {
    let url = format!("{}/readyz", at.url);
    for _ in 0..100 {
        let got = common::http()
            .get(&url)
            .send()
            .await
            .map(|r| r.status().as_u16());
        if got.is_ok_and(|c| c == code) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
#[cfg_attr(
    any(missing_redis, missing_postgres),
    ignore = "needs Redis and PostgreSQL (scripts/test installs them)"
)]
async fn the_command_line_manages_accounts_in_the_shared_database() {
    let c = Cluster::start(RedisKind::One, 2, &[]);
    let pg = c._pg.url();
    let dir = tempfile::tempdir().unwrap();
    let mut add = std::process::Command::new(common::nodes::BIN)
        .args(["agent", "add", "gina", "--data-dir"])
        .arg(dir.path())
        .env("COBROWSE_DATABASE", &pg)
        .env("COBROWSE_AUTH__JWT_SECRET", SECRET)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin
        .take()
        .unwrap()
        .write_all(b"gina-password-1\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    // Every node knows the new account at once.
    for i in 0..2 {
        let r = common::http()
            .post(format!("{}/auth/login", c.at(i).url))
            .json(&json!({"name": "gina", "password": "gina-password-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "node {i}");
    }
}

/// Lifted so that a test can send frames as fast as it likes.
const NO_RATE_LIMIT: (&str, &str) = ("COBROWSE_LIMITS__MAX_MESSAGES_PER_SECOND", "100000");

/// The publishes the Redis holding the session has carried so far.
async fn publishes(c: &mut Cluster, id: &str) -> u64 {
    let url = c.redis.holder(&format!("cb:{{{id}}}")).url();
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_publish:") || l.starts_with("cmdstat_spublish:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Sends chunks `seqs` from `from`.
async fn send_chunks(from: &mut common::Client, seqs: std::ops::RangeInclusive<u32>) {
    for s in seqs {
        from.send_raw(chunk(s, 64)).await;
    }
}

/// The chunks `to` receives until chunk `last`: they must come in order.
async fn chunks_until(to: &mut common::Client, last: u32) -> Vec<u32> {
    let mut seen: Vec<u32> = Vec::new();
    while seen.last() != Some(&last) {
        seen.push(seq_of(&to.expect("binary").await));
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seen:?}"
    );
    seen
}

/// With both parties on one node and no other node listening, frames go
/// from one to the other without a round trip through Redis, in order.
async fn two_parties_on_one_node_relay_without_redis(kind: RedisKind) {
    let mut c = Cluster::start(kind, 2, &[NO_RATE_LIMIT]);
    let n1 = c.at(0);
    let (mut customer, mut agent, id, _) = n1.active("uma").await;
    send_chunks(&mut customer, 1..=1).await;
    chunks_until(&mut agent, 1).await;
    let before = publishes(&mut c, &id).await;
    send_chunks(&mut customer, 2..=101).await;
    for x in 0..100 {
        agent.send(json!({"t": "pointer", "x": x})).await;
    }
    assert_eq!(
        chunks_until(&mut agent, 101).await,
        (2..=101).collect::<Vec<_>>()
    );
    for x in 0..100 {
        assert_eq!(customer.expect("pointer").await["x"], x);
    }
    let published = publishes(&mut c, &id).await - before;
    assert!(
        published < 20,
        "{published} of 200 frames went through Redis"
    );
}

/// An agent moves from one node to the other and back while the customer
/// sends, its older connection still open each time: every connection gets
/// the frames in order, and the older one what it got without the
/// shortcut (everything, until it closes).
async fn frames_keep_their_order_as_a_party_moves_between_nodes(kind: RedisKind) {
    let mut c = Cluster::start(kind, 2, &[NO_RATE_LIMIT]);
    let (n1, n2) = (c.at(0), c.at(1));
    let (mut customer, id, _) = n1.customer().await;
    let mut on_n2 = n2.agent(&id, "vic").await;
    on_n2.expect("session").await;
    customer.expect("joined").await;
    send_chunks(&mut customer, 1..=20).await;

    // To the customer's node, the older connection still open.
    let mut on_n1 = n1.agent(&id, "vic").await;
    on_n1.expect("session").await;
    customer.expect("joined").await;
    send_chunks(&mut customer, 21..=60).await;
    assert_eq!(
        chunks_until(&mut on_n2, 60).await,
        (1..=60).collect::<Vec<_>>()
    );
    let seen = chunks_until(&mut on_n1, 60).await;
    assert!(seen.ends_with(&(21..=60).collect::<Vec<_>>()), "{seen:?}");

    // The older one closes: the customer's node is alone with both
    // parties, and frames published before go on arriving before the
    // ones handed over directly.
    drop(on_n2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_chunks(&mut customer, 61..=160).await;
    assert_eq!(
        chunks_until(&mut on_n1, 160).await,
        (61..=160).collect::<Vec<_>>()
    );
    let before = publishes(&mut c, &id).await;
    send_chunks(&mut customer, 161..=260).await;
    assert_eq!(
        chunks_until(&mut on_n1, 260).await,
        (161..=260).collect::<Vec<_>>()
    );
    let published = publishes(&mut c, &id).await - before;
    assert!(
        published < 20,
        "{published} of 100 frames went through Redis"
    );

    // Back to the other node, the older connection still open: both get
    // every frame sent from then on.
    let mut on_n2 = n2.agent(&id, "vic").await;
    on_n2.expect("session").await;
    customer.expect("joined").await;
    send_chunks(&mut customer, 261..=400).await;
    assert_eq!(
        chunks_until(&mut on_n2, 400).await,
        (261..=400).collect::<Vec<_>>()
    );
    assert_eq!(
        chunks_until(&mut on_n1, 400).await,
        (261..=400).collect::<Vec<_>>()
    );
    // And the customer's way back, from the agent on the other node.
    for x in 0..50 {
        on_n2.send(json!({"t": "pointer", "x": x})).await;
    }
    for x in 0..50 {
        assert_eq!(customer.expect("pointer").await["x"], x);
    }
}
