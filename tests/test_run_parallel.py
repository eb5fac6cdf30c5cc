"""``run -j N``: the same report as ``-j 1`` (timings aside), the journal in the same order."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from harness.catalogue.case import Case, Variant
from harness.cli import main
from harness.model import PairKind, SockType
from harness.platform import Platform
from harness.report.schema import load_report
from harness.runner import NO_SCENARIO_REASON, RunConfig, handout_order, run_plan_parallel
from tests.test_interrupted_run import interrupt_run

IDS = "FD-01,FD-02,TRN-05"


def comparable(out: Path) -> list[dict[str, object]]:
    """report.json's results without their durations."""
    report = load_report(out / "report.json")
    return [
        {
            "key": (r.case, r.kind, r.backend),
            "verdict": r.verdict.value,
            "findings": [(f.checker, f.variant, f.step, f.field, f.expected, f.observed) for f in r.findings],
            "reason": r.reason,
        }
        for r in report.results
    ]


def journal_keys(out: Path) -> list[tuple[str, str, str]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return [(entry["case"], entry["kind"], entry["backend"]) for entry in map(json.loads, lines)]


def test_two_jobs_give_the_report_of_one(tmp_path: Path) -> None:
    serial, parallel = tmp_path / "j1", tmp_path / "j2"
    common = ["run", "--ids", IDS, "--inject-fault", "swap-fds"]
    assert main([*common, "--out", str(serial)]) == 1
    assert main([*common, "--out", str(parallel), "-j", "2"]) == 1
    assert comparable(parallel) == comparable(serial)
    assert any(entry["findings"] for entry in comparable(serial))  # the fault made findings to compare
    assert journal_keys(parallel) == journal_keys(serial)
    assert len(journal_keys(serial)) == len(comparable(serial))


def test_more_jobs_than_results(tmp_path: Path) -> None:
    out = tmp_path / "many"
    assert (
        main(["run", "--ids", "FD-01", "--kinds", "stream/*", "--backend", "raw", "--out", str(out), "-j", "64"]) == 0
    )
    assert len(comparable(out)) == len(journal_keys(out)) > 0


@pytest.mark.parametrize("value", ["0", "-1", "x", "1000"])
def test_jobs_out_of_range_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--ids", "FD-01", "-j", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "-j" in err[0]


def test_ctrl_c_with_two_jobs_keeps_the_journal_in_order_and_leaves_no_worker(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    process, _, stderr = interrupt_run(out, "-j", "2")  # the workers ignore the group's SIGINT
    assert process.returncode == 130, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["run_info"]["interrupted"] is True
    keys = [(r["case"], r["kind"], r["backend"]) for r in report["results"]]
    assert keys and journal_keys(out) == keys
    deadline = time.monotonic() + 30  # generous: only proves the workers do not outlive the run
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("a run worker outlived the interrupted run")


def _case(case_id: str, build: Callable[[PairKind], Iterable[Variant]]) -> Case:
    return Case(id=case_id, title=case_id, area="test", source="test", types=frozenset({SockType.STREAM}), build=build)


def test_entries_are_handed_out_as_workers_finish_and_come_back_in_plan_order(platform: Platform) -> None:
    """More entries than workers: each worker asks for more as it finishes; the order stays the plan's."""
    kind = PairKind.from_name("stream/blocking/as-created")
    plan = [(_case(f"T-{n}", lambda kind: ()), kind) for n in range(9)]
    results = list(run_plan_parallel(plan, ("raw", "pysock"), platform, RunConfig(), 3))
    assert [(r.case, r.backend) for r in results] == [(f"T-{n}", b) for n in range(9) for b in ("raw", "pysock")]
    assert all(r.reason == NO_SCENARIO_REASON for r in results)


def test_the_hand_out_takes_the_kinds_of_neighbouring_cases_in_turn() -> None:
    """Windows of consecutive cases, one entry of each case in turn: every plan index exactly once."""
    kinds = [PairKind.from_name(name) for name in ("stream/blocking/as-created", "dgram/blocking/as-created")]
    a, b, c = (_case(name, lambda kind: ()) for name in ("A", "B", "C"))
    plan = [(a, kinds[0]), (a, kinds[1]), (b, kinds[0]), (c, kinds[0]), (c, kinds[1])]
    assert handout_order(plan, window=3) == [0, 2, 3, 1, 4]
    assert handout_order(plan, window=2) == [0, 2, 1, 3, 4]  # C is the second window
    assert handout_order(plan, window=1) == [0, 1, 2, 3, 4]  # plan order
    assert handout_order([]) == []


def test_entries_handed_out_out_of_plan_order_come_back_in_plan_order(platform: Platform) -> None:
    """Two cases of several kinds each: handed out in turn (handout_order), yielded in plan order."""
    kinds = [PairKind.from_name(f"stream/{mode}/as-created") for mode in ("blocking", "nonblocking")]
    plan = [(_case(name, lambda kind: ()), kind) for name in ("T-1", "T-2") for kind in kinds]
    assert handout_order(plan) != list(range(len(plan)))
    results = list(run_plan_parallel(plan, ("raw",), platform, RunConfig(), 2))
    assert [(r.case, r.kind) for r in results] == [(case.id, kind.name) for case, kind in plan]


def test_a_worker_that_dies_is_an_error_of_the_run_not_a_hang(platform: Platform) -> None:
    def dies(kind: PairKind) -> Iterable[Variant]:
        os.kill(os.getpid(), signal.SIGKILL)  # only ever in a forked worker (-j 2)
        return ()

    kind = PairKind.from_name("stream/blocking/as-created")
    plan = [(_case("T-1", lambda kind: ()), kind), (_case("T-2", dies), kind), (_case("T-3", lambda kind: ()), kind)]
    seen: list[str] = []
    results = run_plan_parallel(plan, ("raw",), platform, RunConfig(), 2)
    with pytest.raises(RuntimeError, match="a run worker ended after"):
        seen.extend(result.case for result in results)
    assert "T-2" not in seen


def test_as_many_entries_as_workers_run_one_in_each_worker(platform: Platform, tmp_path: Path) -> None:
    """The first hand-out gives every worker one entry before any gets a second."""

    def build(kind: PairKind) -> Iterable[Variant]:
        with (tmp_path / str(os.getpid())).open("a") as seen:
            seen.write("x")
        return ()

    kind = PairKind.from_name("stream/blocking/as-created")
    plan = [(_case(f"T-{n}", build), kind) for n in range(4)]
    assert len(list(run_plan_parallel(plan, ("raw",), platform, RunConfig(), 4))) == 4
    assert sorted(path.read_text() for path in tmp_path.iterdir()) == ["x"] * 4  # four workers, one entry each


def test_the_oracle_is_asked_once_per_variant_for_every_back_end(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_plan shares the oracle's answers between the back ends of one (case, kind): pure, no back end."""
    from harness import runner
    from harness.catalogue.case import select
    from harness.expectation import Expectation, Unmodelled
    from harness.model import Scenario
    from harness.oracle import expect

    asked: list[str] = []

    def counting(scenario: Scenario, on: Platform) -> Expectation | Unmodelled:
        asked.append(scenario.kind.name)
        return expect(scenario, on)

    monkeypatch.setattr("harness.runner.expect", counting)
    (case,) = select(["TRN-05"])
    kind = case.kinds()[0]
    results = list(runner.run_plan([(case, kind)], ("raw", "pysock"), platform, RunConfig()))
    assert [r.backend for r in results] == ["raw", "pysock"]
    assert all(r.verdict.value == "pass" for r in results), [r.reason for r in results]
    assert len(asked) == len(case.variants(kind)) > 0
