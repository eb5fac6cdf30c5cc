"""``--on TARGET``: the parser (pure), real boots of Debian's user-mode Linux, and the ways a guest fails.

The boots need ``/usr/bin/linux.uml`` (Debian's ``user-mode-linux``).  As root the harness installs
it itself (``bash .ci/scm-harness test`` does so before the tests); only a machine that cannot
install it (not root) skips these, and says why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.catalogue import select
from harness.targets.target import HOST, GuestOf, Target, TargetKind, guest_words, parse_target
from harness.targets.uml import (
    DEBIAN_UML,
    BootOutcome,
    GuestCommand,
    boot,
    build_xstate_shim,
    console_log_path,
    debian_uml,
    failure_reason,
)

SUBSET = "FD-01,BND-01,TRN-05,CR-01"
PROJECT = Path(__file__).resolve().parents[1]

needs_uml = pytest.mark.skipif(
    not DEBIAN_UML.exists() and os.geteuid() != 0,
    reason=f"{DEBIAN_UML} is missing and only root can install it (apt-get install user-mode-linux)",
)


# ----------------------------------------------------------------------------------------------
# The parser (pure)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host", HOST),
        ("uml", Target(TargetKind.UML)),
        ("uml:6.12", Target(TargetKind.UML, "6.12")),
        ("uml:/opt/linux", Target(TargetKind.UML, "/opt/linux")),
        ("uml:linux.uml", Target(TargetKind.UML, "linux.uml")),
        ("qemu:linux-image-6.12-amd64", Target(TargetKind.QEMU, "linux-image-6.12-amd64")),
    ],
)
def test_targets_parse(text: str, expected: Target) -> None:
    target = parse_target(text)
    assert target == expected
    assert str(target) == text


def test_what_a_uml_target_names() -> None:
    assert parse_target("uml").binary is None and parse_target("uml").version is None
    assert parse_target("uml:6.12").version == "6.12" and parse_target("uml:6.12").binary is None
    assert parse_target("uml:./linux").binary == Path("./linux") and parse_target("uml:./linux").version is None
    assert parse_target("host").is_host and not parse_target("uml").is_host


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("foo", "unknown target 'foo'"),
        ("", "unknown target ''"),
        ("UML", "unknown target 'UML'"),
        ("host:x", "'host' takes no argument"),
        ("uml:", "names nothing after the colon"),
        ("qemu", "say which kernel package"),
        ("uml:/a\0b", "NUL"),
    ],
)
def test_bad_targets_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_target(text)


def test_the_guest_runs_the_command_without_on() -> None:
    words = ["run", "--on", "uml", "--ids", "FD-01", "--on=uml:/x", "--target-timeout", "9", "--target-timeout=3"]
    assert guest_words(words) == ["run", "--ids", "FD-01"]
    assert guest_words(["replay", "--on", "uml", "--", "--on"]) == ["replay", "--", "--on"]


def test_the_guest_marker_round_trips() -> None:
    marker = GuestOf("uml:/k", "/k", "scm-harness run --on 'uml:/k'")
    assert GuestOf.from_argument(marker.to_argument()) == marker


# ----------------------------------------------------------------------------------------------
# Real boots


def scratch(cwd: Path) -> Path:
    """The ``$TMPDIR`` of a harness started in ``cwd``: its private directories, and so its kernels' command lines
    (``init=`` and ``uml_dir=`` are there), hold this path: tests running in parallel tell their kernels apart."""
    return cwd.with_name(cwd.name + "-tmp")


def harness_environment(cwd: Path) -> dict[str, str]:
    scratch(cwd).mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(PROJECT), "TMPDIR": str(scratch(cwd))}


def harness(*argv: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *argv],
        cwd=cwd,
        env=harness_environment(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kernel_processes(marker: Path) -> list[int]:
    """Pids of the UML processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"umid=scm-harness-" in command and str(marker).encode() in command:
            found.append(int(entry.name))
    return found


