-- The audit trail (docs/audit.md). Each node appends to its own chain, so nodes
-- sharing a database never wait on one another: (node, seq) is unique, and each
-- record holds the SHA-256 of the one before it in its chain.
CREATE TABLE audit_records (
    node    TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    session TEXT,
    kind    TEXT NOT NULL,
    detail  TEXT NOT NULL,
    prev    TEXT NOT NULL,
    hash    TEXT NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX audit_records_at ON audit_records (at);
CREATE INDEX audit_records_session ON audit_records (session);

-- Signed checkpoints, kept as the JSON that docs/audit.md describes; each node
-- chains its own.
CREATE TABLE audit_checkpoints (
    node   TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    reason TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX audit_checkpoints_at ON audit_checkpoints (at);
