-- 承诺达标合格证: one per lot, never updated but for its ledger registration; a
-- revocation is a record of its own. Both are leaves of the tamper-evident log.
CREATE TABLE certificates (
    id        INTEGER PRIMARY KEY,
    serial    TEXT NOT NULL UNIQUE,
    party_id  INTEGER NOT NULL,
    lot_id    INTEGER NOT NULL UNIQUE,  -- one certificate per production batch
    issued    INTEGER NOT NULL,
    body      BLOB NOT NULL,            -- canonical bytes
    signature BLOB NOT NULL,            -- the issuing party's Ed25519 signature of body
    ledger_tx TEXT                      -- registration on the ledger (outbox until set)
);
CREATE INDEX certificates_party ON certificates (party_id, id);
CREATE INDEX certificates_unregistered ON certificates (id) WHERE ledger_tx IS NULL;
-- The Digital Link resolver finds a certificate by GTIN and lot code (/01/{gtin}/10/{lot}).
CREATE INDEX lots_product_code ON lots (product_id, code);

CREATE TABLE revocations (
    certificate_id INTEGER PRIMARY KEY,
    party_id       INTEGER NOT NULL,    -- the revoking party
    created        INTEGER NOT NULL,
    body           BLOB NOT NULL,       -- canonical bytes
    ledger_tx      TEXT
);
CREATE INDEX revocations_unregistered ON revocations (certificate_id) WHERE ledger_tx IS NULL;

-- Tiles of the tamper-evident log: the hashes of 16 consecutive leaves (level 0) or
-- level-4 nodes, one row once all 16 exist, so that an inclusion proof reads one row
-- for the levels below those a prover keeps in memory. Leaves appended before this
-- version have no tiles; their proofs read the nodes one by one.
CREATE TABLE log_tiles (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);
