"""Corpus directories and other untrusted files are read safely: regular files only, within bounds, no hang.

The adversarial files of tests/adversarial/limits/, plus what a directory can hold besides files
(symlink loops, a FIFO, a link to /dev/zero, a link out of the directory, a socket) and the large
attacks generated here, are replayed by ``python -m harness replay`` in a subprocess: every bad
entry is one line naming it, no traceback, the good files still pass, peak RSS stays under 200 MB.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.fuzz import corpus
from harness.untrusted import MAX_DIRECTORY_DEPTH, MAX_SCENARIO_FILE, UntrustedInputError, read_file

ROOT = Path(__file__).resolve().parents[1]
ADVERSARIAL = ROOT / "tests" / "adversarial" / "limits"
GOOD = ROOT / "corpora" / "seeds" / "BND-01__coalesced.json"
VALID_ADVERSARIAL = {"ok-16-mib-of-receive-buffers.json"}  # at the bounds, and valid
REPLAY_TIMEOUT = 600  # seconds: "did not hang", not a duration
MAX_RSS_KIB = 200 * 1024


def _special_entries(directory: Path, outside: Path) -> dict[str, str]:
    """Entries no corpus should hold, made in ``directory``: name -> what the error line says."""
    shutil.copy(GOOD, directory / "good.json")
    (directory / "inside-link.json").symlink_to("good.json")  # a link to a file inside: followed
    (directory / "loop-a.json").symlink_to("loop-b.json")
    (directory / "loop-b.json").symlink_to("loop-a.json")
    (directory / "self-loop.json").symlink_to("self-loop.json")
    (directory / "dangling.json").symlink_to("nowhere.json")
    (directory / "dir-loop").mkdir()
    (directory / "dir-loop" / "up").symlink_to("..")
    (directory / "zero.json").symlink_to("/dev/zero")
    (directory / "zero-bytes").symlink_to("/dev/zero")
    os.mkfifo(directory / "fifo.json")
    outside.mkdir()
    shutil.copy(GOOD, outside / "good.json")
    (directory / "outside.json").symlink_to(outside / "good.json")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(directory / "socket.json"))
    deep = directory / "deep"  # 1 level below the corpus root; d<n> is n + 2 levels below
    for level in range(MAX_DIRECTORY_DEPTH + 2):
        deep = deep / f"d{level}"
    deep.mkdir(parents=True)
    shutil.copy(GOOD, deep / "too-deep.json")
    return {
        "loop-a.json": "a symlink that does not resolve (Too many levels of symbolic links)",
        "loop-b.json": "a symlink that does not resolve (Too many levels of symbolic links)",
        "self-loop.json": "a symlink that does not resolve (Too many levels of symbolic links)",
        "dangling.json": "a symlink that does not resolve (No such file or directory)",
        "dir-loop/up": "a symlink to a directory (not followed)",
        "zero.json": "a symlink out of the directory (to /dev/zero)",
        "zero-bytes": "a symlink out of the directory (to /dev/zero)",
        "fifo.json": "a FIFO, not a regular file",
        "outside.json": "a symlink out of the directory",
        "socket.json": "a socket, not a regular file",
        f"d{MAX_DIRECTORY_DEPTH - 1}": f"a directory deeper than MAX_DIRECTORY_DEPTH={MAX_DIRECTORY_DEPTH}",
    }


def _error_for(errors: list[str], name: str) -> list[str]:
    """The lines naming the entry ``name`` (followed by ": " or by the place in it, ".steps[0]...")."""
    return [line for line in errors if f"/{name}: " in line or f"/{name}." in line]


def test_a_corpus_directory_reads_regular_files_inside_it_only(tmp_path: Path) -> None:
    directory = tmp_path / "corpus"
    directory.mkdir()
    expected = _special_entries(directory, tmp_path / "outside")
    loaded, errors = corpus.load([directory])
    assert sorted(item.label for item in loaded) == ["good", "inside-link"]
    lines = [str(error) for error in errors]
    assert len(lines) == len(expected)
    for name, problem in expected.items():
        (line,) = _error_for(lines, name)
        assert problem in line and "\n" not in line


def test_a_path_named_on_the_command_line_is_followed_but_must_be_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "link.json").symlink_to(GOOD)
    loaded, errors = corpus.load([tmp_path / "fifo.json", tmp_path / "link.json", Path("/dev/zero")])
    assert [item.label for item in loaded] == ["link"]
    assert [str(e) for e in errors] == [
        f"{tmp_path}/fifo.json: a FIFO, not a regular file: not read",
        "/dev/zero: a character device, not a regular file: not read",
    ]


def test_read_file_reads_at_most_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "big"
    with path.open("wb") as out:
        out.truncate(MAX_SCENARIO_FILE + 1)  # sparse: nothing is written
    with pytest.raises(UntrustedInputError, match=rf"file size: {MAX_SCENARIO_FILE + 1} bytes, over the limit"):
        read_file(path, MAX_SCENARIO_FILE)
    assert read_file(path, MAX_SCENARIO_FILE + 1) == bytes(MAX_SCENARIO_FILE + 1)
    assert b"VmHWM" in read_file("/proc/self/status", 1 << 16)  # st_size 0: read to its end


def test_a_fifo_never_blocks_the_reader(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UntrustedInputError, match="a FIFO, not a regular file"):
        read_file(tmp_path / "fifo", 1024)


# ----------------------------------------------------------------------------------------------
# the whole of it, through the command line


def _write_generated_attacks(directory: Path) -> list[str]:
    """The large attacks, generated rather than shipped; returns their names."""
    head = '{"schema": "scm-harness/scenario/1", "kind": "stream/nonblocking/as-created", '
    poll = '{"op": "poll", "on": "a"}'
    with (directory / "note-100-mib.json").open("w") as out:
        out.write(head + '"steps": [], "note": "')
        for _ in range(100):
            out.write("n" * (1 << 20))
        out.write('"}\n')
    (directory / "child-100000-steps.json").write_text(
        head + '"steps": [{"op": "child", "steps": [' + ", ".join([poll] * 100_000) + "]}]}\n"
    )
    (directory / "steps-1000000.json").write_text(head + '"steps": [' + ",".join([poll] * 10**6) + "]}\n")
    # the most objects a file under MAX_SCENARIO_FILE parses to (the peak RSS of this test): "{}," each
    objects = (MAX_SCENARIO_FILE - len(head) - 20) // 3
    (directory / "steps-as-many-as-fit.json").write_text(head + '"steps": [' + ",".join(["{}"] * objects) + "]}\n")
    (directory / "nesting-100000-deep.json").write_text("[" * 100_000 + "]" * 100_000)
    return [
        "note-100-mib.json",
        "child-100000-steps.json",
        "steps-1000000.json",
        "steps-as-many-as-fit.json",
        "nesting-100000-deep.json",
    ]


# Forks ``argv`` and reports the child's peak RSS.  The measured process must be forked by a small
# process: the kernel keeps the high-water mark of the memory a process had before execve() in its
# ru_maxrss (exec_mmap -> setmax_mm_hiwater_rss), so a command forked straight from a pytest worker
# that has grown to 300 MB "peaks" at 300 MB whatever it does itself (seen once in CI: 312360 KiB
# where the replay alone peaks at about 138000 KiB).
_MEASURE = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]) + "\\n")
"""


