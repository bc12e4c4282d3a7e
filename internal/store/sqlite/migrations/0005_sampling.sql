-- Inspection (issue 7): sampling records (抽样单) with their photos, test reports,
-- follow-ups (re-test requests, disposal, publication), the lots a 不合格 verdict
-- marked non-compliant, and the inspectors' query log. Every record is append-only
-- and a leaf of the tamper-evident log (its body); the columns beside a body index it.
CREATE TABLE samplings (
    id             INTEGER PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,  -- 抽样单编号
    party_id       INTEGER NOT NULL,      -- the inspecting party
    county         TEXT NOT NULL,         -- of the sampling place: whose jurisdiction
    sampled_at     INTEGER NOT NULL,
    sampled_party  TEXT NOT NULL,         -- 被抽样单位
    sampled_id     INTEGER,               -- when a registered party
    producer       TEXT NOT NULL,
    producer_id    INTEGER,
    product        TEXT NOT NULL,         -- 样品名称
    lot_id         INTEGER,
    report_due     INTEGER NOT NULL,
    created        INTEGER NOT NULL,
    body           BLOB NOT NULL,         -- canonical bytes
    -- Derived from the reports and actions, recomputable from their rows:
    verdict        TEXT,                  -- the latest report's; NULL until reported
    reported       INTEGER,
    disposal_due   INTEGER,
    closed         INTEGER,
    published      INTEGER
);
CREATE INDEX samplings_county ON samplings (county, id);
CREATE INDEX samplings_time ON samplings (sampled_at, county, product, id); -- covers the filters of a window
CREATE INDEX samplings_verdict ON samplings (verdict, id);
CREATE INDEX samplings_county_verdict ON samplings (county, verdict, id);
CREATE INDEX samplings_product ON samplings (product, id);
CREATE INDEX samplings_sampled ON samplings (sampled_id, id) WHERE sampled_id IS NOT NULL;
CREATE INDEX samplings_producer ON samplings (producer_id, id) WHERE producer_id IS NOT NULL;
CREATE INDEX samplings_lot ON samplings (lot_id) WHERE lot_id IS NOT NULL;
CREATE INDEX samplings_report_due ON samplings (report_due) WHERE reported IS NULL;
CREATE INDEX samplings_disposal_due ON samplings (disposal_due) WHERE disposal_due IS NOT NULL AND closed IS NULL;

-- Photos: the record's body holds each one's SHA-256, media type and size.
CREATE TABLE sampling_photos (
    sampling_id INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (sampling_id, n)
);

-- One initial report and at most one re-test report per sampling record.
CREATE TABLE sampling_reports (
    id          INTEGER PRIMARY KEY,
    sampling_id INTEGER NOT NULL,
    retest      INTEGER NOT NULL,
    verdict     TEXT NOT NULL,
    created     INTEGER NOT NULL,
    body        BLOB NOT NULL,
    ledger_tx   TEXT,                     -- the verdict on the ledger (outbox until set)
    UNIQUE (sampling_id, retest)
);
CREATE INDEX sampling_reports_unrecorded ON sampling_reports (id) WHERE ledger_tx IS NULL;

-- The items of each report, for searching by item.
CREATE TABLE sampling_items (
    item        TEXT NOT NULL,
    sampling_id INTEGER NOT NULL,
    report_id   INTEGER NOT NULL,
    verdict     TEXT NOT NULL,
    PRIMARY KEY (item, sampling_id, report_id)
);

CREATE TABLE sampling_actions (
    id          INTEGER PRIMARY KEY,
    sampling_id INTEGER NOT NULL,
    kind        TEXT NOT NULL,            -- retest_request, disposal, publication
    created     INTEGER NOT NULL,
    body        BLOB NOT NULL
);
CREATE INDEX sampling_actions_sampling ON sampling_actions (sampling_id, id);
CREATE UNIQUE INDEX sampling_actions_retest ON sampling_actions (sampling_id) WHERE kind = 'retest_request';

-- The lots a 不合格 report marked non-compliant (one record per report).
CREATE TABLE noncompliances (
    report_id   INTEGER PRIMARY KEY,
    sampling_id INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    body        BLOB NOT NULL
);
CREATE TABLE noncompliant_lots (
    lot_id      INTEGER NOT NULL,
    sampling_id INTEGER NOT NULL,
    PRIMARY KEY (lot_id, sampling_id)
);

-- Every inspector's search, export and recall list: who, when, filter, rows.
-- Append-only: the triggers refuse any change or removal.
CREATE TABLE inspection_audit (
    id       INTEGER PRIMARY KEY,
    party_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    created  INTEGER NOT NULL,
    action   TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    body     BLOB NOT NULL
);
CREATE INDEX inspection_audit_party ON inspection_audit (party_id, id);
CREATE TRIGGER inspection_audit_no_update BEFORE UPDATE ON inspection_audit
BEGIN SELECT RAISE(ABORT, 'inspection_audit is append-only'); END;
CREATE TRIGGER inspection_audit_no_delete BEFORE DELETE ON inspection_audit
BEGIN SELECT RAISE(ABORT, 'inspection_audit is append-only'); END;

-- Recall lists: lots harvested on an orchard, by the harvest that made them.
CREATE INDEX lots_event ON lots (event_id);
