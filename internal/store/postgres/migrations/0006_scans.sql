-- Scan counters of the consumer pages (anti-counterfeit): one row per printed code
-- that was scanned (a certificate's serial, or serial/unit for a unit label), never
-- a row per box printed. Written in batches by the page server.
CREATE TABLE scan_counts (
    code       TEXT PRIMARY KEY,
    scans      BIGINT NOT NULL,
    first_scan BIGINT NOT NULL,          -- microseconds since the epoch
    last_scan  BIGINT NOT NULL,
    regions    TEXT NOT NULL DEFAULT ''  -- coarse regions seen, comma-separated, a few at most
);
