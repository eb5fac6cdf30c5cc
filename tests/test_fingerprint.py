"""``scm-harness fingerprint`` and the explanation of fails: verdict logic on synthetic evidence, and
real runs on this kernel (6.18, which carries every change of the history table)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from harness.catalogue import CASES
from harness.fingerprint import (
    DIRECT,
    SCENARIOS,
    Evidence,
    Fingerprint,
    Seen,
    _asynchronous_collection,
    _variant,
    fingerprint,
    judged,
    render,
    side_of,
    verdict_of,
)
from harness.observation import Observation
from harness.oracle.history import ALL, BY_ID, changes_in, without_change
from harness.platform import Platform
from harness.report.html import render_html
from harness.report.markdown import render_summary
from harness.report.schema import Report, Result, Verdict, parse_report, report_to_json
from harness.runner import RunConfig, run_case, run_variant

# the 6.10 collector differs from the old one in timing only: a round in which it finished before close() returned
# looks like the old one, so all GC_ROUNDS rounds doing so (never seen here) leave it inconclusive, never absent
TIMING_ONLY = {"gc-2024"}


def test_every_scenario_is_a_catalogue_variant() -> None:
    for change, scenarios in SCENARIOS.items():
        assert change in BY_ID
        for case_id, label in scenarios:
            assert case_id in CASES
            assert _variant(case_id, label).label == label


def test_every_change_has_a_way_to_be_measured() -> None:
    for change in BY_ID.values():
        measured = change.probed or change.id in SCENARIOS or change.id in DIRECT
        assert measured, change.id


@pytest.mark.parametrize(
    ("with_change", "without_change", "side"),
    [(True, False, "with"), (False, True, "without"), (True, True, "both"), (False, False, "neither"),
     (None, True, "unmodelled on one side"), (True, None, "unmodelled on one side")],
)  # fmt: skip
def test_side_of(with_change: bool | None, without_change: bool | None, side: str) -> None:
    assert side_of(with_change, without_change) == side


def test_verdict_of_needs_evidence_pointing_one_way() -> None:
    def ev(*sides: str) -> list[Evidence]:
        return [Evidence("s", side) for side in sides]

    assert verdict_of(ev("with", "both")) is Seen.PRESENT
    assert verdict_of(ev("without", "neither")) is Seen.ABSENT
    assert verdict_of(ev("with", "without")) is Seen.INCONCLUSIVE
    assert verdict_of(ev("both")) is Seen.INCONCLUSIVE
    assert verdict_of([]) is Seen.INCONCLUSIVE


def test_scenarios_that_could_not_run_are_inconclusive(platform: Platform) -> None:
    observed = {key: "cannot run: synthetic" for keys in SCENARIOS.values() for key in keys}
    direct = {change: (Evidence("probe", "without"),) for change in DIRECT}
    result = judged(platform, observed, direct)
    seen = {v.change: v.seen for v in result.verdicts}
    assert all(seen[change] is Seen.INCONCLUSIVE for change in SCENARIOS)
    assert all(seen[change] is Seen.ABSENT for change in DIRECT)
    assert seen["pidfd-2023"] is (Seen.PRESENT if "SO_PASSPIDFD" in platform.features else Seen.ABSENT)
    # measured absent takes the change out; inconclusive leaves the release's word
    assert result.present(ALL) == ALL - set(DIRECT) - {
        c.id for c in BY_ID.values() if c.probed and c.probed not in platform.features
    }


def test_a_release_that_says_less_than_the_kernel_has_is_corrected(platform: Platform) -> None:
    measured = fingerprint(platform)
    claimed = judged(dataclasses.replace(platform, release="6.1.176"), _observations(measured, platform))
    series = next(v for v in claimed.verdicts if v.change == "oob-2024-06")
    assert series.seen is Seen.PRESENT and not series.release_says and series.disagrees
    assert "oob-2024-06" in claimed.present(changes_in("6.1.176"))


def _observations(measured: Fingerprint, platform: Platform) -> dict[tuple[str, str], Observation | str]:
    """The fingerprint's scenarios observed again (the same raw runs fingerprint() makes)."""
    from harness.execute.run import execute

    return {key: execute(_variant(*key).scenario, "raw") for keys in SCENARIOS.values() for key in keys}


def test_this_kernel_carries_every_change(platform: Platform) -> None:
    result = fingerprint(platform)
    seen = {v.change: v.seen for v in result.verdicts}
    assert set(seen) == set(BY_ID)
    for change, verdict in seen.items():
        if change in TIMING_ONLY:
            assert verdict in (Seen.PRESENT, Seen.INCONCLUSIVE), change
        elif BY_ID[change].probed and BY_ID[change].probed not in platform.features:
            assert verdict is Seen.ABSENT, change  # e.g. a vendor kernel without SO_INQ
        elif change not in changes_in(platform.release):
            # newer than this kernel: the 2026 zero-length fix is measured absent on 6.18.44
            assert verdict is Seen.ABSENT, change
        else:
            assert verdict is Seen.PRESENT, (
                change,
                [e for v in result.verdicts if v.change == change for e in v.evidence],
            )
    table = render(result)
    assert "oob-2024-06" in table and "b94038d841a9" in table
    assert json.loads(json.dumps(result.as_json()))["changes"]["peek_off-sleep"]["seen"] == "present"


@pytest.mark.kernel
def test_the_collector_probe_sees_the_cycle_collected(platform: Platform) -> None:
    evidence = _asynchronous_collection(platform)
    assert evidence.side in ("with", "both"), evidence  # "neither": the cycle was never collected
    assert ("collected after" in evidence.observed) == (evidence.side == "with")


# -- the explanation of a fail -------------------------------------------------------------------


