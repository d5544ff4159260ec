//! Single sign-on through OpenID providers: what a verified ID token makes of a
//! person (which account, which role), apart from the protocol that verifies it.

use serde_json::Value;

use super::account::AccountRole;
use crate::session::Millis;

/// A sign-in through a provider between the redirect to it and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcLogin {
    /// SHA-256 of the `state` sent to the provider: the answer names it.
    pub state_hash: String,
    pub provider: String,
    /// SHA-256 of a cookie set on the browser that started the sign-in, so that an
    /// answer carried to another browser (login CSRF) signs nobody in.
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The console the person came from, and goes back to.
    pub console: AccountRole,
    pub expires_at: Millis,
}

/// Who a provider may sign in, and as what (a provider's settings, read as rules).
pub struct Policy<'a> {
    pub provider_name: &'a str,
    pub roles_claim: &'a str,
    pub agent_values: &'a [String],
    pub admin_values: &'a [String],
    pub allowed_domains: &'a [String],
}

/// What a verified ID token says of its person.
#[derive(Clone, Debug, Default)]
pub struct Person {
    pub subject: String,
    pub email: Option<String>,
    /// `None` when the provider does not say (Entra ID never does).
    pub email_verified: Option<bool>,
    pub preferred_username: Option<String>,
    pub roles: Vec<String>,
}

/// Why a person the provider vouches for may still not sign in here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error(
        "{provider} does not put you in a group that may use co-browsing: ask your administrator to add you"
    )]
    NoRole { provider: String },
    #[error("only people with an email address at {allowed} may sign in (yours is {email})")]
    Domain { email: String, allowed: String },
    #[error(
        "{provider} did not give a verified email address, which this server needs to check your domain"
    )]
    NoVerifiedEmail { provider: String },
    #[error(
        "{provider} gave no email or user name that can name an account here (letters, digits, . _ - @; at most 64)"
    )]
    NoName { provider: String },
    #[error(
        "an account named {name} already exists and does not sign in with {provider}: an administrator must remove or rename it first"
    )]
    NameTaken { name: String, provider: String },
}

impl Policy<'_> {
    /// The role the person's groups or roles give; administrators' values win.
    pub fn role(&self, person: &Person) -> Result<AccountRole, Refusal> {
        self.check_domain(person)?;
        let has = |values: &[String]| person.roles.iter().any(|r| values.contains(r));
        if has(self.admin_values) {
            Ok(AccountRole::Admin)
        } else if has(self.agent_values) {
            Ok(AccountRole::Agent)
        } else {
            Err(Refusal::NoRole {
                provider: self.provider_name.into(),
            })
        }
    }

    fn check_domain(&self, person: &Person) -> Result<(), Refusal> {
        if self.allowed_domains.is_empty() {
            return Ok(());
        }
        let Some(email) = person
            .email
            .as_deref()
            .filter(|_| person.email_verified != Some(false))
        else {
            return Err(Refusal::NoVerifiedEmail {
                provider: self.provider_name.into(),
            });
        };
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        let allowed = domain.is_some_and(|d| {
            self.allowed_domains
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&d))
        });
        if allowed {
            Ok(())
        } else {
            Err(Refusal::Domain {
                email: email.into(),
                allowed: self.allowed_domains.join(", "),
            })
        }
    }

    /// The account's name: the email (lower case) when it can be one, else the
    /// provider's user name.
    pub fn account_name(&self, person: &Person) -> Result<String, Refusal> {
        let email = person.email.as_deref().map(str::to_ascii_lowercase);
        email
            .into_iter()
            .chain(person.preferred_username.clone())
            .find(|n| crate::auth::valid_name(n))
            .ok_or_else(|| Refusal::NoName {
                provider: self.provider_name.into(),
            })
    }
}

