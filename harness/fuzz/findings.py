"""Finding storage: ``findings/<signature>/`` with the scenario, the observation and two reproducers.

A finding directory is built under a temporary name and renamed into place, so a reader (the
supervisor, ``replay``, a second worker) sees a whole finding or none.  Each reproducer is run
once right after it is written and the result is recorded in ``finding.json``: "reproduced"
means the reproducer, which knows nothing of the harness, saw the deviation too.  A finding
that came from an injected fault must *not* reproduce (the kernel is fine): that is the
self-test of the reproducers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import codec
from harness.describe import expectation_words, observation_words
from harness.execute.lifetime import dying_with_parent
from harness.expectation import Expectation
from harness.fuzz import jsonify, repro_c, repro_py
from harness.fuzz.evaluate import Evaluation
from harness.fuzz.repro_plan import Inexpressible, make_plan
from harness.fuzz.signature import slug
from harness.host import Platform
from harness.report.write import write_atomically

REPRO_TIMEOUT = 60.0
CLAIMS = ".claims"
# A stored finding's minimal scenario often deviates in more than one field (a lost fd shows as a
# wrong msg_controllen, a missing cmsg and MSG_CTRUNC).  Its other signatures become aliases of it
# and are not stored again: one deviation, one directory.
ALIASES = ".aliases"


@dataclass(frozen=True, slots=True)
class ReproResult:
    name: str
    exit: int | None  # None: it did not finish (or could not be built)
    reproduced: bool | None  # None: cannot tell (exit 2, build failure, timeout)
    output: str

    def as_json(self) -> dict[str, object]:
        return {"exit": self.exit, "reproduced": self.reproduced}


def finding_dirs(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except FileNotFoundError:
        return []


def covered(root: Path, signature: str) -> bool:
    """Stored already, in its own directory or as another finding's alias."""
    return (root / slug(signature)).exists() or (root / ALIASES / slug(signature)).exists()


