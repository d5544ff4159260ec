//! Who is calling: the one place that reads what a request presents (a sign-in
//! cookie, an agent-desktop token, an API key) and checks it, with the few
//! requirements routes put on top of it.
//!
//! - [`Person`]: anyone signed in, by cookie or agent-desktop token.
//! - [`Operator`]: an API key or a signed-in administrator (the REST API).
//! - [`Actor`]: the same, under `/api/v1/admin`, where an editor token is
//!   refused outright; versions record who it was.
//! - [`Admin`]: a signed-in administrator only. A machine key that could mint
//!   keys or administrators would turn one leaked CRM credential into the
//!   whole installation.
//!
//! A cookie rides along on cross-site requests: a change made with one must
//! come from our own pages ([`same_origin_change`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use cookie::Cookie;

use super::AppState;
use super::error::ApiError;
use crate::auth::{AuthError, Identity, Origins};
use crate::clock::now_ms;
use crate::domain::account::AccountRole;
use crate::secret::sha256_hex;

/// The sign-in cookie's name.
pub const COOKIE: &str = "cobrowse_agent";
/// What every API key starts with.
const API_KEY_PREFIX: &str = "cbk_";
/// What every token of the visual restrictions editor starts with.
pub const EDITOR_PREFIX: &str = "cbe_";

const KEY_REFUSED: &str = "API keys cannot manage accounts, API keys, webhooks or the visual editor: sign in as an administrator";
const EDITOR_REFUSED: &str = "an editor token only saves rules from the visual editor's overlay";

/// What a request presents to prove who sends it.
pub enum Credential {
    None,
    Cookie(String),
    Bearer(String),
}

impl Credential {
    pub fn from_headers(headers: &HeaderMap) -> Credential {
        if let Some(bearer) =
            super::header(headers, header::AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer "))
        {
            return Credential::Bearer(bearer.trim().to_string());
        }
        cookie_value(headers, COOKIE).map_or(Credential::None, Credential::Cookie)
    }

    fn bearer_with(&self, prefix: &str) -> bool {
        matches!(self, Credential::Bearer(t) if t.starts_with(prefix))
    }
}

/// The value of the request's cookie by that name, if it has a non-empty one.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .flatten()
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

/// Checks a person's cookie or agent-desktop token, and that the account (if
/// the server has one by that name) is not disabled.
pub async fn identify(app: &AppState, credential: &Credential) -> Result<Identity, AuthError> {
    let who = match credential {
        Credential::None => return Err(AuthError::Missing),
        Credential::Cookie(c) => signed_in_as(app, c).await?,
        Credential::Bearer(t) => app.tokens.check_agent_token(t)?,
    };
    match app.store.account(&who.name).await {
        Ok(Some(account)) if account.disabled => Err(AuthError::Disabled),
        Ok(Some(account)) => Ok(Identity {
            name: account.name,
            role: account.role.min_with(who.role),
        }),
        // Agent desktops vouch for their own agents (directly, or through the
        // cookie traded for their token); administrators need a local account.
        Ok(None) if who.role == AccountRole::Agent => Ok(who),
        Ok(None) => Err(AuthError::BadToken("unknown account".into())),
        Err(e) => Err(AuthError::BadToken(format!(
            "cannot check the account now: {e}"
        ))),
    }
}

/// Who a cookie's handle signed in, while the store still has that sign-in.
async fn signed_in_as(app: &AppState, cookie: &str) -> Result<Identity, AuthError> {
    match app.store.sign_in(&sha256_hex(cookie), now_ms()).await {
        Ok(Some(s)) => Ok(Identity {
            name: s.account,
            role: s.role,
        }),
        Ok(None) => Err(AuthError::BadToken("signed out or expired".into())),
        Err(e) => Err(AuthError::BadToken(format!(
            "cannot check the sign-in now: {e}"
        ))),
    }
}

impl AccountRole {
    /// The lesser of two roles: a token never raises what the account allows.
    fn min_with(self, other: AccountRole) -> AccountRole {
        if self == AccountRole::Admin && other == AccountRole::Admin {
            AccountRole::Admin
        } else {
            AccountRole::Agent
        }
    }
}

/// Who sends a request, once its credential has been checked.
pub struct Caller {
    /// The account's name, or the API key's.
    pub name: String,
    pub how: How,
}

/// How a caller proved who it is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum How {
    Cookie(AccountRole),
    DesktopToken(AccountRole),
    ApiKey,
}

