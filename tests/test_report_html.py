"""The HTML page: every result appears, verdicts are coloured, payload text cannot break the markup."""

from __future__ import annotations

from html.parser import HTMLParser

from harness.report.html import render_html
from harness.report.schema import Finding, Report, Result, Verdict


def result(case: str, verdict: Verdict, observed: str = "") -> Result:
    finding = Finding(checker="bytes", variant="v", step=1, field="data", expected="b'a'", observed=observed)
    return Result(
        case=case,
        area="fd-passing",
        kind="stream/blocking/as-created",
        backend="raw",
        verdict=verdict,
        observed=observed,
        findings=(finding,) if verdict is Verdict.FAIL else (),
    )


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_every_result_and_its_findings_appear() -> None:
    report = Report(
        run_info={"release": "6.18"},
        results=(result("FD-01", Verdict.PASS), result("TRN-05", Verdict.FAIL, "<b>\x00\x1b")),
    )
    page = render_html(report)
    parser = Cells()
    parser.feed(page)
    text = "".join(parser.text)
    assert "FD-01" in text and "TRN-05" in text
    assert "<b>" in text  # escaped, so it is text, not a tag
    assert "b" not in parser.tags
    assert "\x00" not in page and "\x1b" not in page
    assert page.count("#f99") >= 2  # the fail count cell and the matrix cell
