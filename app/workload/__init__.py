"""What a run sends (pure: no web, no SQL): targets, CSV data, placeholders, the Workload.

targets.py parses Vegeta text, JSON lines and HAR (har.py) into Targets; data.py keeps
CSV rows compactly and picks the row of request i; template.py compiles placeholders and
renders request i. Every refusal is a WorkloadError (errors.py) naming the line or field.
"""
from app.workload.data import (MAX_DATA_BYTES, MAX_DATA_ROWS, DataOrder, DataTable,
                               check_data_size, parse_csv, row_index)
from app.workload.errors import WorkloadError
from app.workload.targets import (MAX_HAR_BYTES, MAX_NAMES, MAX_TARGETS, MAX_TARGETS_BYTES,
                                  Target, TargetsFormat, check_names, format_for_path,
                                  max_bytes, parse_targets, targets_from_json)
from app.workload.template import (RenderedRequest, RequestContext, Template, TargetOrder,
                                   Workload)

__all__ = [
    "MAX_DATA_BYTES", "MAX_DATA_ROWS", "MAX_HAR_BYTES", "MAX_NAMES", "MAX_TARGETS",
    "MAX_TARGETS_BYTES", "DataOrder", "DataTable", "RenderedRequest", "RequestContext",
    "Target", "TargetOrder", "TargetsFormat", "Template", "Workload", "WorkloadError",
    "check_data_size", "check_names", "format_for_path", "max_bytes", "parse_csv",
    "parse_targets", "row_index", "targets_from_json",
]