impl Caller {
    /// Checks what the request presents. Where a route takes no API keys, a
    /// key is checked as an agent-desktop token (and fails as one).
    async fn check(
        app: &AppState,
        credential: Credential,
        takes_keys: bool,
    ) -> Result<Caller, ApiError> {
        match credential {
            Credential::Bearer(key) if takes_keys && key.starts_with(API_KEY_PREFIX) => {
                match app.store.api_key(&sha256_hex(&key)).await? {
                    Some(key) => Ok(Caller {
                        name: key.name,
                        how: How::ApiKey,
                    }),
                    None => Err(AuthError::BadToken("unknown or revoked API key".into()).into()),
                }
            }
            credential => {
                let who = identify(app, &credential).await?;
                let how = match credential {
                    Credential::Cookie(_) => How::Cookie(who.role),
                    _ => How::DesktopToken(who.role),
                };
                Ok(Caller {
                    name: who.name,
                    how,
                })
            }
        }
    }

    /// An API key (where the route took one) or an administrator; with a
    /// cookie, a change only from our own pages.
    fn admin(self, parts: &Parts) -> Result<Caller, ApiError> {
        match self.how {
            How::ApiKey | How::DesktopToken(AccountRole::Admin) => Ok(self),
            How::Cookie(AccountRole::Admin) => same_origin_change(parts).map(|()| self),
            How::Cookie(AccountRole::Agent) | How::DesktopToken(AccountRole::Agent) => {
                Err(AuthError::NotAdmin.into())
            }
        }
    }

    /// How rule set versions name who changed them.
    fn actor(self) -> String {
        match self.how {
            How::ApiKey => format!("api-key:{}", self.name),
            _ => self.name,
        }
    }
}

/// How the audit trail names a caller that [`Operator`], [`Actor`] or [`Admin`] named.
pub fn trail_actor(by: &str) -> String {
    if by.starts_with("api-key:") {
        by.to_string()
    } else {
        format!("admin:{by}")
    }
}

/// Changes made with a cookie must come from our own pages.
fn same_origin_change(parts: &Parts) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let origin = super::header(&parts.headers, header::ORIGIN);
    let host = super::header(&parts.headers, header::HOST);
    match origin {
        Some(o) if !Origins::new(&[]).allows(o, host) => Err(ApiError::forbidden(
            "changes with a sign-in cookie must come from the admin console's own origin",
        )),
        _ => Ok(()),
    }
}

/// Refuses an editor token (and an API key too, with `keys_too`) before it is
/// checked at all, where a route never takes one.
fn refuse(credential: &Credential, keys_too: bool) -> Result<(), ApiError> {
    if keys_too && credential.bearer_with(API_KEY_PREFIX) {
        return Err(ApiError::forbidden(KEY_REFUSED));
    }
    if credential.bearer_with(EDITOR_PREFIX) {
        return Err(ApiError::forbidden(EDITOR_REFUSED));
    }
    Ok(())
}

/// A signed-in person, by cookie or agent-desktop token.
pub struct Person(pub Identity);

/// An API key or a signed-in administrator.
pub struct Operator(pub String);

/// An API key or a signed-in administrator, named as rule set versions record them.
pub struct Actor(pub String);

/// A signed-in administrator, by name. API keys and editor tokens are refused.
pub struct Admin(pub String);

impl FromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let credential = Credential::from_headers(&parts.headers);
        Ok(Person(identify(app, &credential).await?))
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let credential = Credential::from_headers(&parts.headers);
        let caller = Caller::check(app, credential, true).await?.admin(parts)?;
        Ok(Operator(caller.actor()))
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let credential = Credential::from_headers(&parts.headers);
        refuse(&credential, false)?;
        let caller = Caller::check(app, credential, true).await?.admin(parts)?;
        Ok(Actor(caller.actor()))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let credential = Credential::from_headers(&parts.headers);
        refuse(&credential, true)?;
        let caller = Caller::check(app, credential, false).await?.admin(parts)?;
        Ok(Admin(caller.name))
    }
}
