"""``--on uml:VERSION``: a UML kernel built from Debian's ``linux-source-VERSION``, cached.

The source comes from the Debian package (``/usr/src/linux-source-VERSION.tar.xz``, installed with
apt-get as root when missing, with what building needs), is configured with ``make ARCH=um
defconfig`` plus the shipped fragment ``uml.config`` (hostfs, kcmp, user and pid namespaces,
io_uring, unix_diag ...) and built with ``make ARCH=um linux``.  The kernel is kept as
``~/.cache/scm-harness/linux-uml-VERSION-<key>``, where the key names the source package's version
and the fragment: a new source or fragment is a new build; the build tree is removed afterwards.
One build at a time (a lock file); a progress line shows the step and the last file compiled.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness.targets.target import TargetError, apt_get_install, can_install_packages

PACKAGE_DIRECTORY = Path(__file__).resolve().parent
CONFIG_FRAGMENT = PACKAGE_DIRECTORY / "uml.config"
BUILD_PACKAGES = ("flex", "bison", "bc", "make", "gcc", "libc6-dev", "xz-utils")
PROGRESS_EVERY = 15.0  # seconds between progress lines when stderr is not a terminal


def source_tarball(version: str) -> Path:
    return Path(f"/usr/src/linux-source-{version}.tar.xz")


def _package_version(package: str) -> str | None:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


def install_source(version: str) -> None:
    """``linux-source-VERSION`` and the build tools through apt-get (as root), saying so; else what to install."""
    package = f"linux-source-{version}"
    missing_tools = [tool for tool in ("flex", "bison", "bc", "make", "gcc") if shutil.which(tool) is None]
    if source_tarball(version).exists() and not missing_tools:
        return
    wanted = [package, *BUILD_PACKAGES]
    if not can_install_packages():
        raise TargetError(
            f"--on uml:{version}: building it needs {source_tarball(version)} and {', '.join(BUILD_PACKAGES)}: "
            f"apt-get install {' '.join(wanted)} (as root)"
        )
    apt_get_install(wanted, f"--on uml:{version}")  # Debian bookworm has linux-source-6.12 in bookworm-security


def built_kernel_path(version: str, cache: Path) -> Path:
    """Where the kernel of this source package version and this fragment is cached."""
    key = hashlib.sha256(
        (_package_version(f"linux-source-{version}") or str(source_tarball(version).stat().st_mtime_ns)).encode()
        + CONFIG_FRAGMENT.read_bytes()
    ).hexdigest()[:12]
    return cache / f"linux-uml-{version}-{key}"


@contextlib.contextmanager
def _build_lock(cache: Path, version: str) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".build-uml-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def uml_kernel(version: str, cache: Path) -> Path:
    """The cached UML kernel of ``linux-source-VERSION``, built first when there is none."""
    install_source(version)
    kernel = built_kernel_path(version, cache)
    if kernel.exists():
        return kernel
    with _build_lock(cache, version):
        if kernel.exists():  # another harness built it while this one waited
            return kernel
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f".build-uml-{version}-", dir=cache) as work:
            _build(version, Path(work), kernel)
        minutes, seconds = divmod(int(time.monotonic() - started), 60)
        print(f"\nscm-harness: built {kernel} in {minutes}:{seconds:02d}", file=sys.stderr, flush=True)
    return kernel


class _Progress:
    """One line on stderr: rewritten in place on a terminal, else repeated every ``PROGRESS_EVERY`` seconds."""

    def __init__(self, version: str) -> None:
        self.version, self.started, self.last_line = version, time.monotonic(), 0.0
        self.terminal = sys.stderr.isatty()

    def show(self, step: str, detail: str = "") -> None:
        now = time.monotonic()
        if not self.terminal and now - self.last_line < PROGRESS_EVERY and detail:
            return
        self.last_line = now
        minutes, seconds = divmod(int(now - self.started), 60)
        line = f"scm-harness: building UML {self.version} ({minutes}:{seconds:02d}) {step} {detail}".rstrip()
        if self.terminal:
            sys.stderr.write("\r\033[K" + line[:150])
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _run_step(argv: list[str], cwd: Path, progress: _Progress, step: str) -> None:
    """Run one step of the build in a process group of its own (killed as a whole if the harness stops)."""
    from harness.execute.lifetime import dying_with_parent

    progress.show(step)
    tail: list[str] = []
    process = subprocess.Popen(
        dying_with_parent(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            tail = [*tail[-19:], line.rstrip()]
            progress.show(step, line.strip()[:80])
        status = process.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if status != 0:
        problem = next((line for line in reversed(tail) if "error" in line.lower()), tail[-1] if tail else "")
        raise TargetError(f"building the UML kernel failed at '{step}' (status {status}): {problem.strip()[:200]}")


def _build(version: str, work: Path, kernel: Path) -> None:
    progress = _Progress(version)
    _run_step(["tar", "-xf", str(source_tarball(version)), "-C", str(work)], work, progress, "unpacking the source")
    (tree,) = [p for p in work.iterdir() if p.is_dir()]
    make = ["make", "ARCH=um", f"-j{os.cpu_count() or 1}"]
    _run_step([*make, "defconfig"], tree, progress, "make defconfig")
    merge = ["scripts/kconfig/merge_config.sh", "-m", "-O", str(tree), ".config", str(CONFIG_FRAGMENT)]
    _run_step(["sh", *merge], tree, progress, "merging uml.config")
    _run_step([*make, "olddefconfig"], tree, progress, "make olddefconfig")
    lacking = _lacking_options(tree / ".config")
    if lacking:
        print(f"\nscm-harness: uml:{version} is built without {', '.join(lacking)}", file=sys.stderr)
    _run_step([*make, "linux"], tree, progress, "make linux")
    partial = kernel.with_name(f".{kernel.name}.partial")
    shutil.copy2(tree / "linux", partial)
    partial.rename(kernel)


def _lacking_options(config: Path) -> list[str]:
    """The options of the fragment that did not end up in ``.config`` as asked."""
    have = set(config.read_text().splitlines())
    wanted = [line.strip() for line in CONFIG_FRAGMENT.read_text().splitlines()]
    return [line.split("=")[0] for line in wanted if line and not line.startswith("#") and line not in have]