def _run_measured(command: list[str], stdout: Path, stderr: Path) -> tuple[int, int]:
    """Exit status and peak RSS (KiB, the process and every descendant it reaped) of ``command``."""
    launcher = [sys.executable, "-I", "-S", "-c", _MEASURE, *command]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            launcher, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + REPLAY_TIMEOUT
    while process.poll() is None:
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)  # the launcher and the command (its own session)
            process.wait()
            pytest.fail(f"{command} hung for {REPLAY_TIMEOUT} s")
        time.sleep(0.1)
    # the launcher shares the command's stderr; its measurement is the last line
    lines = stderr.read_text().splitlines()
    status, peak = json.loads(lines[-1])
    stderr.write_text("".join(line + "\n" for line in lines[:-1]))
    return int(status), int(peak)


def test_replay_of_every_adversarial_file_is_one_line_each_without_hang_or_blow_up(tmp_path: Path) -> None:
    directory = tmp_path / "corpus"
    shutil.copytree(ADVERSARIAL, directory)
    special = _special_entries(directory, tmp_path / "outside")
    # atheris bytes that decode to no scenario are counted in one line and skipped, not errors
    undecodable = [p.name for p in ADVERSARIAL.iterdir() if p.suffix != ".json"]
    bad = [p.name for p in ADVERSARIAL.iterdir() if p.name not in VALID_ADVERSARIAL and p.name not in undecodable]
    bad += list(special) + _write_generated_attacks(directory)
    out = tmp_path / "report"
    command = [sys.executable, "-m", "harness", "replay", str(directory), "--out", str(out), "--backend", "raw"]
    status, peak_kib = _run_measured(command, tmp_path / "stdout", tmp_path / "stderr")
    stderr = (tmp_path / "stderr").read_text()
    assert "Traceback" not in stderr
    assert status == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("scm-harness replay: ")]
    skipped = f"scm-harness replay: {len(undecodable)} inputs decode to no scenario (skipped)"
    assert undecodable and skipped in errors
    errors.remove(skipped)
    for name in bad:
        assert len(_error_for(errors, name)) == 1, (name, _error_for(errors, name))
    assert len(errors) == len(bad)
    assert all(len(line) < 1200 for line in errors)
    verdicts = {r["case"]: r["verdict"] for r in json.loads((out / "report.json").read_text())["results"]}
    assert verdicts["REPLAY:good"] == verdicts["REPLAY:inside-link"] == "pass"
    assert verdicts["REPLAY:ok-16-mib-of-receive-buffers"] == "pass"
    assert peak_kib < MAX_RSS_KIB, f"peak RSS {peak_kib} KiB"
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >= peak_kib  # the same child, seen from here


