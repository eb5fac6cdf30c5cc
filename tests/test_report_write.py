"""Atomic writes and the report bundle: whole files or the old ones, never a half-written file."""

from __future__ import annotations

import json
import math
import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.execute.lifetime import Ended, InChild, finish_in_child, start_in_child
from harness.finding import Finding
from harness.report import write
from harness.report.schema import Report, ReportError, Result, Verdict, load_report
from harness.report.write import canonical_json, write_atomically, write_report_bundle


def report(observed: str = "{}", duration_ms: float = 1.25) -> Report:
    finding = Finding(checker="msg-flags", variant="", step=None, field="msg_flags", expected="{X}", observed=observed)
    results = (
        Result(case="TRN-05", area="truncation", kind="stream/blocking/as-is", backend="raw", verdict=Verdict.PASS),
        Result(
            case="TRN-06", area="truncation", kind="dgram/blocking/as-is", backend="raw", verdict=Verdict.FAIL,
            observed=observed, findings=(finding,), duration_ms=duration_ms,
        ),
    )  # fmt: skip
    return Report(run_info={"release": "6.18.44", "features": ["kcmp"]}, results=results)


def test_atomic_write_creates_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_atomically(path, "héllo\n")
    assert path.read_bytes() == "héllo\n".encode()
    assert os.listdir(tmp_path) == ["out.txt"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by a CI uploader, unlike mkstemp's 0600


def test_existing_file_is_replaced_whole_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("a long old content\n" * 1000)
    path.chmod(0o600)
    inode = path.stat().st_ino
    write_atomically(path, "new\r\n")
    assert path.read_bytes() == b"new\r\n"  # no newline translation, no old tail
    assert path.stat().st_ino != inode  # a new file was renamed over the old one
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["out.txt"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(path, "half written \ud800 then fails")  # a lone surrogate cannot be UTF-8
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_canonical_json_is_sorted_indented_ascii_with_a_final_newline() -> None:
    text = canonical_json(report(observed="\x00\ud800é"))
    assert text.endswith("}\n")
    assert text.isascii()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert '"observed": "\\u0000\\ud800\\u00e9"' in text


def test_bundle_writes_three_files_rendered_from_the_same_report(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "run-1"
    paths = write_report_bundle(out, report())
    assert sorted(os.listdir(out)) == ["junit.xml", "report.html", "report.json", "report.ktap", "summary.md"]
    names = ("report.json", "junit.xml", "summary.md", "report.html", "report.ktap")
    assert paths == {name: out / name for name in names}
    assert load_report(out / "report.json") == report()
    assert json.loads((out / "report.json").read_text())["summary"]["fail"] == 1
    root = ET.parse(out / "junit.xml").getroot()
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    assert "| TRN-06 |" in (out / "summary.md").read_text()


def test_second_bundle_replaces_the_first(tmp_path: Path) -> None:
    write_report_bundle(tmp_path, report(observed="first " * 500))
    write_report_bundle(tmp_path, report(observed="second"))
    assert load_report(tmp_path / "report.json") == report(observed="second")
    assert "first" not in (tmp_path / "summary.md").read_text()
    assert "first" not in (tmp_path / "junit.xml").read_text()
    assert sorted(os.listdir(tmp_path)) == ["junit.xml", "report.html", "report.json", "report.ktap", "summary.md"]


def test_a_report_the_reader_would_reject_is_not_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        write_report_bundle(tmp_path / "nan", report(duration_ms=math.nan))
    bad = Report(run_info={}, results=(Result(case="X", area="a", kind="k", backend="raw", verdict=Verdict.PASS),))
    object.__setattr__(bad.results[0], "title", 7)  # what a buggy runner could hand over
    with pytest.raises(ReportError, match=r"report\.json: results\[0\]\.title: expected a string, got number"):
        write_report_bundle(tmp_path / "bad", bad)
    assert not (tmp_path / "nan").exists()
    assert not (tmp_path / "bad").exists()


def test_a_big_report_renders_the_same_with_part_of_it_in_a_forked_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole run's report renders summary.md and report.html in a forked child (RENDER_ASIDE_RESULTS):
    the files are the ones this process renders; a child that dies leaves the rendering to this process."""
    forked = []

    def counted(fn: Callable[[], object], timeout: float) -> InChild[object]:
        forked.append(timeout)
        return start_in_child(fn, timeout)

    monkeypatch.setattr(write, "start_in_child", counted)
    monkeypatch.setattr(write, "RENDER_ASIDE_RESULTS", 10**9)
    write_report_bundle(tmp_path / "here", report(observed="é\x00"))
    assert forked == []
    monkeypatch.setattr(write, "RENDER_ASIDE_RESULTS", 2)
    write_report_bundle(tmp_path / "aside", report(observed="é\x00"))
    assert len(forked) == 1
    monkeypatch.setattr(write, "start_in_child", lambda fn, timeout: start_in_child(lambda: os._exit(9), timeout))
    write_report_bundle(tmp_path / "died", report(observed="é\x00"))
    for name in write.BUNDLE_FILES:
        here = (tmp_path / "here" / name).read_bytes()
        assert (tmp_path / "aside" / name).read_bytes() == here, name
        assert (tmp_path / "died" / name).read_bytes() == here, name


def test_the_forked_renderer_is_used_only_when_report_json_reads_back_as_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child renders the report as given, before report.json exists; where reading report.json back
    gives another report (a tuple in run_info comes back a list), its files are dropped and this process
    renders them from what it read back: every file still shows exactly what report.json holds."""
    monkeypatch.setattr(write, "RENDER_ASIDE_RESULTS", 2)
    used: list[bool] = []

    def finished(child: InChild[tuple[str, str]]) -> Ended[tuple[str, str]]:
        used.append(True)
        return finish_in_child(child)

    monkeypatch.setattr(write, "finish_in_child", finished)
    given = report()
    write_report_bundle(tmp_path / "same", given)
    assert used == [True]
    with_tuple = Report(run_info={**given.run_info, "features": ("kcmp", "kcmp")}, results=given.results)
    write_report_bundle(tmp_path / "tuple", with_tuple)
    assert used == [True]  # the child's files were not waited for
    monkeypatch.setattr(write, "RENDER_ASIDE_RESULTS", 10**9)
    read_back = Report(run_info={**given.run_info, "features": ["kcmp", "kcmp"]}, results=given.results)
    write_report_bundle(tmp_path / "here", read_back)
    for name in write.BUNDLE_FILES:
        assert (tmp_path / "tuple" / name).read_bytes() == (tmp_path / "here" / name).read_bytes(), name
