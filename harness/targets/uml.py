"""``--on uml`` and ``--on uml:PATH``: the command runs inside a user-mode Linux kernel.

The guest's root is the host's ``/`` over hostfs, so the same interpreter (``sys.executable``, a
real binary, not a shell shim: fork/exec is expensive inside), the same checkout and the same
output directory are there.  Its init (:mod:`harness.targets.guest_init`) runs the same command
line without ``--on``, with the caller's environment (but ``$TMPDIR`` a private directory that is
removed with the guest, so a guest killed mid-run leaves nothing) and working directory, and writes the
command's stdout, stderr and exit status to files in a private temporary directory, which the
host copies to its own stdout and stderr while the guest runs.

Measured with Debian's ``user-mode-linux`` 6.1um4+b13 (kernel 6.1.176) on a 6.18 host (AMD EPYC,
AVX-512, no AMX): a boot to the command takes about 0.6 s.  On hosts whose CPU has AMX the same
kernel dies right after "Run /init" with ``userspace - ptrace set fp regs failed, errno = 14``:
the host accepts ``PTRACE_SETREGSET(NT_X86_XSTATE)`` only with a buffer of its full xstate size
and Debian's UML passes a smaller one.  :func:`boot_with_xstate_fix` recognises that console line
and boots again with ``xstate_shim.c`` preloaded (compiled once into the user's cache directory).

The kernel runs as a process group of its own (its helper processes stay in it) holding a
:class:`~harness.execute.lifetime.Lifeline`, and its first process dies with the harness
(``PR_SET_PDEATHSIG``): nothing of a guest outlives the harness, even one killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from harness.targets.target import (
    GUEST_OPTION,
    GuestOf,
    GuestOutput,
    Target,
    TargetError,
    apt_get_install,
    can_install_packages,
    guest_words,
    target_timeout,
)

DEBIAN_UML = Path("/usr/bin/linux.uml")
DEBIAN_PACKAGE = "user-mode-linux"
XSTATE_SIGNATURE = "ptrace set fp regs failed"
MEMORY = "1G"
PACKAGE_DIRECTORY = Path(__file__).resolve().parent
GUEST_INIT = PACKAGE_DIRECTORY / "guest_init.py"
XSTATE_SHIM_SOURCE = PACKAGE_DIRECTORY / "xstate_shim.c"
HARNESS_ROOT = PACKAGE_DIRECTORY.parents[1]  # the directory holding the harness package
POLL_SECONDS = 0.05
CONSOLE_SUFFIX = ".console.log"


@dataclass(frozen=True)
class GuestCommand:
    """What the guest's init runs: argv, working directory and the whole environment."""

    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class BootOutcome:
    """One boot: the command's exit status (None when it did not finish) and the kernel's console."""

    status: int | None
    kernel_status: int | None  # the UML process's own exit status; None when killed on timeout
    timed_out: bool
    console: str


# ----------------------------------------------------------------------------------------------
# The kernel binary


def debian_uml() -> Path:
    """Debian's UML kernel, installed with apt-get when missing (as root); else a TargetError saying what to do."""
    if DEBIAN_UML.exists():
        return DEBIAN_UML
    if not can_install_packages():
        raise TargetError(
            f"--on uml: {DEBIAN_UML} is missing: install Debian's {DEBIAN_PACKAGE} package "
            f"(apt-get install {DEBIAN_PACKAGE}, as root), or give a UML kernel with --on uml:PATH"
        )
    apt_get_install([DEBIAN_PACKAGE], "--on uml")
    if not DEBIAN_UML.exists():
        raise TargetError(f"--on uml: {DEBIAN_PACKAGE} is installed but {DEBIAN_UML} is not there")
    return DEBIAN_UML


