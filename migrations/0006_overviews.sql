-- The whole series of an ended run at its default step, as the pages draw it: a day-long
-- run's 1,440 minute rows take ~0.7 s to decode and view, so it is done once (when the
-- run ends, or at the first page that asks) and kept. Deleted with its run; an ended
-- run's rows never change.

CREATE TABLE overviews (
    run_id  INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    step    INTEGER NOT NULL,
    last    INTEGER NOT NULL,            -- the run's last second
    samples TEXT NOT NULL                -- JSON array of Snapshot.to_view()
);
