"""``report.ktap``: the report in the kernel's KTAP version 1 (Documentation/dev-tools/ktap.rst).

kselftest-style CI (KernelCI, LKFT, kunit.py's parser) reads it.  The layout::

    KTAP version 1
    # scm-harness 0.1.0 on linux 6.18.44 x86_64 (native) ...
    1..2
        KTAP version 1
        # Subtest: FD-01
        1..2
        ok 1 stream/blocking/as-is raw
        # fail: [msg-flags step 1] msg_flags: expected {X}, observed {}
        not ok 2 dgram/blocking/as-is raw
    not ok 1 FD-01
        ...

One test per case (in the report's order), with one subtest per (kind, back end).  Verdicts:
``pass`` is ``ok``; ``fail``, ``error`` and ``xpass`` are ``not ok`` (what a gate stops on; a
diagnostic line says which and why); ``unsupported`` and ``unmodelled`` are ``ok ... # SKIP
reason``; ``known`` is ``ok ... # SKIP known deviation: reason`` (KTAP has SKIP and TODO only, and
SKIP is what kselftest runners count apart from passes and failures).  A case is ``not ok`` when
any of its subtests is, ``ok # SKIP`` when all are skipped.

Test names never hold ``#`` (it starts the directive) and nothing holds a line break or a control
character.  An interrupted run says INTERRUPTED in a diagnostic line after the version line; its
plan counts only the cases that ran.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.report.markdown import cut, describe_platform, visible
from harness.report.schema import Report, Result, Verdict

INDENT = "    "
DIAGNOSTIC_LIMIT = 400  # characters of one diagnostic value
_NOT_OK = (Verdict.FAIL, Verdict.ERROR, Verdict.XPASS)
_SKIPPED = (Verdict.KNOWN, Verdict.UNSUPPORTED, Verdict.UNMODELLED)


def clean(text: str, limit: int = DIAGNOSTIC_LIMIT) -> str:
    """One line, shown safely: controls spelled out, ``#`` replaced (a name or reason must not open a directive)."""
    return visible(cut(text, limit)).replace("#", "%23")


def render_ktap(report: Report) -> str:
    cases: dict[str, list[Result]] = {}
    for r in report.results:
        cases.setdefault(r.case, []).append(r)
    lines = ["KTAP version 1"]
    harness = report.run_info.get("harness")
    lines.append(f"# scm-harness {clean(str(harness or ''))} on {clean(describe_platform(report.run_info))}")
    if report.run_info.get("interrupted") is True:
        ran = len(report.results)
        lines.append(f"# INTERRUPTED: the run was stopped after {ran} results; the plan counts only the cases that ran")
    lines.append(f"1..{len(cases)}")
    for number, (case, results) in enumerate(cases.items(), 1):
        lines += _case(number, case, results)
    summary = report.summary
    counts = ", ".join(f"{summary[v.value]} {v.value}" for v in Verdict if summary[v.value])
    lines.append(f"# {summary['total']} results in {summary['cases']} cases: {counts or 'nothing ran'}")
    return "\n".join(lines) + "\n"


def _case(number: int, case: str, results: Sequence[Result]) -> list[str]:
    lines = [f"{INDENT}KTAP version 1", f"{INDENT}# Subtest: {clean(case)}", f"{INDENT}1..{len(results)}"]
    for sub, r in enumerate(results, 1):
        lines += [INDENT + line for line in _diagnostics(r)]  # ktap.rst: a test's diagnostics come before its result
        lines.append(INDENT + _result_line(sub, f"{r.kind} {r.backend}", r))
    if any(r.verdict in _NOT_OK for r in results):
        lines.append(f"not ok {number} {clean(case)}")
    elif all(r.verdict in _SKIPPED for r in results):
        lines.append(f"ok {number} {clean(case)} # SKIP every result skipped")
    else:
        lines.append(f"ok {number} {clean(case)}")
    return lines


def _result_line(number: int, name: str, r: Result) -> str:
    if r.verdict in _NOT_OK:
        return f"not ok {number} {clean(name)}"
    if r.verdict is Verdict.KNOWN:
        return f"ok {number} {clean(name)} # SKIP known deviation: {clean(r.reason)}"
    if r.verdict in _SKIPPED:
        return f"ok {number} {clean(name)} # SKIP {r.verdict.value}: {clean(r.reason or 'no reason recorded')}"
    return f"ok {number} {clean(name)}"


def _diagnostics(r: Result) -> list[str]:
    if r.verdict is Verdict.FAIL:
        found = [f"# fail: {clean(f.describe())}" for f in r.findings]
        return found or [f"# fail: expected {clean(r.expected)}, observed {clean(r.observed)}"]
    if r.verdict is Verdict.ERROR:
        return [f"# error (harness, not the kernel): {clean(r.reason or 'no reason recorded')}"]
    if r.verdict is Verdict.XPASS:
        return [f"# xpass: {clean(r.reason or 'a listed deviation no longer happens')}"]
    return []
