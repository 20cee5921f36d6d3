-- Runs and seconds with no response (every request a transport error) used to store
-- 0 ms for every latency statistic, which ranked them the fastest; there is no latency
-- without a response, so those become null (sorted last). req/s now counts responses
-- only (transport errors are not responses): stored rates are recomputed from the
-- stored counts. json_valid guards each update: one corrupt row must not block it.

UPDATE samples SET data_json = json_set(data_json,
    '$.latency_ms', json_object('mean', NULL, 'p50', NULL, 'p90', NULL, 'p99', NULL,
                                'p999', NULL, 'max', NULL),
    '$.service_ms', json_object('p50', NULL, 'p99', NULL, 'max', NULL))
WHERE json_valid(data_json)
  AND json_extract(data_json, '$.ok') + json_extract(data_json, '$.failed') = 0;

UPDATE samples SET data_json = json_set(data_json, '$.rps',
    round((json_extract(data_json, '$.ok') + json_extract(data_json, '$.failed'))
          / json_extract(data_json, '$.elapsed_s'), 2))
WHERE json_valid(data_json) AND json_extract(data_json, '$.elapsed_s') > 0
  AND json_extract(data_json, '$.ok') IS NOT NULL
  AND json_extract(data_json, '$.failed') IS NOT NULL;

UPDATE runs SET summary_json = json_set(summary_json,
    '$.latency_ms', json_object('mean', NULL, 'min', NULL, 'p50', NULL, 'p90', NULL,
                                'p99', NULL, 'p999', NULL, 'max', NULL),
    '$.service_ms', json_object('mean', NULL, 'p50', NULL, 'p90', NULL, 'p99', NULL,
                                'p999', NULL, 'max', NULL),
    '$.percentile_curve', json('[]'))
WHERE summary_json IS NOT NULL AND json_valid(summary_json)
  AND json_extract(summary_json, '$.ok') + json_extract(summary_json, '$.failed') = 0;

UPDATE runs SET summary_json = json_set(summary_json, '$.rps',
    round((json_extract(summary_json, '$.ok') + json_extract(summary_json, '$.failed'))
          / json_extract(summary_json, '$.duration_s'), 2))
WHERE summary_json IS NOT NULL AND json_valid(summary_json)
  AND json_extract(summary_json, '$.duration_s') > 0
  AND json_extract(summary_json, '$.ok') IS NOT NULL
  AND json_extract(summary_json, '$.failed') IS NOT NULL;

-- the sortable copies follow (same JSON paths as migration 0002 and finish_run)
UPDATE runs SET
    rps    = json_extract(summary_json, '$.rps'),
    p50_ms = json_extract(summary_json, '$.latency_ms.p50'),
    p99_ms = json_extract(summary_json, '$.latency_ms.p99')
WHERE summary_json IS NOT NULL AND json_valid(summary_json);
