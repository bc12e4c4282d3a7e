-- Provenance core: parties, accounts, sites, products, lots, events.
-- Times are microseconds since the Unix epoch (UTC); an event keeps its offset apart.
-- The high-volume tables (events, lots and their links) carry no foreign keys: the
-- service checks every reference in the writing transaction, and the checks cost
-- more than half of bulk capture on PostgreSQL (docs/design.md).
CREATE TABLE parties (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    uscc    TEXT NOT NULL UNIQUE,
    county  TEXT NOT NULL,
    contact TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    party_id      INTEGER NOT NULL REFERENCES parties(id),
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    roles         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created       INTEGER NOT NULL
);

CREATE TABLE tokens (
    hash    BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name    TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE sites (
    id       INTEGER PRIMARY KEY,
    party_id INTEGER NOT NULL REFERENCES parties(id),
    kind     TEXT NOT NULL,
    name     TEXT NOT NULL,
    county   TEXT NOT NULL,
    town     TEXT NOT NULL,
    area_mu  REAL NOT NULL,
    lat      REAL NOT NULL,
    lon      REAL NOT NULL,
    gln      TEXT,
    created  INTEGER NOT NULL
);
CREATE INDEX sites_party ON sites (party_id, id);
CREATE UNIQUE INDEX sites_gln ON sites (gln) WHERE gln IS NOT NULL;

CREATE TABLE products (
    id           INTEGER PRIMARY KEY,
    party_id     INTEGER NOT NULL REFERENCES parties(id),
    name         TEXT NOT NULL,
    variety      TEXT NOT NULL,
    gtin         TEXT UNIQUE,
    unit         TEXT NOT NULL,
    net_kg       REAL NOT NULL,
    cold_profile TEXT NOT NULL,
    created      INTEGER NOT NULL
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    party_id    INTEGER NOT NULL,
    type        TEXT NOT NULL,
    site_id     INTEGER NOT NULL,
    event_time  INTEGER NOT NULL,
    phi_until   INTEGER,            -- input applications: first permitted harvest time
    body        BLOB NOT NULL,      -- canonical bytes
    sha256      BLOB NOT NULL
);
CREATE INDEX events_site_time ON events (site_id, event_time);
CREATE INDEX events_phi ON events (site_id, phi_until) WHERE phi_until IS NOT NULL;

-- A correction supersedes the event it corrects; each event is corrected at most once.
CREATE TABLE corrections (
    corrected_id  INTEGER PRIMARY KEY,
    correction_id INTEGER NOT NULL
);

CREATE TABLE lots (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL,
    holder_id  INTEGER NOT NULL,
    code       TEXT NOT NULL,
    product_id INTEGER NOT NULL,
    quantity   REAL NOT NULL,
    remaining  REAL NOT NULL,
    unit       TEXT NOT NULL,
    grade      TEXT NOT NULL,
    site_id    INTEGER NOT NULL,
    event_id   INTEGER NOT NULL,
    in_transit INTEGER,
    created    INTEGER NOT NULL,
    UNIQUE (owner_id, code)
);
CREATE INDEX lots_holder ON lots (holder_id, id);

CREATE TABLE event_lots (
    lot_id   INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    role     TEXT NOT NULL,
    PRIMARY KEY (lot_id, event_id, role)
) WITHOUT ROWID;

CREATE TABLE lot_edges (
    parent_id INTEGER NOT NULL,
    child_id  INTEGER NOT NULL,
    event_id  INTEGER NOT NULL,
    PRIMARY KEY (parent_id, child_id)
) WITHOUT ROWID;
CREATE INDEX lot_edges_child ON lot_edges (child_id, parent_id);

-- Responses recorded under Idempotency-Key, written in the transaction they answer.
CREATE TABLE idempotency (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB NOT NULL,
    created      INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
);
