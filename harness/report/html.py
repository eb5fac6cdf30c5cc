"""``report.html``: one self-contained page for a person hunting a failure (no network, no external files).

Top to bottom: the outcome in one line (INTERRUPTED / FAILED / OK, as in every other format) and
the counts; what needs attention (fail, error, xpass), grouped by case and then by what the results
say, each with its findings as a small table (variant, step, field, expected, observed); fails one
upstream change explains, per change; the case x kind matrix, every cell a link to its result and
every empty cell saying why it is empty; then the recorded gaps (known, unsupported, unmodelled)
and the passes.  Long values wrap anywhere (payload text has 500-character tokens) or are folded in
``<details>``, so the page never grows wider than the window.  A few lines of inline script add
filters by verdict, area and kind; without script the page shows everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from harness.finding import Finding
from harness.report.markdown import change_heading, describe_platform, explained_groups, judged_as, outcome, visible
from harness.report.schema import Report, Result, Verdict

COLOURS = {
    Verdict.PASS: "#cfc",
    Verdict.FAIL: "#f99",
    Verdict.ERROR: "#f6c",
    Verdict.XPASS: "#fc6",
    Verdict.KNOWN: "#ffc",
    Verdict.UNSUPPORTED: "#ddd",
    Verdict.UNMODELLED: "#eef",
}
LETTERS = {
    Verdict.PASS: "ok",
    Verdict.FAIL: "F",
    Verdict.ERROR: "E",
    Verdict.XPASS: "X",
    Verdict.KNOWN: "K",
    Verdict.UNSUPPORTED: "U",
    Verdict.UNMODELLED: "M",
}
NEWS = (Verdict.FAIL, Verdict.ERROR, Verdict.XPASS)
GAPS = (Verdict.KNOWN, Verdict.UNSUPPORTED, Verdict.UNMODELLED)
FOLD_AT = 240  # characters: a longer value is folded in <details>, its start shown
FINDINGS_SHOWN = 12  # rows of a findings table shown before the rest is folded
WHERE_SHOWN = 8  # kind/back-end links of a group shown before the rest is folded

# The filter form (report.html and the comparison page): hidden until the script shows it.
FILTER_CSS = "#filters{margin:8px 0}#filters select{margin-right:12px}[hidden]{display:none!important}"
STYLE = (
    "body{font:13px/1.4 sans-serif;margin:8px 16px}"
    "h1{font-size:20px;margin:4px 0}h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #999}"
    "h3{font-size:14px;margin:12px 0 4px}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 5px;vertical-align:top;text-align:left}"
    "p,li,dd,td,summary{overflow-wrap:anywhere;word-break:break-word}"
    "code{font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}"
    ".wide{table-layout:fixed;width:100%}"
    ".outcome{padding:6px 10px;font-weight:bold;font-size:15px;border:2px solid #666;margin:6px 0}"
    ".ok{background:#cfc}.failed{background:#f99}.interrupted{background:#fc6}"
    ".deviation{margin:4px 0 10px 12px}.where{margin:2px 0}.where span{white-space:nowrap}"
    ".scroll{overflow-x:auto;max-width:100%}"
    ".matrix td{text-align:center;padding:0 3px}.matrix td.case{text-align:left;white-space:nowrap}"
    ".matrix th.k{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;white-space:nowrap}"
    ".matrix a{color:inherit;text-decoration:none;display:block}.na{color:#888;background:#fff}"
    + FILTER_CSS
    + "".join(f".v-{v.value}{{background:{COLOURS[v]}}}" for v in Verdict)
)
# Shows the filters (hidden without script) and hides every .f element whose data-verdict,
# data-area or data-kind (space-separated lists) lacks a chosen value.
SCRIPT = (
    "<script>(()=>{const f=document.getElementById('filters');f.hidden=false;"
    "f.addEventListener('change',()=>{const want=[...f.elements].filter(s=>s.value).map(s=>[s.name,s.value]);"
    "for(const e of document.querySelectorAll('.f'))"
    "e.hidden=want.some(([k,v])=>!(e.dataset[k]||'').split(' ').includes(v));});})();</script>"
)


def _text(value: str) -> str:
    return escape(visible(value))


def _token(value: str) -> str:
    """A value for a space-separated data-* list and its filter option."""
    return re.sub(r"\s+", "_", visible(value))


class _Anchors:
    """A unique, readable id per result (``r-TRN-05-stream-blocking-as-is-raw``): matrix cells link to them."""

    def __init__(self, results: Iterable[Result]) -> None:
        self.ids: dict[tuple[str, str, str], str] = {}
        taken: set[str] = set()
        for r in results:
            base = "r-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{r.case}-{r.kind}-{r.backend}")
            anchor, n = base, 1
            while anchor in taken:
                n += 1
                anchor = f"{base}-{n}"
            taken.add(anchor)
            self.ids[r.key] = anchor

    def __getitem__(self, result: Result) -> str:
        return self.ids[result.key]


def render_html(report: Report) -> str:
    anchors = _Anchors(report.results)
    news = [r for r in report.results if r.verdict in NEWS and not (r.verdict is Verdict.FAIL and r.explained_by)]
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>scm-harness report: {_text(outcome(report))}</title><style>{STYLE}</style></head><body>",
        *_header(report),
        *_filters(report.results),
    ]
    if news:
        out.append(f"<h2 id='news'>Needs attention: fail, error, xpass ({len(news)})</h2>")
        out.extend(_case_groups(news, anchors))
    for change, group in explained_groups(report.results).items():
        out.append(f"<h2 id='explained-{_token(change)}'>fail explained by {_text(change)} ({len(group)})</h2>")
        out.append(f"<p>{_text(change_heading(change, report.run_info))}</p>")
        out.extend(_case_groups(group, anchors))
    out.extend(_matrix(report, anchors))
    gaps = [r for r in report.results if r.verdict in GAPS]
    if gaps:
        out.append(f"<h2 id='gaps'>Recorded gaps and deviations: known, unsupported, unmodelled ({len(gaps)})</h2>")
        out.extend(_case_groups(sorted(gaps, key=lambda r: GAPS.index(r.verdict)), anchors))
    out.extend(_passes([r for r in report.results if r.verdict is Verdict.PASS], anchors))
    out.append(SCRIPT + "</body></html>\n")
    return "".join(out)


def _header(report: Report) -> list[str]:
    info = report.run_info
    line = outcome(report)
    state = "interrupted" if info.get("interrupted") is True else "failed" if line.startswith("FAILED") else "ok"
    facts = [describe_platform(info)]
    if judged := judged_as(info):
        facts.append(f"judged as {judged}")
    facts.append(f"started {info.get('started', '?')}, finished {info.get('finished', '?')}")
    summary = report.summary
    counts = "".join(
        f"<td class='v-{v.value}'>{v.value} <strong>{summary[v.value]}</strong></td>"
        for v in Verdict
        if summary[v.value]
    )
    return [
        "<h1>scm-harness report</h1>",
        f"<p class='outcome {state}'>{_text(line)}</p>",
        f"<p>{' · '.join(_text(fact) for fact in facts)}</p>",
        f"<p>command: <code>{_text(str(info.get('command', '')))}</code></p>" if info.get("command") else "",
        f"<table><tr>{counts}<td>{summary['total']} results in {summary['cases']} cases</td></tr></table>",
    ]


def _filters(results: Sequence[Result]) -> list[str]:
    return filter_form(
        {
            "verdict": [v.value for v in Verdict if any(r.verdict is v for r in results)],
            "area": list(dict.fromkeys(_token(r.area) for r in results)),
            "kind": list(dict.fromkeys(_token(r.kind) for r in results)),
        }
    )


def filter_form(choices: Mapping[str, Iterable[str]]) -> list[str]:
    """The filter form (hidden without script, then everything shows): one select per data-* name that
    SCRIPT reads, with the values to choose from.  Used by report.html and the comparison page."""
    out = ["<form id='filters' hidden>show only: "]
    for name, values in choices.items():
        options = "".join(f"<option>{_text(value)}</option>" for value in values)
        out.append(f"<label>{name} <select name='{name}'><option value=''>any</option>{options}</select></label>")
    out.append("</form>")
    return out


def _data(results: Sequence[Result]) -> str:
    """The data-* attributes the filters read, for an element that shows ``results``."""
    lists = {
        "verdict": dict.fromkeys(r.verdict.value for r in results),
        "area": dict.fromkeys(_token(r.area) for r in results),
        "kind": dict.fromkeys(_token(r.kind) for r in results),
    }
    return "".join(f" data-{name}='{escape(' '.join(values))}'" for name, values in lists.items())


def _case_groups(results: Sequence[Result], anchors: _Anchors) -> list[str]:
    """One block per case (in the order of ``results``), one sub-block per distinct deviation in it."""
    cases: dict[str, list[Result]] = {}
    for r in results:
        cases.setdefault(r.case, []).append(r)
    out = []
    for case, group in cases.items():
        first = group[0]
        title = f" {_text(first.title)}" if first.title else ""
        out.append(f"<section class='f'{_data(group)}><h3>{_text(case)}{title} <small>({_text(first.area)}")
        out.append(f"{'; ' + _text(first.source) if first.source else ''})</small></h3>")
        for same in _alike(group):
            out.extend(_deviation(same, anchors))
        out.append("</section>")
    return out


def _alike(results: Sequence[Result]) -> list[list[Result]]:
    """Results that say the same (verdict, reason, findings, expected, observed): one block lists them all."""
    groups: dict[tuple[object, ...], list[Result]] = {}
    for r in results:
        key = (r.verdict, r.reason, tuple(f.describe() for f in r.findings), r.expected, r.observed)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _deviation(results: Sequence[Result], anchors: _Anchors) -> list[str]:
    r = results[0]
    where = [f"<span id='{anchors[x]}'>{_text(x.kind)} {_text(x.backend)}</span>" for x in results]
    shown = ", ".join(where[:WHERE_SHOWN])
    if len(where) > WHERE_SHOWN:
        rest = ", ".join(where[WHERE_SHOWN:])
        shown += f", <details><summary>{len(where) - WHERE_SHOWN} more</summary>{rest}</details>"
    out = [
        f"<div class='deviation f'{_data(results)}>",
        f"<p class='where'><strong class='v-{r.verdict.value}'>&nbsp;{r.verdict.value}&nbsp;</strong> on {shown}</p>",
    ]
    if r.reason:
        out.append(f"<p>{_value(r.reason)}</p>")
    if r.findings:
        out.extend(_findings(r.findings))
    if r.expected or r.observed:
        size = len(r.expected) + len(r.observed)
        out.append(f"<details><summary>expected and observed, every step ({size} characters)</summary>")
        out.append("<table class='wide'>")
        out.append(f"<tr><th style='width:6em'>expected</th><td><code>{_text(r.expected)}</code></td></tr>")
        out.append(f"<tr><th>observed</th><td><code>{_text(r.observed)}</code></td></tr></table></details>")
    out.append("</div>")
    return out


def _findings(findings: Sequence[Finding]) -> list[str]:
    head = (
        "<table class='wide findings'><colgroup><col style='width:16%'><col style='width:4em'>"
        "<col style='width:14%'><col><col></colgroup>"
        "<tr><th>variant (checker)</th><th>step</th><th>field</th><th>expected</th><th>observed</th></tr>"
    )
    rows = [
        f"<tr><td>{_text(f.variant)} <small>({_text(f.checker)})</small></td>"
        f"<td>{'' if f.step is None else f.step}</td><td>{_value(f.field)}</td>"
        f"<td>{_value(f.expected)}</td><td>{_value(f.observed)}</td></tr>"
        for f in findings
    ]
    out = [head, *rows[:FINDINGS_SHOWN], "</table>"]
    if len(rows) > FINDINGS_SHOWN:
        more = len(rows) - FINDINGS_SHOWN
        out += [f"<details><summary>{more} more findings</summary>", head, *rows[FINDINGS_SHOWN:], "</table></details>"]
    return out


def _value(text: str) -> str:
    """A value that wraps anywhere; past FOLD_AT characters, its start with the whole folded below."""
    shown = visible(text)
    if len(shown) <= FOLD_AT:
        return f"<code>{escape(shown)}</code>"
    start = escape(shown[: FOLD_AT // 2])
    summary = f"<summary><code>{start}…</code> ({len(shown)} characters)</summary>"
    return f"<details>{summary}<code>{escape(shown)}</code></details>"


def _matrix(report: Report, anchors: _Anchors) -> list[str]:
    columns = sorted({(r.kind, r.backend) for r in report.results})
    rows: dict[str, dict[tuple[str, str], Result]] = {}
    for r in report.results:
        rows.setdefault(r.case, {})[(r.kind, r.backend)] = r
    interrupted = report.run_info.get("interrupted") is True
    empty = "no result: the case does not apply to this pair kind" + (
        ", or the run was interrupted before it" if interrupted else ""
    )
    out = [
        "<h2 id='matrix'>Every result: case × pair kind and back end</h2>",
        "<p>Each cell links to its result. ",
        " ".join(f"<span class='v-{v.value}'>&nbsp;{LETTERS[v]}&nbsp;</span> {v.value}" for v in Verdict),
        f" <span class='na'>&nbsp;–&nbsp;</span> {_text(empty)}.</p>",
        "<div class='scroll'><table class='matrix'><tr><th>case</th>",
        *(f"<th class='k' title='{_text(k)} {_text(b)}'>{_text(k)} · {_text(b)}</th>" for k, b in columns),
        "</tr>",
    ]
    for case, cells in rows.items():
        present = list(cells.values())
        title = _text(present[0].title)
        out.append(f"<tr class='f'{_data(present)}><td class='case' title='{title}'>{_text(case)}</td>")
        for column in columns:
            cell = cells.get(column)
            if cell is None:
                out.append(f"<td class='na' title='{_text(empty)}'>–</td>")
                continue
            why = f"{cell.verdict.value}: {cell.reason}" if cell.reason else cell.verdict.value
            out.append(
                f"<td class='v-{cell.verdict.value}'><a href='#{anchors[cell]}' title='{_text(why)}'>"
                f"{LETTERS[cell.verdict]}</a></td>"
            )
        out.append("</tr>")
    out.append("</table></div>")
    return out


def _passes(passes: Sequence[Result], anchors: _Anchors) -> list[str]:
    if not passes:
        return []
    by_case: dict[str, list[Result]] = {}
    for r in passes:
        by_case.setdefault(r.case, []).append(r)
    out = [f"<h2 id='passes'>Passed ({len(passes)})</h2><ul>"]
    for case, group in by_case.items():
        where = ", ".join(f"<span id='{anchors[r]}'>{_text(r.kind)} {_text(r.backend)}</span>" for r in group)
        out.append(f"<li class='f'{_data(group)}><strong>{_text(case)}</strong>: {where}</li>")
    out.append("</ul>")
    return out
