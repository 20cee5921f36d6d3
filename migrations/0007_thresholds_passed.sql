-- Whether a run met its thresholds (1), failed one (0), or had none (NULL): a column, so
-- the history page filters and sorts on it in SQL. Filled by finish_run from the summary's
-- thresholds_passed; no run stored before this migration has thresholds.
ALTER TABLE runs ADD COLUMN passed INTEGER;
CREATE INDEX runs_passed ON runs (passed);
