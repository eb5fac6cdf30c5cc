"""Human summaries of a report: ``summary.md`` (one screen of Markdown) and the end-of-run text.

Both are rendered from the canonical report.  Result text can hold payload bytes (latin-1 text),
so everything shown goes through :func:`visible` first: an ESC in an observed buffer must not
recolour the terminal, and a ``|`` or ``<`` must not break a Markdown table.  Long values are cut
(``report.json`` keeps them whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from harness.report.schema import Report, Result, Verdict

# Characters a terminal or viewer would act on rather than show: C0/C1 controls (ESC starts
# terminal escape sequences), DEL, lone surrogates (not even encodable as UTF-8) and U+FFFE/FFFF.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Markdown punctuation that could start markup inside a table cell (GFM allows \-escaping any of it).
# An underscore inside a word (SO_PASSPIDFD, x86_64) never starts emphasis, so it stays readable.
_MARKUP = re.compile(r"[\\`*\[\]<>|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")

_NEWS = (Verdict.FAIL, Verdict.ERROR, Verdict.XPASS)  # listed first: what a reader must act on
_GAPS = (Verdict.KNOWN, Verdict.UNSUPPORTED, Verdict.UNMODELLED)
CELL_LIMIT = 160  # characters of one value shown in a table cell or terminal line
TERMINAL_NEWS_LINES = 12  # with the gap lines, the end-of-run text stays within 25 lines
TERMINAL_GAP_LINES = 6
# GitHub rejects a step summary over 1 MiB: summary.md stays under it, whatever the run.
SUMMARY_LIMIT = 1000 * 1024
SECTION_ROWS = 200  # table rows per section; a row is at most a few KiB (every cell is cut)
ELSEWHERE = "every result is in report.json and report.html"


def visible(text: str) -> str:
    """``text`` with control characters spelled ``\\n``, ``\\x1b``, ``\\ud800``: safe on one line."""
    return _UNSHOWABLE.sub(_spell, text)


def _spell(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def cut(text: str, limit: int = CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_text(text: str, limit: int = CELL_LIMIT) -> str:
    """Prose for a Markdown table cell: visible, cut, markup characters escaped."""
    return _MARKUP.sub(lambda m: "\\" + m.group(), visible(cut(text, limit)))


def md_code(text: str, limit: int = CELL_LIMIT) -> str:
    """A value as a code span (nothing inside is markup); ``|`` escaped for GFM tables."""
    shown = visible(cut(text, limit))
    if not shown:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown[0] in "` " or shown[-1] in "` " else ""  # CommonMark strips one space each side
    return f"{fence}{pad}{shown.replace('|', chr(92) + '|')}{pad}{fence}"


def _info(run_info: dict[str, object], key: str) -> str:
    value = run_info.get(key)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def describe_platform(run_info: dict[str, object]) -> str:
    """``linux 6.18.44 x86_64 (native), glibc 2.36, Python 3.11.7``; missing facts are left out."""
    head = " ".join(part for part in (_info(run_info, k) for k in ("system", "release", "arch")) if part)
    label = _info(run_info, "label")
    parts = [f"{head or 'unknown platform'}{f' ({label})' if label else ''}"]
    if libc := _info(run_info, "libc"):
        parts.append(libc)
    if python := _info(run_info, "python"):
        parts.append(f"Python {python}")
    return visible(", ".join(parts))


def outcome(report: Report) -> str:
    """The run's verdict in one line, the same in every format (terminal, summary.md, report.html, junit.xml).

    ``INTERRUPTED: 40 of 616 results ran (576 did not); 1 fail`` when the run was stopped (an interrupted
    run is never OK: what did not run was not checked), else ``FAILED: ...`` or ``OK: ...``; a run with
    test-only injected faults says so, so that nobody mistakes its deviations for a kernel's.
    """
    summary = report.summary
    bad = ", ".join(f"{summary[v.value]} {v.value}" for v in _NEWS if summary[v.value])
    if report.run_info.get("interrupted") is True:
        planned = report.run_info.get("planned")
        ran = summary["total"]
        if isinstance(planned, int) and not isinstance(planned, bool) and planned >= ran:
            what = f"{ran} of {planned} results ran ({planned - ran} did not)"
        else:
            what = f"{ran} results ran before the interruption"
        line = f"INTERRUPTED: {what}; {bad or 'no fail, error or xpass among them'}"
    else:
        line = f"FAILED: {bad}" if bad else "OK: no fail, error or xpass"
    faults = injected_faults(report.run_info)
    if faults:
        line += f" (FAULTS INJECTED for testing: {', '.join(faults)}; these are not a kernel's deviations)"
    return visible(line)


def injected_faults(run_info: dict[str, object]) -> list[str]:
    """The test-only faults ``run --inject-fault`` planted (run_info.injected_faults), [] for a real run."""
    faults = run_info.get("injected_faults")
    return [str(f) for f in faults] if isinstance(faults, list) else []


# ----------------------------------------------------------------------------------------------
# summary.md


def render_summary(report: Report) -> str:
    """One screen of Markdown: the platform, verdict counts, then every result that is not a pass."""
    info = report.run_info
    lines = [
        "# scm-harness report",
        "",
        f"**{md_text(outcome(report), limit=600)}**",
        "",
        f"- platform: {md_text(describe_platform(info))}",
        f"- features: {md_text(_info(info, 'features') or 'none recorded', limit=400)}",
        *([f"- judged as: {md_text(judged_as(info), limit=400)}"] if judged_as(info) else []),
        f"- backends: {md_text(_info(info, 'backends'))}; harness {md_text(_info(info, 'harness'))}",
        f"- command: {md_code(_info(info, 'command'))}",
        f"- run: {md_text(_info(info, 'started') or '?')} to {md_text(_info(info, 'finished') or '?')}",
        "",
        "| verdict | results |",
        "|---|---:|",
    ]
    summary = report.summary
    lines += [f"| {v.value} | {summary[v.value]} |" for v in Verdict]
    lines += [f"| **total** | **{summary['total']}** in {summary['cases']} cases |", ""]
    news = sorted((r for r in report.results if r.verdict in _NEWS), key=lambda r: _NEWS.index(r.verdict))
    unexplained = [r for r in news if not r.explained_by]
    kinds = kinds_of_case(report.results)
    if unexplained:
        lines += ["## Needs attention (fail, error, xpass)", ""]
        lines += _table(("case", "verdict", "where", "expected", "observed", "findings / reason"))
        rows = [_news_row(group, kinds[group[0].case]) for group in _news_groups(unexplained)]
        lines += _bounded(rows, SECTION_ROWS, "cases")
    for change, group in explained_groups(news).items():
        lines += [f"## Fails explained by {md_text(change)}", "", md_text(change_heading(change, info), limit=400), ""]
        lines += _table(("case", "where", "findings"))
        rows = []
        for case_group in _by_case(group):
            where = collapse_kinds(case_group, kinds[case_group[0].case])
            findings = _findings_text(case_group[0])
            rows.append(_row((md_text(case_group[0].case), md_code(where), md_code(findings, limit=2 * CELL_LIMIT))))
        lines += _bounded(rows, SECTION_ROWS, "cases")
    gaps = _gap_groups(report.results)
    if gaps:
        lines += ["## Recorded gaps and deviations (known, unsupported, unmodelled)", ""]
        lines += _table(("case", "verdict", "where", "reason", "expected", "observed", "findings"))
        lines += _bounded([_gap_row(group, kinds[group[0].case]) for group in gaps], SECTION_ROWS, "rows")
    if not news and not gaps:
        lines += [f"All {summary['total']} results pass.", ""]
    return _within(lines, SUMMARY_LIMIT)


def _bounded(rows: Sequence[str], limit: int, what: str) -> list[str]:
    """At most ``limit`` table rows and a blank line, with a line saying how many more there are and where."""
    if len(rows) <= limit:
        return [*rows, ""]
    return [*rows[:limit], "", f"... and {len(rows) - limit} more {what} left out here ({ELSEWHERE}).", ""]


def _within(lines: Sequence[str], limit: int) -> str:
    """The lines joined, cut at a line boundary so that the UTF-8 text stays under ``limit`` bytes."""
    text = "\n".join(lines)
    if len(text.encode()) < limit:
        return text
    kept: list[str] = []
    size = 0
    budget = limit - 400  # room for the closing note
    for line in lines:
        size += len(line.encode()) + 1
        if size > budget:
            break
        kept.append(line)
    left = len(lines) - len(kept)
    note = f"**summary.md stops here at {limit // 1024} KiB: {left} more lines left out ({ELSEWHERE}).**"
    return "\n".join([*kept, "", note, ""])


def _news_groups(results: Sequence[Result]) -> list[list[Result]]:
    """Fail, error and xpass results per (case, verdict), in the order given."""
    groups: dict[tuple[str, Verdict], list[Result]] = {}
    for r in results:
        groups.setdefault((r.case, r.verdict), []).append(r)
    return list(groups.values())


def explained_groups(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Fails explained by one known upstream change, per change id (in the history table's order)."""
    from harness.oracle.history import CHANGES

    order = {c.id: i for i, c in enumerate(CHANGES)}
    groups: dict[str, list[Result]] = {}
    for r in results:
        if r.verdict is Verdict.FAIL and r.explained_by:
            groups.setdefault(r.explained_by, []).append(r)
    return dict(sorted(groups.items(), key=lambda item: order.get(item[0], len(order))))


