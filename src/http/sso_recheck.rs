//! Asks the providers again, every `recheck_every`, about the people signed in
//! through them with a refresh token: someone the provider no longer puts in
//! a group that may co-browse, or no longer vouches for at all, loses every
//! sign-in, and their open consoles close within `auth.recheck`. Each check is
//! claimed in the store, so that on a cluster one node makes it.

use super::AppState;
use super::sso_routes::{account_for, counted, redirect_uri, sso_audit};
use crate::clock::now_ms;
use crate::config::OidcProvider;
use crate::domain::account::SignIn;
use crate::sso::SsoError;

/// Checks what is due, until the task is stopped with the server.
pub async fn run(app: AppState) {
    let Some(every) = app.config.oidc.iter().map(|p| p.recheck_every).min() else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for provider in &app.config.oidc {
            check_due(&app, provider).await;
        }
    }
}

async fn check_due(app: &AppState, provider: &OidcProvider) {
    let now = now_ms();
    let due_before = now.saturating_sub(provider.recheck_every.as_millis() as u64);
    match app
        .store
        .claim_sso_checks(&provider.id, due_before, now)
        .await
    {
        Ok(sign_ins) => {
            for sign_in in sign_ins {
                check(app, provider, sign_in).await;
            }
        }
        Err(e) => {
            tracing::warn!(provider = %provider.id, error = %e, "could not read the sign-ins to check")
        }
    }
}

async fn check(app: &AppState, provider: &OidcProvider, sign_in: SignIn) {
    let Some(grant) = sign_in.sso else {
        return;
    };
    let id = provider.id.as_str();
    let redirect = redirect_uri(app, id);
    let verified = match app.sso.refresh(id, &redirect, &grant.refresh_token).await {
        // Still honoured, with no ID token to read the groups from.
        Ok(None) => return,
        Ok(Some(verified)) => verified,
        // A provider that cannot be reached must not sign everybody out.
        Err(e @ SsoError::Unreachable { .. }) => {
            tracing::warn!(provider = id, error = %e, "could not check a sign-in with its provider");
            return;
        }
        Err(e) => {
            counted(id, "revoked");
            tracing::warn!(account = %sign_in.account, provider = id, error = %e, "the provider no longer vouches for this sign-in: the account's sign-ins end");
            let detail = serde_json::json!({ "account": sign_in.account, "error": e.to_string() });
            sso_audit(app, id, "sso.revoked", detail);
            if let Err(e) = app.store.remove_sign_ins(&sign_in.account).await {
                tracing::warn!(account = %sign_in.account, error = %e, "could not end the sign-ins");
            }
            return;
        }
    };
    if let Some(rotated) = &verified.refresh_token
        && let Err(e) = app
            .store
            .set_sso_refresh(&sign_in.token_hash, rotated)
            .await
    {
        tracing::warn!(account = %sign_in.account, error = %e, "could not keep the provider's new refresh token");
    }
    match account_for(app, id, &verified.person).await {
        Ok(Ok(_)) => {}
        Ok(Err(refusal)) => {
            counted(id, "refused");
            tracing::warn!(account = %sign_in.account, provider = id, why = %refusal, "SSO sign-in no longer qualifies");
            let detail =
                serde_json::json!({ "account": sign_in.account, "why": refusal.to_string() });
            sso_audit(app, id, "sso.refused", detail);
        }
        Err(e) => {
            tracing::warn!(account = %sign_in.account, error = %e, "could not check the account")
        }
    }
}