def no_kernel_left(marker: Path) -> bool:
    deadline = time.monotonic() + 10  # generous: "did not hang", not a timing
    while kernel_processes(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def nothing_left(cwd: Path) -> bool:
    """No kernel of the harness started in ``cwd`` is running and its private directories are removed."""
    return no_kernel_left(scratch(cwd)) and list(scratch(cwd).iterdir()) == []


@needs_uml
def test_run_on_uml_runs_the_subset_inside_the_guest(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = harness("run", "--on", "uml", "--ids", SUBSET, "--out", str(out), cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert "report written to" in done.stdout
    report = json.loads((out / "report.json").read_text())
    run_info = report["run_info"]
    assert run_info["release"].startswith("6.1."), run_info["release"]  # the guest's kernel, not the host's
    assert run_info["release"] != os.uname().release
    assert run_info["target"] == "uml"
    assert run_info["target_binary"] == str(DEBIAN_UML)
    assert "--on uml" in run_info["command"]
    expected = {
        (case.id, kind.name, backend)
        for case in select(SUBSET.split(","))
        for kind in case.kinds()
        for backend in ("raw", "pysock")
    }
    present = {(r["case"], r["kind"], r["backend"]) for r in report["results"]}
    assert present == expected
    assert all(r["verdict"] != "error" for r in report["results"])
    assert done.returncode == (1 if any(r["verdict"] == "fail" for r in report["results"]) else 0)
    assert nothing_left(tmp_path)


@needs_uml
def test_replay_on_uml_writes_its_report_into_the_default_directory(tmp_path: Path) -> None:
    seed = PROJECT / "corpora" / "seeds" / "BND-01__coalesced.json"
    done = harness("replay", str(seed), "--on", "uml", "--backend", "raw", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (out,) = (tmp_path / "reports").iterdir()
    assert out.name.startswith("replay-")
    run_info = json.loads((out / "report.json").read_text())["run_info"]
    assert run_info["target"] == "uml" and run_info["release"].startswith("6.1.")
    assert nothing_left(tmp_path)


def test_run_on_the_host_records_the_target(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = harness("run", "--ids", "BND-01", "--kinds", "stream/blocking/as-created", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "report.json").read_text())["run_info"]["target"] == "host"


def one_line_error(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("scm-harness: "), done.stderr
    assert fragment in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("foo", "--on: unknown target 'foo'"),
        ("uml:/nonexistent", "/nonexistent: no such file"),
        ("uml:/", "is not a regular file"),
        ("qemu:linux-image-6.12-amd64", "not implemented yet"),
    ],
)
def test_a_target_that_cannot_be_used_is_one_line(tmp_path: Path, target: str, fragment: str) -> None:
    done = harness("run", "--ids", "FD-01", "--on", target, cwd=tmp_path, timeout=60)
    one_line_error(done, fragment)
    assert list(tmp_path.iterdir()) == []  # no report directory for a run that never started


def test_a_kernel_file_that_is_not_executable_is_one_line(tmp_path: Path) -> None:
    kernel = tmp_path / "kernel"
    kernel.write_text("not a kernel")
    done = harness("run", "--ids", "FD-01", "--on", f"uml:{kernel}", cwd=tmp_path, timeout=60)
    one_line_error(done, "is not executable")


@pytest.mark.parametrize("kind", ["/bin/false", "garbage"])
def test_a_broken_kernel_binary_is_one_line_with_its_console_kept(tmp_path: Path, kind: str) -> None:
    if kind == "garbage":
        kernel = tmp_path / "kernel"
        kernel.write_bytes(b"\x7fELF but not really")
        kernel.chmod(0o755)
    else:
        kernel = Path(kind)
    out = tmp_path / "report"
    done = harness("run", "--ids", "FD-01", "--on", f"uml:{kernel}", "--out", str(out), cwd=tmp_path, timeout=60)
    one_line_error(done, "the guest did not finish")
    console = console_log_path(out)
    assert f"console log: {console}" in done.stderr
    assert console.exists()
    if kind == "garbage":
        assert "Exec format error" in done.stderr and "Exec format error" in console.read_text()
    else:
        assert "exited with status 1" in done.stderr
    assert not out.exists() or list(out.iterdir()) == []
    assert nothing_left(tmp_path)


@needs_uml
def test_a_guest_that_times_out_is_killed_whole(tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    argv = ["fuzz", "--time", "600", "--out", str(out), "--on", "uml", "--target-timeout", "3"]
    done = harness(*argv, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]  # after what the campaign printed before it was killed
    assert last.startswith("scm-harness: --on uml: the guest did not finish: timed out after 3 s and was killed")
    assert console_log_path(out).exists()
    assert nothing_left(tmp_path)


@needs_uml
def test_a_guest_dies_with_a_harness_killed_by_sigkill(tmp_path: Path) -> None:
    env = harness_environment(tmp_path)
    argv = [sys.executable, "-m", "harness", "fuzz", "--time", "600", "--out", str(tmp_path / "c"), "--on", "uml"]
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(kernel_processes(scratch(tmp_path))) < 2:  # the kernel and at least one of its helpers
            assert time.monotonic() < deadline, "the guest did not start"
            assert process.poll() is None, "the harness ended before its guest started"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert no_kernel_left(scratch(tmp_path))


@needs_uml
def test_bad_usage_inside_the_guest_passes_through_as_one_line(tmp_path: Path) -> None:
    done = harness("run", "--on", "uml", "--ids", "XX-99", cwd=tmp_path, timeout=120)
    one_line_error(done, "'XX-99' matches no catalogue case")
    assert list((tmp_path / "reports").iterdir()) == []  # the directory the host claimed for it is released
    assert nothing_left(tmp_path)


@needs_uml
def test_the_xstate_fix_builds_and_a_kernel_that_does_not_need_it_boots_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    shim = build_xstate_shim()
    assert shim.parent == tmp_path / "cache" / "scm-harness" and shim.exists()
    assert build_xstate_shim() == shim  # built once
    command = GuestCommand(("/bin/sh", "-c", "uname -r; echo to-stderr >&2; exit 3"), str(tmp_path), {"PATH": "/bin"})
    work = tmp_path / "work"
    work.mkdir()
    outcome = boot(debian_uml(), command, work, 120, shim=shim)
    assert outcome.status == 3, outcome.console
    assert outcome.kernel_status == 0 and not outcome.timed_out
    out, err = capfd.readouterr()
    assert out.startswith("6.1.") and err == "to-stderr\n"
    assert no_kernel_left(work)


def test_a_built_kernel_reports_the_fragment_options_it_lacks(tmp_path: Path) -> None:
    from harness.targets.build import CONFIG_FRAGMENT, _lacking_options

    wanted = [line for line in CONFIG_FRAGMENT.read_text().splitlines() if line.startswith("CONFIG_")]
    assert "CONFIG_KCMP=y" in wanted and "CONFIG_HOSTFS=y" in wanted and "CONFIG_IO_URING=y" in wanted
    config = tmp_path / ".config"
    config.write_text("\n".join(line for line in wanted if line != "CONFIG_KCMP=y") + "\n# CONFIG_KCMP is not set\n")
    assert _lacking_options(config) == ["CONFIG_KCMP"]


@pytest.mark.parametrize(
    ("console", "kernel_status", "timed_out", "reason"),
    [
        ("", None, True, "timed out after 5 s and was killed"),
        (
            "Run /init as init process\nKernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n",
            134,
            False,
            "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100",
        ),
        (
            "userspace - ptrace set fp regs failed, errno = 14\nKernel panic - not syncing: Attempted to kill init!\n",
            134,
            False,
            "userspace - ptrace set fp regs failed, errno = 14",
        ),
        ("", 1, False, "the kernel exited with status 1 before the command finished"),
        ("booting\x1b[0m\n", -9, False, "the kernel was killed by signal 9 before the command finished: booting?[0m"),
    ],
)
def test_why_a_guest_did_not_finish(console: str, kernel_status: int | None, timed_out: bool, reason: str) -> None:
    assert failure_reason(BootOutcome(None, kernel_status, timed_out, console), 5) == reason


@needs_uml
def test_a_kernel_that_dies_of_the_xstate_size_is_booted_again_with_the_fix(tmp_path: Path) -> None:
    """A stand-in for Debian's UML on a CPU with AMX: it dies with the console line of that host unless the fix
    is preloaded, and then it is the real kernel.  (This machine's CPU has no AMX: the real kernel boots as is.)"""
    kernel = tmp_path / "kernel-on-amx"
    kernel.write_text(
        "#!/bin/sh\n"
        f'case "$LD_PRELOAD" in *uml-xstate-shim-*) exec {DEBIAN_UML} "$@";; esac\n'
        "echo 'Run /init as init process'\n"
        "echo 'userspace - ptrace set fp regs failed, errno = 14'\n"
        "echo 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b'\n"
        "exit 134\n"
    )
    kernel.chmod(0o755)
    out = tmp_path / "report"
    argv = ["run", "--on", f"uml:{kernel}", "--ids", "BND-01", "--kinds", "stream/blocking/as-created"]
    environment = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "harness", *argv, "--out", str(out)],
        cwd=tmp_path,
        env={**harness_environment(tmp_path), **environment},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "booting again with the xstate fix" in done.stderr
    assert list((tmp_path / "cache" / "scm-harness").glob("uml-xstate-shim-*.so"))
    assert json.loads((out / "report.json").read_text())["run_info"]["release"].startswith("6.1.")
    assert nothing_left(tmp_path)


def test_without_the_package_and_root_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.targets import uml
    from harness.targets.target import TargetError

    monkeypatch.setattr(uml, "DEBIAN_UML", tmp_path / "linux.uml")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(TargetError, match=r"is missing: install Debian's user-mode-linux package \(apt-get install"):
        uml.debian_uml()
