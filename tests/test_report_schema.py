"""The canonical report reader: round trips, and one-line errors that name the file and the place."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.finding import Finding
from harness.report.schema import (
    SCHEMA,
    Report,
    ReportError,
    Result,
    Verdict,
    load_report,
    parse_report,
    report_to_json,
    summarise,
)


def result(case: str = "TRN-05", verdict: Verdict = Verdict.PASS, **overrides: Any) -> Result:
    fields: dict[str, Any] = {"area": "truncation", "kind": "stream/blocking/as-is", "backend": "raw"}
    fields.update(overrides)
    return Result(case=case, verdict=verdict, **fields)


FINDING = Finding(
    checker="msg-flags", variant="controllen=20", step=1, field="msg_flags", expected="{MSG_CTRUNC}", observed="{}"
)


def sample_report() -> Report:
    return Report(
        run_info={"system": "linux", "release": "6.18.44", "features": ["MSG_OOB", "kcmp"], "word": 8},
        results=(
            result(title="control room", source="GV BasicThreeFDPassTruncationMsgCtrunc", duration_ms=1.25),
            result(
                verdict=Verdict.FAIL,
                kind="seqpacket/nonblocking/reversed",
                # payload bytes as latin-1 text, an astral character and a lone surrogate
                observed="b'\x00\x1b[31m\xff' \U0001f600 \ud800",
                findings=(FINDING, Finding(checker="fds", variant="", step=None, field="fd", expected="", observed="")),
            ),
            result("FD-09", Verdict.UNSUPPORTED, backend="pysock", reason="no SO_PASSPIDFD"),
        ),
    )


def write_json(tmp_path: Path, value: object, name: str = "report.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    report = sample_report()
    path = write_json(tmp_path, report_to_json(report))
    assert load_report(path) == report
    assert parse_report(report_to_json(report), "mem") == report


def test_json_form_has_the_documented_shape() -> None:
    data = report_to_json(sample_report())
    assert data["schema"] == SCHEMA
    assert set(data) == {"schema", "run_info", "results", "summary"}
    results = data["results"]
    assert isinstance(results, list)
    assert results[1]["verdict"] == "fail"
    assert results[1]["findings"][0] == {
        "checker": "msg-flags", "variant": "controllen=20", "step": 1, "field": "msg_flags",
        "expected": "{MSG_CTRUNC}", "observed": "{}",
    }  # fmt: skip
    assert results[1]["findings"][1]["step"] is None


def test_summarise_counts_verdicts_results_and_distinct_cases() -> None:
    summary = summarise(sample_report().results)
    assert summary == {
        "total": 3, "cases": 2, "pass": 1, "fail": 1, "known": 0, "xpass": 0,
        "unsupported": 1, "unmodelled": 0, "error": 0,
    }  # fmt: skip
    assert summarise([]) == {"total": 0, "cases": 0} | {v.value: 0 for v in Verdict}


def test_news_verdicts_are_fail_xpass_and_error() -> None:
    assert {v for v in Verdict if v.is_news} == {Verdict.FAIL, Verdict.XPASS, Verdict.ERROR}


def test_finding_describes_itself_on_one_line() -> None:
    assert FINDING.describe() == "[msg-flags controllen=20 step 1] msg_flags: expected {MSG_CTRUNC}, observed {}"
    no_step = Finding(checker="fds", variant="", step=None, field="fd", expected="a", observed="b")
    assert no_step.describe() == "[fds] fd: expected a, observed b"


Mutation = Callable[[dict[str, Any]], object]


def _set_result(index: int, key: str, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> object:
        data["results"][index][key] = value
        return data

    return mutate


def _drop_result_key(index: int, key: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> object:
        del data["results"][index][key]
        return data

    return mutate


def _set(key: str, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> object:
        data[key] = value
        return data

    return mutate


def _set_finding_step(value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> object:
        data["results"][1]["findings"][0]["step"] = value
        return data

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set("schema", "scm-harness/report/2"), "schema: 'scm-harness/report/2' is not 'scm-harness/report/1'"),
        (_set_result(2, "verdict", "maybe"), "results[2].verdict: 'maybe' is not a verdict"),
        (_drop_result_key(1, "case"), "results[1].case: missing"),
        (_set_result(0, "findings", {"a": 1}), "results[0].findings: expected an array, got object"),
        (_set_result(0, "title", 7), "results[0].title: expected a string, got number"),
        (_set_result(0, "duration_ms", -1), "results[0].duration_ms: -1 is not a duration"),
        (_set_result(0, "duration_ms", True), "results[0].duration_ms: expected a number, got boolean"),
        (_set_result(0, "colour", "red"), "results[0]: unknown key 'colour'"),
        (_set_finding_step(True), "results[1].findings[0].step: expected null or a step index, got True"),
        (_set("results", "none"), "results: expected an array, got string"),
        (_set("run_info", None), "run_info: expected an object, got null"),
        (_set("summary", {}), "summary.total: missing"),
        (lambda data: [data], "expected an object, got array"),
    ],
)
def test_malformed_report_gives_one_line_error_naming_file_and_place(
    tmp_path: Path, mutate: Mutation, message: str
) -> None:
    path = write_json(tmp_path, mutate(report_to_json(sample_report())))
    with pytest.raises(ReportError) as info:
        load_report(path)
    text = str(info.value)
    assert text == f"{path}: {message}"
    assert "\n" not in text


def test_summary_that_disagrees_with_the_results_is_rejected(tmp_path: Path) -> None:
    data = report_to_json(sample_report())
    data["summary"] = {**summarise(sample_report().results), "pass": 5}
    with pytest.raises(ReportError, match=r"summary\.pass: 5 but the results give 1$"):
        load_report(write_json(tmp_path, data))


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "report.json"
    with pytest.raises(ReportError) as info:
        load_report(path)
    assert str(info.value) == f"{path}: cannot read: No such file or directory"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"schema": ', "not JSON: Expecting value at line 1 column 12"),
        (b"\xff\xfe{}", "not UTF-8 (byte 0xff at offset 0)"),
        (b'{"duration_ms": NaN}', "not JSON: NaN is not a JSON number"),
    ],
)
def test_not_json(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    with pytest.raises(ReportError) as info:
        load_report(path)
    assert str(info.value) == f"{path}: {message}"


def test_control_characters_in_the_file_name_do_not_break_the_one_line_message() -> None:
    with pytest.raises(ReportError) as info:
        parse_report([], "bad\nname.json")
    assert str(info.value) == "'bad\\nname.json': expected an object, got array"


def test_long_bad_values_are_cut_in_messages() -> None:
    data = report_to_json(sample_report())
    data["results"][0]["verdict"] = "x" * 500  # type: ignore[index]
    with pytest.raises(ReportError) as info:
        parse_report(data, "r.json")
    assert len(str(info.value)) < 120
    assert str(info.value).endswith("... is not a verdict")
