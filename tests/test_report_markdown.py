"""summary.md and the end-of-run text: what a reader sees first, and nothing a terminal would act on."""

from __future__ import annotations

import re
from typing import Any

from harness.finding import Finding
from harness.report.markdown import collapse_kinds, md_code, md_text, render_summary, render_terminal, visible
from harness.report.schema import Report, Result, Verdict

RUN_INFO: dict[str, object] = {
    "system": "linux", "release": "6.18.44-test", "arch": "x86_64", "label": "native", "libc": "glibc 2.36",
    "python": "3.11.7", "harness": "0.1.0", "features": ["MSG_OOB", "SO_PASSPIDFD"], "backends": ["raw", "pysock"],
    "command": "scm-harness run --ids FD-*",
}  # fmt: skip
KINDS = ("stream/blocking/as-is", "dgram/blocking/as-is")


def result(case: str, verdict: Verdict = Verdict.PASS, **overrides: Any) -> Result:
    fields: dict[str, Any] = {"area": "fd", "kind": KINDS[0], "backend": "raw"}
    fields.update(overrides)
    return Result(case=case, verdict=verdict, **fields)


def all_kinds(case: str, verdict: Verdict, **overrides: Any) -> list[Result]:
    return [result(case, verdict, kind=k, backend=b, **overrides) for k in KINDS for b in ("raw", "pysock")]


def cells(row: str) -> list[str]:
    """The cells of a Markdown table row, splitting only on unescaped pipes."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_all_pass_summary_and_terminal() -> None:
    report = Report(run_info=RUN_INFO, results=tuple(all_kinds("FD-01", Verdict.PASS)))
    summary = render_summary(report)
    assert "**OK: no fail, error or xpass**" in summary
    assert "| pass | 4 |" in summary
    assert "| fail | 0 |" in summary
    assert "All 4 results pass." in summary
    assert "Needs attention" not in summary
    text = render_terminal(report)
    assert text.splitlines() == [
        "scm-harness 0.1.0 on linux 6.18.44-test x86_64 (native), glibc 2.36, Python 3.11.7",
        "4 results in 1 cases: 4 pass",
        "OK: no fail, error or xpass",
    ]


def test_run_info_line_names_the_platform_and_features() -> None:
    summary = render_summary(Report(run_info=RUN_INFO, results=()))
    assert "- platform: linux 6.18.44-test x86_64 (native), glibc 2.36, Python 3.11.7" in summary
    assert "- features: MSG_OOB, SO_PASSPIDFD" in summary
    assert "`scm-harness run --ids FD-*`" in summary


def test_news_first_in_fail_error_xpass_order_then_gaps() -> None:
    finding = Finding(checker="msg-flags", variant="", step=1, field="msg_flags", expected="{X}", observed="{}")
    results = (
        result("XP-01", Verdict.XPASS, reason="listed b/1"),
        result("ER-01", Verdict.ERROR, reason="harness broke"),
        result("KN-01", Verdict.KNOWN, reason="gVisor b/2", observed="EPIPE"),
        result("FA-01", Verdict.FAIL, expected="{X}", observed="{}", findings=(finding,)),
        result("OK-01"),
    )
    summary = render_summary(Report(run_info=RUN_INFO, results=results))
    order = [summary.index(f"| {case} |") for case in ("FA-01", "ER-01", "XP-01", "KN-01")]
    assert order == sorted(order)
    assert summary.index("Needs attention") < order[0] < summary.index("Recorded gaps") < order[3]
    assert "| OK-01 |" not in summary
    fail_row = next(line for line in summary.splitlines() if line.startswith("| FA-01 |"))
    assert cells(fail_row) == [
        "FA-01", "**fail**", "`stream/blocking/as-is × raw`", "`{X}`", "`{}`",
        "`[msg-flags step 1] msg_flags: expected {X}, observed {}`",
    ]  # fmt: skip
    assert "**FAILED: 1 fail, 1 error, 1 xpass**" in summary


def test_gaps_with_the_same_reason_collapse_their_kinds() -> None:
    results = (
        *all_kinds("FD-09", Verdict.UNSUPPORTED, reason="no SO_PASSPIDFD"),
        result("FD-10", Verdict.UNMODELLED, reason="not modelled: fork"),
        result("FD-10", Verdict.UNMODELLED, kind=KINDS[1], reason="not modelled: dgram peer"),
    )
    summary = render_summary(Report(run_info=RUN_INFO, results=results))
    rows = [cells(line) for line in summary.splitlines() if line.startswith("| FD-")]
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        ("FD-09", "unsupported", "`all 2 kinds × raw, pysock`", "no SO_PASSPIDFD"),
        ("FD-10", "unmodelled", "`stream/blocking/as-is × raw`", "not modelled: fork"),
        ("FD-10", "unmodelled", "`dgram/blocking/as-is × raw`", "not modelled: dgram peer"),
    ]


def test_collapse_kinds_never_claims_more_than_happened() -> None:
    case_kinds = [*KINDS, "seqpacket/blocking/as-is", "stream/nonblocking/as-is", "dgram/nonblocking/as-is"]
    some = [result("C", kind=k) for k in case_kinds[:4]]
    assert collapse_kinds(some, case_kinds) == "4 of 5 kinds × raw"
    uneven = [result("C", kind=KINDS[0], backend="raw"), result("C", kind=KINDS[1], backend="pysock")]
    assert collapse_kinds(uneven, case_kinds) == "stream/blocking/as-is raw, dgram/blocking/as-is pysock"


def test_payload_text_cannot_break_tables_or_terminals() -> None:
    nasty = "a|b\x1b[2J\x00\n`x` <script> \x9b \ud800"
    results = (result("FA-01", Verdict.FAIL, observed=nasty, expected="ok", reason=nasty),)
    report = Report(run_info={**RUN_INFO, "label": nasty}, results=results)
    for text in (render_summary(report), render_terminal(report)):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", text)
        text.encode("utf-8")  # no lone surrogates left
    row = next(line for line in render_summary(report).splitlines() if line.startswith("| FA-01 |"))
    assert len(cells(row)) == 6  # the pipe in the payload did not add a column
    assert cells(row)[5] == "``a\\|b\\x1b[2J\\x00\\n`x` <script> \\x9b \\ud800``"


def test_text_helpers() -> None:
    assert visible("a\tb\nc\r\x1b\x85\ud800") == "a\\tb\\nc\\r\\x1b\\x85\\ud800"
    assert md_text("SO_PASSPIDFD _x_ *y* <b> a|b") == "SO_PASSPIDFD \\_x\\_ \\*y\\* \\<b\\> a\\|b"
    assert md_code("") == ""
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"  # CommonMark strips the padding spaces again
    assert md_text("x" * 500).endswith("…")
    assert len(md_text("x" * 500)) == 160


def test_terminal_stays_short_with_many_failures() -> None:
    results = tuple(result(f"FA-{i:02}", Verdict.FAIL, observed="bad") for i in range(40))
    gaps = tuple(result(f"UN-{i:02}", Verdict.UNSUPPORTED, reason=f"missing feature {i}") for i in range(10))
    lines = render_terminal(Report(run_info=RUN_INFO, results=results + gaps)).splitlines()
    assert len(lines) <= 25
    assert "... and 28 more (see summary.md)" in lines
    assert "... and 4 more reasons (see summary.md)" in lines
    assert lines[2] == "FAIL   FA-00 [stream/blocking/as-is] raw: expected , observed bad"
    assert lines[-1] == "FAILED: 40 fail"
