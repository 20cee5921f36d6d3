-- Copies of the headline summary numbers as columns, so that the history page can
-- filter, sort and paginate in SQL instead of decoding every summary_json.
-- app/store/runs.py:finish_run fills them from the same JSON paths.

ALTER TABLE runs ADD COLUMN requests   INTEGER;
ALTER TABLE runs ADD COLUMN rps        REAL;
ALTER TABLE runs ADD COLUMN p50_ms     REAL;
ALTER TABLE runs ADD COLUMN p99_ms     REAL;
ALTER TABLE runs ADD COLUMN error_rate REAL;
ALTER TABLE runs ADD COLUMN duration_s REAL;

CREATE INDEX runs_created_at ON runs (created_at);
CREATE INDEX runs_status ON runs (status);

-- json_valid guards the backfill: one corrupt summary must not block the upgrade.
UPDATE runs SET
    requests   = json_extract(summary_json, '$.requests'),
    rps        = json_extract(summary_json, '$.rps'),
    p50_ms     = json_extract(summary_json, '$.latency_ms.p50'),
    p99_ms     = json_extract(summary_json, '$.latency_ms.p99'),
    error_rate = json_extract(summary_json, '$.error_rate'),
    duration_s = json_extract(summary_json, '$.duration_s')
WHERE summary_json IS NOT NULL AND json_valid(summary_json);
