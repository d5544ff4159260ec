//! Sign-in for people: a password, an agent-desktop token or a one-time link
//! each set the same HttpOnly cookie, a random handle to a sign-in kept in the
//! store. Machines use API keys (see `api`).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::time::Duration;
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::json;

use super::caller::{COOKIE, Credential, Person, identify};
use super::error::{ApiError, ApiResult};
use super::{AppState, client_ip};
use crate::auth::{AuthError, Identity, new_sign_in_token, verify_password};
use crate::clock::now_ms;
use crate::domain::account::{AccountRole, SignIn, SsoGrant};
use crate::secret::sha256_hex;

/// Where a sign-in cookie may travel, by who holds it and how the server is set up.
///
/// An agent console embedded in an agent desktop of another site runs in a
/// cross-site frame, where browsers send only `SameSite=None` cookies (which
/// must be `Secure`, so HTTPS only). `Partitioned` (CHIPS) keys the cookie to
/// the top-level site: browsers that block third-party cookies still keep it
/// inside the desktop's frame, and a cookie set on our own pages is never sent
/// from another site's page. Administrators stay `Strict` even then: their
/// console is never framed (`frame-ancestors 'self'`) and a desktop's token
/// only ever makes an agent, so their rights never need a cross-site request.
/// Without an embedding origin nothing needs to cross sites: `Strict`.
fn sign_in_cookie(
    https: bool,
    embedded: bool,
    role: AccountRole,
    value: &str,
    max_age: u64,
) -> Cookie<'static> {
    let crosses_sites = https && embedded && role == AccountRole::Agent;
    let same_site = if crosses_sites {
        SameSite::None
    } else {
        SameSite::Strict
    };
    Cookie::build((COOKIE, value.to_owned()))
        .path("/")
        .http_only(true)
        .max_age(Duration::seconds(
            i64::try_from(max_age).unwrap_or(i64::MAX),
        ))
        .same_site(same_site)
        .secure(https)
        .partitioned(crosses_sites)
        .build()
}

/// Whether the agent console is set up to be framed by other origins.
fn embeddable(app: &AppState) -> bool {
    !app.config.agent_origins.is_empty()
}

fn set_cookie(app: &AppState, value: &str, max_age: u64, role: AccountRole) -> HeaderValue {
    let cookie = sign_in_cookie(app.https, embeddable(app), role, value, max_age);
    HeaderValue::from_str(&cookie.to_string()).expect("cookie is ASCII")
}

/// Keeps a new sign-in for `who`: the `Set-Cookie` that hands its handle over.
pub(super) async fn new_sign_in(
    app: &AppState,
    who: &Identity,
    sso: Option<SsoGrant>,
) -> ApiResult<HeaderValue> {
    let ttl = app.config.auth.cookie_ttl;
    let handle = new_sign_in_token(&mut rand::rng());
    let now = now_ms();
    app.store
        .add_sign_in(&SignIn {
            token_hash: sha256_hex(&handle),
            account: who.name.clone(),
            role: who.role,
            created_at: now,
            expires_at: now + ttl.as_millis() as u64,
            sso,
        })
        .await?;
    Ok(set_cookie(app, &handle, ttl.as_secs(), who.role))
}

/// A new sign-in for `who`, answered with who it is.
async fn signed_in(app: &AppState, who: &Identity) -> ApiResult<Response> {
    let set = new_sign_in(app, who, None).await?;
    let body = Json(json!({ "name": who.name, "role": who.role }));
    Ok(([(header::SET_COOKIE, set)], body).into_response())
}

/// The console a role signs in to.
pub(super) fn console_of(role: AccountRole) -> &'static str {
    match role {
        AccountRole::Admin => "/admin/",
        AccountRole::Agent => "/agent/",
    }
}

/// Cookie-setting requests must come from our own pages (or an allowed agent desktop).
pub(super) fn same_site_request(app: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let origin = super::header(headers, header::ORIGIN);
    let host = super::header(headers, header::HOST);
    match origin {
        Some(o) if !app.agent_origins.allows(o, host) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "requests from this origin are not allowed",
        )),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
}

pub async fn login(
    State(app): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(form): Json<LoginForm>,
) -> ApiResult<Response> {
    same_site_request(&app, &headers)?;
    if !app.config.auth.passwords {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "passwords_off",
            "signing in with a password is turned off here: use your organization's sign-in",
        ));
    }
    if !app
        .limits
        .sign_in_per_ip
        .allow(&client_ip(&app, addr, &headers).to_string())
    {
        return Err(ApiError::too_many(
            "too many sign-in attempts: wait a minute",
        ));
    }
    // Names that exist and names that do not are held back alike.
    if let Some(wait) = app.limits.sign_in_failures.wait(&form.name) {
        return Err(ApiError::too_many(format!(
            "too many failed sign-ins for this name: try again in {} s",
            wait.as_secs().max(1)
        )));
    }
    let account = app.store.account(&form.name).await?;
    // Hash even for unknown names, so timing does not tell which names exist.
    let hash = account.as_ref().map_or(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        |a| &a.password_hash,
    );
    let ok = verify_password(&form.password, hash).await;
    if ok {
        app.limits.sign_in_failures.succeeded(&form.name);
    } else {
        app.limits.sign_in_failures.failed(&form.name);
    }
    match account {
        Some(a) if ok && a.disabled => Err(AuthError::Disabled.into()),
        Some(a) if ok => {
            signed_in(
                &app,
                &Identity {
                    name: a.name,
                    role: a.role,
                },
            )
            .await
        }
        _ => Err(AuthError::BadCredentials.into()),
    }
}

