"""``scm-harness replay``: files, directories and findings in, the report bundle of ``run`` out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "corpora" / "seeds" / "BND-01__coalesced.json"


def _results(out: Path) -> list[dict[str, str]]:
    data = json.loads((out / "report.json").read_text())
    assert isinstance(data, dict) and isinstance(data["results"], list)
    return data["results"]


def test_replay_of_good_files_passes(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["replay", str(GOOD), "--out", str(out)]) == 0
    assert {(r["case"], r["backend"], r["verdict"]) for r in _results(out)} == {
        ("REPLAY:BND-01__coalesced", "raw", "pass"),
        ("REPLAY:BND-01__coalesced", "pysock", "pass"),
    }
    assert (out / "junit.xml").is_file() and (out / "summary.md").is_file()


def test_corrupt_files_give_one_line_each_and_the_rest_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(GOOD, corpus / "good.json")
    (corpus / "broken.json").write_text('{"kind": "stream/blocking/as-created",\n "steps": [{"op": "frobnicate"}]}')
    (corpus / "truncated.json").write_text('{"kind": "stream/bl')
    (corpus / "README.md").write_text("not a scenario, and not read as one\n")
    out = tmp_path / "report"
    assert main(["replay", str(corpus), "--out", str(out), "--backend", "raw"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("scm-harness replay:")]
    assert len(errors) == 2
    assert any("broken.json" in line and "frobnicate" in line for line in errors)
    assert any("truncated.json" in line and "not JSON" in line for line in errors)
    verdicts = {r["case"]: r["verdict"] for r in _results(out)}
    assert verdicts == {"REPLAY:good": "pass", "REPLAY:broken": "error", "REPLAY:truncated": "error"}


def test_a_finding_directory_replays_its_scenario(tmp_path: Path) -> None:
    finding = tmp_path / "findings" / "msg-flags__msg_flags__recv"
    finding.mkdir(parents=True)
    shutil.copy(GOOD, finding / "scenario.json")
    (finding / "finding.json").write_text("{}")
    (finding / "observed.json").write_text('{"not": "a scenario"}')
    out = tmp_path / "report"
    assert main(["replay", str(tmp_path / "findings"), "--out", str(out), "--backend", "raw"]) == 0
    cases = {r["case"] for r in _results(out)}
    assert cases == {"REPLAY:msg-flags__msg_flags__recv"}
