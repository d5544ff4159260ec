-- Accounts: built-in agents and administrators (argon2 hashes).
CREATE TABLE accounts (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('agent', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- Machine credentials for the REST API; only the SHA-256 of the key is kept.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- One-time sign-in links printed by the server.
CREATE TABLE login_links (
    token_hash TEXT PRIMARY KEY,
    account    TEXT NOT NULL REFERENCES accounts(name),
    expires_at INTEGER NOT NULL
);

-- DOM restriction rule sets, scoped by URL pattern; every change is a new version.
CREATE TABLE rule_sets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    url_pattern TEXT NOT NULL,
    rules       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE rule_set_versions (
    rule_set_id INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    url_pattern TEXT NOT NULL,
    rules       TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    changed_at  INTEGER NOT NULL,
    PRIMARY KEY (rule_set_id, version)
);

-- Session history. `key` is `<session id>-<created ms>`: a nine-digit ID is
-- reused once its session has ended, the pair never is.
CREATE TABLE session_history (
    key            TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    activated_at   INTEGER,
    ended_at       INTEGER,
    end_reason     TEXT,
    agent          TEXT,
    interaction_id TEXT,
    channel        TEXT,
    first_url      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX session_history_created ON session_history (created_at);
CREATE INDEX session_history_agent ON session_history (agent);

CREATE TABLE session_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    history_key TEXT NOT NULL REFERENCES session_history(key) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX session_events_key ON session_events (history_key, at);

-- Webhooks managed at run time (those in the config file come on top).
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    url       TEXT NOT NULL,
    event     TEXT NOT NULL,
    status    TEXT NOT NULL,
    attempts  INTEGER NOT NULL,
    error     TEXT,
    at        INTEGER NOT NULL
);
