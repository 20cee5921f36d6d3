-- Runs that came from elsewhere (app/store/transfer.py: `run.py import`, POST
-- /api/runs/import, `bench --push`): where each was measured. A table of its own, as
-- run_data: only imported runs have a row, and code reading `runs` at an older schema
-- (tests build such databases) is unaffected. Deleted with its run.

CREATE TABLE run_origins (
    run_id      INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    host        TEXT NOT NULL,           -- the machine the run ran on, as the document said
    source      TEXT NOT NULL CHECK (source IN ('dashboard', 'bench')),
    remote_id   INTEGER,                 -- its id in the database it was exported from
    exported_at REAL,                    -- Unix seconds
    imported_at REAL NOT NULL
);
