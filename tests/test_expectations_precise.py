"""Expectations with precision: entries that name their findings, skip entries, unknown case ids,
and ``scm-harness expectations --from report.json`` (a file that makes that run green)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness.evaluate as pipeline
from harness.cli import main
from harness.execute.backend import ExecConfig
from harness.execute.faults import inject
from harness.execute.run import execute as real_execute
from harness.expectations_file import (
    SCHEMA,
    TODO_REASON,
    Deviation,
    ExpectationsError,
    FindingPattern,
    KnownDeviations,
    deviations_from,
    glob_escape,
    load,
)
from harness.finding import Finding
from harness.model import PairKind, Scenario
from harness.observation import Observation
from harness.platform import Platform
from harness.report.schema import Report, Result, Verdict, load_report
from harness.report.write import write_report_bundle

NATIVE = Platform(system="linux", release="6.18.44", arch="x86_64")
KINDS = ("dgram/blocking/as-created", "seqpacket/blocking/as-created")
TRUNC = Finding(
    checker="msg-flags", variant="partial", step=1, field="msg_flags", expected="{MSG_TRUNC}", observed="{}"
)
DATA = Finding(checker="bytes", variant="partial", step=1, field="data", expected="b'abc'", observed="b'ab'")


def result(kind: str, backend: str, verdict: Verdict, *findings: Finding, case: str = "BND-04") -> Result:
    return Result(case=case, area="boundaries", kind=kind, backend=backend, verdict=verdict, findings=findings)


def failing(*findings: Finding) -> list[Result]:
    return [result(k, b, Verdict.FAIL, *findings) for k in KINDS for b in ("raw", "pysock")]


def judged(known: KnownDeviations, results: list[Result]) -> list[bool]:
    """For each result: does the runner's rule (runner.run_case) make it known?"""
    return [known.find(r.case, r.kind, r.backend, NATIVE, r.findings) is not None for r in results]


def write(path: Path, deviations: list[dict[str, object]], schema: str = SCHEMA) -> Path:
    path.write_text(json.dumps({"schema": schema, "deviations": deviations}))
    return path


# ----------------------------------------------------------------------------------------------
# matching


def test_an_entry_with_findings_covers_only_those_findings() -> None:
    entry = Deviation(case="BND-04", reason="r", findings=(FindingPattern(checker="msg-flags", field="msg_*"),))
    assert entry.covers([TRUNC])
    assert not entry.covers([DATA])
    assert not entry.covers([TRUNC, DATA])  # one finding nobody expected is enough to fail
    assert Deviation(case="BND-04", reason="r").covers([TRUNC, DATA])  # no findings named: any failure


def test_step_is_exact_and_null_means_no_step() -> None:
    no_step = Finding(checker="c", variant="", step=None, field="f", expected="", observed="")
    assert FindingPattern(any_step=False, step=1).matches(TRUNC)
    assert not FindingPattern(any_step=False, step=2).matches(TRUNC)
    assert FindingPattern(any_step=False, step=None).matches(no_step)
    assert not FindingPattern(any_step=False, step=None).matches(TRUNC)
    assert FindingPattern().matches(no_step) and FindingPattern().matches(TRUNC)


def test_glob_escape_matches_exactly_that_text() -> None:
    text = "b'[*?]x'"
    pattern = FindingPattern(observed=glob_escape(text))
    assert pattern.matches(Finding(checker="c", variant="", step=0, field="f", expected="", observed=text))
    assert not pattern.matches(Finding(checker="c", variant="", step=0, field="f", expected="", observed="b'*x'"))


# ----------------------------------------------------------------------------------------------
# the file


def test_findings_and_skip_entries_load(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.json",
        [
            {"case": "BND-04", "reason": "r", "findings": [{"checker": "msg-flags", "step": 1}, {"observed": "{}"}]},
            {"case": "FD-0[12]", "kind": "dgram/*", "skip": True, "reason": "hangs here"},
        ],
    )
    known = load(path, case_ids=["BND-04", "FD-01", "FD-02"])
    assert known.entries[0].findings == (
        FindingPattern(checker="msg-flags", any_step=False, step=1),
        FindingPattern(observed="{}"),
    )
    assert known.skipped("FD-01", "dgram/blocking/as-created", "raw", NATIVE) is known.entries[1]
    assert known.skipped("FD-01", "stream/blocking/as-created", "raw", NATIVE) is None
    assert known.find("FD-01", "dgram/blocking/as-created", "raw", NATIVE, [TRUNC]) is None  # skip is not known


