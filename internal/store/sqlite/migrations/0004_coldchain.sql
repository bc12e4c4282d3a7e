-- Cold chain (issue 6): loggers, their assignments, raw readings and per-leg
-- summaries; platforms' sales channels, orders and recall webhooks.
-- Leg summaries and orders are leaves of the tamper-evident log.
CREATE TABLE devices (
    id       INTEGER PRIMARY KEY,
    party_id INTEGER NOT NULL REFERENCES parties(id),
    serial   TEXT NOT NULL UNIQUE,     -- the logger's own ID; its MQTT topic is ganpin/telemetry/{serial}
    model    TEXT NOT NULL,
    created  INTEGER NOT NULL
);
CREATE INDEX devices_party ON devices (party_id, id);

-- A device placed with a shipment (shipping event), a container or a cold-store room
-- for a time window (EPCIS AssociationEvent semantics).
CREATE TABLE assignments (
    id          INTEGER PRIMARY KEY,
    device_id   INTEGER NOT NULL REFERENCES devices(id),
    party_id    INTEGER NOT NULL,
    kind        TEXT NOT NULL,          -- shipment, container, room
    shipment_id INTEGER,
    container   TEXT,
    site_id     INTEGER,
    room        TEXT,
    valid_from  INTEGER NOT NULL,
    valid_to    INTEGER,                 -- NULL while the device is still in place
    created     INTEGER NOT NULL
);
CREATE INDEX assignments_device ON assignments (device_id, id);
CREATE INDEX assignments_shipment ON assignments (shipment_id) WHERE shipment_id IS NOT NULL;
CREATE INDEX assignments_container ON assignments (container) WHERE container IS NOT NULL;
CREATE INDEX assignments_site ON assignments (site_id) WHERE site_id IS NOT NULL;

-- Raw readings, one per device and instant: a repeated reading is ignored.
-- flags: 1 temperature implausible, 2 humidity implausible (kept, excluded from verdicts).
CREATE TABLE readings (
    device_id INTEGER NOT NULL,
    t         INTEGER NOT NULL,
    temp      REAL NOT NULL,
    humidity  REAL,
    flags     INTEGER NOT NULL,
    PRIMARY KEY (device_id, t)
) WITHOUT ROWID;

-- Per-leg summaries: a leg (shipping → receiving, or a cold-store stay from its
-- storing event) is summarised again, as a new version, when its readings change.
CREATE TABLE leg_summaries (
    id        INTEGER PRIMARY KEY,
    leg_id    INTEGER NOT NULL,          -- the leg's start event
    version   INTEGER NOT NULL,
    party_id  INTEGER NOT NULL,
    created   INTEGER NOT NULL,
    body      BLOB NOT NULL,           -- canonical bytes
    UNIQUE (leg_id, version)
);

-- A producer's lots may be sold through a platform.
CREATE TABLE sales_channels (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES parties(id),
    platform_id INTEGER NOT NULL REFERENCES parties(id),
    created     INTEGER NOT NULL,
    ended       INTEGER,
    UNIQUE (owner_id, platform_id)
);

-- Orders carry no personal data: number, channel, time, destination division codes.
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    platform_id INTEGER NOT NULL,
    number      TEXT NOT NULL,
    order_time  INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    body        BLOB NOT NULL,         -- canonical bytes
    UNIQUE (platform_id, number)
);
CREATE INDEX orders_platform ON orders (platform_id, id);

CREATE TABLE order_items (
    order_id INTEGER NOT NULL,
    idx      INTEGER NOT NULL,
    lot_id   INTEGER NOT NULL,
    serial   TEXT,                      -- certificate serial
    unit     TEXT,                      -- unit-level serial on that certificate
    quantity REAL NOT NULL,
    PRIMARY KEY (order_id, idx)
);
CREATE INDEX order_items_lot ON order_items (lot_id, order_id);
CREATE INDEX order_items_serial ON order_items (serial, unit) WHERE serial IS NOT NULL;

-- Webhooks: one endpoint per platform; its HMAC secret sealed to the delivery
-- worker's public key (webhook_key), so that only the worker can open it.
CREATE TABLE webhook_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    public_key BLOB NOT NULL
);

CREATE TABLE webhooks (
    party_id   INTEGER PRIMARY KEY REFERENCES parties(id),
    url        TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    created    INTEGER NOT NULL
);

-- The outbox of webhook deliveries, retried with exponential backoff.
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    party_id     INTEGER NOT NULL,
    ref          TEXT NOT NULL,         -- what it announces, e.g. recall:42
    event        TEXT NOT NULL,
    body         BLOB NOT NULL,
    created      INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    delivered    INTEGER,
    failed       INTEGER,
    last_status  INTEGER,
    last_error   TEXT,
    UNIQUE (ref, party_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt) WHERE delivered IS NULL AND failed IS NULL;
CREATE INDEX webhook_deliveries_party ON webhook_deliveries (party_id, id);
