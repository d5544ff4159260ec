//! One handle for one Redis or a Redis Cluster, so that the hub is the same
//! code for both. What differs stays here:
//!
//! - connecting: the connection manager, or the cluster connection; both
//!   reconnect by themselves and resubscribe, with pub/sub on RESP3 push;
//! - pub/sub: classic PUBLISH/SUBSCRIBE on one Redis; sharded SPUBLISH/SSUBSCRIBE
//!   on a cluster, where a classic message is broadcast to every node of the
//!   cluster while a sharded one stays on the shard that owns the session;
//! - pipelines: a cluster runs a pipeline on one node, so its commands must
//!   share a slot ([`Batch`] groups them so).
//!
//! Every other command touches one key, or keys of one session (hash-tagged
//! `{id}`), so a cluster keeps it in one slot.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use redis::aio::{AsyncPushSender, ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, Slot};
use redis::{
    Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisError, RedisFuture,
    RedisResult, Value,
};

use crate::config::RedisConfig;

/// Longest wait for a connection or an answer before counting Redis away.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection attempts back off up to this.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(1);
const MIN_RETRY_WAIT: Duration = Duration::from_millis(50);
/// Retries of a cluster command (after a redirection, a lost connection).
/// The default (16) retries a command bound for a master that is down at
/// once, each time reconnecting to every seed: a storm while it is down.
const CLUSTER_RETRIES: u32 = 3;

#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Connects; messages of subscribed channels are handed to `push`, on
    /// the client's reading task, so it must not block.
    pub async fn connect(config: &RedisConfig, push: impl AsyncPushSender) -> RedisResult<Conn> {
        match config {
            RedisConfig::Single(url) => {
                let info = url.as_str().into_connection_info()?;
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(settings))?;
                let config = ConnectionManagerConfig::new()
                    .set_push_sender(push)
                    .set_automatic_resubscription()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_max_delay(MAX_RETRY_WAIT);
                let manager = client.get_connection_manager_with_config(config).await?;
                Ok(Conn::Single(manager))
            }
            RedisConfig::Cluster(c) => {
                let client = ClusterClientBuilder::new(c.cluster.iter().map(String::as_str))
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(push)
                    .retries(CLUSTER_RETRIES)
                    .connection_timeout(TIMEOUT)
                    .response_timeout(TIMEOUT)
                    .min_retry_wait(MIN_RETRY_WAIT.as_millis() as u64)
                    .max_retry_wait(MAX_RETRY_WAIT.as_millis() as u64)
                    .build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    pub async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Conn::Single(c) => c.subscribe(channel).await,
            Conn::Cluster(c) => c.ssubscribe(channel).await,
        }
    }

    pub async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Conn::Single(c) => c.unsubscribe(channel).await,
            Conn::Cluster(c) => c.sunsubscribe(channel).await,
        }
    }

    /// Whether Redis answers, with what is wrong when it does not. On a
    /// cluster, every master must answer and see the cluster whole: asked
    /// of "all masters", the cluster connection silently leaves out those it
    /// has lost, so their number is checked against the cluster's size.
    pub async fn check(&mut self) -> Result<(), String> {
        let Conn::Cluster(c) = self else {
            let pong: String = redis::cmd("PING")
                .query_async(self)
                .await
                .map_err(|e| e.to_string())?;
            return match pong.as_str() {
                "PONG" => Ok(()),
                other => Err(format!("Redis answered {other:?}")),
            };
        };
        let all_masters = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let answers = c
            .route_command(redis::cmd("CLUSTER").arg("INFO").clone(), all_masters)
            .await
            .map_err(|e| e.to_string())?;
        let answers: Vec<(String, String)> =
            FromRedisValue::from_redis_value(answers).map_err(|e| e.to_string())?;
        let mut size = 0;
        for (node, info) in &answers {
            if !info.contains("cluster_state:ok") {
                return Err(format!(
                    "Redis Cluster node {node} reports the cluster down"
                ));
            }
            size = info
                .lines()
                .find_map(|l| l.strip_prefix("cluster_size:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(size);
        }
        if answers.len() < size {
            return Err(format!(
                "{} of the {size} Redis Cluster masters answer",
                answers.len()
            ));
        }
        Ok(())
    }

    /// The command that publishes `payload` on `channel`.
    pub fn publish(&self, channel: &str, payload: Vec<u8>) -> Cmd {
        let name = match self {
            Conn::Single(_) => "PUBLISH",
            Conn::Cluster(_) => "SPUBLISH",
        };
        let mut cmd = redis::cmd(name);
        cmd.arg(channel).arg(payload);
        cmd
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Commands sent together: one pipeline on one Redis; on a cluster, one
/// pipeline per slot, all at once. Order holds among the commands of one slot
/// (frames of one session), not across slots. A command added with
/// [`Batch::answered`] has its answer handed back with a tag of type `T`.
pub struct Batch<T = ()> {
    cluster: bool,
    pipes: HashMap<Slot, (Pipeline, Vec<T>)>,
}

/// The answers of [`Batch::send_answered`], each with its command's tag
/// (`None` for a command whose pipeline failed), and the first failure.
pub type Answers<T, V> = (Vec<(T, Option<V>)>, Option<RedisError>);

impl<T> Batch<T> {
    pub fn new(conn: &Conn) -> Batch<T> {
        Batch {
            cluster: matches!(conn, Conn::Cluster(_)),
            pipes: HashMap::new(),
        }
    }

    fn slot(&mut self, key: &str) -> &mut (Pipeline, Vec<T>) {
        let slot = if self.cluster {
            Slot::for_key(key)
        } else {
            Slot::new(0).expect("slot 0 exists")
        };
        self.pipes.entry(slot).or_default()
    }

    /// The pipeline for commands on `key`.
    pub fn on(&mut self, key: &str) -> &mut Pipeline {
        &mut self.slot(key).0
    }

    /// Adds a command on `key` whose answer `send_answered` hands back with `tag`.
    pub fn answered(&mut self, key: &str, cmd: Cmd, tag: T) {
        let (pipe, tags) = self.slot(key);
        pipe.add_command(cmd);
        tags.push(tag);
    }

    pub fn is_empty(&self) -> bool {
        self.pipes.is_empty()
    }

    /// Sends every pipeline and empties the batch; the answers of commands
    /// not ignored, in order within a slot.
    pub async fn send<V: FromRedisValue>(&mut self, conn: &Conn) -> RedisResult<Vec<V>> {
        let sent = self.pipes.drain().map(|(_, (pipe, _))| {
            let mut conn = conn.clone();
            async move { pipe.query_async::<Vec<V>>(&mut conn).await }
        });
        let mut answers = Vec::new();
        for answer in join_all(sent).await {
            answers.extend(answer?);
        }
        Ok(answers)
    }

    /// Sends every pipeline and empties the batch, where every command not
    /// ignored was added by `answered`.
    pub async fn send_answered<V: FromRedisValue>(&mut self, conn: &Conn) -> Answers<T, V> {
        let sent = self.pipes.drain().map(|(_, (pipe, tags))| {
            let mut conn = conn.clone();
            async move { (pipe.query_async::<Vec<V>>(&mut conn).await, tags) }
        });
        let (mut answers, mut failure) = (Vec::new(), None);
        for (answer, tags) in join_all(sent).await {
            match answer {
                Ok(values) => answers.extend(tags.into_iter().zip(values.into_iter().map(Some))),
                Err(e) => {
                    answers.extend(tags.into_iter().map(|t| (t, None)));
                    failure.get_or_insert(e);
                }
            }
        }
        (answers, failure)
    }
}
