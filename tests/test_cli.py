"""The command line: bad usage is one line and exit 2; a run writes a report that reads back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.schema import Report, Result, Verdict, load_report
from harness.report.write import JOURNAL, read_journal, write_report_bundle


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["run", "--ids", "XX-99"], "'XX-99' matches no catalogue case"),
        (["run", "--backend", "java"], "invalid choice"),
        (["run", "--ids", "FD-01", "--kinds", "tcp/*"], "matches no pair kind"),
        (["run", "--step-timeout", "0"], "--step-timeout: '0' is not a number from 0.25 to 60"),
        (["run", "--step-timeout", "0.1"], "--step-timeout: '0.1' is not a number from 0.25 to 60"),
        (["nosuchcommand"], "invalid choice"),
        (["corpus"], "say --sync (write) or --check (compare)"),
        (["corpus", "--sync", "--check"], "not both"),
        ([], "required"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str], fragment: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []  # no report directory for a run that never started


def test_unwritable_out_is_refused_before_running(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, _, err = run_cli(capsys, "run", "--ids", "FD-01", "--out", str(blocker / "reports"))
    assert code == 2
    assert err.count("\n") == 1 and "--out: cannot write " in err


def test_malformed_expectations_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "expectations.json"
    bad.write_text('{"schema": "scm-harness/expectations/1", "deviations": [{"case": "FD-01"}]}')
    code, _, err = run_cli(capsys, "run", "--ids", "FD-01", "--expectations", str(bad), "--out", str(tmp_path / "r"))
    assert code == 2
    assert err.count("\n") == 1 and "deviations[0]" in err


@pytest.mark.kernel
def test_run_writes_a_report_that_reads_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "run", "--ids", "FD-01,TRN-05", "--kinds", "dgram/*", "--out", str(tmp_path))
    assert code == 0
    report = load_report(tmp_path / "report.json")
    assert {r.case for r in report.results} == {"FD-01", "TRN-05"}
    assert {r.backend for r in report.results} == {"raw", "pysock"}
    assert len(report.results) == 2 * 8 * 2  # 4 socketpair() kinds and 4 the socket API makes
    assert all(r.verdict.value == "pass" for r in report.results)
    assert (tmp_path / "junit.xml").read_text().startswith("<?xml")
    assert report.run_info["command"] == "scm-harness run --ids FD-01,TRN-05 --kinds 'dgram/*' --out " + str(tmp_path)
    assert "OK" in out


@pytest.mark.kernel
def test_known_deviation_that_passes_is_xpass(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    known = tmp_path / "known.json"
    deviation = {"case": "FD-01", "kind": "dgram/blocking/*", "backend": "raw", "reason": "pretend bug"}
    known.write_text(json.dumps({"schema": "scm-harness/expectations/1", "deviations": [deviation]}))
    argv = ["run", "--ids", "FD-01", "--kinds", "dgram/*blocking/*", "--backend", "raw", "--expectations", str(known)]
    code, out, _ = run_cli(capsys, *argv, "--out", str(tmp_path / "r"))
    assert code == 0  # the gate: only fail and error fail the run
    assert "xpass" in out
    code, _, _ = run_cli(capsys, *argv, "--fail-on-xpass", "--out", str(tmp_path / "r"), "--overwrite")
    assert code == 1
    verdicts = {r.kind: r.verdict.value for r in load_report(tmp_path / "r" / "report.json").results}
    assert verdicts == {
        "dgram/blocking/as-created": "xpass",
        "dgram/blocking/reversed": "xpass",
        "dgram/nonblocking/as-created": "pass",
        "dgram/nonblocking/reversed": "pass",
    }


def test_list_render_and_compare(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "list", "--ids", "TRN-0[1-3]")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["TRN-01", "TRN-02", "TRN-03"]
    code, _, err = run_cli(capsys, "render", str(tmp_path / "missing.json"))
    assert code == 2 and "missing.json" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "compare", str(tmp_path / "a.json"))
    assert code == 2


def test_render_elsewhere_writes_a_whole_new_bundle(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = Result(case="X-01", area="a", kind="stream/blocking/as-created", backend="raw", verdict=Verdict.PASS)
    write_report_bundle(tmp_path / "run", Report(run_info={}, results=(result,)))
    source = str(tmp_path / "run" / "report.json")
    code, _, _ = run_cli(capsys, "render", source)  # in place, file by file
    assert code == 0
    code, _, _ = run_cli(capsys, "render", source, "--out", str(tmp_path / "copy"))
    assert code == 0
    assert read_journal(tmp_path / "copy" / JOURNAL) == [result]
    assert load_report(tmp_path / "copy" / "report.json").results == (result,)
    code, _, err = run_cli(capsys, "render", source, "--out", str(tmp_path / "copy"))
    assert code == 2 and err.count("\n") == 1 and "is not empty: pass --overwrite" in err
    code, _, _ = run_cli(capsys, "render", source, "--out", str(tmp_path / "copy"), "--overwrite")
    assert code == 0


@pytest.mark.kernel
def test_python_dash_m_harness_is_the_same_program(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "list", "--ids", "FD-01"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("FD-01")


@pytest.mark.kernel
def test_bench_reports_every_measurement_and_writes_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code, text, _ = run_cli(capsys, "bench", "--iterations", "2", "--rounds", "1", "--json", str(out))
    assert code == 0
    result = json.loads(out.read_text())
    names = [m["name"] for m in result["measurements"]]
    backends = [f"{what}-{files}" for files in ("memfd", "regular") for what in ("raw", "pysock", "verdict")]
    assert names == ["c-memfd", "c-regular", *backends, "atheris-loop", "hypothesis-loop"]
    assert all(m["us_per_scenario"] > 0 for m in result["measurements"])
    assert set(result["ratio_to_c"]) == set(backends)  # each over the floor of its own file kind
    assert set(result["cpu_ratio_to_c"]) == set(backends)  # the same in CPU time (a shared machine's measure)
    assert all(m["cpu_us_per_scenario"] >= 0 for m in result["measurements"])
    assert "us/scenario" in text