/// The strings at a dotted path of a token's claims (`groups`,
/// `realm_access.roles`): a list of strings, or one string.
pub fn strings_at(claims: &Value, path: &str) -> Vec<String> {
    let found = path
        .split('.')
        .try_fold(claims, |v, key| v.as_object().and_then(|o| o.get(key)));
    match found {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn person(email: Option<&str>, roles: &[&str]) -> Person {
        Person {
            subject: "s-1".into(),
            email: email.map(String::from),
            roles: strings(roles),
            ..Person::default()
        }
    }

    #[test]
    fn groups_give_the_role_and_administrators_win() {
        let (agents, admins) = (strings(&["support"]), strings(&["it-admins"]));
        let policy = Policy {
            provider_name: "Okta",
            roles_claim: "groups",
            agent_values: &agents,
            admin_values: &admins,
            allowed_domains: &[],
        };
        let role = |roles: &[&str]| policy.role(&person(None, roles));
        assert_eq!(role(&["support"]), Ok(AccountRole::Agent));
        assert_eq!(role(&["support", "it-admins"]), Ok(AccountRole::Admin));
        assert_eq!(role(&["it-admins"]), Ok(AccountRole::Admin));
        assert_eq!(
            role(&["sales", "Support"]),
            Err(Refusal::NoRole {
                provider: "Okta".into()
            })
        );
        assert!(role(&[]).is_err());
    }

    #[test]
    fn allowed_domains_need_a_verified_email_at_one_of_them() {
        let (agents, domains) = (strings(&["support"]), strings(&["example.com"]));
        let policy = Policy {
            provider_name: "Keycloak",
            roles_claim: "groups",
            agent_values: &agents,
            admin_values: &[],
            allowed_domains: &domains,
        };
        let at = |email: Option<&str>, verified: Option<bool>| {
            let mut p = person(email, &["support"]);
            p.email_verified = verified;
            policy.role(&p)
        };
        assert_eq!(
            at(Some("ann@Example.COM"), Some(true)),
            Ok(AccountRole::Agent)
        );
        assert_eq!(at(Some("ann@example.com"), None), Ok(AccountRole::Agent));
        assert!(matches!(
            at(Some("ann@example.com"), Some(false)),
            Err(Refusal::NoVerifiedEmail { .. })
        ));
        assert!(matches!(
            at(None, None),
            Err(Refusal::NoVerifiedEmail { .. })
        ));
        assert!(matches!(
            at(Some("ann@example.com.evil.test"), Some(true)),
            Err(Refusal::Domain { .. })
        ));
        assert!(matches!(
            at(Some("ann@sub.example.com"), Some(true)),
            Err(Refusal::Domain { .. })
        ));
    }

    #[test]
    fn the_account_is_named_by_email_then_user_name() {
        let policy = Policy {
            provider_name: "Entra ID",
            roles_claim: "roles",
            agent_values: &[],
            admin_values: &[],
            allowed_domains: &[],
        };
        let mut p = person(Some("Ann.Lee@Example.com"), &[]);
        assert_eq!(policy.account_name(&p).unwrap(), "ann.lee@example.com");
        p.email = Some("has space@example.com".into());
        p.preferred_username = Some("ann".into());
        assert_eq!(policy.account_name(&p).unwrap(), "ann");
        p.preferred_username = None;
        assert!(matches!(
            policy.account_name(&p),
            Err(Refusal::NoName { .. })
        ));
    }

    #[test]
    fn roles_are_read_at_a_dotted_path() {
        let claims = json!({
            "groups": ["a", "b", 3],
            "realm_access": { "roles": ["agent"] },
            "role": "admin",
        });
        assert_eq!(strings_at(&claims, "groups"), strings(&["a", "b"]));
        assert_eq!(
            strings_at(&claims, "realm_access.roles"),
            strings(&["agent"])
        );
        assert_eq!(strings_at(&claims, "role"), strings(&["admin"]));
        assert!(strings_at(&claims, "realm_access.none").is_empty());
        assert!(strings_at(&claims, "groups.x").is_empty());
    }
}
