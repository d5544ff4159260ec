//! One WebSocket connection of either party, after its handshake: the read
//! loop that checks each frame against the rules and relays it, and the write
//! side that drains the connection's bounded queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use metrics::{Counter, Histogram};

use super::AppState;
use super::ops::ConnectionGauge;
use crate::hub::{Attachment, Capacity, HubError, Out, Outbox, Queued, Sent, WsSink};
use crate::metrics as m;
use crate::protocol::{self, Kind, PageMsg, ServerMsg, close};
use crate::ratelimit::Bucket;
use crate::session::{Event, Role};
use crate::socket::{Socket, SocketError};

const PING_EVERY: Duration = Duration::from_secs(25);
/// A connection silent this long (not even a pong) is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(70);
/// How long a closing connection waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Activity is reported to the session at most this often per connection.
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);

/// Handles to the hot-path metrics, looked up once instead of per frame.
pub struct RelayMetrics {
    relayed: Counter,
    bytes: Counter,
    dropped: Counter,
    input_dropped: Counter,
    latency: Histogram,
}

impl RelayMetrics {
    pub fn new() -> Self {
        RelayMetrics {
            relayed: metrics::counter!(m::MESSAGES_RELAYED),
            bytes: metrics::counter!(m::BYTES_RELAYED),
            dropped: metrics::counter!(m::MESSAGES_DROPPED),
            input_dropped: metrics::counter!(m::AGENT_INPUT_DROPPED),
            latency: metrics::histogram!(m::RELAY_LATENCY),
        }
    }
}

impl Default for RelayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The way out for a connection's write half, bounded by the configured limits.
pub fn outbox(app: &AppState, sink: WsSink) -> Arc<Outbox> {
    let limits = &app.config.limits;
    let capacity = Capacity {
        items: limits.send_queue,
        bytes: limits.send_queue_bytes,
    };
    Arc::new(Outbox::new(sink, capacity))
}

/// A connection past its handshake: what its task keeps while it relays.
pub struct Open {
    pub conn: Conn,
    stream: SplitStream<Socket>,
    /// The `session` message that starts the conversation.
    hello: String,
    _gauge: ConnectionGauge,
}

impl Open {
    pub fn new(
        conn: Conn,
        stream: SplitStream<Socket>,
        hello: String,
        gauge: ConnectionGauge,
    ) -> Self {
        Open {
            conn,
            stream,
            hello,
            _gauge: gauge,
        }
    }

    /// Says hello, relays until the connection ends, then lets go of the
    /// session: this node's routing first (the attachment's drop), so that the
    /// session's change for the party leaving is not routed back to it.
    pub async fn serve(mut self) {
        let hello = std::mem::take(&mut self.hello);
        if self
            .conn
            .out
            .first(Message::Text(hello.into()))
            .await
            .is_ok()
        {
            self.conn.run(&mut self.stream).await;
        }
        let app = self.conn.app.clone();
        let (id, role) = (self.conn.at.id, self.conn.at.role);
        drop(self);
        let left = match role {
            Role::Customer => Event::CustomerDisconnected,
            Role::Agent => Event::AgentDisconnected,
        };
        let _ = app.live.apply(id, left).await;
    }
}

pub enum Flow {
    Go,
    Close(u16, String),
}

pub struct Conn {
    pub app: AppState,
    /// Where the connection is attached; detached when the connection is dropped.
    pub at: Attachment,
    out: Arc<Outbox>,
    bucket: Bucket,
    /// Frames written, for sampling their latency.
    sent: u32,
    last_activity: Instant,
    /// Content frames refused because no agent has joined yet.
    early: u32,
    /// The agent's name, on an agent's connection: the audit trail's actor.
    pub agent: Option<String>,
}

/// Content frames an idle session may send (each refused) before its connection is
/// closed: the customer script sends none before an agent joins, so a client that
/// keeps sending is made to stop rather than have the server read what no one sees.
const EARLY_CONTENT_LIMIT: u32 = 64;

