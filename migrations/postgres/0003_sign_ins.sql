-- Sign-in cookies are random handles to these rows, not signed tokens: nothing an agent
-- desktop holds can make one, and deleting a row (sign-out, a password change, a disabled
-- account) ends that sign-in at once on every node. Only SHA-256 hashes are kept.
CREATE TABLE sign_ins (
    token_hash TEXT PRIMARY KEY,
    account    TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('agent', 'admin')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sign_ins_account ON sign_ins (account);
CREATE INDEX sign_ins_expiry ON sign_ins (expires_at);
