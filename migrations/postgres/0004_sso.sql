-- Accounts made by a sign-in through an OpenID provider are bound to the person the
-- provider names (its id and the token's subject): a provider can never take over an
-- account it did not make, and such an account has no password.
ALTER TABLE accounts ADD COLUMN sso_provider TEXT;
ALTER TABLE accounts ADD COLUMN sso_subject TEXT;
CREATE UNIQUE INDEX accounts_sso ON accounts (sso_provider, sso_subject);

-- Sign-ins through a provider under way, between the redirect to it and its answer:
-- kept in the store so that the answer may reach any node. Each is used once, and
-- only by the browser that started it (the hash of a cookie set at the start).
CREATE TABLE oidc_logins (
    state_hash    TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    console       TEXT NOT NULL CHECK (console IN ('agent', 'admin')),
    expires_at    BIGINT NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);

-- A sign-in through a provider that gave a refresh token is checked with the provider
-- again every so often (the person may have left the group since): which provider, the
-- token to ask with, and when it was last asked (a node claims a check by moving it).
ALTER TABLE sign_ins ADD COLUMN sso_provider TEXT;
ALTER TABLE sign_ins ADD COLUMN sso_refresh TEXT;
ALTER TABLE sign_ins ADD COLUMN sso_checked_at BIGINT;
