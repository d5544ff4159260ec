-- Rule sets keep their whole story: a deletion is a version too (who deleted
-- it, when), and saving a set of the same name again revives it, history and all.
ALTER TABLE rule_sets ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rule_set_versions ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE rule_set_versions ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
UPDATE rule_set_versions SET name = COALESCE((SELECT name FROM rule_sets WHERE rule_sets.id = rule_set_versions.rule_set_id), '');

-- The visual restrictions editor: a one-time link token (in the URL fragment
-- of the site opened in editor mode) is traded once for a short session token
-- that may only save selectors into one rule set, from one site origin.
-- Only SHA-256 hashes are kept.
CREATE TABLE editor_tokens (
    token_hash  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('link', 'session')),
    account     TEXT NOT NULL,
    origin      TEXT NOT NULL,
    url         TEXT NOT NULL,
    rule_set    TEXT NOT NULL,
    url_pattern TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX editor_tokens_expiry ON editor_tokens (expires_at);