pub fn close_frame(code: u16, reason: &str) -> Message {
    // A close reason is limited to 123 bytes by the WebSocket protocol.
    let mut reason = reason.to_string();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Sends an `error` then closes: for refusals before a connection is set up.
pub async fn refuse(sink: &mut Socket, code: &str, close_code: u16, message: &str) {
    say_and_close(
        sink,
        &ServerMsg::Error { code, message },
        close_code,
        message,
    )
    .await;
}

/// Sends one message, then closes with `close_code`: for a connection that is
/// answered once and never set up.
pub async fn say_and_close(sink: &mut Socket, msg: &ServerMsg<'_>, close_code: u16, reason: &str) {
    let _ = sink.send(Message::Text(msg.to_json().into())).await;
    let _ = sink.send(close_frame(close_code, reason)).await;
}

/// Frames up to this size are copied out of the read buffer before they
/// wait in the peer's queue, so the buffer is reused for the next read
/// instead of a fresh one being allocated per frame.
const COPY_BELOW: usize = 16 * 1024;

fn own_small(msg: Message) -> Message {
    match msg {
        Message::Text(t) if t.len() <= COPY_BELOW => {
            Message::Text(Utf8Bytes::from(t.as_str().to_owned()))
        }
        Message::Binary(b) if b.len() <= COPY_BELOW => {
            Message::Binary(bytes::Bytes::copy_from_slice(&b))
        }
        other => other,
    }
}

/// The relay-latency histogram takes one frame in this many: enough for
/// percentiles, without a clock read and an atomic push per frame.
const LATENCY_SAMPLE: u32 = 16;

impl Conn {
    pub fn new(app: AppState, at: Attachment, out: Arc<Outbox>) -> Self {
        let burst = f64::from(app.config.limits.max_messages_per_second) * 2.0;
        Conn {
            app,
            at,
            out,
            bucket: Bucket::full(burst, Instant::now()),
            sent: 0,
            last_activity: Instant::now(),
            early: 0,
            agent: None,
        }
    }

    pub fn reply(&self, msg: &ServerMsg) {
        self.out.push(Out::text(msg.to_json()), 0);
    }

    fn error(&self, code: &str, message: &str) {
        self.reply(&ServerMsg::Error { code, message });
    }

    /// Applies an event the party asked for; a refusal is told to it, not fatal.
    async fn ask(&self, event: Event) -> Flow {
        match self.app.live.apply(self.at.id, event).await {
            Ok(_) => Flow::Go,
            Err(HubError::Refused(r)) => {
                self.error(r.code(), &r.to_string());
                Flow::Go
            }
            Err(e @ HubError::Unavailable(_)) => {
                self.error("unavailable", &e.to_string());
                Flow::Go
            }
        }
    }

    async fn activity(&mut self) {
        if self.last_activity.elapsed() >= ACTIVITY_EVERY {
            self.last_activity = Instant::now();
            let _ = self.app.live.apply(self.at.id, Event::Activity).await;
        }
    }

    fn relay(&mut self, msg: Message, len: usize) {
        let to = self.at.role.other();
        let msg = own_small(msg);
        let at = Instant::now();
        match self
            .app
            .live
            .routing
            .relay(&self.at.link, to, Out::Frame(msg, at))
        {
            Sent::Written => {
                self.sample(at);
                self.counted(len);
            }
            Sent::Queued => self.counted(len),
            Sent::Dropped => self.app.relay.dropped.increment(1),
            Sent::NoPeer => {}
        }
    }

    fn counted(&self, len: usize) {
        self.app.relay.relayed.increment(1);
        self.app.relay.bytes.increment(len as u64);
    }

    /// Records one frame in `LATENCY_SAMPLE` in the relay-latency histogram.
    fn sample(&mut self, at: Instant) {
        self.sent = self.sent.wrapping_add(1);
        if self.sent.is_multiple_of(LATENCY_SAMPLE) {
            self.app.relay.latency.record(at.elapsed().as_secs_f64());
        }
    }

    fn over_rate(&mut self) -> Option<Flow> {
        let rate = f64::from(self.app.config.limits.max_messages_per_second);
        if self.bucket.take(rate, rate * 2.0, Instant::now()) {
            return None;
        }
        let message = format!("too many messages: at most {} per second", rate);
        self.error("rate_limited", &message);
        Some(Flow::Close(close::RATE_LIMITED, message))
    }

    fn protocol_error(&self, e: protocol::ProtocolError) -> Flow {
        metrics::counter!(m::PROTOCOL_ERRORS, "code" => e.code()).increment(1);
        let message = e.to_string();
        self.error(e.code(), &message);
        Flow::Close(close::PROTOCOL, message)
    }

    /// Answers a customer's `page`: the DOM restrictions of its new URL, by the same
    /// rule sets as at connect (unreadable rule sets: the default masking only), matched
    /// against the URL as the session keeps it (secret parameters masked), as at connect.
    async fn tell_rules(&self, url: &str, masked: &str) {
        let rules = super::page_rules::for_page(&self.app, self.at.id, masked).await;
        self.reply(&ServerMsg::Rules { url, rules: &rules });
    }

    /// A snapshot's `url` as the agent may see it: secret parameters masked here, whatever
    /// the connection wrote (the page itself is in the binary chunks before it, unread).
    fn mask_snapshot(&self, text: Utf8Bytes) -> Utf8Bytes {
        let Ok(mut msg) = serde_json::from_str::<serde_json::Value>(&text) else {
            return text;
        };
        let Some(url) = msg.get("url").and_then(|u| u.as_str()) else {
            return text;
        };
        let masked = self.app.live.privacy.mask(url);
        if masked == url {
            return text;
        }
        msg["url"] = masked.into();
        msg.to_string().into()
    }

    /// Content may flow only once an agent is in, and only from the tab shown.
    fn content_allowed(&self) -> Result<bool, &'static str> {
        if !self.at.link.is_active() {
            return Err("no agent has joined yet: nothing of the page may be sent");
        }
        Ok(self.at.role == Role::Agent || self.at.link.is_shown_customer(self.at.peer))
    }

    fn refused_early(&mut self, why: &'static str) -> Flow {
        self.error("not_allowed", why);
        self.early += 1;
        if self.early <= EARLY_CONTENT_LIMIT {
            return Flow::Go;
        }
        let message = "page content sent before an agent joined, again and again";
        Flow::Close(close::PROTOCOL, message.into())
    }

    pub async fn on_text(&mut self, text: Utf8Bytes) -> Flow {
        if let Some(flow) = self.over_rate() {
            return flow;
        }
        let len = text.len();
        let (kind, seq, snapshot, report) = match protocol::parse_text(self.at.role, &text) {
            Ok((kind, envelope)) => (
                kind,
                envelope.s,
                envelope.t == "snapshot",
                matches!(&*envelope.t, "notice" | "applied"),
            ),
            Err(e) => return self.protocol_error(e),
        };
        match kind {
            Kind::Create | Kind::Resume => {
                self.error(
                    "not_allowed",
                    "this connection already belongs to a session",
                );
                Flow::Go
            }
            Kind::Ping => {
                self.reply(&ServerMsg::Pong);
                Flow::Go
            }
            Kind::Exit => self.ask(Event::Exit(self.at.role)).await,
            Kind::InteractionEnd => self.ask(Event::InteractionEnded).await,
            Kind::ControlGrant => self.ask(Event::GrantControl).await,
            Kind::ControlDeny => self.ask(Event::DenyControl).await,
            Kind::ControlRevoke => self.ask(Event::RevokeControl).await,
            Kind::RequestControl => self.ask(Event::RequestControl).await,
            Kind::Tab => {
                if self
                    .at
                    .link
                    .focus_customer(self.at.peer, || Out::text(ServerMsg::Paused.to_json()))
                    && self.at.link.is_active()
                {
                    // The newly shown tab starts capturing with a full snapshot.
                    self.reply(&ServerMsg::Resync);
                }
                Flow::Go
            }
            Kind::Page => {
                let Ok(page) = serde_json::from_str::<PageMsg>(&text) else {
                    return self.protocol_error(protocol::ProtocolError::Malformed(
                        "page needs url and title".into(),
                    ));
                };
                // Every tab is told its new URL's rules, shown or not: the script sends
                // nothing of that URL until they come (a tab shown later starts from them).
                let url = self.app.live.privacy.mask(&page.url);
                self.tell_rules(&page.url, &url).await;
                if !self.at.link.is_shown_customer(self.at.peer) {
                    return Flow::Go;
                }
                let page = page.into_page();
                let title = page.title.clone();
                let flow = self.ask(Event::Page(page)).await;
                if self.at.link.is_active() {
                    // The agent gets the page as history keeps it (secret parameters
                    // masked), not as the connection wrote it.
                    let mut relayed = serde_json::json!({
                        "v": protocol::VERSION, "t": "page", "url": url, "title": title,
                    });
                    if let Some(seq) = seq {
                        relayed["s"] = seq.into();
                    }
                    self.relay(Message::Text(relayed.to_string().into()), len);
                }
                flow
            }
            Kind::Content | Kind::Relay => match self.content_allowed() {
                Err(why) => self.refused_early(why),
                Ok(false) => Flow::Go,
                Ok(true) => {
                    if report {
                        self.app.live.audit.customer_report(self.at.id, &text);
                    }
                    let text = if snapshot {
                        self.mask_snapshot(text)
                    } else {
                        text
                    };
                    self.relay(Message::Text(text), len);
                    self.activity().await;
                    Flow::Go
                }
            },
            Kind::Input => {
                let agent = self.agent.as_deref().unwrap_or_default();
                if !self.at.link.is_write() {
                    self.app.relay.input_dropped.increment(1);
                    let why = "write mode is off";
                    self.app
                        .live
                        .audit
                        .agent_input_refused(self.at.id, agent, &text, why);
                    self.error(
                        "not_allowed",
                        "write mode is off: the customer has not given you control",
                    );
                    return Flow::Go;
                }
                self.app.live.audit.agent_input(self.at.id, agent, &text);
                self.relay(Message::Text(text), len);
                self.activity().await;
                Flow::Go
            }
        }
    }

    pub async fn on_binary(&mut self, bytes: bytes::Bytes) -> Flow {
        if let Some(flow) = self.over_rate() {
            return flow;
        }
        if let Err(e) = protocol::parse_binary(self.at.role, &bytes) {
            return self.protocol_error(e);
        }
        match self.content_allowed() {
            Err(why) => return self.refused_early(why),
            Ok(false) => {}
            Ok(true) => {
                let len = bytes.len();
                self.relay(Message::Binary(bytes), len);
                self.activity().await;
            }
        }
        Flow::Go
    }

    /// Reads and writes until either side closes, the session ends, or the
    /// server stops. One task per connection selects over the socket and the
    /// queue; the futures that outlive a turn of the loop are pinned once.
    pub async fn run(&mut self, stream: &mut SplitStream<Socket>) {
        let mut shutdown = self.app.shutdown.clone();
        let stopping = shutdown.changed();
        tokio::pin!(stopping);
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut heard = Instant::now();
        loop {
            let flow = tokio::select! {
                biased;
                item = self.out.next() => {
                    let flow = self.deliver(item).await;
                    self.out.handled();
                    match flow {
                        Some(flow) => flow,
                        None => return,
                    }
                }
                incoming = stream.next() => {
                    heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Text(text))) => self.on_text(text).await,
                        Some(Ok(Message::Binary(bytes))) => self.on_binary(bytes).await,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Flow::Go,
                        Some(Ok(Message::Close(_))) | None => return,
                        // yawc has closed with 1009 itself; the close path waits for the
                        // client's answer, so that a reset does not swallow the close.
                        Some(Err(SocketError::TooBig)) => Flow::Close(close::TOO_BIG, String::new()),
                        Some(Err(_)) => return,
                    }
                }
                _ = ping.tick() => {
                    if heard.elapsed() > SILENCE_LIMIT {
                        return;
                    }
                    if self.out.write(Message::Ping(bytes::Bytes::new())).await.is_err() {
                        return;
                    }
                    Flow::Go
                }
                _ = &mut stopping => Flow::Close(close::SHUTDOWN, "the server is restarting".into()),
            };
            if let Flow::Close(code, reason) = flow {
                // Flush what is queued (an `error` or `ended` explaining the close) first.
                // Nothing is marked handled any more: no frame is written directly after the close.
                while let Some(item) = self.out.try_next() {
                    if let Queued::Out(Out::Close(..)) = item {
                        break;
                    }
                    self.deliver(item).await;
                }
                let _ = self.out.write(close_frame(code, &reason)).await;
                // Closing a socket with unread input resets it, and the reset
                // can destroy the explanation just sent: read until the
                // client's own close, for a little while at most.
                let _ = tokio::time::timeout(CLOSE_WAIT, async {
                    while let Some(Ok(_)) = stream.next().await {}
                })
                .await;
                return;
            }
        }
    }

    /// Carries out one queued item; `None` when the socket is gone.
    async fn deliver(&mut self, item: Queued) -> Option<Flow> {
        match item {
            Queued::Out(Out::Frame(msg, at)) => {
                self.out.write(msg).await.ok()?;
                self.sample(at);
                Some(Flow::Go)
            }
            Queued::Flush => self.out.flush().await.ok().map(|()| Flow::Go),
            Queued::Out(Out::Close(code, reason)) => Some(Flow::Close(code, reason.to_string())),
        }
    }
}
