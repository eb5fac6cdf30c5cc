"""What scm-harness is: its version, and its git commit when it runs from a clone.

The commit is asked of ``git`` (``rev-parse --short HEAD``, at most 5 s) only when the package sits
in a checkout (``.git`` and ``pyproject.toml`` beside ``harness/``); an installed wheel, a missing
``git`` or a repository git refuses (another owner: "dubious ownership") give "".
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import harness

GIT_TIMEOUT = 5.0


@cache
def harness_commit() -> str:
    """The short commit id of the clone this package runs from, with ``-dirty`` for uncommitted changes; ""
    when it is not run from a clone or git cannot say."""
    root = Path(harness.__file__).resolve().parents[1]
    if not ((root / ".git").exists() and (root / "pyproject.toml").is_file()):
        return ""
    try:
        head = _git(root, "rev-parse", "--short", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{head}-dirty" if head and dirty else head


def _git(root: Path, *arguments: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *arguments],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout.strip()


def version_line() -> str:
    """``scm-harness 0.1.0`` and, from a clone, ``(commit 1a2b3c4)``."""
    commit = harness_commit()
    return f"scm-harness {harness.__version__}" + (f" (commit {commit})" if commit else "")


def commit_info() -> dict[str, object]:
    """``{"commit": ...}`` for a report's run_info when run from a clone, else nothing."""
    commit = harness_commit()
    return {"commit": commit} if commit else {}