def kernel_binary(target: Target) -> Path:
    """The UML kernel ``target`` names, checked to be an executable regular file."""
    if target.version is not None:
        from harness.targets.build import uml_kernel

        return uml_kernel(target.version, cache_directory())
    binary = target.binary
    if binary is None:
        return debian_uml()
    path = Path(os.path.abspath(binary))
    if not path.exists():
        raise TargetError(f"--on {target}: {path}: no such file")
    if not path.is_file():
        raise TargetError(f"--on {target}: {path} is not a regular file (give a UML kernel binary)")
    if not os.access(path, os.X_OK):
        raise TargetError(f"--on {target}: {path} is not executable (give a UML kernel binary)")
    return path


def ram_directory() -> Path:
    """Where UML maps its RAM from (its ``$TMPDIR``): a tmpfs that allows executable mappings."""
    for candidate in (Path("/dev/shm"), Path(tempfile.gettempdir())):
        try:
            flags = os.statvfs(candidate).f_flag
        except OSError:
            continue
        if not flags & (os.ST_NOEXEC | os.ST_RDONLY) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    raise TargetError("--on uml: neither /dev/shm nor the temporary directory allows the executable mappings UML needs")


# ----------------------------------------------------------------------------------------------
# One boot


def kernel_arguments(init: Path, uml_dir: Path, umid: str) -> list[str]:
    """The command line of a UML boot with the host's ``/`` as root and ``init`` as process 1.

    ``lpj=`` skips the delay-loop calibration and the raid6 blacklist its benchmark: together about
    1 s of a 1.5 s boot (UML 6.1.176); the blacklist only matters to btrfs or md RAID5/6 inside.
    """
    return [
        f"mem={MEMORY}",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "rw",
        f"init={init}",
        "quiet",
        "con=null",
        "con0=null,fd:1",
        "ssl=null",
        f"uml_dir={uml_dir}",
        f"umid={umid}",
        "lpj=14000000",
        "initcall_blacklist=raid6_select_algo",
    ]


def _write_guest_files(work: Path, command: GuestCommand) -> Path:
    """The spec and the init script of a boot in ``work``; returns the init script."""
    spec = {
        "argv": list(command.argv),
        "cwd": command.cwd,
        "env": command.env,
        "stdout": str(work / "stdout"),
        "stderr": str(work / "stderr"),
        "status": str(work / "status"),
    }
    (work / "spec.json").write_text(json.dumps(spec))
    init = work / "init.sh"
    argv = shlex.join([sys.executable, "-I", "-S", str(GUEST_INIT), str(work / "spec.json")])
    init.write_text(f"#!/bin/sh\nexec {argv}\n")
    init.chmod(0o755)
    return init