def change_heading(change: str, run_info: dict[str, object]) -> str:
    """'behaves as without <commit> (<title>; <where>)' for a change id (with: the model judged against lacks it)."""
    from harness.oracle.history import BY_ID, describe

    if change not in BY_ID:
        return f"{change} (not a change this harness knows)"
    modelled = run_info.get("changes")
    carried = isinstance(modelled, list) and change not in modelled
    return describe(change, _info(run_info, "release"), carried=carried)


def _by_case(results: Sequence[Result]) -> list[list[Result]]:
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.case, []).append(r)
    return list(groups.values())


def judged_as(run_info: dict[str, object]) -> str:
    """'Linux 6.1.176 (absent: oob-2024-06, ...)': the model the oracle judged against, if recorded."""
    model = _info(run_info, "model")
    if not model:
        return ""
    absent = _info(run_info, "changes_absent")
    return f"Linux {model}" + (f" (absent: {absent})" if absent else " (every known change present)")


def _table(headers: Sequence[str]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _findings_text(result: Result) -> str:
    return "; ".join(f.describe() for f in result.findings)


def _news_row(group: Sequence[Result], case_kinds: Sequence[str]) -> str:
    """One row per case and verdict: where it happened, then the first result's details."""
    r = group[0]
    extra = "; ".join(part for part in (_findings_text(r), r.reason) if part)
    distinct = len({(x.expected, x.observed, _findings_text(x), x.reason) for x in group})
    if distinct > 1:
        extra = f"({distinct} different details, the first shown) {extra}"
    return _row(
        (md_text(r.case), f"**{r.verdict.value}**", md_code(collapse_kinds(group, case_kinds)),
         md_code(r.expected), md_code(r.observed), md_code(extra, limit=2 * CELL_LIMIT))
    )  # fmt: skip


def _gap_groups(results: Iterable[Result]) -> list[list[Result]]:
    """Results of one case and verdict that read the same, so their kinds can share one row.

    The key holds everything the row shows, so collapsing never hides a difference.
    """
    groups: dict[tuple[object, ...], list[Result]] = {}
    for r in results:
        if r.verdict in _GAPS:
            key = (r.case, r.verdict, r.reason, r.expected, r.observed, _findings_text(r))
            groups.setdefault(key, []).append(r)
    return sorted(groups.values(), key=lambda group: _GAPS.index(group[0].verdict))


def kinds_of_case(results: Iterable[Result]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for r in results:
        seen = kinds.setdefault(r.case, [])
        if r.kind not in seen:
            seen.append(r.kind)
    return kinds


def collapse_kinds(group: Sequence[Result], case_kinds: Sequence[str]) -> str:
    """Where a group of results applies: ``all 12 kinds × raw, pysock``, ``stream/blocking/as-is × raw``."""
    kinds = list(dict.fromkeys(r.kind for r in group))
    backends = list(dict.fromkeys(r.backend for r in group))
    if len({(r.kind, r.backend) for r in group}) != len(kinds) * len(backends):
        # Not every kind with every back end: a product would claim more than happened.
        pairs = list(dict.fromkeys(f"{r.kind} {r.backend}" for r in group))
        return ", ".join(pairs) if len(pairs) <= 3 else f"{len(pairs)} kind/backend pairs"
    if len(kinds) > 1 and set(kinds) == set(case_kinds):
        kinds_text = f"all {len(kinds)} kinds"
    elif len(kinds) <= 3:
        kinds_text = ", ".join(kinds)
    else:
        kinds_text = f"{len(kinds)} of {len(case_kinds)} kinds"
    return f"{kinds_text} × {', '.join(backends)}"


def _gap_row(group: Sequence[Result], case_kinds: Sequence[str]) -> str:
    r = group[0]
    return _row(
        (md_text(r.case), r.verdict.value, md_code(collapse_kinds(group, case_kinds)), md_text(r.reason),
         md_code(r.expected), md_code(r.observed), md_code(_findings_text(r), limit=2 * CELL_LIMIT))
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# end-of-run text


def render_terminal(report: Report) -> str:
    """A few plain lines for the end of a run: platform, counts, each fail/error/xpass, the gaps."""
    summary = report.summary
    counts = ", ".join(f"{summary[v.value]} {v.value}" for v in Verdict if summary[v.value])
    name = " ".join(part for part in ("scm-harness", visible(_info(report.run_info, "harness"))) if part)
    lines = [
        f"{name} on {describe_platform(report.run_info)}",
        f"{summary['total']} results in {summary['cases']} cases: {counts or 'nothing ran'}",
    ]
    news = sorted((r for r in report.results if r.verdict in _NEWS), key=lambda r: _NEWS.index(r.verdict))
    for change, group in explained_groups(news).items():
        cases = list(dict.fromkeys(r.case for r in group))
        heading = change_heading(change, report.run_info)
        lines.append(cut(visible(f"FAIL   x{len(group)} explained by {change} ({', '.join(cases)}): {heading}")))
    news = [r for r in news if not r.explained_by]
    for r in news[:TERMINAL_NEWS_LINES]:
        lines.append(cut(visible(f"{r.verdict.value.upper():<6} {r.case} [{r.kind}] {r.backend}: {_why(r)}")))
    if len(news) > TERMINAL_NEWS_LINES:
        lines.append(f"... and {len(news) - TERMINAL_NEWS_LINES} more (see summary.md)")
    gaps = _gap_summary(report.results)
    for line in gaps[:TERMINAL_GAP_LINES]:
        lines.append(cut(visible(line)))
    if len(gaps) > TERMINAL_GAP_LINES:
        lines.append(f"... and {len(gaps) - TERMINAL_GAP_LINES} more reasons (see summary.md)")
    lines.append(outcome(report))
    return "\n".join(lines) + "\n"


def _why(r: Result) -> str:
    if r.verdict is Verdict.FAIL:
        return r.findings[0].describe() if r.findings else f"expected {r.expected}, observed {r.observed}"
    if r.verdict is Verdict.XPASS:
        return r.reason  # the runner's "listed as a known deviation (...) but it passed"
    return r.reason or "harness error"


def _gap_summary(results: Iterable[Result]) -> list[str]:
    """One line per (verdict, reason): ``unsupported x12: no SO_PASSPIDFD (FD-09, FD-10)``."""
    groups: dict[tuple[Verdict, str], list[Result]] = {}
    for r in results:
        if r.verdict in _GAPS:
            groups.setdefault((r.verdict, r.reason), []).append(r)
    ordered = sorted(groups.items(), key=lambda item: _GAPS.index(item[0][0]))
    lines = []
    for (verdict, reason), group in ordered:
        cases = list(dict.fromkeys(r.case for r in group))
        shown = ", ".join(cases[:4]) + (f", +{len(cases) - 4}" if len(cases) > 4 else "")
        lines.append(f"{verdict.value} x{len(group)}: {reason or 'no reason given'} ({shown})")
    return lines
