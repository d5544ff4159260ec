//! Signing people in through OpenID providers: the authorization code flow with
//! PKCE, `state` and `nonce`, and the ID token checked against the provider's
//! published keys. `openidconnect` does the protocol and the cryptography; this
//! is the glue: discovery kept for a while, keys fetched again when a token
//! names one we do not have (the provider rotated its keys), and the HTTP calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    LogoutRequest, Nonce, NonceVerifier, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use tokio::sync::Mutex;

use crate::config::OidcProvider;
use crate::domain::sso::{Person, Policy, strings_at};

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("no sign-in provider is called {0:?}")]
    UnknownProvider(String),
    #[error("cannot reach {provider} now: {why}")]
    Unreachable { provider: String, why: String },
    #[error("{provider} refused the sign-in: {why}")]
    Exchange { provider: String, why: String },
    #[error("the answer of {provider} could not be trusted: {why}")]
    BadToken { provider: String, why: String },
}

/// Discovery (endpoints and signing keys) is fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Keys are fetched again for an unknown key id at most this often, so that
/// tokens naming random key ids cannot make us hammer the provider.
const KEYS_REFETCH_GAP: Duration = Duration::from_secs(10);

/// The providers of the `[oidc]` settings.
pub struct Sso {
    providers: Vec<Provider>,
    http: reqwest::Client,
}

struct Provider {
    config: OidcProvider,
    metadata: Mutex<Option<Fetched>>,
}

struct Fetched {
    metadata: Arc<ProviderMetadataWithLogout>,
    at: Instant,
}

/// A person the provider vouched for, and what to ask it again with later.
pub struct Verified {
    pub person: Person,
    pub refresh_token: Option<String>,
}

/// A refreshed ID token carries no nonce, or the first sign-in's again: either
/// is fine, as it comes straight from the provider's token endpoint for our
/// refresh token, never through a browser (the nonce guards that way in).
#[derive(Clone, Copy)]
struct RefreshedNonce;

impl NonceVerifier for RefreshedNonce {
    fn verify(self, _nonce: Option<&Nonce>) -> Result<(), String> {
        Ok(())
    }
}

