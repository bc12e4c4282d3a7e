-- EPCIS 2.0 (issue 8): capture jobs, and what Ganpin keeps beside its events to
-- speak EPCIS: every event's hash ID, and a captured event's eventID and
-- certificationInfo.
CREATE TABLE epcis_jobs (
    id       INTEGER PRIMARY KEY,
    party_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    roles    TEXT NOT NULL,          -- the submitter's roles, which the job runs with
    created  INTEGER NOT NULL,
    finished INTEGER,                -- NULL while it runs
    success  INTEGER,                -- 1 captured whole, 0 refused whole
    document BLOB,                   -- the submitted document, dropped once it has run
    result   BLOB                    -- JSON: the events captured, or the problems
);
CREATE INDEX epcis_jobs_pending ON epcis_jobs (id) WHERE finished IS NULL;

CREATE TABLE epcis_events (
    event_id  INTEGER PRIMARY KEY,
    hash      BLOB NOT NULL,         -- SHA-256 of the event's canonical pre-hash string
    eid       TEXT,                  -- the eventID it was captured with, when not its hash ID
    cert_info TEXT,                  -- captured certificationInfo, a JSON array
    job_id    INTEGER                -- the capture job that stored it
);
CREATE INDEX epcis_events_hash ON epcis_events (hash);
CREATE INDEX epcis_events_eid ON epcis_events (eid) WHERE eid IS NOT NULL;

-- Events Ganpin keeps as a partner sent them, because only the system that made
-- them can make them (a sealed cold-chain leg's sensor report): returned with the
-- lots they name, never judged again.
CREATE TABLE epcis_attachments (
    id         INTEGER PRIMARY KEY,
    party_id   INTEGER NOT NULL,       -- the party that captured it
    job_id     INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    eid        TEXT,
    body       BLOB NOT NULL           -- the event's JSON as sent
);
CREATE INDEX epcis_attachments_hash ON epcis_attachments (hash);

CREATE TABLE epcis_attachment_lots (
    lot_id        INTEGER NOT NULL,
    attachment_id INTEGER NOT NULL,
    PRIMARY KEY (lot_id, attachment_id)
) WITHOUT ROWID;

-- How far epcis_events covers the log: events appended after this leaf are hashed
-- by the EPCIS worker.
CREATE TABLE epcis_index (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    leaf INTEGER NOT NULL
);
INSERT INTO epcis_index (id, leaf) VALUES (1, -1);
