//! `/ws/customer`: the customer script's connection. Starts a session
//! (`create`) or proves it is the same customer (`resume` with the secret token).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ws::Message;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::conn::{Conn, Open, outbox, refuse, say_and_close};
use super::{AppState, client_ip};
use crate::clock::now_ms;
use crate::hub::{Attachment, HubError, Tombstone};
use crate::interactions;
use crate::protocol::{
    self, CreateMsg, InteractionMsg, Kind, ResumeMsg, ServerMsg, close, end_message,
};
use crate::secret::hash_matches;
use crate::session::{
    Event, Interaction, Refusal, Role, Session, State as SessionState, token_matches,
};
use crate::socket::{self, Socket, Upgrade};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Upgrade,
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
    let ip = client_ip(&app, addr, &headers);
    let origins = app
        .site_origins
        .with_own(if app.https { "https" } else { "http" }, host);
    let site = origin.to_string();
    let max = app.config.limits.max_message_bytes;
    socket::accept(ws, max, move |socket| {
        customer(app, socket, ip, site, origins)
    })
}

/// What the customer gets on connecting: the session, plus the token once.
struct Admitted {
    session: Session,
    token: Option<String>,
}

/// One customer connection from `site` (its origin); `origins` are the sites
/// write-mode navigation may go to.
async fn customer(app: AppState, socket: Socket, ip: IpAddr, site: String, origins: Vec<String>) {
    // Boxed: the handshake's state is freed once relaying starts instead of
    // sizing the task that lives as long as the connection.
    if let Some(open) = Box::pin(open(&app, socket, ip, &site, origins)).await {
        open.serve().await;
    }
}

/// Admits the customer and attaches its connection to the session.
async fn open(
    app: &AppState,
    socket: Socket,
    ip: IpAddr,
    site: &str,
    origins: Vec<String>,
) -> Option<Open> {
    let mut ws = socket;
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, ws.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(_))) => {
            refuse(
                &mut ws,
                "malformed",
                close::PROTOCOL,
                "the first message must be create or resume",
            )
            .await;
            return None;
        }
        _ => return None,
    };
    let mut admitted = match admit(app, &first, ip, site).await {
        Ok(admitted) => admitted,
        Err(NotAdmitted::Refused(Refused(code, close, message))) => {
            refuse(&mut ws, code, close, &message).await;
            return None;
        }
        Err(NotAdmitted::Ended(tomb)) => {
            tell_ended(&mut ws, tomb).await;
            return None;
        }
    };
    let id = admitted.session.id;
    let attachment = Attachment::open(app.live.routing.clone(), id, Role::Customer).await;
    // An agent may have joined on another node before this one heard the session.
    if let Ok(Some(now)) = app.live.sessions.get(id).await {
        admitted.session = now;
    }
    let (sink, stream) = ws.split();
    let out = outbox(app, sink);
    attachment
        .link
        .attach_customer(attachment.peer, out.clone(), paused);
    attachment.link.sync(&admitted.session);
    let gauge = super::ops::ConnectionGauge::new(Role::Customer);

    let url = &admitted.session.page.url;
    let rules = super::page_rules::for_page(app, id, url).await;
    let hello = ServerMsg::session(&admitted.session, admitted.token.as_deref())
        .for_site(&rules, &origins)
        .to_json();
    let conn = Conn::new(app.clone(), attachment, out);
    if admitted.token.is_none() && admitted.session.state == SessionState::Active {
        // A reload or next page while an agent watches: show it from scratch
        // (queued, so it follows the hello).
        let agent = admitted.session.agent.as_deref().unwrap_or_default();
        conn.reply(&ServerMsg::Joined {
            agent,
            reconnect: true,
        });
    }
    Some(Open::new(conn, stream, hello, gauge))
}

/// Told to the tab that stops being the one shown to the agent.
fn paused() -> crate::hub::Out {
    crate::hub::Out::text(ServerMsg::Paused.to_json())
}

