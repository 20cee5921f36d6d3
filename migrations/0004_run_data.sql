-- A run's CSV data file, kept apart from spec_json: it can be 100 MB, and every list,
-- page and API answer reads spec_json. "Run again" and later reports read it from here,
-- so they use exactly the rows the run used. Deleted with its run.

CREATE TABLE run_data (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    csv    TEXT NOT NULL
);
