//! Who may do what: agent passwords (argon2), signed tokens (agent-desktop
//! JWTs and sign-in cookies share one HS256 secret), API keys, origins.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::normalize_origin;
use crate::session::Millis;
use crate::store::AccountRole;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("wrong name or password")]
    BadCredentials,
    #[error("this account is disabled")]
    Disabled,
    #[error("invalid or expired token: {0}")]
    BadToken(String),
    #[error("not signed in")]
    Missing,
    #[error("administrators only")]
    NotAdmin,
    #[error("password must be at least 8 characters")]
    WeakPassword,
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < 8 {
        return Err(AuthError::WeakPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any input")
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The audience tells an agent-desktop token from a sign-in cookie, so one
/// can never be replayed as the other.
const AUD_AGENT: &str = "cobrowse-agent";
const AUD_COOKIE: &str = "cobrowse-cookie";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    /// Present on cookies only: agent desktops can vouch for agents, never for admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AccountRole>,
}

/// Who is asking, once a token or cookie has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub role: AccountRole,
}

#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Tokens {
    pub fn new(secret: &[u8]) -> Self {
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    fn issue(
        &self,
        name: &str,
        aud: &str,
        role: Option<AccountRole>,
        now: Millis,
        ttl_ms: u64,
    ) -> String {
        let claims = Claims {
            sub: name.into(),
            aud: aud.into(),
            iat: now / 1000,
            exp: (now + ttl_ms) / 1000,
            role,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encodes")
    }

    /// A token an agent desktop hands to the console (`cobrowse token agent`).
    pub fn agent_token(&self, name: &str, now: Millis, ttl_ms: u64) -> String {
        self.issue(name, AUD_AGENT, None, now, ttl_ms)
    }

    pub fn cookie(&self, who: &Identity, now: Millis, ttl_ms: u64) -> String {
        self.issue(&who.name, AUD_COOKIE, Some(who.role), now, ttl_ms)
    }

    fn check(&self, token: &str, aud: &str) -> Result<Claims, AuthError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[aud]);
        v.set_required_spec_claims(&["exp", "sub", "aud"]);
        v.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map_err(|e| AuthError::BadToken(e.to_string()))?;
        if data.claims.sub.is_empty() || data.claims.sub.len() > 128 {
            return Err(AuthError::BadToken("bad subject".into()));
        }
        Ok(data.claims)
    }

    pub fn check_agent_token(&self, token: &str) -> Result<Identity, AuthError> {
        let c = self.check(token, AUD_AGENT)?;
        Ok(Identity {
            name: c.sub,
            role: AccountRole::Agent,
        })
    }

    pub fn check_cookie(&self, token: &str) -> Result<Identity, AuthError> {
        let c = self.check(token, AUD_COOKIE)?;
        Ok(Identity {
            name: c.sub,
            role: c.role.unwrap_or(AccountRole::Agent),
        })
    }
}

/// A new API key, shown once: `cbk_` and 40 hex digits.
pub fn new_api_key(rng: &mut impl Rng) -> String {
    let bytes: [u8; 20] = rng.random();
    format!("cbk_{}", hex::encode(bytes))
}

/// Keys and link tokens are kept only as hashes: a stolen database holds no credential.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn random_secret(rng: &mut impl Rng) -> String {
    let bytes: [u8; 32] = rng.random();
    hex::encode(bytes)
}

/// Account names: short, printable, no spaces (they appear in URLs and logs).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

/// Origins a browser request may come from: the server's own (the `Host` it
/// was reached at) and a configured list.
#[derive(Clone, Debug)]
pub struct Origins {
    allowed: Vec<String>,
}

impl Origins {
    pub fn new(list: &[String]) -> Self {
        Origins {
            allowed: list.iter().filter_map(|o| normalize_origin(o)).collect(),
        }
    }

    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(origin) = normalize_origin(origin) else {
            return false;
        };
        if self.allowed.contains(&origin) {
            return true;
        }
        let same_host = url::Url::parse(&origin).ok().and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        });
        matches!((same_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
    }

    pub fn list(&self) -> &[String] {
        &self.allowed
    }

    /// The list plus the server's own origin as it was reached (`host`, with
    /// the scheme people use): the customer script lets write-mode navigation
    /// go to these only, so it must know the same list the server admits.
    pub fn with_own(&self, scheme: &str, host: Option<&str>) -> Vec<String> {
        let mut all = self.allowed.clone();
        let own = host.and_then(|h| normalize_origin(&format!("{scheme}://{h}")));
        if let Some(own) = own.filter(|o| !all.contains(o)) {
            all.push(own);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_eq!(hash_password("short"), Err(AuthError::WeakPassword));
    }

    #[test]
    fn tokens_are_bound_to_their_purpose_and_secret() {
        let t = Tokens::new(b"0123456789abcdef0123456789abcdef");
        let now = jsonwebtoken::get_current_timestamp() * 1000;
        let agent = t.agent_token("alice", now, 3_600_000);
        assert_eq!(t.check_agent_token(&agent).unwrap().name, "alice");
        assert!(
            t.check_cookie(&agent).is_err(),
            "an agent token is not a cookie"
        );
        let admin = Identity {
            name: "root".into(),
            role: AccountRole::Admin,
        };
        let cookie = t.cookie(&admin, now, 3_600_000);
        assert_eq!(t.check_cookie(&cookie).unwrap(), admin);
        assert!(t.check_agent_token(&cookie).is_err());
        let other = Tokens::new(b"another secret another secret!!!");
        assert!(other.check_agent_token(&agent).is_err());
        let expired = t.agent_token("alice", NOW - 10 * 3_600_000 - 1_000_000_000_000, 1000);
        assert!(t.check_agent_token(&expired).is_err());
    }

    #[test]
    fn origins_allow_the_list_and_the_server_itself() {
        let o = Origins::new(&["https://shop.example".into()]);
        assert!(o.allows("https://shop.example", Some("cobrowse.example")));
        assert!(o.allows("https://SHOP.example:443", None));
        assert!(!o.allows("https://evil.example", Some("cobrowse.example")));
        assert!(o.allows("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(!o.allows("http://127.0.0.1:8081", Some("127.0.0.1:8080")));
        assert!(!o.allows("null", Some("127.0.0.1:8080")));
    }

    #[test]
    fn the_list_sent_to_the_customer_adds_the_server_once() {
        let o = Origins::new(&["https://shop.example".into()]);
        let own = o.with_own("https", Some("cobrowse.example"));
        assert_eq!(own, ["https://shop.example", "https://cobrowse.example"]);
        assert_eq!(
            o.with_own("https", Some("shop.example:443")),
            ["https://shop.example"]
        );
        assert_eq!(o.with_own("http", None), ["https://shop.example"]);
        assert_eq!(
            o.with_own("http", Some("bad host/")),
            ["https://shop.example"]
        );
    }

    #[test]
    fn api_keys_look_like_keys() {
        let k = new_api_key(&mut rand::rng());
        assert!(k.starts_with("cbk_") && k.len() == 44);
        assert!(valid_name("agent.smith@desk-1") && !valid_name("two words") && !valid_name(""));
    }
}