def test_a_fail_that_one_change_explains_says_so(platform: Platform) -> None:
    judged_as = dataclasses.replace(platform, changes=without_change(ALL, "oob-2024-06"), model="test")
    variant = _variant("REG-OOB-SERIES-2024-06", "e400cfa38bb0 SIOCATMARK, consumed x")
    result = run_variant(variant, "raw", judged_as, RunConfig())
    assert result.verdict is Verdict.FAIL
    assert result.explained_by == "oob-2024-06"
    assert result.reason.startswith("behaves as with b94038d841a9 (")
    case = CASES["REG-OOB-SERIES-2024-06"]
    kind = next(k for k in case.kinds() if not k.nonblocking)
    whole = run_case(case, kind, "raw", judged_as, RunConfig())
    assert whole.verdict is Verdict.FAIL and whole.explained_by == "oob-2024-06"


def test_a_fail_no_change_explains_stays_unexplained(platform: Platform) -> None:
    # judged as a kernel without CONFIG_AF_UNIX_OOB: no history change turns that into a pass
    judged_as = dataclasses.replace(platform, features=platform.features - {"MSG_OOB"})
    variant = _variant("REG-OOB-SERIES-2024-06", "b94038d841a9 peek at consumed OOB")
    result = run_variant(variant, "raw", judged_as, RunConfig())
    assert result.verdict is Verdict.FAIL
    assert result.explained_by == "" and result.reason == ""


# -- the command line ----------------------------------------------------------------------------


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=300)


def test_fingerprint_command_prints_the_table_and_json(tmp_path: object) -> None:
    done = _cli("fingerprint", "--json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data["changes"]) == set(BY_ID)
    assert data["target"] == "host"
    table = _cli("fingerprint")
    assert table.returncode == 0 and "release says" in table.stdout


def test_fingerprint_on_a_missing_target_is_one_line_and_exit_2(tmp_path: object) -> None:
    done = _cli("fingerprint", "--on", f"uml:{tmp_path}/no-such-kernel")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "no-such-kernel" in done.stderr, done.stderr


def test_run_as_linux_names_the_model_and_groups_the_explained_fails(tmp_path: object) -> None:
    out = f"{tmp_path}/r"
    done = _cli("run", "--ids", "REG-SO_PEEK_OFF-SLEEP", "--backend", "raw", "--as-linux", "6.1.176", "--out", out)
    assert done.returncode == 1, done.stderr
    report = json.loads(_read(f"{out}/report.json"))
    info = report["run_info"]
    assert info["model"] == "6.1.176" and "peek_off-sleep" in info["changes_absent"]
    assert info["fingerprint"]["changes"]["peek_off-sleep"]["seen"] == "present"
    fails = [r for r in report["results"] if r["verdict"] == "fail"]
    assert fails and all(r["explained_by"] == "peek_off-sleep" for r in fails)
    summary = _read(f"{out}/summary.md")
    assert "## Fails explained by peek_off-sleep" in summary and "Needs attention" not in summary
    assert "fail explained by peek_off-sleep" in _read(f"{out}/report.html")


@pytest.mark.parametrize("model", ["bogus", "6", "latest-ish"])
def test_a_bad_model_is_one_line_and_exit_2(model: str, tmp_path: object) -> None:
    done = _cli("run", "--ids", "OB-01", "--as-linux", model, "--out", f"{tmp_path}/r")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--as-linux" in done.stderr


def test_a_change_whose_foundation_is_absent_is_absent(platform: Platform) -> None:
    # a kernel without SCM_PIDFD (6.1) cannot have the reaped-sender change either
    without_pidfd = dataclasses.replace(platform, features=platform.features - {"SO_PASSPIDFD", "SO_PEERPIDFD"})
    direct = {change: (Evidence("probe", "the platform lacks SO_PASSPIDFD"),) for change in DIRECT}
    result = judged(without_pidfd, {}, direct)
    seen = {v.change: v.seen for v in result.verdicts}
    assert seen["pidfd-2023"] is Seen.ABSENT
    assert seen["scm_pidfd-reaped"] is Seen.ABSENT and seen["peerpidfd-reaped"] is Seen.ABSENT


# -- report.json and its renderings --------------------------------------------------------------


def _report_with_explained_fail() -> Report:
    explained = Result(
        case="OB-08", area="oob", kind="stream/blocking/as-created", backend="raw", verdict=Verdict.FAIL,
        reason="behaves as without b94038d841a9 (...)", explained_by="oob-2024-06",
    )  # fmt: skip
    plain = Result(case="TRN-05", area="t", kind="stream/blocking/as-created", backend="raw", verdict=Verdict.FAIL)
    info: dict[str, object] = {"release": "6.1.176", "model": "latest", "changes": sorted(ALL), "changes_absent": []}
    return Report(run_info=info, results=(explained, plain))


def test_explained_by_round_trips_and_is_optional() -> None:
    report = _report_with_explained_fail()
    data = report_to_json(report)
    results = data["results"]
    assert isinstance(results, list)
    assert results[0]["explained_by"] == "oob-2024-06" and "explained_by" not in results[1]
    assert parse_report(data, "r.json") == report  # a report without the key (older) reads back too


def test_summary_and_html_group_explained_fails_under_their_change() -> None:
    report = _report_with_explained_fail()
    summary = render_summary(report)
    attention, explained = summary.index("## Needs attention"), summary.index("## Fails explained by oob-2024-06")
    assert attention < explained
    assert "TRN-05" in summary[attention:explained] and "OB-08" not in summary[attention:explained]
    assert "OB-08" in summary[explained:] and "behaves as without b94038d841a9" in summary[explained:]
    html = render_html(report)
    assert "fail explained by oob-2024-06" in html and html.index("<h2 id='news'>") < html.index("fail explained by")
