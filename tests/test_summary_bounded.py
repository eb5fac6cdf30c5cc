"""summary.md stays under GitHub's 1 MiB step-summary limit whatever the run, groups failures by
case, and says what it left out; ``run --annotations github`` prints bounded, escaped workflow commands."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness.report.markdown as markdown
from harness.cli import main
from harness.finding import Finding
from harness.report.annotations import MAX_ANNOTATIONS, escape_data, escape_property, render_github_annotations
from harness.report.markdown import render_summary
from harness.report.schema import Report, Result, Verdict

MIB = 1024 * 1024
KINDS = tuple(
    f"{sock_type}/{blocking}/{order}"
    for sock_type in ("stream", "dgram", "seqpacket")
    for blocking in ("blocking", "nonblocking")
    for order in ("as-created", "reversed")
)


def long_finding(case: str, step: int) -> Finding:
    token = f"{case}-" + "x" * 500  # unbreakable and long, as payload bytes are
    return Finding(checker="bytes", variant="v", step=step, field="data", expected=token, observed=token[::-1])


def fully_failing(cases: int) -> Report:
    results = tuple(
        Result(
            case=f"C-{n:04d}", area="a", kind=kind, backend=backend, verdict=Verdict.FAIL,
            expected="e" * 600, observed="o|<" * 200, findings=tuple(long_finding(f"C-{n:04d}", s) for s in range(5)),
        )
        for n in range(cases) for kind in KINDS for backend in ("raw", "pysock")
    )  # fmt: skip
    return Report(run_info={"harness": "0.1.0"}, results=results)


def test_a_fully_failing_run_stays_under_one_mib_and_says_what_it_left_out() -> None:
    report = fully_failing(400)  # 9,600 results with five 500-character findings each
    summary = render_summary(report)
    assert len(summary.encode()) < MIB
    rows = [line for line in summary.splitlines() if line.startswith("| C-")]
    assert len(rows) == markdown.SECTION_ROWS  # one row per case, not per kind × back end
    assert "all 12 kinds × raw, pysock" in rows[0]
    assert f"... and {400 - markdown.SECTION_ROWS} more cases left out here ({markdown.ELSEWHERE})." in summary


def test_the_overall_limit_cuts_at_a_line_and_says_where_the_rest_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown, "SUMMARY_LIMIT", 20_000)
    summary = render_summary(fully_failing(50))
    assert len(summary.encode()) < 20_000
    last = summary.rstrip("\n").splitlines()[-1]
    assert last.startswith("**summary.md stops here at 19 KiB: ") and markdown.ELSEWHERE in last
    assert all(line.startswith(("| ", "#", "-", "**", "|-")) or not line for line in summary.splitlines()[:-1])


def test_different_failures_of_one_case_share_a_row_and_say_so() -> None:
    same = [Finding(checker="c", variant="", step=1, field="f", expected="1", observed=str(n)) for n in range(2)]
    results = tuple(
        Result(case="FA-01", area="a", kind=KINDS[n], backend="raw", verdict=Verdict.FAIL, findings=(same[n],))
        for n in range(2)
    )
    rows = [line for line in render_summary(Report(run_info={}, results=results)).splitlines() if "FA-01" in line]
    assert len(rows) == 1
    assert "`all 2 kinds × raw`" in rows[0]
    assert "(2 different details, the first shown)" in rows[0]


# ----------------------------------------------------------------------------------------------
# GitHub Actions annotations


def test_workflow_command_escaping() -> None:
    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("100% a\r\nb: c, d") == "100%25 a%0D%0Ab%3A c%2C d"


def test_annotations_are_bounded_escaped_and_one_per_case() -> None:
    lines = render_github_annotations(fully_failing(60)).splitlines()
    assert len(lines) == MAX_ANNOTATIONS + 1
    assert all(line.startswith("::error title=scm-harness fail%3A C-") for line in lines[:-1])
    assert lines[-1] == "::notice title=scm-harness::10 more annotations left out (see summary.md and report.html)"
    title, message = lines[0][len("::error title=") :].split("::", 1)
    assert title == "scm-harness fail%3A C-0000 (all 12 kinds × raw%2C pysock)"
    assert "\r" not in message and len(message) <= 3 * 2000


def test_xpass_is_a_warning_and_a_green_run_prints_nothing() -> None:
    xpass = Result(case="XP-01", area="a", kind=KINDS[0], backend="raw", verdict=Verdict.XPASS, reason="b/1\nnow")
    assert render_github_annotations(Report(run_info={}, results=(xpass,))) == (
        "::warning title=scm-harness xpass%3A XP-01 (stream/blocking/as-created × raw)::b/1\\nnow\n"
    )
    ok = Result(case="OK-01", area="a", kind=KINDS[0], backend="raw", verdict=Verdict.PASS)
    assert render_github_annotations(Report(run_info={}, results=(ok,))) == ""


@pytest.mark.kernel
def test_run_annotations_github_on_a_green_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["run", "--ids", "FD-01", "--kinds", "dgram/blocking/*", "--backend", "raw", "--annotations", "github"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "::" not in out
    assert main(["run", "--annotations", "gitlab"]) == 2
    assert "invalid choice" in capsys.readouterr().err
