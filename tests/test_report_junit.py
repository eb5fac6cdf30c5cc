"""JUnit XML: counts per verdict, payload bytes that cannot break the file, junit-10.xsd names."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.finding import Finding
from harness.report.junit import render_junit, xml_safe
from harness.report.schema import Report, Result, Verdict
from tests.junit_schema import assert_junit_10


def result(case: str, verdict: Verdict, area: str = "truncation", **overrides: Any) -> Result:
    fields: dict[str, Any] = {"kind": "stream/blocking/as-is", "backend": "raw", "reason": f"why {case}"}
    fields.update(overrides)
    return Result(case=case, verdict=verdict, area=area, **fields)


RUN_INFO: dict[str, object] = {
    "system": "linux", "release": "6.18.44", "arch": "x86_64", "features": ["MSG_OOB", "kcmp"],
    "sndbuf": {"SOCK_DGRAM": 212992}, "euid": 0, "started": "2026-11-22T04:00:00+00:00",
}  # fmt: skip

# One result of every verdict, over two areas.
RESULTS = (
    result("TRN-01", Verdict.PASS, duration_ms=1.5),
    result("TRN-02", Verdict.FAIL, expected="MSG_CTRUNC set", observed="no flags", duration_ms=2.5),
    result("TRN-03", Verdict.XPASS),
    result("FD-01", Verdict.ERROR, area="fd-passing"),
    result("FD-02", Verdict.UNSUPPORTED, area="fd-passing"),
    result("FD-03", Verdict.UNMODELLED, area="fd-passing"),
    result("FD-04", Verdict.KNOWN, area="fd-passing", reason="gVisor b/35925052"),
)


def parse(tmp_path: Path, report: Report) -> ET.Element:
    """Write the XML to a real file and parse it back, as a CI server would."""
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(report), encoding="utf-8")
    return ET.parse(path).getroot()


def find_case(root: ET.Element, case: str) -> ET.Element:
    found = [tc for tc in root.iter("testcase") if tc.get("name", "").startswith(f"{case} ")]
    assert len(found) == 1
    return found[0]


def test_counts_per_verdict(tmp_path: Path) -> None:
    root = parse(tmp_path, Report(run_info=RUN_INFO, results=RESULTS))
    assert root.tag == "testsuites"
    # fail and xpass are failures; error is an error; unsupported and unmodelled are skipped
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "2", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["truncation", "fd-passing"]  # one suite per area, in report order
    counts = {name: tuple(s.get(a) for a in ("tests", "failures", "errors", "skipped")) for name, s in suites.items()}
    # known deviations are skipped too (as pytest writes an xfail)
    assert counts == {"truncation": ("3", "2", "0", "0"), "fd-passing": ("4", "0", "1", "3")}
    assert root.get("time") == "0.004"


def test_each_verdict_maps_to_its_element(tmp_path: Path) -> None:
    root = parse(tmp_path, Report(run_info=RUN_INFO, results=RESULTS))
    assert list(find_case(root, "TRN-01")) == []
    failure = find_case(root, "TRN-02").find("failure")
    assert failure is not None
    assert failure.get("type") == "fail"
    assert failure.get("message") == "expected MSG_CTRUNC set; observed no flags"
    xpass = find_case(root, "TRN-03").find("failure")
    assert xpass is not None
    assert xpass.get("type") == "xpass"
    assert xpass.get("message") == "XPASS: why TRN-03"
    error = find_case(root, "FD-01").find("error")
    assert error is not None
    assert error.get("message") == "why FD-01"
    for case, verdict in (("FD-02", "unsupported"), ("FD-03", "unmodelled")):
        skipped = find_case(root, case).find("skipped")
        assert skipped is not None
        assert skipped.get("message") == f"{verdict}: why {case}"
    known = find_case(root, "FD-04")
    assert [child.tag for child in known] == ["skipped"]  # pytest's xfail: skipped, with the reason
    assert known[0].get("message") == "known deviation: gVisor b/35925052"
    assert known[0].get("type") == "known"


def test_testcase_names_and_properties(tmp_path: Path) -> None:
    root = parse(tmp_path, Report(run_info=RUN_INFO, results=RESULTS))
    tc = find_case(root, "TRN-02")
    assert tc.get("name") == "TRN-02 [stream/blocking/as-is] raw"
    assert tc.get("classname") == "truncation.TRN-02"
    assert tc.get("time") == "0.003"  # at most 3 decimals (junit-10.xsd readers)
    for suite in root.findall("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["release"] == "6.18.44"
        assert props["features"] == '["MSG_OOB","kcmp"]'
        assert props["euid"] == "0"
        assert suite.get("timestamp") == "2026-11-22T04:00:00+00:00"


def test_finding_text_is_in_the_failure_body(tmp_path: Path) -> None:
    finding = Finding(checker="msg-flags", variant="", step=1, field="msg_flags", expected="{X}", observed="{}")
    report = Report(run_info={}, results=(result("TRN-02", Verdict.FAIL, findings=(finding,)),))
    body = find_case(parse(tmp_path, report), "TRN-02").findtext("failure") or ""
    assert "[msg-flags step 1] msg_flags: expected {X}, observed {}" in body


def test_control_bytes_in_payload_text_do_not_break_the_file(tmp_path: Path) -> None:
    nasty = "b'\x00\x1b[31m\x7f\x85\r' </failure> & \ud800 \ufffe \U0001f600"
    finding = Finding(checker="bytes", variant=nasty, step=0, field="data", expected="", observed=nasty)
    report = Report(
        run_info={"label": nasty},
        results=(result("TRN-\x00", Verdict.FAIL, area=nasty, observed=nasty, reason=nasty, findings=(finding,)),),
    )
    root = parse(tmp_path, report)  # would raise ParseError on any illegal character
    tc = next(root.iter("testcase"))
    failure = tc.find("failure")
    assert failure is not None
    text, message = failure.text or "", failure.get("message") or ""
    for shown in (text, message):
        assert "\\x00\\x1b[31m\\x7f\\x85\\r' </failure> & \\ud800 \\ufffe \U0001f600" in shown
    assert tc.get("name", "").startswith("TRN-\\x00 ")
    assert {p.get("value") for p in root.iter("property")} == {xml_safe(nasty)}


def test_xml_safe_keeps_legal_text_and_spells_the_rest() -> None:
    assert xml_safe("tab\tnewline\n é ü 😀") == "tab\tnewline\n é ü 😀"
    assert xml_safe("\x00\x08\x0b\x1b\r\x7f\x9f\ud800\uffff") == "\\x00\\x08\\x0b\\x1b\\r\\x7f\\x9f\\ud800\\uffff"


def test_output_validates_against_junit_10_xsd(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(Report(run_info=RUN_INFO, results=RESULTS)), encoding="utf-8")
    assert_junit_10(path)
    used = {element.tag for element in ET.parse(path).getroot().iter()}
    assert used == {"testsuites", "testsuite", "properties", "property", "testcase", "failure", "error", "skipped",
                    "system-out"}  # fmt: skip


def test_xpass_reason_from_the_runner_is_wrapped_once(tmp_path: Path) -> None:
    reason = "listed as a known deviation (gVisor b/1) but it passed"  # harness.runner's wording
    root = parse(tmp_path, Report(run_info={}, results=(result("TRN-03", Verdict.XPASS, reason=reason),)))
    failure = find_case(root, "TRN-03").find("failure")
    assert failure is not None
    assert failure.get("message") == f"XPASS: {reason}"


def test_interrupted_run_is_an_error_and_says_so(tmp_path: Path) -> None:
    info = {**RUN_INFO, "interrupted": True, "planned": 20}
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(Report(run_info=info, results=RESULTS)), encoding="utf-8")
    assert_junit_10(path)
    root = ET.parse(path).getroot()
    assert root.get("name") == "scm-harness (INTERRUPTED)"
    assert (root.get("tests"), root.get("errors")) == ("8", "2")
    run = [s for s in root.findall("testsuite") if s.get("name") == "run"]
    assert len(run) == 1
    error = run[0].find("testcase/error")
    assert error is not None and error.get("type") == "interrupted"
    assert (error.get("message") or "").startswith("INTERRUPTED: 7 of 20 results ran (13 did not)")
    for suite in root.findall("testsuite"):
        assert "INTERRUPTED" in (suite.findtext("system-out") or "")


def test_empty_report_is_still_a_valid_document(tmp_path: Path) -> None:
    root = parse(tmp_path, Report(run_info={}, results=()))
    assert (root.tag, root.get("tests"), list(root)) == ("testsuites", "0", [])


def test_a_real_passing_run_validates_against_junit_10_xsd(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    command = [sys.executable, "-m", "harness", "run", "--ids", "FD-0*,TRN-0*", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert_junit_10(out / "junit.xml")
    root = ET.parse(out / "junit.xml").getroot()
    assert root.get("name") == "scm-harness" and root.get("failures") == "0"
