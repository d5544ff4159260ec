//! Secrets in page URLs: the values of query and fragment parameters whose names look secret
//! (`?token=…`, `#access_token=…`, `;jsessionid=…`) are replaced before a URL is shown to an
//! agent or recorded. This is the one place they are masked: every URL a customer connection
//! sends (`create`, `resume`, `page`, a snapshot's `url`) passes through here before the
//! session keeps it, the agent gets it, or history and webhooks record it. The server trusts
//! no client with it, and one implementation cannot drift from another.

/// What a secret parameter's value becomes.
pub const MASK: &str = "***";

/// Where a parameter starts: after one of these (`;` for path parameters such as `;jsessionid=`).
const DELIMITERS: [char; 4] = ['?', '#', '&', ';'];

/// The default names (`privacy.secret_params`): a parameter whose name contains one of them,
/// in any case, is secret. Over-masking (`keyword`, `zipcode`) is the safe side.
pub fn default_secret_params() -> Vec<String> {
    [
        "token",
        "code",
        "password",
        "passwd",
        "pwd",
        "secret",
        "key",
        "session",
        "sid",
        "auth",
        "email",
        "ssn",
        "card",
        "cvv",
        "cvc",
        "iban",
        "signature",
    ]
    .map(String::from)
    .to_vec()
}

/// Whether a configured name can be used: letters, digits, `_` and `-` (a parameter name
/// as sites write them; anything else is more likely a mistake in the setting).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The configured names, lowercased once, matched as substrings of parameter names.
#[derive(Clone, Debug, Default)]
pub struct SecretParams(Vec<String>);

impl SecretParams {
    pub fn new(names: &[String]) -> Self {
        SecretParams(names.iter().map(|n| n.to_ascii_lowercase()).collect())
    }

    /// A name as written or percent-decoded (`%74oken` is the `token` a server reads).
    fn is_secret(&self, name: &str) -> bool {
        let decoded = url::form_urlencoded::parse(name.as_bytes())
            .next()
            .map(|(k, _)| k.to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.to_ascii_lowercase();
        self.0
            .iter()
            .any(|n| name.contains(n.as_str()) || decoded.contains(n.as_str()))
    }

    /// `url` with the value of every secret `name=value` that follows a delimiter replaced
    /// by [`MASK`]; everything else as it was.
    pub fn mask(&self, url: &str) -> String {
        let mut out = String::with_capacity(url.len());
        // The text before the first delimiter (scheme, host, path) is never a parameter.
        let mut pieces = url.split(DELIMITERS);
        out.push_str(pieces.next().unwrap_or_default());
        let mut at = out.len();
        for piece in pieces {
            out.push_str(&url[at..=at]); // the delimiter before this piece (one byte)
            match piece.split_once('=') {
                Some((name, _)) if self.is_secret(name) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(MASK);
                }
                _ => out.push_str(piece),
            }
            at += 1 + piece.len();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> SecretParams {
        SecretParams::new(&default_secret_params())
    }

    #[test]
    fn query_and_fragment_secrets_are_masked_and_the_rest_kept() {
        let p = defaults();
        assert_eq!(
            p.mask("https://shop.example/reset?Auth_Token=abc&q=shoes#access_token=xyz&x=1"),
            "https://shop.example/reset?Auth_Token=***&q=shoes#access_token=***&x=1"
        );
        assert_eq!(
            p.mask("https://shop.example/a;jsessionid=ABC?email=bob%40example.com&page=2"),
            "https://shop.example/a;jsessionid=***?email=***&page=2"
        );
        assert_eq!(
            p.mask("https://shop.example/#/checkout?card=4111&step=2"),
            "https://shop.example/#/checkout?card=***&step=2"
        );
    }

    #[test]
    fn percent_encoded_names_are_read_as_the_site_reads_them() {
        assert_eq!(
            defaults().mask("https://shop.example/?%74oken=abc&p%61ssword=x&q=1"),
            "https://shop.example/?%74oken=***&p%61ssword=***&q=1"
        );
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        let p = defaults();
        for url in [
            "https://shop.example/",
            "https://shop.example/p?q=shoes&page=2#top",
            "https://shop.example/p?&&=x&flag#",
            "https://shop.example/p?token",
            "",
            "héllo?é=ü&x=€",
        ] {
            assert_eq!(p.mask(url), url);
        }
    }

    #[test]
    fn masking_is_idempotent_and_handles_empty_and_repeated_values() {
        let p = defaults();
        let once = p.mask("https://x.example/?password=&password==a=b&PWD=1#code=2&code=3");
        assert_eq!(
            once,
            "https://x.example/?password=***&password=***&PWD=***#code=***&code=***"
        );
        assert_eq!(p.mask(&once), once);
    }

    #[test]
    fn the_list_is_configurable() {
        let p = SecretParams::new(&["Voucher".into()]);
        assert_eq!(
            p.mask("https://x.example/?voucher_id=9&token=1"),
            "https://x.example/?voucher_id=***&token=1"
        );
        assert_eq!(SecretParams::default().mask("/?token=1"), "/?token=1");
        assert!(valid_name("access_token") && valid_name("x-key"));
        assert!(!valid_name("") && !valid_name("a|b") && !valid_name("a.b"));
    }
}
