"""The check report as JUnit XML (``dosecheck check --format junit``): one
``<testcase>`` per constraint."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from dosecheck.output._matched import matched_by_text
from dosecheck.output.xml_text import xml_safe

if TYPE_CHECKING:
    from dosecheck.checking.check_report import CheckReport

__all__ = ["check_junit"]


# --- JUnit -----------------------------------------------------------------------------------
_x = xml_safe


def check_junit(report: CheckReport) -> str:
    """JUnit XML: one ``<testcase>`` per constraint.

    ``classname`` is the structure, ``name`` the metric as written with its comparator
    and limit (`` (optimal)`` appended for optimal constraints). A failed constraint
    has a ``<failure>`` (``type`` is its priority: an optimal miss does not fail the
    plan or the exit code), a constraint that could not be evaluated a ``<skipped>``.
    A constraint within its variation limit only is no failure: its testcase has the
    property ``status=variation`` (with ``fails_plan=true`` when ``--strict`` makes it
    fail the plan) and a ``<system-out>`` saying so.
    """
    results = report.results
    n_fail = sum(r.status == "fail" for r in results)
    n_skip = sum(r.status == "not_evaluated" for r in results)
    counts = {
        "tests": str(len(results)),
        "failures": str(n_fail),
        "errors": "0",
        "skipped": str(n_skip),
    }
    root = ET.Element("testsuites", {"name": "dosecheck", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": _x(report.constraint_set.name), **counts, "time": "0"},
    )
    props = ET.SubElement(suite, "properties")
    plan = report.plan
    for key, value in (
        ("verdict", report.verdict),
        ("summary", report.summary()),
        ("plan", plan.get("path") or plan.get("rtstruct") or ""),
        ("patient_id", plan.get("patient_id") or ""),
        ("prescription_gy", report.prescription.dose_gy),
        ("fractions", report.prescription.fractions),
        ("prescription_source", report.prescription.source),
        ("constraint_set", report.constraint_set.path),
        ("constraint_set_sha256", report.constraint_set.sha256),
        ("strict", str(report.strict).lower()),
        ("variations", sum(r.status == "variation" for r in results)),
        ("end_caps", report.end_caps),
        ("dosecheck_version", report.dosecheck_version),
    ):
        ET.SubElement(props, "property", {"name": key, "value": _x("" if value is None else value)})

    for i, r in enumerate(results):
        c = report.constraints[i]
        name = f"{report.metric_as_written(i)} {r.comparator} {c.limit_text}"
        if r.priority == "optimal":
            name += " (optimal)"
        case = ET.SubElement(
            suite, "testcase", {"classname": _x(r.structure), "name": _x(name), "time": "0"}
        )
        if i < len(report.ranges):
            v = report.ranges[i]
            bprops = ET.SubElement(case, "properties")
            ET.SubElement(
                bprops, "property", {"name": "borderline", "value": str(v.borderline).lower()}
            )
            if v.low is not None:
                ET.SubElement(
                    bprops,
                    "property",
                    {"name": "value_range", "value": _x(f"{v.low:.6g}–{v.high:.6g}")},
                )
            if v.borderline:
                ET.SubElement(
                    bprops, "property", {"name": "borderline_reason", "value": _x(v.reason)}
                )
        if report.compare_tps:
            t = report.tps_values[i]
            cprops = ET.SubElement(case, "properties")
            for key, value in t.to_dict().items():
                text = (
                    ""
                    if value is None
                    else str(value).lower()
                    if isinstance(value, bool)
                    else value
                )
                ET.SubElement(cprops, "property", {"name": key, "value": _x(text)})
        if r.status == "variation":
            vprops = ET.SubElement(case, "properties")
            ET.SubElement(vprops, "property", {"name": "status", "value": "variation"})
            if report.strict and r.priority == "mandatory":
                ET.SubElement(vprops, "property", {"name": "fails_plan", "value": "true"})
            if r.variation_limit is not None:
                ET.SubElement(
                    vprops,
                    "property",
                    {"name": "variation_limit", "value": _x(f"{r.variation_limit:.6g}")},
                )
            out = ET.SubElement(case, "system-out")
            out.text = _x("VARIATION: goal missed, variation limit met\n" + _case_detail(report, i))
        elif r.status == "fail":
            what = "" if r.priority == "mandatory" else "optimal constraint not met: "
            failure = ET.SubElement(
                case, "failure", {"message": _x(what + r.message), "type": r.priority}
            )
            failure.text = _x(_case_detail(report, i))
        elif r.status == "not_evaluated":
            ET.SubElement(case, "skipped", {"message": _x(r.message)})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _x(_case_detail(report, i))
    if report.warnings:
        err = ET.SubElement(suite, "system-err")
        err.text = _x("\n".join(f"warning: {w}" for w in report.warnings))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case_detail(report: CheckReport, i: int) -> str:
    r = report.results[i]
    lines = [r.message, f"ROI: {r.roi} ({matched_by_text(r)})"]
    if r.line is not None:
        lines.append(f"constraint: {r.constraint} ({report.constraint_set.path}:{r.line})")
    lines.extend(f"warning: {w}" for w in r.warnings)
    return "\n".join(lines)
