-- The tamper-evident log (RFC 6962/9162 Merkle tree): one leaf per record, appended
-- in the transaction that writes the record.
CREATE TABLE log_leaves (
    idx       INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,   -- event, certificate, revocation, sampling
    record_id INTEGER NOT NULL,
    hash      BLOB NOT NULL,  -- leaf hash: SHA-256(0x00 || the record's canonical bytes)
    UNIQUE (kind, record_id)
);

-- Roots of the tree's perfect subtrees above the leaves (level ≥ 1), so that inclusion
-- and consistency proofs are O(log n) reads.
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE log_state (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    root BLOB NOT NULL
);
INSERT INTO log_state (id, size, root) VALUES (1, 0, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

-- Signed checkpoints and where they were anchored; written by the anchoring worker.
CREATE TABLE checkpoints (
    size         INTEGER PRIMARY KEY,
    root         BLOB NOT NULL,
    note         BLOB NOT NULL,
    created      INTEGER NOT NULL,
    ledger_tx    TEXT,
    ledger_block INTEGER,
    anchored     INTEGER
);
