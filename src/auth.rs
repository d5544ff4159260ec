//! Who may do what: agent passwords (argon2), agent-desktop tokens (JWTs: HS256
//! with a shared secret, or EdDSA with the desktop's own key), sign-in handles,
//! API keys, origins.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::normalize_origin;
use crate::domain::account::AccountRole;
use crate::secret::random_secret;
use crate::session::Millis;

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
    #[error("bad key: {0}")]
    BadKey(String),
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

/// Checks a password on the hashing pool (see [`hashing`]).
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    hashing(move || verify_password_now(&password, &hash)).await
}

fn verify_password_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Argon2 spends tens of milliseconds of CPU by design. Run on an async worker,
/// a burst of sign-ins would stall every connection that worker relays; on the
/// blocking pool, a few at a time, it only ever waits for itself.
pub async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    static PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _permit = PERMITS
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .expect("password hashing does not panic")
}

/// The audience a desktop's token must name, so that no other token for something
/// else (another service sharing the secret) is taken for one.
const AUD_AGENT: &str = "cobrowse-agent";

/// Leeway for clocks that differ between the desktop and the server.
const LEEWAY_S: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub aud: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    pub exp: u64,
}

/// Who is asking, once a token or cookie has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub role: AccountRole,
}

/// Agent-desktop tokens: what a desktop may sign, and what the server accepts.
///
/// A desktop vouches for agents, never for more: these tokens carry no role, and
/// whatever a desktop holds (the shared secret, or its own Ed25519 private key)
/// can make nothing else, in particular no sign-in cookie (those are random
/// handles kept in the store, see [`new_sign_in_token`]).
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    secret: DecodingKey,
    /// Desktops that sign with their own key: the server holds only the public half.
    public_keys: Vec<DecodingKey>,
    max_ttl_s: u64,
}

impl Tokens {
    /// HS256 tokens with the shared `secret`, at most 8 hours long.
    pub fn new(secret: &[u8]) -> Self {
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            secret: DecodingKey::from_secret(secret),
            public_keys: vec![],
            max_ttl_s: 8 * 3600,
        }
    }

    /// Also accepts EdDSA tokens signed by the desktops whose public keys (PEM) these are.
    pub fn with_public_keys(mut self, pems: &[String]) -> Result<Self, AuthError> {
        self.public_keys = pems
            .iter()
            .map(|pem| {
                DecodingKey::from_ed_pem(pem.as_bytes())
                    .map_err(|e| AuthError::BadKey(format!("an Ed25519 public key in PEM: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Refuses tokens that live longer than this, however they were signed.
    pub fn with_max_ttl(mut self, ttl_s: u64) -> Self {
        self.max_ttl_s = ttl_s;
        self
    }

    /// A token an agent desktop hands to the console (`cobrowse token agent`).
    pub fn agent_token(&self, name: &str, now: Millis, ttl_ms: u64) -> String {
        let claims = Claims {
            sub: name.into(),
            aud: AUD_AGENT.into(),
            iat: Some(now / 1000),
            exp: (now + ttl_ms) / 1000,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encodes")
    }

    /// The agent a desktop's token names, if a key the server knows signed it, for
    /// this audience, for no longer than the configured lifetime.
    pub fn check_agent_token(&self, token: &str) -> Result<Identity, AuthError> {
        let bad = |e: jsonwebtoken::errors::Error| AuthError::BadToken(e.to_string());
        let alg = jsonwebtoken::decode_header(token).map_err(bad)?.alg;
        let keys: Vec<&DecodingKey> = match alg {
            Algorithm::HS256 => vec![&self.secret],
            Algorithm::EdDSA => self.public_keys.iter().collect(),
            other => {
                return Err(AuthError::BadToken(format!(
                    "{other:?} tokens are not accepted"
                )));
            }
        };
        let mut v = Validation::new(alg);
        v.set_audience(&[AUD_AGENT]);
        v.set_required_spec_claims(&["exp", "sub", "aud"]);
        v.leeway = LEEWAY_S;
        let mut last = AuthError::BadToken("no key for EdDSA tokens is configured".into());
        for key in keys {
            match jsonwebtoken::decode::<Claims>(token, key, &v) {
                Ok(data) => return self.agent_of(data.claims),
                Err(e) => last = bad(e),
            }
        }
        Err(last)
    }

    fn agent_of(&self, c: Claims) -> Result<Identity, AuthError> {
        if c.sub.is_empty() || c.sub.len() > 128 {
            return Err(AuthError::BadToken("bad subject".into()));
        }
        let now = jsonwebtoken::get_current_timestamp();
        let issued = c.iat.unwrap_or(now);
        if issued > now + LEEWAY_S {
            return Err(AuthError::BadToken("issued in the future".into()));
        }
        // Measured from issue and from now: leaving `iat` out gains nothing.
        let longest = c.exp.saturating_sub(issued).max(c.exp.saturating_sub(now));
        if longest > self.max_ttl_s + LEEWAY_S {
            return Err(AuthError::BadToken(format!(
                "lives longer than the {} s a desktop token may",
                self.max_ttl_s
            )));
        }
        Ok(Identity {
            name: c.sub,
            role: AccountRole::Agent,
        })
    }
}

/// A new sign-in cookie's value: `cbs_` and 64 hex digits, random; the store keeps its hash.
pub fn new_sign_in_token(rng: &mut impl Rng) -> String {
    format!("cbs_{}", random_secret(rng))
}

/// A new API key, shown once: `cbk_` and 40 hex digits.
pub fn new_api_key(rng: &mut impl Rng) -> String {
    let bytes: [u8; 20] = rng.random();
    format!("cbk_{}", hex::encode(bytes))
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
        assert!(verify_password_now("correct horse", &h));
        assert!(!verify_password_now("wrong horse", &h));
        assert!(!verify_password_now("x", "not a hash"));
        assert_eq!(hash_password("short"), Err(AuthError::WeakPassword));
    }

    #[test]
    fn desktop_tokens_are_bound_to_their_secret_and_lifetime() {
        let t = Tokens::new(b"0123456789abcdef0123456789abcdef");
        let now = jsonwebtoken::get_current_timestamp() * 1000;
        let agent = t.agent_token("alice", now, 3_600_000);
        let who = t.check_agent_token(&agent).unwrap();
        assert_eq!((who.name.as_str(), who.role), ("alice", AccountRole::Agent));
        let other = Tokens::new(b"another secret another secret!!!");
        assert!(other.check_agent_token(&agent).is_err());
        let expired = t.agent_token("alice", NOW - 10 * 3_600_000 - 1_000_000_000_000, 1000);
        assert!(t.check_agent_token(&expired).is_err());
        let short = t.clone().with_max_ttl(600);
        assert!(
            short.check_agent_token(&agent).is_err(),
            "an hour is past 10 minutes"
        );
        let none = jsonwebtoken::encode(
            &Header::new(Algorithm::HS384),
            &Claims {
                sub: "a".into(),
                aud: AUD_AGENT.into(),
                iat: None,
                exp: now / 1000 + 60,
            },
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(t.check_agent_token(&none).is_err(), "only HS256 and EdDSA");
        assert!(
            Tokens::new(b"x")
                .with_public_keys(&["not a key".into()])
                .is_err()
        );
    }

    #[test]
    fn sign_in_tokens_are_random_handles() {
        let a = new_sign_in_token(&mut rand::rng());
        assert!(a.starts_with("cbs_") && a.len() == 68);
        assert_ne!(a, new_sign_in_token(&mut rand::rng()));
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