def _start_kernel(argv: list[str], env: dict[str, str], console: Path, lifeline_end: int) -> int:
    """Fork the kernel: a session and process group of its own holding the lifeline, dying with this thread."""
    from harness.execute.lifetime import fork_dying_with_parent, hold_lifeline

    console_fd = os.open(console, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        pid = fork_dying_with_parent()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.setsid()
                hold_lifeline(lifeline_end)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(console_fd, 1)
                os.dup2(console_fd, 2)
                os.execve(argv[0], argv, env)
            except BaseException as exc:
                os.write(2, f"scm-harness: cannot start {argv[0]}: {exc}\n".encode(errors="replace"))
            finally:
                os._exit(127)
        return pid
    finally:
        os.close(console_fd)


class _Tail:
    """Copies what the guest appends to a file on the host filesystem to one of our streams."""

    def __init__(self, path: Path, stream: BinaryIO) -> None:
        self.path, self.stream, self.offset = path, stream, 0

    def pump(self) -> None:
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read()
        except FileNotFoundError:
            return
        if data:
            self.offset += len(data)
            self.stream.write(data)
            self.stream.flush()


def boot(binary: Path, command: GuestCommand, work: Path, timeout: float, shim: Path | None = None) -> BootOutcome:
    """Boot ``binary`` once with ``command`` as the guest's work; wait at most ``timeout`` seconds."""
    from harness.execute.lifetime import Lifeline

    init = _write_guest_files(work, command)
    uml_dir = work / "uml"
    uml_dir.mkdir()
    argv = [str(binary), *kernel_arguments(init, uml_dir, f"scm-harness-{os.getpid()}-{work.name}")]
    env = {"PATH": os.defpath, "HOME": str(work), "TMPDIR": str(ram_directory())}
    if shim is not None:
        env["LD_PRELOAD"] = str(shim)
    console = work / "console.log"
    tails = [_Tail(work / "stdout", sys.stdout.buffer), _Tail(work / "stderr", sys.stderr.buffer)]
    lifeline = Lifeline()
    group_end = lifeline.end_for_group()
    try:
        pid = _start_kernel(argv, env, console, group_end)
    finally:
        os.close(group_end)
    sys.stdout.flush()
    deadline = time.monotonic() + timeout
    kernel_status: int | None = None
    timed_out = False
    try:
        while True:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                kernel_status = os.waitstatus_to_exitcode(wait_status)
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            for tail in tails:
                tail.pump()
            time.sleep(POLL_SECONDS)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the helpers a kernel leaves, or the whole guest on timeout
        lifeline.cut()
        if kernel_status is None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    for tail in tails:
        tail.pump()
    status = _read_status(work / "status")
    return BootOutcome(status, kernel_status, timed_out, console.read_text(errors="replace"))


def _read_status(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


# ----------------------------------------------------------------------------------------------
# The xstate fix (hosts whose CPU has AMX)


def cache_directory() -> Path:
    """``$XDG_CACHE_HOME/scm-harness`` (default ``~/.cache/scm-harness``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scm-harness"


def build_xstate_shim() -> Path:
    """``xstate_shim.c`` compiled with ``cc`` into the cache directory (once per version of the source)."""
    from harness.execute.lifetime import dying_with_parent

    source = XSTATE_SHIM_SOURCE.read_bytes()
    shim = cache_directory() / f"uml-xstate-shim-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if shim.exists():
        return shim
    compiler = shutil.which("cc")
    if compiler is None:
        raise TargetError("--on uml: this CPU needs the UML xstate fix, which is compiled with cc: install gcc")
    shim.parent.mkdir(parents=True, exist_ok=True)
    partial = shim.with_name(f".{shim.name}.{os.getpid()}")
    argv = [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(partial), str(XSTATE_SHIM_SOURCE), "-ldl"]
    done = subprocess.run(dying_with_parent(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip() or "no output").splitlines()[-1]
        raise TargetError(f"--on uml: compiling the UML xstate fix {XSTATE_SHIM_SOURCE} failed: {last}")
    partial.rename(shim)
    return shim


def boot_with_xstate_fix(binary: Path, command: GuestCommand, work: Path, timeout: float) -> BootOutcome:
    """:func:`boot`; when the kernel died of the xstate size mismatch, boot again with the fix preloaded."""
    first = work / "boot"
    first.mkdir()
    started = time.monotonic()
    outcome = boot(binary, command, first, timeout)
    if outcome.status is not None or XSTATE_SIGNATURE not in outcome.console:
        return outcome
    print(
        f"scm-harness: {binary} died with '{XSTATE_SIGNATURE}' (this CPU's xstate is larger than the kernel "
        "expects): booting again with the xstate fix",
        file=sys.stderr,
        flush=True,
    )
    shim = build_xstate_shim()
    again = work / "boot-xstate-fix"
    again.mkdir()
    return boot(binary, command, again, max(1.0, timeout - (time.monotonic() - started)), shim=shim)


# ----------------------------------------------------------------------------------------------
# The command


def failure_reason(outcome: BootOutcome, timeout: float) -> str:
    """One line on why a guest did not finish, from how the kernel ended and its console."""
    if outcome.timed_out:
        return f"timed out after {timeout:g} s and was killed"
    printable = "".join(c if c.isprintable() or c == "\n" else "?" for c in outcome.console)
    lines = [line.strip() for line in printable.splitlines() if line.strip()]
    for line in lines:
        if XSTATE_SIGNATURE in line:
            return line
    for line in lines:
        if "Kernel panic" in line:
            return line[line.index("Kernel panic") :][:200]
    how = f"exited with status {outcome.kernel_status}"
    if outcome.kernel_status is not None and outcome.kernel_status < 0:
        how = f"was killed by signal {-outcome.kernel_status}"
    return f"the kernel {how} before the command finished" + (f": {lines[-1][:200]}" if lines else "")


def _output_directory(args: argparse.Namespace) -> tuple[Path | None, bool]:
    """The command's output directory (claimed here when the command would pick a new one) and whether claimed."""
    from harness.report.write import OutputError, claim_new_directory

    output: GuestOutput | None = getattr(args, "target_output", None)
    if output is None:
        return None, False
    given = getattr(args, output.option.lstrip("-").replace("-", "_"), None)
    if given is not None:
        return Path(os.path.abspath(given)), False
    try:
        return claim_new_directory(Path("reports"), output.default_prefix).absolute(), True
    except OutputError as exc:
        raise TargetError(f"{output.option}: {exc}") from None


def console_log_path(out: Path | None) -> Path:
    """Where the console of a guest that did not finish is kept: ``OUT.console.log`` beside the output directory,
    else ``reports/uml-<UTC time>.console.log``."""
    if out is not None:
        return out.with_name(out.name + CONSOLE_SUFFIX)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("reports").absolute() / f"uml-{stamp}{CONSOLE_SUFFIX}"


def _keep_console(console: str, out: Path | None) -> Path:
    path = console_log_path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(console)
    except OSError as exc:
        fallback = Path(tempfile.mkdtemp(prefix="scm-harness-uml-console-")) / "console.log"
        fallback.write_text(console)
        print(f"scm-harness: cannot write {path} ({exc.strerror}): console kept in {fallback}", file=sys.stderr)
        return fallback
    return path


def run_on_uml(target: Target, words: list[str], args: argparse.Namespace) -> int:
    """Run the command ``words`` inside ``target``; its exit status, or a TargetError when the guest did not finish."""
    binary = kernel_binary(target)
    timeout = target_timeout(args)
    out, claimed = _output_directory(args)
    output: GuestOutput | None = getattr(args, "target_output", None)
    inner = guest_words(words)
    if claimed and output is not None and out is not None:
        inner += [output.option, str(out)]
    inner += [GUEST_OPTION, GuestOf(str(target), str(binary), args.command_line).to_argument()]
    bootstrap = (
        f"import sys; sys.path.insert(0, {str(HARNESS_ROOT)!r}); "
        "from harness.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="scm-harness-uml-") as work:
            if any(c.isspace() for c in work):
                raise TargetError(f"--on {target}: the temporary directory {work} holds white space (TMPDIR)")
            # The guest's own $TMPDIR lies inside the private directory: whatever a guest that was killed
            # (timeout, panic) left there goes with it.
            guest_tmp = Path(work) / "guest-tmp"
            guest_tmp.mkdir()
            environment = {**os.environ, "TMPDIR": str(guest_tmp)}
            command = GuestCommand((sys.executable, "-c", bootstrap, *inner), os.getcwd(), environment)
            outcome = boot_with_xstate_fix(binary, command, Path(work), timeout)
    except BaseException:
        if claimed and out is not None:
            _release(out)
        raise
    if outcome.status is None:
        if claimed and out is not None:
            _release(out)
        reason = failure_reason(outcome, timeout)
        log = _keep_console(outcome.console, out)
        raise TargetError(f"--on {target}: the guest did not finish: {reason} (console log: {log})")
    if out is not None and output is not None and outcome.status in (0, 1) and not (out / output.product).exists():
        raise TargetError(
            f"--on {target}: the guest command exited with status {outcome.status} but {out / output.product} "
            "is missing"
        )
    if claimed and out is not None and outcome.status not in (0, 1):
        _release(out)
    return outcome.status


def _release(out: Path) -> None:
    with contextlib.suppress(OSError):
        out.rmdir()  # only while empty