/// Why a first message was not admitted: the `error` code, close code and words.
struct Refused(&'static str, u16, String);

enum NotAdmitted {
    Refused(Refused),
    /// A resume of a session that has ended lately: the customer is told why.
    Ended(Tombstone),
}

impl From<Refused> for NotAdmitted {
    fn from(r: Refused) -> Self {
        NotAdmitted::Refused(r)
    }
}

/// Tells a customer coming back why their session ended meanwhile, as if they had been there.
async fn tell_ended(ws: &mut Socket, tomb: Tombstone) {
    let message = end_message(tomb.reason);
    let ended = ServerMsg::Ended {
        reason: tomb.reason,
        message,
        after_ms: tomb.after_ms,
    };
    say_and_close(ws, &ended, close::ENDED, message).await;
}

impl Refused {
    fn new(code: &'static str, close: u16, message: impl Into<String>) -> Self {
        Refused(code, close, message.into())
    }

    fn unavailable(e: HubError) -> Self {
        Refused::new("unavailable", close::SHUTDOWN, e.to_string())
    }
}

fn no_such_session() -> Refused {
    Refused::new(
        "no_such_session",
        close::NO_SUCH_SESSION,
        "no such session: it has ended, or the ID or token is wrong",
    )
}

fn resume_limited() -> Refused {
    Refused::new(
        "rate_limited",
        close::RATE_LIMITED,
        "too many failed attempts to resume a session: wait a minute",
    )
}

/// The interaction a `create` from `site` (its origin) binds the session to: well
/// formed, and signed by the site's backend where the site signs them.
fn bound_interaction(
    app: &AppState,
    site: &str,
    i: InteractionMsg,
) -> Result<Interaction, Refused> {
    let printable = |s: &str| !s.chars().any(char::is_control);
    if i.id.is_empty() || i.id.len() > 200 || i.channel.len() > 50 {
        return Err(Refused::new(
            "malformed",
            close::PROTOCOL,
            "interaction id must be 1-200 characters, channel at most 50",
        ));
    }
    if !printable(&i.id) || !printable(&i.channel) {
        return Err(Refused::new(
            "malformed",
            close::PROTOCOL,
            "interaction id and channel must be printable",
        ));
    }
    let claim = interactions::Claim {
        id: &i.id,
        channel: &i.channel,
        expires: i.expires,
        signature: i.signature.as_deref(),
    };
    let now_s = now_ms() / 1000;
    interactions::check(&app.config.interactions, site, &claim, now_s)
        .map_err(|e| Refused::new("bad_interaction", close::UNAUTHORIZED, e.to_string()))?;
    Ok(Interaction {
        id: i.id,
        channel: i.channel,
    })
}

/// Checks the first message (`create` or `resume`) and opens or reattaches the session.
async fn admit(
    app: &AppState,
    text: &str,
    ip: IpAddr,
    site: &str,
) -> Result<Admitted, NotAdmitted> {
    let (kind, _) = protocol::parse_text(Role::Customer, text)
        .map_err(|e| Refused::new(e.code(), close::PROTOCOL, e.to_string()))?;
    match kind {
        Kind::Create => {
            let msg = serde_json::from_str::<CreateMsg>(text).map_err(|_| {
                Refused::new(
                    "malformed",
                    close::PROTOCOL,
                    "create: url, title, tab and interaction {id, channel}",
                )
            })?;
            let interaction = msg
                .interaction
                .map(|i| bound_interaction(app, site, i))
                .transpose()?;
            if !app.limits.create_per_ip.allow(&ip.to_string()) {
                return Err(Refused::new(
                    "rate_limited",
                    close::RATE_LIMITED,
                    "too many sessions started from this address",
                )
                .into());
            }
            let (created, session) = app
                .live
                .create(site, interaction, msg.page.into_page())
                .await
                .map_err(Refused::unavailable)?;
            Ok(Admitted {
                session,
                token: Some(created.token),
            })
        }
        Kind::Resume => {
            let msg = serde_json::from_str::<ResumeMsg>(text).map_err(|_| {
                Refused::new(
                    "malformed",
                    close::PROTOCOL,
                    "resume: id and token are required",
                )
            })?;
            let ip = ip.to_string();
            if !app.limits.resume_failures_per_ip.has_room(&ip) {
                return Err(resume_limited().into());
            }
            let sessions = &app.live.sessions;
            // Both lookups whatever the ID, and one answer for a wrong token and an
            // unknown ID: nothing tells a live session from one that never was.
            let live = sessions.get(msg.id).await.map_err(Refused::unavailable)?;
            let tomb = sessions.end_of(msg.id, now_ms()).await.ok().flatten();
            let ended_lately = tomb.filter(|t| hash_matches(&t.token_hash, &msg.token));
            match (live, ended_lately) {
                (Some(session), _) if token_matches(&session, &msg.token) => {}
                (None, Some(tomb)) => return Err(NotAdmitted::Ended(tomb)),
                _ => {
                    let per_ip = app.limits.resume_failures_per_ip.allow(&ip);
                    let per_id = app
                        .limits
                        .resume_failures_per_session
                        .allow(&msg.id.to_string());
                    return Err(if per_ip && per_id {
                        no_such_session()
                    } else {
                        resume_limited()
                    }
                    .into());
                }
            }
            app.live
                .apply(msg.id, Event::CustomerConnected)
                .await
                .map_err(|e| match e {
                    HubError::Refused(r @ Refusal::TooManyTabs) => {
                        Refused::new(r.code(), close::RATE_LIMITED, r.to_string())
                    }
                    _ => no_such_session(),
                })?;
            let (session, _) = app
                .live
                .apply(msg.id, Event::Page(msg.page.into_page()))
                .await
                .map_err(|_| no_such_session())?;
            Ok(Admitted {
                session,
                token: None,
            })
        }
        _ => Err(Refused::new(
            "not_allowed",
            close::PROTOCOL,
            "the first message must be create or resume",
        )
        .into()),
    }
}
