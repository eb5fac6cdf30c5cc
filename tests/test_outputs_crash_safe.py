"""Crash safety of outputs, checked through ``python -m harness`` as a user runs it.

A full disk (a small tmpfs of the test's own), a kill and concurrent runs lose at most the case
in flight (the journal ``results.jsonl``) and never leave a directory with files of two runs; a
bad ``--out``/``--corpus`` or a read-only working directory is one line and exit 2 before any
work; numeric options are range-checked while parsing; a reader that goes away ends quietly.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.options import number_in
from harness.report.schema import Report, Result, Verdict, load_report
from harness.report.write import (
    BUNDLE_FILES,
    JOURNAL,
    OutputError,
    PendingBundle,
    claim_new_directory,
    open_bundle,
    read_journal,
    write_report_bundle,
)

# 6 cases, 52 case/kind pairs of the socketpair() kinds: 52 results with one back end, in about half a second.
IDS = ["--ids", "FD-01,TRN-0[1-5]", "--kinds", "*/*blocking/*", "--backend", "raw"]
SMALL = ["--ids", "FD-01", "--kinds", "dgram/*blocking/*", "--backend", "raw"]  # 4 results
PAGE = 4096
MS_RDONLY = 1
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def harness(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *argv], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


def start_harness(*argv: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "harness", *argv]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: int, *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes (rounded up to pages) mounted on ``path`` for the block."""
    path.mkdir(exist_ok=True)
    options = f"size={size},mode=755".encode()
    if _libc.mount(b"tmpfs", bytes(path), b"tmpfs", MS_RDONLY if read_only else 0, options) != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            pytest.skip("mounting a tmpfs is not permitted here (EPERM): the test needs a small file system of its own")
        raise OSError(err, os.strerror(err), str(path))
    try:
        yield path
    finally:
        _libc.umount2(bytes(path), MNT_DETACH)


def bundle_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def journal_bytes(tmp_path: Path) -> int:
    """The size of the journal of a run of ``IDS`` on a disk with room (results vary a little by kernel)."""
    done = harness("run", *IDS, "--out", str(tmp_path / "roomy"))
    assert done.returncode == 0, done.stderr
    return (tmp_path / "roomy" / JOURNAL).stat().st_size


def only_error_line(stderr: str) -> str:
    """The one error line of a run that failed while writing: after its one start line, nothing else.

    (The plain progress lines of a run whose stderr is no terminal are left out.)
    """
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("scm-harness: cases ")]
    assert lines[0].startswith("scm-harness: 6 cases, 52 case/kind pairs"), stderr
    assert len(lines) == 2, stderr
    return lines[1]


KEPT = re.compile(r"the journal with (\d+) finished results is kept at (\S+)\)$")


def kept_journal(line: str, out: Path) -> tuple[int, Path]:
    assert line.startswith(f"scm-harness: cannot write {out}: No space left on device (")
    match = KEPT.search(line)
    assert match is not None, line
    return int(match[1]), Path(match[2])


# ----------------------------------------------------------------------------------------------
# a full disk


@pytest.mark.kernel
def test_disk_full_while_streaming_keeps_every_result_written_so_far(tmp_path: Path) -> None:
    size = journal_bytes(tmp_path) // 2  # room for about half of the results
    with tmpfs(tmp_path / "disk", size) as disk:
        done = harness("run", *IDS, "--out", str(disk / "bundle"))
        assert done.returncode == 2
        count, journal = kept_journal(only_error_line(done.stderr), disk / "bundle")
        results = read_journal(journal)  # every line parses: a half-written one was cut back
        assert 0 < count == len(results) < 52
        assert len({r.key for r in results}) == count
        assert not (disk / "bundle").exists()  # nothing half-made in the bundle's place


