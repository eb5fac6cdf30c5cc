"""The published JSON Schemas (harness/schemas/) accept what scm-harness really writes, and reject broken files.

Real outputs: ``run`` reports (one with an injected deviation, so it has findings), a fuzzing campaign
with a finding (campaign.json and finding.json), an expectations file written by ``expectations
--from``; an interrupted run's report is validated in tests/test_interrupted_run.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.expectations_file import SCHEMA_V1
from harness.schemas import NAMES, schema_text
from tests.json_schemas import assert_valid, problems, validator

ROOT = Path(__file__).resolve().parents[1]


def read(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run with a planted deviation (fails with findings); its bundle directory."""
    out = tmp_path_factory.mktemp("schemas") / "run"
    code = main(["run", "--ids", "TRN-0[1-3],FD-01", "--inject-fault", "drop-msg-trunc", "--out", str(out)])
    assert code == 1
    return out


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real fuzzing campaign with one finding (a planted deviation); its directory."""
    out = tmp_path_factory.mktemp("schemas") / "campaign"
    budget = ["--runs", "30", "--seed", "2", "--minimise-seconds", "5"]
    assert main(["fuzz", *budget, "--inject-fault", "drop-msg-trunc", "--out", str(out)]) == 1
    return out


def test_every_schema_is_a_valid_draft_2020_12_schema_and_is_in_the_repository() -> None:
    for name in NAMES:
        validator(name)  # check_schema raises on an invalid schema
        assert (ROOT / "harness" / "schemas" / f"{name}.schema.json").read_text() == schema_text(name)
    with pytest.raises(ValueError, match="no schema"):
        schema_text("nope")


def test_a_real_failing_report_validates(failing_run: Path) -> None:
    report = read(failing_run / "report.json")
    assert report["summary"]["fail"] > 0 and any(r["findings"] for r in report["results"])
    assert report["run_info"]["injected_faults"] == ["drop-msg-trunc"]
    assert_valid("report", report)
    journal = (failing_run / "results.jsonl").read_text().splitlines()
    assert len(journal) == len(report["results"])
    for line in journal:  # each line of the journal is one results[] entry
        assert_valid("report", json.loads(line), "result")
    assert problems("report", {**json.loads(journal[0]), "verdict": "maybe"}, "result")


def test_a_real_clean_report_and_its_comparison_with_a_failing_one_validate(failing_run: Path, tmp_path: Path) -> None:
    assert main(["run", "--ids", "TRN-0[1-3],FD-01", "--out", str(tmp_path / "run")]) == 0
    clean = tmp_path / "run" / "report.json"
    assert_valid("report", read(clean))
    compare = ["compare", str(clean), str(failing_run / "report.json"), "--labels", "clean,faulty"]
    assert main([*compare, "--out", str(tmp_path / "compared")]) == 1
    comparison = read(tmp_path / "compared" / "comparison.json")
    assert comparison["differences"] and comparison["unexplained"] > 0
    assert_valid("comparison", comparison)
    broken = copy.deepcopy(comparison)
    broken["differences"][0]["classes"]["faulty"]["class"] = "worse"
    assert problems("comparison", broken)


def test_expectations_written_from_a_report_validate(failing_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "known.json"
    assert main(["expectations", "--from", str(failing_run / "report.json"), "--out", str(out)]) == 0
    known = read(out)
    assert known["deviations"] and any("findings" in d for d in known["deviations"])
    assert_valid("expectations", known)


def test_hand_written_expectations_of_both_schemas_validate() -> None:
    skip = {"case": "OOB-*", "skip": True, "reason": "hangs on this sandbox"}
    precise = {"case": "TRN-08", "kind": "*", "label": "gvisor", "reason": "r", "findings": [{"step": None}]}
    assert_valid("expectations", {"schema": "scm-harness/expectations/2", "deviations": [skip, precise]})
    assert_valid("expectations", {"schema": SCHEMA_V1, "deviations": [{"case": "TRN-08", "reason": "r"}]})


def test_the_readme_example_expectations_validate() -> None:
    readme = (ROOT / "README.md").read_text()
    examples = [block for block in readme.split("```json\n")[1:] if '"scm-harness/expectations/' in block]
    assert examples
    for block in examples:
        assert_valid("expectations", json.loads(block.split("```")[0]))


def test_a_real_campaign_and_its_finding_validate(campaign: Path) -> None:
    summary = read(campaign / "campaign.json")
    assert len(summary["findings"]) == 1
    assert_valid("campaign", summary)
    finding = read(Path(summary["findings"][0]["dir"]) / "finding.json")
    assert finding["reproducers"]
    assert_valid("finding", finding)


def broken_reports(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    cases = []
    changes: tuple[tuple[str, Callable[[dict[str, Any]], object]], ...] = (
        ("an unknown verdict", lambda r: r["results"][0].update(verdict="maybe")),
        ("a result without its verdict", lambda r: r["results"][0].pop("verdict")),
        ("an unknown result key", lambda r: r["results"][0].update(colour="red")),
        ("a finding with a negative step", lambda r: r["results"][0].update(findings=[{**FINDING, "step": -1}])),
        ("a duration that is text", lambda r: r["results"][0].update(duration_ms="5")),
        ("another schema", lambda r: r.update(schema="scm-harness/report/0")),
        ("no run_info.interrupted", lambda r: r["run_info"].pop("interrupted")),
        ("a summary without fail", lambda r: r["summary"].pop("fail")),
    )
    for what, change in changes:
        document = copy.deepcopy(report)
        change(document)
        cases.append((what, document))
    return cases


FINDING = {"checker": "c", "variant": "", "step": 1, "field": "f", "expected": "e", "observed": "o"}


def test_broken_reports_are_rejected(failing_run: Path) -> None:
    for what, document in broken_reports(read(failing_run / "report.json")):
        assert problems("report", document), what


def v2(*deviations: dict[str, object]) -> dict[str, object]:
    return {"schema": "scm-harness/expectations/2", "deviations": list(deviations)}


@pytest.mark.parametrize(
    ("what", "document"),
    [
        ("no reason", v2({"case": "X"})),
        ("an empty reason", v2({"case": "X", "reason": ""})),
        ("an unknown key", v2({"case": "X", "reason": "r", "k": 1})),
        ("findings in /1", {"schema": SCHEMA_V1, "deviations": [{"case": "X", "reason": "r", "findings": []}]}),
        ("a skip entry with findings", v2({"case": "X", "reason": "r", "skip": True, "findings": [{"field": "f"}]})),
        ("an empty pattern", v2({"case": "X", "reason": "r", "findings": [{}]})),
        ("a step that is text", v2({"case": "X", "reason": "r", "findings": [{"step": "1"}]})),
        ("no schema", {"deviations": []}),
    ],
)
def test_broken_expectations_are_rejected(what: str, document: dict[str, object]) -> None:
    assert problems("expectations", document), what


def test_broken_campaigns_and_findings_are_rejected(campaign: Path) -> None:
    summary = read(campaign / "campaign.json")
    finding = read(Path(summary["findings"][0]["dir"]) / "finding.json")
    for key in ("execs", "findings", "schema"):
        assert problems("campaign", {k: v for k, v in summary.items() if k != key}), key
    assert problems("campaign", {**summary, "engine": "afl"})
    assert problems("finding", {k: v for k, v in finding.items() if k != "signature"})
    assert problems("finding", {**finding, "reproducers": {"repro.py": {"exit": 0, "reproduced": "yes"}}})