/// Where to send the browser, and what to keep until the provider answers.
pub struct Start {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl Sso {
    pub fn new(providers: &[OidcProvider]) -> Result<Sso, reqwest::Error> {
        // A provider answers itself: a redirect would carry the code elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Sso {
            providers: providers
                .iter()
                .map(|config| Provider {
                    config: config.clone(),
                    metadata: Mutex::new(None),
                })
                .collect(),
            http,
        })
    }

    /// The providers' ids and names, in the order of the settings.
    pub fn list(&self) -> impl Iterator<Item = &OidcProvider> {
        self.providers.iter().map(|p| &p.config)
    }

    pub fn config(&self, id: &str) -> Result<&OidcProvider, SsoError> {
        self.provider(id).map(|p| &p.config)
    }

    fn provider(&self, id: &str) -> Result<&Provider, SsoError> {
        self.providers
            .iter()
            .find(|p| p.config.id == id)
            .ok_or_else(|| SsoError::UnknownProvider(id.into()))
    }

    /// The provider's authorization URL for a new sign-in.
    pub async fn start(&self, id: &str, redirect: &str) -> Result<Start, SsoError> {
        let p = self.provider(id)?;
        let client = p.client(&*self.metadata(p, false).await?, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = p.config.scopes.iter().filter(|s| *s != "openid");
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(scopes.map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Start {
            url: url.into(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Trades the provider's code for an ID token and says whom it names, once
    /// its signature, issuer, audience, times and nonce are checked.
    pub async fn finish(
        &self,
        id: &str,
        redirect: &str,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Verified, SsoError> {
        let p = self.provider(id)?;
        let metadata = self.metadata(p, false).await?;
        let client = p.client(&metadata, redirect)?;
        let exchange = client
            .exchange_code(AuthorizationCode::new(code.into()))
            .map_err(|e| p.exchange_error(e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.into()));
        let tokens: CoreTokenResponse = exchange
            .request_async(&self.http_client())
            .await
            .map_err(|e| p.exchange_error(e))?;
        let nonce = Nonce::new(nonce.into());
        let person = self.verified(p, &client, redirect, &tokens, &nonce).await?;
        Ok(Verified {
            person,
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        })
    }

    /// Asks the provider again about the person a sign-in's refresh token stands
    /// for. `Ok(None)`: the provider still honours it but sent no ID token to
    /// read groups from.
    pub async fn refresh(
        &self,
        id: &str,
        redirect: &str,
        refresh_token: &str,
    ) -> Result<Option<Verified>, SsoError> {
        let p = self.provider(id)?;
        let metadata = self.metadata(p, false).await?;
        let client = p.client(&metadata, redirect)?;
        let token = RefreshToken::new(refresh_token.into());
        let request = client
            .exchange_refresh_token(&token)
            .map_err(|e| p.exchange_error(e))?;
        let tokens: CoreTokenResponse = match request.request_async(&self.http_client()).await {
            Ok(tokens) => tokens,
            // The provider answered no: the grant is revoked or the person gone.
            Err(e @ RequestTokenError::ServerResponse(_)) => return Err(p.exchange_error(e)),
            Err(e) => return Err(p.unreachable(e)),
        };
        if tokens.id_token().is_none() {
            return Ok(None);
        }
        let person = self
            .verified(p, &client, redirect, &tokens, RefreshedNonce)
            .await?;
        Ok(Some(Verified {
            person,
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        }))
    }

    /// The person of a token answer's ID token, fetching the provider's keys
    /// again once if it names a key we do not have (they may have rotated).
    async fn verified(
        &self,
        p: &Provider,
        client: &OidcClient,
        redirect: &str,
        tokens: &CoreTokenResponse,
        nonce: impl NonceVerifier + Copy,
    ) -> Result<Person, SsoError> {
        let token = tokens.id_token().ok_or_else(|| SsoError::Exchange {
            provider: p.config.name.clone(),
            why: "it sent no ID token".into(),
        })?;
        match p.person(client, token, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let metadata = self.metadata(p, true).await?;
                let client = p.client(&metadata, redirect)?;
                p.person(&client, token, nonce)
                    .map_err(|e| p.token_error(e))
            }
            other => other.map_err(|e| p.token_error(e)),
        }
    }

    /// Where to send the browser to sign out at the provider too, if it says.
    pub async fn logout_url(&self, id: &str, back_to: &str) -> Option<String> {
        let p = self.provider(id).ok()?;
        let metadata = self.metadata(p, false).await.ok()?;
        let end = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let back = PostLogoutRedirectUrl::new(back_to.into()).ok()?;
        let request = LogoutRequest::from(end)
            .set_client_id(ClientId::new(p.config.client_id.clone()))
            .set_post_logout_redirect_uri(back);
        Some(request.http_get_url().into())
    }

    /// The provider's discovery document and keys, fetched when missing, old,
    /// or (`keys_changed`) when a token named a key they do not hold.
    async fn metadata(
        &self,
        p: &Provider,
        keys_changed: bool,
    ) -> Result<Arc<ProviderMetadataWithLogout>, SsoError> {
        let mut cached = p.metadata.lock().await;
        let fresh = match &*cached {
            Some(f) if keys_changed => f.at.elapsed() < KEYS_REFETCH_GAP,
            Some(f) => f.at.elapsed() < METADATA_TTL,
            None => false,
        };
        if !fresh {
            let issuer = IssuerUrl::new(p.config.issuer.clone()).map_err(|e| p.unreachable(e))?;
            let http = self.http_client();
            let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
                .await
                .map_err(|e| p.unreachable(e))?;
            *cached = Some(Fetched {
                metadata: Arc::new(metadata),
                at: Instant::now(),
            });
        }
        Ok(cached.as_ref().expect("fetched above").metadata.clone())
    }

    /// The HTTP client `openidconnect` calls; its futures own what they use, as
    /// a handler's future must be `Send` for any borrow.
    fn http_client(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<
            dyn Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>>
                + Send
                + 'static,
        >,
    > + Send
    + Sync {
        let http = self.http.clone();
        move |request| Box::pin(send(http.clone(), request))
    }
}

async fn send(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let request = reqwest::Request::try_from(request)?;
    let response = http.execute(request).await?;
    let mut out = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(out
        .body(body)
        .expect("a status and headers from a response"))
}

impl Provider {
    fn client(
        &self,
        metadata: &ProviderMetadataWithLogout,
        redirect: &str,
    ) -> Result<OidcClient, SsoError> {
        let redirect = RedirectUrl::new(redirect.into()).map_err(|e| self.unreachable(e))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// The person a verified ID token names, with the groups or roles of its claims.
    fn person(
        &self,
        client: &OidcClient,
        token: &CoreIdToken,
        nonce: impl NonceVerifier,
    ) -> Result<Person, ClaimsVerificationError> {
        let skew = chrono::Duration::from_std(self.config.clock_skew).unwrap_or_default();
        // `exp` may lag our clock by the skew, `iat` lead it by as much.
        let verifier = client
            .id_token_verifier()
            .set_time_fn(move || chrono::Utc::now() - skew)
            .set_issue_time_verifier_fn(move |iat| {
                if iat > chrono::Utc::now() + skew {
                    Err(format!("issued in the future ({iat})"))
                } else {
                    Ok(())
                }
            });
        let claims: &CoreIdTokenClaims = token.claims(&verifier, nonce)?;
        Ok(Person {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified(),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
            roles: strings_at(&payload(token), &self.config.roles_claim),
        })
    }

    fn unreachable(&self, e: impl std::error::Error) -> SsoError {
        SsoError::Unreachable {
            provider: self.config.name.clone(),
            why: error_chain(&e),
        }
    }

    fn exchange_error(&self, e: impl std::error::Error) -> SsoError {
        SsoError::Exchange {
            provider: self.config.name.clone(),
            why: error_chain(&e),
        }
    }

    fn token_error(&self, e: ClaimsVerificationError) -> SsoError {
        SsoError::BadToken {
            provider: self.config.name.clone(),
            why: e.to_string(),
        }
    }
}

/// Who a provider's settings let in, and as what.
pub fn policy(config: &OidcProvider) -> Policy<'_> {
    Policy {
        provider_name: &config.name,
        roles_claim: &config.roles_claim,
        agent_values: &config.agent_values,
        admin_values: &config.admin_values,
        allowed_domains: &config.allowed_domains,
    }
}

type OidcClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A verified token's claims as JSON, for the claim the settings name (groups
/// and roles are no standard claim, so the typed claims do not hold them).
fn payload(token: &CoreIdToken) -> serde_json::Value {
    use base64::Engine;
    let compact = token.to_string();
    let body = compact.split('.').nth(1).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or_default()
}

/// An error and its causes on one line: the OAuth errors say the useful part last.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
