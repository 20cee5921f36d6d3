"""Every preset is a valid run against the demo target; the Mixed API one is a real
workload: several endpoints, a JSON POST, data, about ten seconds (pure)."""
from __future__ import annotations

import json
from collections import Counter

from app.presets import PRESETS, get_preset
from app.spec import parse_spec

TARGET = "http://127.0.0.1:8081/"


def test_every_preset_run_is_a_valid_spec_on_the_target():
    for preset in PRESETS:
        for run in preset.specs(TARGET):
            spec = parse_spec(run)
            assert all(t.url.startswith(TARGET) for t in spec.request_targets), preset.key


def test_mixed_api_sends_four_endpoints_with_a_json_login_and_data():
    spec = parse_spec(get_preset("mixed-api").specs(TARGET)[0])
    workload = spec.workload()
    assert len(workload.names) == 4 and spec.data is not None and len(spec.data) >= 5
    sent = [workload.render(i) for i in range(spec.requests)]
    counts = Counter(workload.names[r.name_id] for r in sent)
    assert set(counts) == set(workload.names) and min(counts.values()) > 100
    logins = [r for r in sent if r.method == "POST"]
    users = {json.loads(r.body)["user"] for r in logins}        # valid JSON, from the data
    assert users <= {spec.data.field(n, 0) for n in range(len(spec.data))} and len(users) > 1
    delays = {r.url.rsplit("delay=", 1)[1] for r in sent}
    assert len(delays) == 4                                      # each endpoint its own pace
    # about ten seconds at its concurrency: the mean delay of what it sends
    mean_s = sum(sum(map(float, d.split("-"))) / 2 for d in
                 (r.url.rsplit("delay=", 1)[1] for r in sent)) / len(sent)
    assert 5 <= spec.requests * mean_s / spec.concurrency <= 15
