"""A static, self-contained HTML page of a report (no scripts, no external resources).

One table per verdict worth reading first (fail, error, xpass, then known, unsupported,
unmodelled), then a case x kind matrix of every result, coloured by verdict.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from harness.report.markdown import change_heading, describe_platform, explained_groups, judged_as, visible
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
ORDER = (Verdict.FAIL, Verdict.ERROR, Verdict.XPASS, Verdict.KNOWN, Verdict.UNSUPPORTED, Verdict.UNMODELLED)


def _text(value: str) -> str:
    return escape(visible(value))


def _detail_rows(results: list[Result]) -> list[str]:
    rows = []
    for r in results:
        findings = "<br>".join(_text(f.describe()) for f in r.findings)
        rows.append(
            f"<tr><td>{_text(r.case)}</td><td>{_text(r.kind)}</td><td>{_text(r.backend)}</td>"
            f"<td>{_text(r.reason)}</td><td><code>{_text(r.expected)}</code></td>"
            f"<td><code>{_text(r.observed)}</code></td><td>{findings}</td></tr>"
        )
    return rows


def render_html(report: Report) -> str:
    summary = report.summary
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>scm-harness report</title>",
        "<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:2px 5px;vertical-align:top}code{white-space:pre-wrap}</style>",
        "</head><body><h1>scm-harness report</h1>",
        f"<p>{_text(describe_platform(report.run_info))}</p>",
        f"<p>judged as {_text(judged_as(report.run_info))}</p>" if judged_as(report.run_info) else "",
        "<table><tr>" + "".join(f"<th>{v.value}</th>" for v in Verdict) + "<th>total</th></tr><tr>",
        "".join(f"<td style='background:{COLOURS[v]}'>{summary[v.value]}</td>" for v in Verdict),
        f"<td>{summary['total']} in {summary['cases']} cases</td></tr></table>",
    ]
    by_verdict: dict[Verdict, list[Result]] = defaultdict(list)
    for r in report.results:
        if not r.explained_by:
            by_verdict[r.verdict].append(r)
    sections = [(verdict.value, by_verdict[verdict]) for verdict in ORDER]
    explained = explained_groups(report.results)
    sections[1:1] = [
        (f"fail explained by {change}: {change_heading(change, report.run_info)}", group)
        for change, group in explained.items()
    ]
    for title, results in sections:
        if results:
            out.append(f"<h2>{_text(title)} ({len(results)})</h2><table>")
            out.append("<tr><th>case</th><th>kind</th><th>back end</th><th>reason</th><th>expected</th>")
            out.append("<th>observed</th><th>findings</th></tr>")
            out.extend(_detail_rows(results))
            out.append("</table>")
    kinds = sorted({(r.kind, r.backend) for r in report.results})
    cells: dict[str, dict[tuple[str, str], Result]] = defaultdict(dict)
    titles: dict[str, str] = {}
    for r in report.results:
        cells[r.case][(r.kind, r.backend)] = r
        titles[r.case] = r.title
    out.append("<h2>every result</h2><table><tr><th>case</th>")
    out.extend(f"<th>{_text(kind)}<br>{_text(backend)}</th>" for kind, backend in kinds)
    out.append("</tr>")
    for case in sorted(cells):
        out.append(f"<tr><td title='{_text(titles[case])}'>{_text(case)}</td>")
        for key in kinds:
            cell = cells[case].get(key)
            if cell is None:
                out.append("<td></td>")
            else:
                style = f"background:{COLOURS[cell.verdict]}"
                out.append(f"<td style='{style}' title='{_text(cell.reason)}'>{cell.verdict.value}</td>")
        out.append("</tr>")
    out.append("</table></body></html>\n")
    return "".join(out)