/// Ends the sign-in (a copy of the cookie is dead too) and clears the cookie in
/// every form it may have been set in: a partitioned cookie is only removed by a
/// `Set-Cookie` that is partitioned too. A person signed in through a provider
/// that offers it is told where to end their sign-in there as well.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let mut provider_logout = None;
    if let Credential::Cookie(handle) = Credential::from_headers(&headers) {
        let hash = sha256_hex(&handle);
        if let Some(sign_in) = app.store.sign_in(&hash, now_ms()).await? {
            provider_logout = provider_logout_url(&app, &sign_in).await;
        }
        app.store.remove_sign_in(&hash).await?;
    }
    let mut response = match provider_logout {
        Some(url) => Json(json!({ "provider_logout": url })).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&app, "", 0, AccountRole::Admin),
    );
    if app.https && embeddable(&app) {
        headers.append(
            header::SET_COOKIE,
            set_cookie(&app, "", 0, AccountRole::Agent),
        );
    }
    Ok(response)
}

/// The provider's end-session address, back to the console afterwards, when
/// the account is one a provider made and that provider publishes one.
async fn provider_logout_url(app: &AppState, sign_in: &SignIn) -> Option<String> {
    let account = app.store.account(&sign_in.account).await.ok()??;
    let provider = account.sso_provider?;
    let back = format!("{}{}", app.public_url, console_of(sign_in.role));
    app.sso.logout_url(&provider, &back).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    token: String,
}

/// The agent console trades an agent-desktop token for a cookie, so the token
/// never has to travel in a WebSocket URL.
pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    Json(form): Json<TokenForm>,
) -> ApiResult<Response> {
    same_site_request(&app, &headers)?;
    let who = identify(&app, &Credential::Bearer(form.token)).await?;
    signed_in(&app, &who).await
}

#[derive(Deserialize)]
pub struct LinkQuery {
    t: String,
}

pub async fn link(State(app): State<AppState>, Query(q): Query<LinkQuery>) -> ApiResult<Response> {
    let Some(name) = app
        .store
        .take_login_link(&sha256_hex(&q.t), now_ms())
        .await?
    else {
        return Err(ApiError::unauthorized(
            "this sign-in link was used or has expired",
        ));
    };
    let account = app
        .store
        .account(&name)
        .await?
        .ok_or(AuthError::BadCredentials)?;
    if account.disabled {
        return Err(AuthError::Disabled.into());
    }
    let who = Identity {
        name: account.name,
        role: account.role,
    };
    let set = new_sign_in(&app, &who, None).await?;
    Ok((
        [(header::SET_COOKIE, set)],
        Redirect::to(console_of(who.role)),
    )
        .into_response())
}

pub async fn me(Person(who): Person) -> Json<serde_json::Value> {
    Json(json!({ "name": who.name, "role": who.role }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_agents_cookies_cross_sites_and_only_over_https_with_an_embedding_origin() {
        use AccountRole::{Admin, Agent};
        // (HTTPS, an embedding origin, who) → SameSite, Secure, Partitioned.
        let cases = [
            ((true, true, Agent), (SameSite::None, true, true)),
            ((true, false, Agent), (SameSite::Strict, true, false)),
            // Browsers refuse SameSite=None and Partitioned without Secure.
            ((false, true, Agent), (SameSite::Strict, false, false)),
            ((false, false, Agent), (SameSite::Strict, false, false)),
            // Administrators' cookies never leave our own site.
            ((true, true, Admin), (SameSite::Strict, true, false)),
            ((false, true, Admin), (SameSite::Strict, false, false)),
        ];
        for ((https, embedded, role), expected) in cases {
            let c = sign_in_cookie(https, embedded, role, "handle", 60);
            let got = (
                c.same_site().unwrap(),
                c.secure().unwrap_or(false),
                c.partitioned().unwrap_or(false),
            );
            assert_eq!(
                got, expected,
                "https {https}, embedded {embedded}, {role:?}"
            );
            assert_eq!(c.http_only(), Some(true));
            assert_eq!(c.path(), Some("/"));
            assert_eq!(c.max_age(), Some(Duration::seconds(60)));
        }
    }
}
