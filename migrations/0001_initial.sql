-- Runs and their per-second samples.
-- The status CHECK mirrors app/status.py:RunStatus; a new status needs a migration.

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    url           TEXT NOT NULL,
    spec_json     TEXT NOT NULL,             -- RunSpec.to_dict(): "Run again" parses it back
    engine        TEXT NOT NULL,
    model         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                      ('queued', 'running', 'finished', 'stopped', 'failed', 'interrupted')),
    created_at    REAL NOT NULL,             -- Unix seconds
    started_at    REAL,
    finished_at   REAL,
    summary_json  TEXT,                      -- Summary.to_dict(), set when the run ends
    error_message TEXT
);

-- One row per run second; the histograms are kept whole (Histogram.encode()) so that
-- totals and percentiles over any range of seconds are exact. WITHOUT ROWID clusters
-- a run's seconds together on disk, which is the only way they are read.
CREATE TABLE samples (
    run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    second       INTEGER NOT NULL,
    data_json    TEXT NOT NULL,              -- Snapshot.to_dict()
    latency_hist BLOB NOT NULL,
    service_hist BLOB NOT NULL,
    PRIMARY KEY (run_id, second)
) WITHOUT ROWID;
