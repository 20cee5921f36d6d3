"""What a run will send, before it starts: the first requests rendered and the totals (pure).

POST /api/preview answers `preview(spec)`. The requests come from the same
`spec.workload().render(i)` the engines call, so placeholders, target order and data
rows are exactly those of the run; secrets are masked as in every other view of a run
(app/redact.py: credential headers, URL userinfo and secret-named query values).
"""
from __future__ import annotations

import base64
from typing import Any

from app.redact import mask_header, mask_url
from app.engine.pacing import Pacer
from app.spec import LoadModel, RunSpec


PREVIEW_REQUESTS = 5
# a body is shown up to this many characters (a HAR can carry megabytes); body_bytes
# always says the whole size
BODY_CHARS = 4000


def preview(spec: RunSpec) -> dict[str, Any]:
    """{count, targets, names, rows, requests: [the first PREVIEW_REQUESTS]} of a valid spec."""
    workload = spec.workload()
    count = request_count(spec)
    shown = PREVIEW_REQUESTS if count is None else min(PREVIEW_REQUESTS, count)
    return {
        "count": count,
        "targets": len(spec.request_targets),
        "names": list(workload.names),
        "rows": len(spec.data) if spec.data is not None else None,
        "requests": [_request(i, workload.render(i), workload.names) for i in range(shown)],
    }


def request_count(spec: RunSpec) -> int | None:
    """How many requests the run sends, when known before it runs: its count, or in the
    open model the requests its schedule makes due before it ends (the fewer of the
    two). A closed run limited by time alone sends as many as the target answers: None."""
    if spec.model is LoadModel.OPEN and spec.run_seconds is not None:
        scheduled = Pacer(spec.rate, spec.stages).count_before(spec.run_seconds)
        return scheduled if spec.requests is None else min(scheduled, spec.requests)
    return spec.requests


def _request(index: int, request: Any, names: tuple[str, ...]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "index": index, "name": names[request.name_id], "method": request.method,
        "url": mask_url(request.url),
        "headers": [[k, mask_header(k, v)] for k, v in request.headers],
        "body_bytes": len(request.body),
    }
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:                # binary: sent as it is, shown as base64
        shown["body_b64"] = base64.b64encode(request.body[:BODY_CHARS]).decode("ascii")
        shown["body_truncated"] = len(request.body) > BODY_CHARS
    else:
        shown["body"] = text[:BODY_CHARS]
        shown["body_truncated"] = len(text) > BODY_CHARS
    return shown
