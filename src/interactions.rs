//! Signed interaction IDs. A session bound to a chat or call is ended with it, and an
//! agent desktop may find the session by it; a customer who could bind a session to
//! someone else's chat ID would put their own page in front of that chat's agent. Where
//! the site's backend signs the IDs it hands its own customers, the server takes a
//! binding only with a valid signature.
//!
//! The signature is hex HMAC-SHA256, keyed with the site's secret, of
//! `"{origin}\n{channel}\n{expires}\n{id}"`: the site's origin as the browser sends it
//! (`https://shop.example`), the channel (`chat`, `call`, or empty), the Unix time in
//! seconds until which it may be used, and the interaction ID.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::InteractionsConfig;
use crate::config::normalize_origin;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("this site's interactions must be signed by its backend (signature and expires)")]
    Missing,
    #[error("the interaction's signature does not match")]
    Mismatch,
    #[error("the interaction's signature has expired")]
    Expired,
    #[error("no interaction secret is configured for this site")]
    NoSecret,
}

fn mac(secret: &str, origin: &str, channel: &str, expires: u64, id: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{origin}\n{channel}\n{expires}\n{id}").as_bytes());
    mac
}

/// What the site's backend computes (and the tests, and the docs' example).
pub fn sign(secret: &str, origin: &str, channel: &str, expires: u64, id: &str) -> String {
    hex::encode(
        mac(secret, origin, channel, expires, id)
            .finalize()
            .into_bytes(),
    )
}

/// An interaction as the customer script presents it.
pub struct Claim<'a> {
    pub id: &'a str,
    pub channel: &'a str,
    pub expires: Option<u64>,
    pub signature: Option<&'a str>,
}

/// Whether `claim` may bind a session started from `origin` at `now_s`: signed with the
/// site's secret if the site has one, and necessarily so with `require_signature`.
pub fn check(
    config: &InteractionsConfig,
    origin: &str,
    claim: &Claim,
    now_s: u64,
) -> Result<(), SignatureError> {
    let origin = normalize_origin(origin).unwrap_or_default();
    let secret = config
        .sites
        .iter()
        .find(|s| normalize_origin(&s.origin).as_deref() == Some(origin.as_str()))
        .map(|s| s.secret.as_str());
    let Some(secret) = secret else {
        return match config.require_signature {
            true => Err(SignatureError::NoSecret),
            false => Ok(()),
        };
    };
    let (Some(expires), Some(signature)) = (claim.expires, claim.signature) else {
        return Err(SignatureError::Missing);
    };
    let given = hex::decode(signature).map_err(|_| SignatureError::Mismatch)?;
    mac(secret, &origin, claim.channel, expires, claim.id)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)?;
    if expires < now_s {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InteractionSite;

    const SITE: &str = "https://shop.example";
    const SECRET: &str = "a secret the shop's backend keeps, 32+";

    fn config(require: bool) -> InteractionsConfig {
        InteractionsConfig {
            require_signature: require,
            sites: vec![InteractionSite {
                origin: SITE.into(),
                secret: SECRET.into(),
            }],
        }
    }

    fn claim<'a>(id: &'a str, expires: Option<u64>, signature: Option<&'a str>) -> Claim<'a> {
        Claim {
            id,
            channel: "chat",
            expires,
            signature,
        }
    }

    #[test]
    fn a_signed_interaction_binds_and_nothing_else_does() {
        let c = config(false);
        let good = sign(SECRET, SITE, "chat", 2000, "chat-1");
        assert_eq!(
            check(&c, SITE, &claim("chat-1", Some(2000), Some(&good)), 1000),
            Ok(())
        );
        let cases = [
            (
                claim("chat-2", Some(2000), Some(&good)),
                SignatureError::Mismatch,
            ),
            (
                claim("chat-1", Some(3000), Some(&good)),
                SignatureError::Mismatch,
            ),
            (
                claim("chat-1", Some(2000), Some("zz")),
                SignatureError::Mismatch,
            ),
            (claim("chat-1", None, None), SignatureError::Missing),
        ];
        for (claim, expected) in cases {
            assert_eq!(check(&c, SITE, &claim, 1000), Err(expected));
        }
        assert_eq!(
            check(&c, SITE, &claim("chat-1", Some(2000), Some(&good)), 2001),
            Err(SignatureError::Expired)
        );
        let other_site = "https://other.example";
        let theirs = sign(SECRET, other_site, "chat", 2000, "chat-1");
        assert_eq!(
            check(&c, SITE, &claim("chat-1", Some(2000), Some(&theirs)), 1000),
            Err(SignatureError::Mismatch),
            "a signature for another origin does not transfer"
        );
    }

    #[test]
    fn sites_without_a_secret_bind_freely_unless_signatures_are_required() {
        let c = config(false);
        let free = claim("chat-1", None, None);
        assert_eq!(check(&c, "https://other.example", &free, 0), Ok(()));
        let strict = config(true);
        assert_eq!(
            check(&strict, "https://other.example", &free, 0),
            Err(SignatureError::NoSecret)
        );
    }
}
