"""Comparing runs: exactly the keys whose verdict or failure differs, and keys only some runs have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.report.compare import ABSENT, NO_FINDING, VERDICT_FIELD, Cell, compare
from harness.report.schema import Finding, Report, Result, Verdict, load_report
from harness.report.write import write_report_bundle


def result(case: str, verdict: Verdict = Verdict.PASS, kind: str = "stream/blocking/as-is", **kw: Any) -> Result:
    fields: dict[str, Any] = {"area": "truncation", "backend": "raw"}
    fields.update(kw)
    return Result(case=case, verdict=verdict, kind=kind, **fields)


def flags_finding(observed: str) -> Finding:
    return Finding(
        checker="msg-flags", variant="", step=1, field="msg_flags", expected="{MSG_CTRUNC}", observed=observed
    )


def run(release: str, *results: Result) -> Report:
    return Report(
        run_info={"system": "linux", "release": release, "arch": "x86_64", "label": "native"}, results=results
    )


def baseline() -> list[Result]:
    return [
        result("TRN-01"),
        result("TRN-02", Verdict.FAIL, findings=(flags_finding("{}"),)),
        result("TRN-03", Verdict.FAIL, findings=(flags_finding("{}"),)),
        result("TRN-04", Verdict.UNSUPPORTED, reason="no MSG_OOB"),
    ]


def saved(tmp_path: Path, name: str, report: Report) -> Report:
    """Through real files, as `scm-harness compare` would read them."""
    write_report_bundle(tmp_path / name, report)
    return load_report(tmp_path / name / "report.json")


def test_one_verdict_and_one_finding_differ(tmp_path: Path) -> None:
    old = baseline()
    new = baseline()
    new[0] = result("TRN-01", Verdict.FAIL, findings=(flags_finding("{MSG_TRUNC}"),))  # verdict differs
    new[2] = result("TRN-03", Verdict.FAIL, findings=(flags_finding("{MSG_EOR}"),))  # same verdict, other finding
    a, b = saved(tmp_path, "a", run("6.1.0", *old)), saved(tmp_path, "b", run("6.18.44", *new))

    comparison = compare([a, b], ["6.1", "6.18"])

    assert comparison.keys == 4
    assert [(d.case, d.kind, d.backend) for d in comparison.differences] == [
        ("TRN-01", "stream/blocking/as-is", "raw"),
        ("TRN-03", "stream/blocking/as-is", "raw"),
    ]
    first, second = comparison.differences
    assert first.cells == (Cell(Verdict.PASS), Cell(Verdict.FAIL, (("msg_flags", "{MSG_TRUNC}"),)))
    assert [c.verdict for c in second.cells] == [Verdict.FAIL, Verdict.FAIL]
    by_case = {c.case: {f.field: f.values for f in c.fields} for c in comparison.cases}
    assert by_case == {
        "TRN-01": {VERDICT_FIELD: (("pass",), ("fail",)), "msg_flags": ((NO_FINDING,), ("{MSG_TRUNC}",))},
        "TRN-03": {"msg_flags": (("{}",), ("{MSG_EOR}",))},
    }


def test_key_in_only_one_report_is_a_difference() -> None:
    a = run("6.1", *baseline(), result("TRN-09", kind="dgram/blocking/as-is"))
    b = run("6.18", *baseline(), result("TRN-10", Verdict.KNOWN, reason="b/1"))
    comparison = compare([a, b], ["6.1", "6.18"])
    rows = {(d.case, d.kind): [c.verdict for c in d.cells] for d in comparison.differences}
    assert rows == {
        ("TRN-09", "dgram/blocking/as-is"): [Verdict.PASS, None],
        ("TRN-10", "stream/blocking/as-is"): [None, Verdict.KNOWN],
    }
    assert comparison.keys == 6
    fields = {c.case: c.fields[0].values for c in comparison.cases}
    assert fields["TRN-09"] == (("pass",), (ABSENT,))
    assert "*absent*" in comparison.render_markdown()


def test_identical_reports_have_no_differences() -> None:
    comparison = compare(
        [run("6.1", *baseline()), run("6.18", *baseline()), run("gvisor", *baseline())], ["a", "b", "c"]
    )
    assert comparison.differences == ()
    assert comparison.cases == ()
    assert "No differences across 4 results" in comparison.render_markdown()


def test_markdown_matrix_has_a_column_per_label_and_a_section_per_case() -> None:
    new = baseline()
    new[1] = result("TRN-02", Verdict.FAIL, findings=(flags_finding("a|b\x1b"),))
    text = compare([run("6.1.0", *baseline()), run("6.18.44", *new)], ["6.1", "6.18"]).render_markdown()
    assert "- **6.1**: linux 6.1.0 x86_64 (native)" in text
    assert "- **6.18**: linux 6.18.44 x86_64 (native)" in text
    assert "| case | kind | backend | 6.1 | 6.18 |" in text
    assert (
        "| TRN-02 | `stream/blocking/as-is` | raw | **fail** `msg_flags={}` | **fail** `msg_flags=a\\|b\\x1b` |" in text
    )
    assert "## TRN-02 (1 row)" in text
    assert "- `msg_flags`: 6.1: `{}`; 6.18: `a\\|b\\x1b`" in text
    assert "\x1b" not in text


def test_to_json_is_plain_json() -> None:
    new = baseline()[1:]
    comparison = compare([run("6.1", *baseline()), run("6.18", *new)], ["6.1", "6.18"])
    data = json.loads(json.dumps(comparison.to_json()))
    assert data["schema"] == "scm-harness/compare/1"
    assert [r["label"] for r in data["runs"]] == ["6.1", "6.18"]
    assert data["differences"] == [
        {
            "case": "TRN-01", "kind": "stream/blocking/as-is", "backend": "raw",
            "cells": [{"verdict": "pass", "findings": []}, {"verdict": None, "findings": []}],
        }
    ]  # fmt: skip
    assert data["cases"] == [
        {
            "case": "TRN-01",
            "rows": 1,
            "fields": [{"field": VERDICT_FIELD, "values": {"6.1": ["pass"], "6.18": [ABSENT]}}],
        }
    ]


@pytest.mark.parametrize(
    ("reports", "labels", "message"),
    [
        ([run("a")], ["a"], "at least two"),
        ([run("a"), run("b")], ["a"], "2 reports but 1 labels"),
        ([run("a"), run("b")], ["x", "x"], "distinct"),
        (
            [run("a", result("X"), result("X")), run("b")],
            ["a", "b"],
            "a: X \\[stream/blocking/as-is\\] raw appears twice",
        ),
    ],
)
def test_unusable_input_is_refused(reports: list[Report], labels: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare(reports, labels)