# ----------------------------------------------------------------------------------------------
# the other readers of untrusted files


def test_run_expectations_nested_too_deeply_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "known.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["run", "--ids", "BND-01", "--expectations", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == f"scm-harness: {path}: not JSON: nested deeper than MAX_JSON_DEPTH=64\n"


def test_run_expectations_from_a_fifo_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "known.json")
    assert main(["run", "--ids", "BND-01", "--expectations", str(tmp_path / "known.json")]) == 2
    assert capsys.readouterr().err == f"scm-harness: {tmp_path}/known.json: a FIFO, not a regular file: not read\n"


@pytest.mark.parametrize("command", ["render", "compare"])
def test_render_and_compare_read_reports_safely(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    os.mkfifo(tmp_path / "fifo.json")
    for path, problem in ((deep, "not JSON: nested deeper than"), (tmp_path / "fifo.json", "a FIFO, not a regular")):
        words = [command, str(path)] + ([str(path)] if command == "compare" else [])
        assert main(words) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and problem in err and str(path) in err


def test_corpus_sync_never_blocks_on_or_writes_through_what_sits_in_seeds(tmp_path: Path) -> None:
    corpora = tmp_path / "corpora"
    shutil.copytree(ROOT / "corpora" / "seeds", corpora / "seeds")
    (corpora / "regressions").mkdir()
    (corpora / "regressions" / "README.md").write_text(corpus.REGRESSIONS_README)
    victim = tmp_path / "victim.txt"
    victim.write_text("not a seed\n")
    (corpora / "seeds" / GOOD.name).unlink()
    (corpora / "seeds" / GOOD.name).symlink_to(victim)
    fifo = corpora / "seeds" / "BND-02__fifo.json"
    os.mkfifo(fifo)
    assert corpus.sync_seeds(corpora, check=True) == [f"stale {corpora}/seeds/{GOOD.name}", f"extra {fifo}"]
    corpus.sync_seeds(corpora)
    assert victim.read_text() == "not a seed\n"
    assert (corpora / "seeds" / GOOD.name).read_text() == GOOD.read_text()
    assert corpus.sync_seeds(corpora, check=True) == []


def _link_to_fifo(directory: Path) -> None:
    os.mkfifo(directory / "real-fifo")
    (directory / "fifo").symlink_to(directory / "real-fifo")


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: _link_to_fifo(d), "not a regular file"),
        (lambda d: (d / "zero").symlink_to("/dev/zero"), "a symlink"),
        (lambda d: os.mkfifo(d / "fifo"), "a FIFO"),
        (lambda d: (d / "big").write_bytes(b"\0" * (MAX_SCENARIO_FILE + 1)), "over MAX_SCENARIO_FILE"),
    ],
    ids=["link-to-fifo", "link-to-dev-zero", "fifo", "too-large"],
)
def test_an_atheris_corpus_libfuzzer_would_trip_on_is_refused_before_the_campaign(
    tmp_path: Path, make: object, words: str
) -> None:
    """libFuzzer walks ``--corpus`` itself (a link to a FIFO would block it): such a directory is refused up front."""
    directory = tmp_path / "corpus"
    directory.mkdir()
    shutil.copy(GOOD, directory / "good")
    assert callable(make)
    make(directory)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harness", "fuzz", "--engine", "atheris", "--runs", "1"]
    done = subprocess.run(
        [*command, "--corpus", str(directory), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "--corpus: " in done.stderr and words in done.stderr
    assert not out.exists()
