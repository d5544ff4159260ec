//! `/ws/agent?session=<id>`: a signed-in agent joins a session.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;

use super::caller::{Credential, identify};
use super::conn::{Conn, Open, outbox, refuse};
use super::{AppState, client_ip};
use crate::auth::Identity;
use crate::hub::{Attachment, HubError, Out, Outbox};
use crate::metrics as m;
use crate::protocol::{ServerMsg, close, refusal_close_code};
use crate::session::{Role, SessionId};
use crate::socket::{self, Socket, Upgrade};

#[derive(Deserialize)]
pub struct JoinQuery {
    #[serde(default)]
    session: String,
}

pub async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<JoinQuery>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    let credential = Credential::from_headers(&headers);
    // A browser always sends Origin; a cookie must never be usable from another
    // site's page (cross-site WebSocket hijacking).
    let origin = super::header(&headers, header::ORIGIN);
    let host = super::header(&headers, header::HOST);
    let origin_ok = match origin {
        Some(o) => app.agent_origins.allows(o, host),
        None => !matches!(credential, Credential::Cookie(_)),
    };
    if !origin_ok {
        tracing::warn!(
            origin,
            "agent connection from an origin that is not allowed"
        );
        return (
            StatusCode::FORBIDDEN,
            "this origin may not open agent connections",
        )
            .into_response();
    }
    let who = identify(&app, &credential).await;
    let ip = client_ip(&app, addr, &headers);
    let max = app.config.limits.max_message_bytes;
    socket::accept(ws, max, move |socket| {
        agent(app, socket, ip, who, credential, q.session)
    })
}

fn refused(reason: &'static str) {
    metrics::counter!(m::JOIN_REFUSALS, "reason" => reason).increment(1);
}

type Who = Result<Identity, crate::auth::AuthError>;

async fn agent(
    app: AppState,
    socket: Socket,
    ip: IpAddr,
    who: Who,
    credential: Credential,
    session: String,
) {
    // Boxed: the handshake's state is freed once relaying starts instead of
    // sizing the task that lives as long as the connection.
    if let Some(open) = Box::pin(open(&app, socket, ip, who, credential, session)).await {
        open.serve().await;
    }
}

/// Ends the connection within `auth.recheck` of its sign-in ending: signed out,
/// the account disabled, or its provider no longer putting the person in an
/// agents' group. A desktop's token is checked when the connection opens only
/// (desktops hand out short tokens); its account being disabled ends it too.
async fn watch_sign_in(app: AppState, credential: Credential, out: Weak<Outbox>) {
    let mut every = tokio::time::interval(app.config.auth.recheck);
    every.tick().await;
    loop {
        every.tick().await;
        let Some(out) = out.upgrade() else {
            return;
        };
        let why = match &credential {
            Credential::Bearer(_) => match identify_account(&app, &credential).await {
                Some(e) => e,
                None => continue,
            },
            _ => match identify(&app, &credential).await {
                Ok(_) => continue,
                Err(e) => e.to_string(),
            },
        };
        let message = format!("signed out: {why}");
        out.push(Out::Close(close::UNAUTHORIZED, message.into()), 0);
        return;
    }
}

/// Why a desktop token's account may no longer be used, if it may not.
async fn identify_account(app: &AppState, credential: &Credential) -> Option<String> {
    let Credential::Bearer(token) = credential else {
        return None;
    };
    let name = app.tokens.check_agent_token(token).ok()?.name;
    match app.store.account(&name).await {
        Ok(Some(a)) if a.disabled => Some(crate::auth::AuthError::Disabled.to_string()),
        _ => None,
    }
}

/// Checks who the agent is, joins the session and attaches the connection.
async fn open(
    app: &AppState,
    socket: Socket,
    ip: IpAddr,
    who: Who,
    credential: Credential,
    session: String,
) -> Option<Open> {
    let mut ws = socket;
    let who = match who {
        Ok(who) => who,
        Err(e) => {
            refused("unauthorized");
            refuse(&mut ws, "unauthorized", close::UNAUTHORIZED, &e.to_string()).await;
            return None;
        }
    };
    if !app.limits.join_per_agent.allow(&who.name) || !app.limits.join_per_ip.allow(&ip.to_string())
    {
        refused("rate_limited");
        let message = "too many join attempts: wait a minute and check the ID with the customer";
        refuse(&mut ws, "rate_limited", close::RATE_LIMITED, message).await;
        return None;
    }
    let Ok(id) = session.parse::<SessionId>() else {
        refused("no_such_session");
        let message = "no such session: a session ID is nine digits";
        refuse(&mut ws, "no_such_session", close::NO_SUCH_SESSION, message).await;
        return None;
    };
    let changed = match app.live.join(id, &who.name).await {
        Ok(changed) => changed,
        Err(HubError::Refused(r)) => {
            refused(r.code());
            refuse(&mut ws, r.code(), refusal_close_code(r), &r.to_string()).await;
            return None;
        }
        Err(e) => {
            refuse(&mut ws, "unavailable", close::SHUTDOWN, &e.to_string()).await;
            return None;
        }
    };
    let attachment = Attachment::open(app.live.routing.clone(), id, Role::Agent).await;
    let (sink, stream) = ws.split();
    let out = outbox(app, sink);
    tokio::spawn(watch_sign_in(app.clone(), credential, Arc::downgrade(&out)));
    if let Some(older) = attachment.link.attach_agent(attachment.peer, out.clone()) {
        let why = "this session was opened in another window";
        older.push(Out::Close(close::CONFLICT, why.into()), 0);
    }
    app.live.carry_out(&changed);
    let session = changed.0;
    attachment.link.sync(&session);
    let gauge = super::ops::ConnectionGauge::new(Role::Agent);
    let hello = ServerMsg::session(&session, None).to_json();
    let mut conn = Conn::new(app.clone(), attachment, out);
    conn.agent = Some(who.name);
    Some(Open::new(conn, stream, hello, gauge))
}
