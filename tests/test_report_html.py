"""The HTML page: every result appears, verdicts are coloured, payload text cannot break the markup; a fully
failing run (faults injected) reads in headless Chromium at 1400 px without horizontal scrolling."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.finding import Finding
from harness.report.html import render_html
from harness.report.schema import Report, Result, Verdict
from tests.junit_schema import assert_junit_10


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

        self.ids: list[str] = []
        self.links: list[str] = []
        self.empty_titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(found["id"] or "")
        if tag == "a" and (found.get("href") or "").startswith("#"):
            self.links.append((found["href"] or "")[1:])
        if tag == "td" and found.get("class") == "na":
            self.empty_titles.append(found.get("title") or "")

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
    assert page.count("class='v-fail'") >= 2  # the fail count cell and the matrix cell


def parsed(report: Report) -> Cells:
    parser = Cells()
    parser.feed(render_html(report))
    return parser


def test_every_matrix_cell_links_to_its_result_and_empty_cells_say_why() -> None:
    results = (
        result("FD-01", Verdict.PASS),
        result("TRN-05", Verdict.FAIL, "x"),
        Result(case="TRN-06", area="trn", kind="dgram/blocking/as-created", backend="raw", verdict=Verdict.KNOWN),
    )
    page = parsed(Report(run_info={}, results=results))
    assert len(page.ids) == len(set(page.ids))
    anchors = [i for i in page.ids if i.startswith("r-")]
    assert len(anchors) == 3 and sorted(page.links) == sorted(anchors)  # one link per result, each resolves
    # two kinds x three cases, three results: three empty cells, each explained
    assert len(page.empty_titles) == 3
    assert all("does not apply to this pair kind" in title for title in page.empty_titles)


def test_long_unbreakable_values_are_folded() -> None:
    token = "\\xa5" * 200  # 800 characters without a space, like a filled receive buffer
    page = render_html(Report(run_info={}, results=(result("TRN-05", Verdict.FAIL, token),)))
    assert "(800 characters)</summary>" in page
    assert "overflow-wrap:anywhere" in page


def test_interrupted_run_says_so_in_the_header_not_ok() -> None:
    report = Report(run_info={"interrupted": True, "planned": 10}, results=(result("FD-01", Verdict.PASS),))
    page = render_html(report)
    assert "INTERRUPTED: 1 of 10 results ran (9 did not)" in page
    assert "OK:" not in page
    assert "or the run was interrupted before it" in page  # empty matrix cells may be results not reached


def test_filters_are_inline_and_the_page_loads_nothing() -> None:
    page = render_html(Report(run_info={}, results=(result("FD-01", Verdict.PASS), result("TRN-05", Verdict.FAIL))))
    assert "<form id='filters' hidden>" in page  # shown by the script: without script, everything is shown
    assert re.search(r"<select name='verdict'>.*<option>fail</option>", page)
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page)


# ----------------------------------------------------------------------------------------------
# A fully failing run in headless Chromium (Debian's chromium; bash .ci/scm-harness test installs it)

CHROMIUM = shutil.which("chromium")
WIDTH = 1400
FAULTS = ("drop-msg-trunc", "swap-fds", "change-credential", "lose-datagram-byte", "wrong-errno")
# Appended to a copy of the page: what the test measures, in the title --dump-dom prints.
MEASURE = (
    "<script>const t=document.querySelector('table.findings').getBoundingClientRect();"
    "document.title=JSON.stringify({scrollWidth:document.documentElement.scrollWidth,"
    "top:t.top,bottom:t.bottom,right:t.right})</script>"
)


@pytest.fixture(scope="module")
def failing_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every catalogue case through the raw back end on the 6 blocking socketpair() kinds (a thousand results)
    with every observation fault injected (``run --inject-fault``)."""
    out = tmp_path_factory.mktemp("failing") / "bundle"
    faults = [word for fault in FAULTS for word in ("--inject-fault", fault)]
    kinds = ["--kinds", "*/blocking/*"]
    command = [sys.executable, "-m", "harness", "run", "--backend", "raw", *kinds, "--out", str(out), *faults]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "FAULTS INJECTED" in done.stdout
    return out


def chromium(*options: str, page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--window-size={WIDTH},1000", *options, page.as_uri(),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium (bash .ci/scm-harness test does)")
def test_fully_failing_report_fits_1400_px_and_shows_the_first_findings(failing_bundle: Path, tmp_path: Path) -> None:
    report = json.loads((failing_bundle / "report.json").read_text())
    assert report["run_info"]["injected_faults"] == list(FAULTS)
    assert report["summary"]["fail"] > report["summary"]["pass"]
    measured = tmp_path / "measure.html"
    measured.write_text((failing_bundle / "report.html").read_text().replace("</body>", MEASURE + "</body>"))
    dom = chromium("--dump-dom", page=measured, profile=tmp_path / "profile").stdout
    title = re.search(r"<title>(.*?)</title>", dom)
    assert title is not None, dom[:500]
    box = json.loads(title.group(1).replace("&quot;", '"'))
    assert box["scrollWidth"] <= WIDTH  # no horizontal scrolling
    assert box["right"] <= WIDTH and box["bottom"] <= 1000  # the first failure's findings, whole, on the first screen
    screenshot = tmp_path / "report-1400.png"
    chromium(f"--screenshot={screenshot}", page=failing_bundle / "report.html", profile=tmp_path / "profile")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot of {failing_bundle / 'report.html'} at {WIDTH} px: {screenshot}")


def test_fully_failing_junit_validates(failing_bundle: Path) -> None:
    assert_junit_10(failing_bundle / "junit.xml")


def test_run_refuses_an_unknown_fault_in_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness", "run", "--inject-fault", "no-such", "--out", str(tmp_path / "b")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("scm-harness: --inject-fault: unknown fault 'no-such' (known: drop-msg-trunc,")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "b").exists()  # refused before anything ran or was written