def test_schema_1_files_are_still_read_without_the_new_keys(tmp_path: Path) -> None:
    old = write(tmp_path / "v1.json", [{"case": "BND-04", "reason": "r"}], schema="scm-harness/expectations/1")
    assert load(old).entries == (Deviation(case="BND-04", reason="r"),)
    with_skip = write(
        tmp_path / "v1s.json", [{"case": "BND-04", "reason": "r", "skip": True}], "scm-harness/expectations/1"
    )
    with pytest.raises(ExpectationsError, match="unknown key"):
        load(with_skip)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"case": "BND-04", "reason": "r", "skip": "yes"}, "deviations[0].skip: must be true or false"),
        ({"case": "BND-04", "reason": "r", "findings": {}}, "deviations[0].findings: must be a list"),
        ({"case": "BND-04", "reason": "r", "findings": [{}]}, "findings[0]: must be a non-empty object"),
        ({"case": "BND-04", "reason": "r", "findings": [{"colour": "x"}]}, "findings[0]: unknown key"),
        ({"case": "BND-04", "reason": "r", "findings": [{"field": 3}]}, "must be strings"),
        ({"case": "BND-04", "reason": "r", "findings": [{"step": -1}]}, "findings[0].step: must be a step index"),
        ({"case": "BND-04", "reason": "r", "findings": [{"step": True}]}, "findings[0].step: must be a step index"),
        ({"case": "BND-04", "reason": "r", "skip": True, "findings": [{"step": 1}]}, "a skip entry names no findings"),
        ({"case": "NOPE-99", "reason": "r"}, "deviations[0]: case 'NOPE-99' matches no catalogue case"),
    ],
)
def test_bad_entries_are_one_line(tmp_path: Path, entry: dict[str, object], fragment: str) -> None:
    path = write(tmp_path / "e.json", [entry])
    with pytest.raises(ExpectationsError) as info:
        load(path, case_ids=["BND-04"])
    message = str(info.value)
    assert fragment in message and str(path) in message and "\n" not in message


