//! People who sign in and the machines that call the API.

use serde::{Deserialize, Serialize};

use crate::session::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    Agent,
    Admin,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Agent => "agent",
            AccountRole::Admin => "admin",
        }
    }

    /// The role [`AccountRole::as_str`] names, if it names one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(AccountRole::Agent),
            "admin" => Some(AccountRole::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: AccountRole,
    pub disabled: bool,
    pub created_at: Millis,
    /// The OpenID provider (its configured id) that made this account and signs
    /// its person in; none for an account with a password.
    pub sso_provider: Option<String>,
    /// Whom the provider's tokens name (`sub`): the account follows that person,
    /// whatever their email becomes.
    #[serde(skip)]
    pub sso_subject: Option<String>,
}

/// A person's sign-in, behind the random handle their cookie holds (only its hash is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    pub token_hash: String,
    pub account: String,
    /// What the sign-in proved: a password proves the account's role, a desktop's
    /// token an agent only.
    pub role: AccountRole,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// For a sign-in through a provider that can be asked again about its person.
    pub sso: Option<SsoGrant>,
}

/// What a provider's sign-in keeps to ask the provider again later whether the
/// person still qualifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoGrant {
    pub provider: String,
    pub refresh_token: String,
    pub checked_at: Millis,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to tell keys apart in lists.
    pub prefix: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}
