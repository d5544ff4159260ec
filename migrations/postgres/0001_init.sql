-- Accounts: built-in agents and administrators (argon2 hashes).
CREATE TABLE accounts (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('agent', 'admin')),
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- Machine credentials for the REST API; only the SHA-256 of the key is kept.
CREATE TABLE api_keys (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- One-time sign-in links printed by the server.
CREATE TABLE login_links (
    token_hash TEXT PRIMARY KEY,
    account    TEXT NOT NULL REFERENCES accounts(name),
    expires_at BIGINT NOT NULL
);

-- DOM restriction rule sets, scoped by URL pattern; every change is a new version.
CREATE TABLE rule_sets (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    url_pattern TEXT NOT NULL,
    rules       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE rule_set_versions (
    rule_set_id BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    url_pattern TEXT NOT NULL,
    rules       TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    changed_at  BIGINT NOT NULL,
    PRIMARY KEY (rule_set_id, version)
);

-- Session history. `key` is `<session id>-<created ms>`: a nine-digit ID is
-- reused once its session has ended, the pair never is.
CREATE TABLE session_history (
    key            TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    ended_at       BIGINT,
    end_reason     TEXT,
    agent          TEXT,
    interaction_id TEXT,
    channel        TEXT,
    first_url      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX session_history_created ON session_history (created_at);
CREATE INDEX session_history_agent ON session_history (agent);

CREATE TABLE session_events (
    id          BIGSERIAL PRIMARY KEY,
    history_key TEXT NOT NULL REFERENCES session_history(key) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX session_events_key ON session_events (history_key, at);

-- Webhooks managed at run time (those in the config file come on top).
CREATE TABLE webhooks (
    id         BIGSERIAL PRIMARY KEY,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
    id        BIGSERIAL PRIMARY KEY,
    url       TEXT NOT NULL,
    event     TEXT NOT NULL,
    status    TEXT NOT NULL,
    attempts  BIGINT NOT NULL,
    error     TEXT,
    at        BIGINT NOT NULL
);