def release(root: Path, signature: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (root / CLAIMS / slug(signature)).unlink()


def claim(root: Path, signature: str) -> bool:
    """Take the signature for this process; False when it is stored or another worker has it."""
    return not covered(root, signature) and _mark(root / CLAIMS, signature, "")


def _mark(directory: Path, signature: str, text: str) -> bool:
    """Create ``directory/<slug>`` holding ``text`` unless it exists: the first process wins."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(directory / slug(signature), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return True


def _words(title: str, signature: str, evaluation: Evaluation, platform: Platform) -> tuple[str, list[str]]:
    details = [f"signature: {signature}", f"found on: {platform.system} {platform.release} ({platform.arch})"]
    details += [f"finding: {f.describe()}" for f in evaluation.findings[:6]]
    if evaluation.expectation is not None:
        details.append(f"expected: {expectation_words(evaluation.expectation)}")
    if evaluation.observation is not None:
        details.append(f"observed: {observation_words(evaluation.observation)}")
    return title, [line[:300] for line in details]


def write_reproducers(
    directory: Path, title: str, details: list[str], evaluation: Evaluation, platform: Platform
) -> str:
    """Write repro.py and repro.c; returns "" or why they can only exit 2."""
    expectation = evaluation.expectation
    try:
        if not isinstance(expectation, Expectation):
            raise Inexpressible("the oracle has no expectation for this scenario")
        plan = make_plan(evaluation.scenario, expectation, platform)
    except Inexpressible as exc:
        write_atomically(directory / "repro.py", repro_py.render_unsupported(title, details, str(exc)))
        write_atomically(directory / "repro.c", repro_c.render_unsupported(title, details, str(exc)))
        return str(exc)
    write_atomically(directory / "repro.py", repro_py.render(plan, title, details))
    write_atomically(directory / "repro.c", repro_c.render(plan, title, details))
    os.chmod(directory / "repro.py", 0o755)
    return ""


def _verdict(name: str, exit_code: int | None, output: str) -> ReproResult:
    reproduced = {0: False, 1: True}.get(exit_code) if exit_code is not None else None
    return ReproResult(name, exit_code, reproduced, output)


def run_python_repro(path: Path) -> ReproResult:
    # -I -S: no user site, no site-packages; proves the reproducer needs only the standard library
    try:
        done = subprocess.run(
            dying_with_parent([sys.executable, "-I", "-S", str(path)]),
            capture_output=True,
            text=True,
            timeout=REPRO_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ReproResult(path.name, None, None, f"no exit within {REPRO_TIMEOUT:g} s")
    return _verdict(path.name, done.returncode, done.stdout + done.stderr)


def run_c_repro(path: Path) -> ReproResult:
    compiler = shutil.which("cc")
    if compiler is None:
        return ReproResult(path.name, None, None, "no C compiler (cc) on PATH")
    with tempfile.TemporaryDirectory(prefix="scm-repro-") as build:
        binary = Path(build) / "repro"
        try:
            built = subprocess.run(
                dying_with_parent([compiler, "-O1", "-o", str(binary), str(path)]),
                capture_output=True,
                text=True,
                timeout=REPRO_TIMEOUT,
                check=False,
            )
            if built.returncode != 0:
                return ReproResult(path.name, None, None, "cc failed:\n" + built.stderr)
            done = subprocess.run(
                dying_with_parent([str(binary)]), capture_output=True, text=True, timeout=REPRO_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return ReproResult(path.name, None, None, f"no exit within {REPRO_TIMEOUT:g} s")
    return _verdict(path.name, done.returncode, done.stdout + done.stderr)


def store_finding(
    root: Path,
    signature: str,
    evaluation: Evaluation,
    platform: Platform,
    *,
    meta: dict[str, object],
    run_repros: bool = True,
) -> Path | None:
    """Write ``root/<slug>/``; None when another process stored the same signature first."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / slug(signature)
    work = Path(tempfile.mkdtemp(prefix=f".{slug(signature)}.", dir=root))
    try:
        scenario = evaluation.scenario
        write_atomically(work / "scenario.json", codec.dumps(scenario))
        observed: dict[str, object] = {
            "findings": [f.describe() for f in evaluation.findings],
            "observation": jsonify.to_json(evaluation.observation),
            "expected": None if evaluation.expectation is None else expectation_words(evaluation.expectation),
        }
        write_atomically(work / "observed.json", json.dumps(observed, indent=2, sort_keys=True) + "\n")
        title, details = _words(f"scm-harness reproducer: {signature}", signature, evaluation, platform)
        unsupported = write_reproducers(work, title, details, evaluation, platform)
        also = sorted(set(evaluation.signatures) - {signature})
        results: dict[str, object] = {}
        if run_repros:
            for result in (run_python_repro(work / "repro.py"), run_c_repro(work / "repro.c")):
                results[result.name] = result.as_json()
                write_atomically(work / f"{result.name}.out", result.output)
        info = {
            "signature": signature,
            "findings": [f.describe() for f in evaluation.findings],
            "steps": len(scenario.steps),
            "platform": {"system": platform.system, "release": platform.release, "arch": platform.arch},
            "reproducers": results,
            "reproducer_unsupported": unsupported,
            "also": also,
            **meta,
        }
        write_atomically(work / "finding.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
        os.chmod(work, 0o755)
        try:
            os.rename(work, target)
        except OSError:
            return None  # stored by someone else in the meantime
        _alias(root, also, signature)
        return target
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
        release(root, signature)


def _alias(root: Path, signatures: list[str], of: str) -> None:
    """Mark ``signatures`` as shown by the finding stored as ``of`` (first one to mark wins)."""
    for signature in signatures:
        if not (root / slug(signature)).exists():
            _mark(root / ALIASES, signature, of + "\n")


def read_finding(directory: Path) -> dict[str, object]:
    try:
        data = json.loads((directory / "finding.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