def test_unknown_case_id_is_exit_2_naming_file_index_and_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "e.json", [{"case": "BND-04", "reason": "r"}, {"case": "BND-99", "reason": "typo"}])
    code = main(["run", "--ids", "BND-04", "--expectations", str(path), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"scm-harness: {path}: deviations[1]: case 'BND-99' matches no catalogue case\n"
    assert not (tmp_path / "r").exists()  # refused before anything ran


# ----------------------------------------------------------------------------------------------
# writing a file from a report


def test_from_a_failing_report_then_the_same_results_are_all_known() -> None:
    results = [*failing(TRUNC), result(KINDS[0], "raw", Verdict.PASS, case="FD-01")]
    known = deviations_from(results)
    assert [d.as_json() for d in known.entries] == [
        {
            "case": "BND-04",
            "findings": [
                {"checker": "msg-flags", "variant": "partial", "field": "msg_flags", "observed": "{}", "step": 1}
            ],
            "reason": TODO_REASON,
        }
    ]  # every result of the case fails the same way: one entry for all kinds and back ends
    assert judged(known, results[:-1]) == [True] * 4
    assert judged(known, failing(DATA)) == [False] * 4  # a different deviation of the same case: fail
    assert judged(known, failing(TRUNC, DATA)) == [False] * 4  # the known one plus a new one: fail


def test_from_groups_per_kind_when_kinds_differ_and_keeps_known_reasons() -> None:
    results = [
        result(KINDS[0], "raw", Verdict.FAIL, TRUNC),
        result(KINDS[0], "pysock", Verdict.FAIL, TRUNC),
        result(KINDS[1], "raw", Verdict.FAIL, DATA),
        result(KINDS[1], "pysock", Verdict.PASS),
        Result(case="TRN-08", area="a", kind=KINDS[0], backend="raw", verdict=Verdict.KNOWN, reason="gvisor b/207"),
        Result(case="ERR-01", area="a", kind=KINDS[0], backend="raw", verdict=Verdict.ERROR, reason="harness"),
    ]
    entries = [(d.case, d.kind, d.backend, d.reason) for d in deviations_from(results).entries]
    assert entries == [
        ("BND-04", KINDS[0], "*", TODO_REASON),
        ("BND-04", KINDS[1], "raw", TODO_REASON),
        ("TRN-08", "*", "*", "gvisor b/207"),
    ]
    known = deviations_from(results)
    assert judged(known, [r for r in results if r.verdict is Verdict.FAIL]) == [True, True, True]
    assert not judged(known, [result(KINDS[1], "pysock", Verdict.FAIL, DATA)])[0]  # it passed there


def test_expectations_command_writes_a_file_that_loads(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_report_bundle(tmp_path / "run", Report(run_info={}, results=tuple(failing(TRUNC))))
    out = tmp_path / "known.json"
    assert main(["expectations", "--from", str(tmp_path / "run" / "report.json"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err == f"scm-harness: wrote 1 entries to {out} (1 with reason {TODO_REASON!r} to fill in)\n"
    assert load(out, case_ids=["BND-04"]).entries[0].findings[0].checker == "msg-flags"
    assert main(["expectations", "--from", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.json" in err


# ----------------------------------------------------------------------------------------------
# end to end: real runs with a deviation planted in the observations


def plant(monkeypatch: pytest.MonkeyPatch, fault: str | None) -> None:
    """Every observation of the run rewritten by ``fault`` (harness.execute.faults), as a buggy kernel would."""

    def execute(scenario: Scenario, backend: str, config: ExecConfig) -> Observation:
        return inject(fault, scenario, real_execute(scenario, backend, config))

    monkeypatch.setattr(pipeline, "execute", execute)


@pytest.mark.kernel
def test_expectations_from_a_run_make_it_green_and_a_new_deviation_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    argv = ["run", "--ids", "BND-04,FD-01", "--kinds", "dgram/blocking/*", "--backend", "raw"]
    plant(monkeypatch, "drop-msg-trunc")  # BND-04's partial read loses MSG_TRUNC; FD-01 is unaffected
    assert main([*argv, "--out", str(tmp_path / "first")]) == 1
    first = load_report(tmp_path / "first" / "report.json")
    assert {(r.case, r.verdict) for r in first.results} == {("BND-04", Verdict.FAIL), ("FD-01", Verdict.PASS)}
    known = tmp_path / "known.json"
    assert main(["expectations", "--from", str(tmp_path / "first" / "report.json"), "--out", str(known)]) == 0

    assert main([*argv, "--expectations", str(known), "--out", str(tmp_path / "same")]) == 0
    same = load_report(tmp_path / "same" / "report.json")
    assert {(r.case, r.verdict) for r in same.results} == {("BND-04", Verdict.KNOWN), ("FD-01", Verdict.PASS)}

    plant(monkeypatch, "lose-datagram-byte")  # the same case deviates differently (FD-01 now fails too)
    assert main([*argv, "--expectations", str(known), "--out", str(tmp_path / "other")]) == 1
    other = load_report(tmp_path / "other" / "report.json")
    assert {r.verdict for r in other.results if r.case == "BND-04"} == {Verdict.FAIL}

    plant(monkeypatch, None)  # the deviation is gone: news
    assert main([*argv, "--expectations", str(known), "--out", str(tmp_path / "fixed")]) == 0
    fixed = load_report(tmp_path / "fixed" / "report.json")
    assert {(r.case, r.verdict) for r in fixed.results} == {("BND-04", Verdict.XPASS), ("FD-01", Verdict.PASS)}
    capsys.readouterr()


def test_a_skip_entry_runs_nothing_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.catalogue import select
    from harness.runner import RunConfig, run_case

    def never(*args: object) -> Observation:
        raise AssertionError("a skipped case ran")

    monkeypatch.setattr(pipeline, "execute", never)
    case = select(["BND-04"])[0]
    kind = next(k for k in case.kinds() if k.name == "dgram/blocking/as-created")
    assert isinstance(kind, PairKind)
    known = KnownDeviations((Deviation(case="BND-*", skip=True, reason="hangs on this sandbox"),))
    got = run_case(case, kind, "raw", NATIVE, RunConfig(known=known))
    assert (got.verdict, got.reason) == (Verdict.UNSUPPORTED, "skipped by expectations: hangs on this sandbox")
