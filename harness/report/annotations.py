"""GitHub Actions annotations (``run --annotations github``): workflow commands for what needs attention.

One ``::error`` (fail, error) or ``::warning`` (xpass) line per case, at most MAX_ANNOTATIONS of
them (GitHub shows ten per step anyway), then a ``::notice`` saying how many were left out.
Values are escaped by the workflow-command rules: ``%``, CR and LF in the message; also ``:``
and ``,`` in a property such as ``title``.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.report.markdown import collapse_kinds, cut, kinds_of_case, visible
from harness.report.schema import Report, Result, Verdict

MAX_ANNOTATIONS = 50
MESSAGE_LIMIT = 2000  # characters of one annotation's message before escaping
_COMMAND = {Verdict.FAIL: "error", Verdict.ERROR: "error", Verdict.XPASS: "warning"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github_annotations(report: Report) -> str:
    """The workflow-command lines (each ending in a newline); empty when nothing needs attention."""
    groups: dict[tuple[str, Verdict], list[Result]] = {}
    for r in report.results:
        if r.verdict in _COMMAND:
            groups.setdefault((r.case, r.verdict), []).append(r)
    ordered = sorted(groups.values(), key=lambda g: tuple(_COMMAND).index(g[0].verdict))
    kinds = kinds_of_case(report.results)
    lines = [_annotation(group, kinds[group[0].case]) for group in ordered[:MAX_ANNOTATIONS]]
    if len(ordered) > MAX_ANNOTATIONS:
        left = len(ordered) - MAX_ANNOTATIONS
        lines.append(f"::notice title=scm-harness::{left} more annotations left out (see summary.md and report.html)")
    return "".join(line + "\n" for line in lines)


def _annotation(group: Sequence[Result], case_kinds: Sequence[str]) -> str:
    first = group[0]
    where = collapse_kinds(group, case_kinds)
    title = f"scm-harness {first.verdict.value}: {first.case} ({where})"
    if first.verdict is Verdict.FAIL:
        detail = "; ".join(f.describe() for f in first.findings)
        detail = detail or f"expected {first.expected}, observed {first.observed}"
    else:
        detail = first.reason or "no reason recorded"
    message = "\n".join(visible(part) for part in (first.title, detail) if part)
    command = _COMMAND[first.verdict]
    return f"::{command} title={escape_property(visible(cut(title, 200)))}::{escape_data(cut(message, MESSAGE_LIMIT))}"
