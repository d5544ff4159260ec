//! `/ws/customer`: the customer script's connection. Starts a session
//! (`create`) or proves it is the same customer (`resume` with the secret token).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::conn::{Conn, refuse};
use super::{AppState, client_ip};
use crate::hub::{HubError, next_peer_id};
use crate::protocol::{self, CreateMsg, Kind, ResumeMsg, ServerMsg, close};
use crate::session::{Event, Interaction, Role, Session, State as SessionState, token_matches};
use crate::store::rules_for;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrade buffers sized for thousands of mostly idle connections; they grow
/// only while a large frame is read.
pub fn sized(ws: WebSocketUpgrade, app: &AppState) -> WebSocketUpgrade {
    ws.read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(app.config.limits.max_message_bytes)
}

pub async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = super::header(&headers, header::ORIGIN).unwrap_or_default();
    let host = super::header(&headers, header::HOST);
    if !app.site_origins.allows(origin, host) {
        tracing::warn!(
            origin,
            "customer connection from a site that is not allowed"
        );
        return (
            StatusCode::FORBIDDEN,
            "this site is not allowed to start co-browse sessions",
        )
            .into_response();
    }
    let ip = client_ip(addr);
    sized(ws, &app).on_upgrade(move |socket| customer(app, socket, ip))
}

/// What the customer gets on connecting: the session, plus the token once.
struct Admitted {
    session: Session,
    token: Option<String>,
}

async fn customer(app: AppState, socket: WebSocket, ip: IpAddr) {
    let mut ws = socket;
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, ws.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(_))) => {
            return refuse(
                &mut ws,
                "malformed",
                close::PROTOCOL,
                "the first message must be create or resume",
            )
            .await;
        }
        _ => return,
    };
    let Some(admitted) = admit(&app, &mut ws, &first, ip).await else {
        return;
    };
    let id = admitted.session.id;
    let peer = next_peer_id();
    let link = app.live.hub.link(id);
    let (tx, mut rx) = mpsc::channel(app.config.limits.send_queue);
    link.attach_customer(peer, tx.clone(), paused);
    link.sync(&admitted.session);
    app.live.hub.attached(id, Role::Customer, peer);
    let _guard = super::ops::ConnectionGauge::new(Role::Customer);

    let rule_sets = app.store.rule_sets().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not read rule sets; default masking only");
        vec![]
    });
    let rules = rules_for(&rule_sets, &admitted.session.page.url);
    let hello =
        ServerMsg::session(&admitted.session, admitted.token.as_deref(), Some(&rules)).to_json();
    if ws.send(Message::Text(hello.into())).await.is_err() {
        return leave(&app, id, peer).await;
    }
    let mut conn = Conn::new(app.clone(), Role::Customer, id, peer, link, tx);
    if admitted.token.is_none() && admitted.session.state == SessionState::Active {
        // A reload or next page while an agent watches: show it from scratch.
        let agent = admitted.session.agent.as_deref().unwrap_or_default();
        conn.reply(&ServerMsg::Joined {
            agent,
            reconnect: true,
        });
    }
    conn.run(&mut ws, &mut rx).await;
    leave(&app, id, peer).await;
}

/// Told to the tab that stops being the one shown to the agent.
fn paused() -> crate::hub::Out {
    crate::hub::Out::text(ServerMsg::Paused.to_json())
}

async fn leave(app: &AppState, id: crate::session::SessionId, peer: crate::hub::PeerId) {
    let link = app.live.hub.link(id);
    if link.detach_customer(peer) && link.is_active() {
        // Another tab of the site is now the one shown: it starts from a snapshot.
        app.live.hub.relay(
            &link,
            Role::Customer,
            crate::hub::Out::text(ServerMsg::Resync.to_json()),
        );
    }
    app.live.hub.detached(id, Role::Customer, peer);
    let _ = app.live.apply(id, Event::CustomerDisconnected).await;
    app.live.hub.release(id);
}

async fn admit(app: &AppState, sink: &mut WebSocket, text: &str, ip: IpAddr) -> Option<Admitted> {
    let kind = match protocol::parse_text(Role::Customer, text) {
        Ok((kind, _)) => kind,
        Err(e) => {
            refuse(sink, e.code(), close::PROTOCOL, &e.to_string()).await;
            return None;
        }
    };
    let unavailable = |e: HubError| e.to_string();
    match kind {
        Kind::Create => {
            let Ok(msg) = serde_json::from_str::<CreateMsg>(text) else {
                refuse(
                    sink,
                    "malformed",
                    close::PROTOCOL,
                    "create: url, title, tab and interaction {id, channel}",
                )
                .await;
                return None;
            };
            if let Some(Interaction { id, channel }) = &msg.interaction
                && (id.is_empty() || id.len() > 200 || channel.len() > 50)
            {
                refuse(
                    sink,
                    "malformed",
                    close::PROTOCOL,
                    "interaction id must be 1-200 characters",
                )
                .await;
                return None;
            }
            if !app.limits.create_per_ip.allow(&ip.to_string()) {
                refuse(
                    sink,
                    "rate_limited",
                    close::RATE_LIMITED,
                    "too many sessions started from this address",
                )
                .await;
                return None;
            }
            let page = msg.page.into_page();
            match app.live.create(msg.interaction, page).await {
                Ok((created, session)) => Some(Admitted {
                    session,
                    token: Some(created.token),
                }),
                Err(e) => {
                    refuse(sink, "unavailable", close::SHUTDOWN, &unavailable(e)).await;
                    None
                }
            }
        }
        Kind::Resume => {
            let Ok(msg) = serde_json::from_str::<ResumeMsg>(text) else {
                refuse(
                    sink,
                    "malformed",
                    close::PROTOCOL,
                    "resume: id and token are required",
                )
                .await;
                return None;
            };
            let session = match app.live.hub.get(msg.id).await {
                Ok(Some(s)) => s,
                Ok(None) => {
                    refuse(
                        sink,
                        "no_such_session",
                        close::NO_SUCH_SESSION,
                        "this session has ended",
                    )
                    .await;
                    return None;
                }
                Err(e) => {
                    refuse(sink, "unavailable", close::SHUTDOWN, &unavailable(e)).await;
                    return None;
                }
            };
            if !token_matches(&session, &msg.token) {
                refuse(
                    sink,
                    "unauthorized",
                    close::UNAUTHORIZED,
                    "wrong session token",
                )
                .await;
                return None;
            }
            if app
                .live
                .apply(msg.id, Event::CustomerConnected)
                .await
                .is_err()
            {
                refuse(
                    sink,
                    "no_such_session",
                    close::NO_SUCH_SESSION,
                    "this session has ended",
                )
                .await;
                return None;
            }
            let page = msg.page.into_page();
            let session = match app.live.apply(msg.id, Event::Page(page)).await {
                Ok((session, _)) => session,
                Err(_) => return None,
            };
            Some(Admitted {
                session,
                token: None,
            })
        }
        _ => {
            refuse(
                sink,
                "not_allowed",
                close::PROTOCOL,
                "the first message must be create or resume",
            )
            .await;
            None
        }
    }
}
