"""report.ktap against the kernel's KTAP version 1 rules (Documentation/dev-tools/ktap.rst).

The parser below checks what ktap.rst requires of a consumer: a version line opens every test
and subtest, a plan ``1..N`` comes before the results, results are numbered from 1 without gaps,
exactly N of them, a test line is ``ok|not ok N [description] [# directive [reason]]`` with no
``#`` in the description, subtests are indented four spaces and precede their parent's result
line, and every other line is a diagnostic (``#``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli import main
from harness.finding import Finding
from harness.report.ktap import render_ktap
from harness.report.schema import Report, Result, Verdict

_RESULT = re.compile(r"(?P<ok>ok|not ok) (?P<number>[0-9]+)(?: (?P<name>[^#]*?))?(?: # (?P<directive>.*))?")
_PLAN = re.compile(r"1\.\.(?P<count>[0-9]+)")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class KtapTest:
    ok: bool
    name: str
    directive: str
    subtests: tuple[KtapTest, ...]
    diagnostics: tuple[str, ...]

    @property
    def skipped(self) -> bool:
        return self.directive.startswith("SKIP")


class KtapError(AssertionError):
    pass


def parse_ktap(text: str) -> tuple[list[KtapTest], list[str]]:
    """The top-level tests and the top-level diagnostic lines; a KtapError for any rule broken."""
    if not text.endswith("\n"):
        raise KtapError("no final newline")
    lines = text[:-1].split("\n")
    for number, line in enumerate(lines, 1):
        if _CONTROL.search(line):
            raise KtapError(f"line {number}: a control character")
    tests, diagnostics, end = _block(lines, 0, "")
    if end != len(lines):
        raise KtapError(f"line {end + 1}: text after the last test")
    return tests, diagnostics


def _block(lines: list[str], i: int, indent: str) -> tuple[list[KtapTest], list[str], int]:
    if i >= len(lines) or lines[i] != f"{indent}KTAP version 1":
        raise KtapError(f"line {i + 1}: expected {indent!r}'KTAP version 1'")
    i += 1
    diagnostics: list[str] = []
    while i < len(lines) and lines[i].startswith(f"{indent}#"):
        diagnostics.append(lines[i][len(indent) :])
        i += 1
    plan = _PLAN.fullmatch(lines[i][len(indent) :]) if i < len(lines) and lines[i].startswith(indent) else None
    if plan is None:
        raise KtapError(f"line {i + 1}: expected a plan 1..N")
    i += 1
    tests: list[KtapTest] = []
    pending: tuple[KtapTest, ...] = ()
    notes: list[str] = []
    while i < len(lines) and lines[i].startswith(indent):
        line = lines[i][len(indent) :]
        if line.startswith("    "):
            if pending:
                raise KtapError(f"line {i + 1}: two subtest blocks for one test")
            subtests, sub_notes, i = _block(lines, i, indent + "    ")
            pending = tuple(subtests)
            notes += sub_notes
            continue
        if line.startswith("#"):
            notes.append(line)  # about the next test (ktap.rst: diagnostics come before their result line)
            i += 1
            continue
        match = _RESULT.fullmatch(line)
        if match is None:
            raise KtapError(f"line {i + 1}: not a test result line: {line!r}")
        if int(match["number"]) != len(tests) + 1:
            raise KtapError(f"line {i + 1}: test number {match['number']}, expected {len(tests) + 1}")
        tests.append(
            KtapTest(match["ok"] == "ok", match["name"] or "", match["directive"] or "", pending, tuple(notes))
        )
        pending, notes = (), []
        i += 1
    diagnostics += notes  # after the last test: about the whole block
    if pending:
        raise KtapError(f"line {i + 1}: subtests without their parent's result line")
    if len(tests) != int(plan["count"]):
        raise KtapError(f"{indent!r}: the plan says {plan['count']} tests, {len(tests)} were reported")
    return tests, diagnostics, i


# ----------------------------------------------------------------------------------------------


def test_the_parser_rejects_what_ktap_forbids() -> None:
    good = "KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n    ok 1 a\nok 1 b\n"
    assert parse_ktap(good)[0][0].subtests[0].name == "a"
    for bad in (
        "TAP version 13\n1..0\n",  # not KTAP
        "KTAP version 1\n1..2\nok 1 a\n",  # fewer tests than planned
        "KTAP version 1\n1..2\nok 1 a\nok 3 b\n",  # a gap in the numbering
        "KTAP version 1\n1..1\nok 1 a # b # SKIP\n",  # matches only as a directive 'b # SKIP': checked below
        "KTAP version 1\n1..1\n  ok 1 a\nok 1 b\n",  # two spaces is not a subtest indentation
        "KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n    ok 1 a\n",  # subtests without a parent line
    ):
        if "# b # SKIP" in bad:
            assert not parse_ktap(bad)[0][0].skipped
            continue
        with pytest.raises(KtapError):
            parse_ktap(bad)


def result(case: str, verdict: Verdict, kind: str = "stream/blocking/as-is", **more: object) -> Result:
    return Result(case=case, area="a", kind=kind, backend="raw", verdict=verdict, **more)  # type: ignore[arg-type]


FINDING = Finding(checker="msg-flags", variant="", step=1, field="msg_flags", expected="{X}", observed="#\n\x1b[2J")


def test_every_verdict_maps_to_ktap_with_reasons() -> None:
    results = (
        result("OK-01", Verdict.PASS),
        result("OK-01", Verdict.PASS, kind="dgram/blocking/as-is"),
        result("FA-01", Verdict.PASS),
        result("FA-01", Verdict.FAIL, kind="dgram/blocking/as-is", findings=(FINDING,)),
        result("ER-01", Verdict.ERROR, reason="harness error: boom"),
        result("XP-01", Verdict.XPASS, reason="listed as a known deviation (b/1) but it passed"),
        result("KN-01", Verdict.KNOWN, reason="gVisor # b/2"),
        result("UN-01", Verdict.UNSUPPORTED, reason="the platform lacks SO_PASSPIDFD"),
        result("UN-01", Verdict.UNMODELLED, kind="dgram/blocking/as-is", reason="not modelled"),
        result("we#ird\nid", Verdict.PASS),
    )
    text = render_ktap(Report(run_info={"harness": "0.1.0", "system": "linux"}, results=results))
    tests, diagnostics = parse_ktap(text)
    assert diagnostics[0].startswith("# scm-harness 0.1.0 on linux")
    by_name = {t.name: t for t in tests}
    assert list(by_name) == ["OK-01", "FA-01", "ER-01", "XP-01", "KN-01", "UN-01", "we%23ird\\nid"]
    assert [t.ok for t in tests] == [True, False, False, False, True, True, True]
    assert [s.name for s in by_name["OK-01"].subtests] == ["stream/blocking/as-is raw", "dgram/blocking/as-is raw"]
    fail = by_name["FA-01"].subtests[1]
    assert not fail.ok and fail.directive == ""
    assert fail.diagnostics == ("# fail: [msg-flags step 1] msg_flags: expected {X}, observed %23\\n\\x1b[2J",)
    assert by_name["ER-01"].subtests[0].diagnostics == ("# error (harness, not the kernel): harness error: boom",)
    assert by_name["XP-01"].subtests[0].diagnostics[0].startswith("# xpass: listed as a known deviation (b/1)")
    assert by_name["KN-01"].subtests[0].directive == "SKIP known deviation: gVisor %23 b/2"
    assert [s.directive for s in by_name["UN-01"].subtests] == [
        "SKIP unsupported: the platform lacks SO_PASSPIDFD",
        "SKIP unmodelled: not modelled",
    ]
    assert by_name["UN-01"].skipped and by_name["KN-01"].skipped  # every result of the case skipped
    counts = "4 pass, 1 fail, 1 known, 1 xpass, 1 unsupported, 1 unmodelled, 1 error"
    assert text.splitlines()[-1] == f"# 10 results in 7 cases: {counts}"


def test_an_interrupted_run_says_so_and_plans_only_what_ran() -> None:
    report = Report(run_info={"interrupted": True}, results=(result("OK-01", Verdict.PASS),))
    tests, diagnostics = parse_ktap(render_ktap(report))
    assert len(tests) == 1
    assert any(line.startswith("# INTERRUPTED: the run was stopped after 1 results") for line in diagnostics)


def test_an_empty_report_is_valid_ktap() -> None:
    tests, _ = parse_ktap(render_ktap(Report(run_info={}, results=())))
    assert tests == []


@pytest.mark.kernel
def test_a_real_run_writes_report_ktap_that_parses(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["run", "--ids", "FD-01,BND-04", "--kinds", "dgram/*", "--out", str(tmp_path)]
    assert main(argv) == 0
    capsys.readouterr()
    tests, _ = parse_ktap((tmp_path / "report.ktap").read_text())
    assert [t.name for t in tests] == ["BND-04", "FD-01"]  # catalogue order
    assert all(t.ok and not t.skipped and len(t.subtests) == 8 * 2 for t in tests)  # 4 socketpair(), 4 API kinds
    assert all(s.ok for t in tests for s in t.subtests)
