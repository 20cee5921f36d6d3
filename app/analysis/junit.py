"""Thresholds as JUnit XML (pure): one testcase per threshold, for CI systems that show
test results. A failed threshold is a <failure> carrying the measured value."""
from __future__ import annotations

from xml.etree import ElementTree as ET


def junit_xml(results: list[dict], *, suite: str, duration_s: float,
              aborted: dict | None = None) -> str:
    """`results`: the summary's `thresholds` ({"expr", "value", "pass", "unit"})."""
    failures = sum(1 for r in results if not r["pass"])
    root = ET.Element("testsuites", name="stampede", tests=str(len(results)),
                      failures=str(failures))
    cases = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                          failures=str(failures), errors="0", time=f"{duration_s:.3f}")
    for r in results:
        case = ET.SubElement(cases, "testcase", classname=f"stampede.{suite}",
                             name=r["expr"], time=f"{duration_s:.3f}")
        if not r["pass"]:
            measured = ("nothing to measure (no response)" if r["value"] is None
                        else f"{r['value']:g}{_unit(r['unit'])}")
            failure = ET.SubElement(case, "failure", message=f"{r['expr']}: measured {measured}",
                                    type="threshold")
            failure.text = f"{r['expr']} failed: the run measured {measured}"
            if aborted and aborted.get("threshold") == r["expr"]:
                failure.text += (f"; the run was stopped in second {aborted['second']} "
                                 "(abort_on_fail)")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _unit(unit: str) -> str:
    return {"ms": " ms", "/s": "/s", "fraction": " (fraction)"}.get(unit, "")