@pytest.mark.kernel
def test_disk_full_while_writing_the_bundle_keeps_the_whole_journal(tmp_path: Path) -> None:
    # Room for the journal and one page more: report.json (the same results, indented) cannot fit.
    size = -(-journal_bytes(tmp_path) // PAGE) * PAGE + PAGE
    with tmpfs(tmp_path / "disk", size) as disk:
        done = harness("run", *IDS, "--out", str(disk / "bundle"))
        assert done.returncode == 2
        count, journal = kept_journal(only_error_line(done.stderr), disk / "bundle")
        assert count == 52
        assert [r.key for r in read_journal(journal)] == [
            r.key for r in load_report(tmp_path / "roomy" / "report.json").results
        ]
        assert not (disk / "bundle").exists()


@pytest.mark.kernel
def test_overwrite_on_a_full_disk_leaves_the_old_bundle_whole(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", 256 * 1024) as disk:
        out = disk / "bundle"
        assert harness("run", *SMALL, "--out", str(out)).returncode == 0
        before = bundle_bytes(out)
        assert sorted(before) == sorted((*BUNDLE_FILES, JOURNAL))
        with contextlib.suppress(OSError), (disk / "filler").open("wb", buffering=0) as filler:
            while True:
                filler.write(b"\0" * PAGE)  # until ENOSPC
        done = harness("run", *IDS, "--out", str(out), "--overwrite")
        assert done.returncode == 2
        only_error_line(done.stderr)
        assert bundle_bytes(out) == before  # not a new report.json beside an old report.html


# ----------------------------------------------------------------------------------------------
# a kill, an existing --out, concurrent runs


@pytest.mark.kernel
def test_a_killed_run_leaves_a_journal_of_whole_lines(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    run = start_harness("run", "--ids", "*", "--backend", "raw", "--out", str(out))
    deadline = time.monotonic() + 120  # "did not hang", not a measurement
    journals: list[Path] = []
    while not journals or journals[0].stat().st_size == 0:
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
        journals = list(tmp_path.glob(f".bundle.partial-*/{JOURNAL}"))
    run.send_signal(signal.SIGKILL)
    run.communicate()
    assert len(read_journal(journals[0])) >= 1
    assert not out.exists()


def test_an_existing_bundle_is_refused_before_running_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "report.json").write_text("{}")
    done = harness("run", *SMALL, "--out", str(out))
    assert done.returncode == 2
    assert done.stderr == (
        f"scm-harness: --out: {out} is not empty: pass --overwrite to replace the bundle in it, "
        "or give a new directory\n"
    )
    assert list(tmp_path.iterdir()) == [out]  # no staging directory: nothing ran


def test_overwrite_replaces_only_a_bundle(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    done = harness("run", *SMALL, "--out", str(out), "--overwrite")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "holds 'notes.txt', which is not part of a report bundle" in done.stderr
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.kernel
def test_overwrite_replaces_the_bundle_as_a_whole(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    assert harness("run", *SMALL, "--out", str(out)).returncode == 0
    done = harness("run", "--ids", "TRN-05", "--kinds", "dgram/*", "--backend", "raw", "--out", str(out), "--overwrite")
    assert done.returncode == 0, done.stderr
    report = load_report(out / "report.json")
    assert {r.case for r in report.results} == {"TRN-05"}
    assert read_journal(out / JOURNAL) == list(report.results)
    assert "FD-01" not in (out / "junit.xml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # the old one renamed away and deleted


@pytest.mark.kernel
def test_two_concurrent_runs_with_the_default_out_give_two_bundles(tmp_path: Path) -> None:
    runs = [start_harness("run", *SMALL, cwd=tmp_path) for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
    bundles = sorted((tmp_path / "reports").iterdir())
    assert len(bundles) == 2  # and no staging directory left over
    for bundle in bundles:
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", bundle.name)
        assert sorted(p.name for p in bundle.iterdir()) == sorted((*BUNDLE_FILES, JOURNAL))
        assert read_journal(bundle / JOURNAL) == list(load_report(bundle / "report.json").results)


@pytest.mark.kernel
def test_two_concurrent_runs_into_one_out_never_mix(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    ids = ("FD-01", "TRN-05")
    runs = [start_harness("run", "--ids", i, "--kinds", "dgram/*", "--backend", "raw", "--out", str(out)) for i in ids]
    ended = [(run.communicate(timeout=300)[1], run.returncode) for run in runs]
    assert sorted(code for _, code in ended) == [0, 2]
    loser = next(stderr for stderr, code in ended if code == 2)
    assert "Traceback" not in loser and ("is not empty" in loser or "another run put a bundle there" in loser)
    report = load_report(out / "report.json")
    (case,) = {r.case for r in report.results}
    assert read_journal(out / JOURNAL) == list(report.results)
    other = ids[1 - ids.index(case)]
    assert all(other not in (out / name).read_text() for name in BUNDLE_FILES)


def result(case: str) -> Result:
    return Result(case=case, area="a", kind="stream/blocking/as-created", backend="raw", verdict=Verdict.PASS)


def test_a_bundle_that_appears_meanwhile_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    first, second = (open_bundle(out) for _ in range(2))  # both found the place free
    for bundle, case in ((first, "A-01"), (second, "B-01")):
        bundle.record(result(case))
    first.finish(Report(run_info={}, results=(result("A-01"),)))
    with pytest.raises(OutputError, match=r"another run put a bundle there meanwhile \(this run's bundle is kept at"):
        second.finish(Report(run_info={}, results=(result("B-01"),)))
    assert [r.case for r in read_journal(out / JOURNAL)] == ["A-01"]
    assert [r.case for r in load_report(second.staging / "report.json").results] == ["B-01"]


def test_a_default_name_taken_by_another_run_is_not_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = iter(["20260101-000000-aaaaaa", "20260101-000000-aaaaaa", "20260101-000000-bbbbbb"])
    monkeypatch.setattr("harness.report.write._unique_name", lambda prefix: prefix + next(names))
    first = claim_new_directory(tmp_path, "x-")
    second = claim_new_directory(tmp_path, "x-")  # EEXIST on the same name, then another one
    assert (first.name, second.name) == ("x-20260101-000000-aaaaaa", "x-20260101-000000-bbbbbb")


def test_out_must_be_a_directory_that_can_be_renamed_onto(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match=r"link is a symbolic link: give the directory itself"):
        open_bundle(tmp_path / "link")
    with tmpfs(tmp_path / "volume", 256 * 1024) as volume:
        with pytest.raises(OutputError, match=r"volume is a mount point: give a directory inside it"):
            open_bundle(volume)
        open_bundle(volume / "bundle").finish(Report(run_info={}, results=()))  # inside it is fine
        assert read_journal(volume / "bundle" / JOURNAL) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "link", "volume"]


def test_staging_is_removed_with_the_bundle_in_place(tmp_path: Path) -> None:
    bundle: PendingBundle = open_bundle(tmp_path / "b")
    bundle.record(result("A-01"))
    paths = bundle.finish(Report(run_info={}, results=(result("A-01"),)))
    assert sorted(paths) == sorted((*BUNDLE_FILES, JOURNAL))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert json.loads((tmp_path / "b" / JOURNAL).read_text())["case"] == "A-01"


# ----------------------------------------------------------------------------------------------
# --out, --corpus and the working directory are checked before any work


def test_replay_and_fuzz_check_out_and_corpus_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    seeds = str(Path(__file__).resolve().parents[1] / "corpora" / "seeds")
    for argv, option in (
        (["replay", seeds, "--out", str(blocker)], "--out"),
        (["fuzz", "--runs", "1", "--out", str(blocker)], "--out"),
        (["fuzz", "--runs", "1", "--corpus", str(blocker)], "--corpus"),
        (["run", *SMALL, "--out", str(blocker)], "--out"),
    ):
        done = harness(*argv, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (2, ""), argv
        assert done.stderr == f"scm-harness: {option}: {blocker} is not a directory\n"
    assert list(tmp_path.iterdir()) == [blocker]  # no reports/ directory: nothing started


def test_a_read_only_working_directory_is_one_line_before_any_work(tmp_path: Path) -> None:
    seeds = str(Path(__file__).resolve().parents[1] / "corpora" / "seeds")
    with tmpfs(tmp_path / "ro", PAGE, read_only=True) as cwd:
        for argv in (["run", *SMALL], ["replay", seeds], ["fuzz", "--runs", "1"]):
            done = harness(*argv, cwd=cwd)
            assert (done.returncode, done.stdout) == (2, ""), argv
            assert done.stderr == "scm-harness: --out: cannot write reports: Read-only file system\n"


# ----------------------------------------------------------------------------------------------
# numeric options

NUMERIC_OPTIONS = [
    ["run", "--step-timeout"],
    ["replay", "x", "--step-timeout"],
    ["fuzz", "--time"],
    ["fuzz", "--runs"],
    ["fuzz", "--jobs"],
    ["fuzz", "--seed"],
    ["fuzz", "--scenario-timeout"],
    ["fuzz", "--minimise-seconds"],
    ["bench", "--iterations"],
    ["bench", "--rounds"],
    ["corpus", "--check", "--atheris-budget"],
    ["corpus", "--check", "--atheris-seconds"],
]


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1", "1e3x"])
@pytest.mark.parametrize("argv", NUMERIC_OPTIONS, ids=" ".join)
def test_numeric_options_are_finite_and_bounded(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str], value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*argv, value]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and f"{argv[-1]}: {value!r} is not " in err
    assert list(tmp_path.iterdir()) == []


def test_number_in_takes_its_bounds_and_nothing_else() -> None:
    step = number_in(float, 0.25, 60.0)
    assert (step("0.25"), step("60"), step(" 1.5 ")) == (0.25, 60.0, 1.5)
    jobs = number_in(int, 1, 256)
    assert (jobs("1"), jobs("256")) == (1, 256)
    for parse, text in ((step, "0.2499"), (step, "60.001"), (step, "-nan"), (jobs, "257"), (jobs, "2.0")):
        with pytest.raises(Exception, match="is not"):
            parse(text)


def test_a_bad_number_from_the_shell_is_one_line() -> None:
    done = harness("fuzz", "--time", "nan")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "scm-harness: argument --time: 'nan' is not a number from 1 to 604800\n"


# ----------------------------------------------------------------------------------------------
# broken pipes


def with_reader_gone(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is closed before the program starts: every write is EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "harness", *argv],
            cwd=cwd,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        os.close(write_end)


def two_reports(tmp_path: Path) -> list[str]:
    paths = []
    for name, verdict in (("a", Verdict.PASS), ("b", Verdict.FAIL)):
        failing = Result(case="X-01", area="a", kind="stream/blocking/as-created", backend="raw", verdict=verdict)
        write_report_bundle(tmp_path / name, Report(run_info={"label": name}, results=(failing,)))
        paths.append(str(tmp_path / name / "report.json"))
    return paths


@pytest.mark.parametrize("command", ["list", "compare", "probe", "run"])
def test_a_reader_that_goes_away_ends_the_program_quietly(tmp_path: Path, command: str) -> None:
    argv = {
        "list": ["list"],
        "compare": ["compare", *two_reports(tmp_path)],
        "probe": ["probe"],
        "run": ["run", *SMALL, "--out", str(tmp_path / "bundle")],
    }[command]
    done = with_reader_gone(*argv)
    assert done.returncode == 141  # 128 + SIGPIPE, what the shell shows for a tool SIGPIPE killed
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stderr == "" or done.stderr.startswith("scm-harness: 1 cases")
