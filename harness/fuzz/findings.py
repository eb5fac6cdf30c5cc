"""Finding storage: ``findings/<signature>/`` with the scenario, the observation and two reproducers.

A finding directory is built under a temporary name and renamed into place, so a reader (the
supervisor, ``replay``, a second worker) sees a whole finding or none.  Each reproducer is run
once right after it is written and the result is recorded in ``finding.json``: "reproduced"
means the reproducer, which knows nothing of the harness, saw the deviation too.  A finding
that came from an injected fault must *not* reproduce (the kernel is fine): that is the
self-test of the reproducers.

A reproducer is untrusted in what it carries (a scenario from a shared corpus), so it is checked
before it runs (``compile()`` for repro.py, ``cc -fsyntax-only`` for repro.c) and run in a private
temporary directory as its own session, with a minimal environment, no stdin, a bounded output and a
timeout.  Its verdict counts only when its exit status is one of its documented codes *and* its last
line says the same (``repro_main.RESULT_LINE``); anything else (it does not compile, a traceback,
a signal, a timeout) is recorded as ``"broken"`` with ``"reproduced": null``, never as reproduced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import codec
from harness.describe import expectation_words, observation_words
from harness.evaluate import Evaluation
from harness.execute.lifetime import dying_with_parent
from harness.expectation import Expectation
from harness.fuzz import jsonify, repro_c, repro_py
from harness.fuzz.repro_main import RESULT_LINE, RESULTS, printable
from harness.fuzz.repro_plan import Inexpressible, make_plan
from harness.fuzz.signature import slug
from harness.platform import Platform
from harness.report.write import write_atomically, writing
from harness.untrusted import MAX_SCENARIO_FILE, load_json_file

REPRO_TIMEOUT = 60.0
OUTPUT_LIMIT = 1 << 22  # bytes a reproducer may write to its stdout or stderr (RLIMIT_FSIZE: SIGXFSZ beyond)
REASON_LIMIT = 200  # characters of a "broken" reason
CLAIMS = ".claims"
# A stored finding's minimal scenario often deviates in more than one field (a lost fd shows as a
# wrong msg_controllen, a missing cmsg and MSG_CTRUNC).  Its other signatures become aliases of it
# and are not stored again: one deviation, one directory.
ALIASES = ".aliases"
RAW_INPUT = "input.bin"  # an atheris finding's bytes as libFuzzer produced them


@dataclass(frozen=True, slots=True)
class ReproResult:
    name: str
    exit: int | None  # None: it did not finish, could not be built, or was killed by a signal
    reproduced: bool | None  # None: cannot tell (exit 2, no compiler) or the reproducer is broken
    output: str
    broken: str | None = None  # one line: why the reproducer itself failed (it never counts as reproduced)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"exit": self.exit, "reproduced": self.reproduced}
        if self.broken is not None:
            out["broken"] = self.broken
        return out


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
    """Create ``directory/<slug>`` holding ``text`` unless it exists: the first process wins.

    A file that cannot be written (a full disk) is an OutputError naming it."""
    with writing(directory / slug(signature)):
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
    """Write repro.py and repro.c; returns "" or why they (or one of them) can only exit 2.

    repro.py runs the harness itself on the scenario, so it needs only the oracle's expectation;
    repro.c needs a plan (:func:`make_plan`), which may find the scenario inexpressible.
    """
    expectation = evaluation.expectation
    if not isinstance(expectation, Expectation):
        reason = "the oracle has no expectation for this scenario"
        write_atomically(directory / "repro.py", repro_py.render_unsupported(title, details, reason))
        write_atomically(directory / "repro.c", repro_c.render_unsupported(title, details, reason))
        os.chmod(directory / "repro.py", 0o755)
        return reason
    write_atomically(directory / "repro.py", repro_py.render(evaluation.scenario, expectation, title, details))
    reasons = []
    try:
        source = repro_c.render(make_plan(evaluation.scenario, expectation, platform), title, details)
    except Inexpressible as exc:
        reasons.append(f"repro.c: {exc}")
        source = repro_c.render_unsupported(title, details, str(exc))
    write_atomically(directory / "repro.c", source)
    os.chmod(directory / "repro.py", 0o755)
    return "; ".join(reasons)


def _one_line(text: str) -> str:
    line = printable(text.strip().splitlines()[-1] if text.strip() else "")
    return line if len(line) <= REASON_LIMIT else line[:REASON_LIMIT] + "..."


def _broken(name: str, reason: str, output: str, exit_code: int | None = None) -> ReproResult:
    return ReproResult(name, exit_code, None, output, broken=_one_line(reason) or "no reason given")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _verdict(name: str, exit_code: int, stdout: str, stderr: str) -> ReproResult:
    """Reproduced, conforms or cannot run: only for a documented exit status that the last line confirms."""
    output = stdout + stderr
    if exit_code < 0:
        return _broken(name, f"killed by {_signal_name(-exit_code)}", output)
    if exit_code not in RESULTS:
        return _broken(name, f"exit status {exit_code}: {_one_line(stderr or stdout)}", output, exit_code)
    lines = stdout.splitlines()
    if not lines or lines[-1] != RESULT_LINE + RESULTS[exit_code]:
        said = _one_line(stderr or stdout)
        return _broken(name, f"exit status {exit_code} without its result line: {said}", output, exit_code)
    return ReproResult(name, exit_code, {0: False, 1: True}.get(exit_code), output)


def _read_capped(path: Path) -> str:
    with path.open("rb") as stream:
        data = stream.read(OUTPUT_LIMIT)
    return data.decode("utf-8", "backslashreplace")


def _run_untrusted(name: str, argv: list[str]) -> ReproResult:
    """Run a reproducer: a private temporary directory as cwd, HOME and TMPDIR, a minimal environment,
    stdin from /dev/null, no inherited descriptors, its own session (killed whole on a timeout and when
    it ends, so no forked child outlives it), output into files bounded by RLIMIT_FSIZE."""
    with tempfile.TemporaryDirectory(prefix="scm-repro-run-") as private:
        where = Path(private)
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": private, "TMPDIR": private}
        with (where / "stdout").open("wb") as out, (where / "stderr").open("wb") as err:
            process = subprocess.Popen(
                dying_with_parent(argv),
                cwd=private,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                close_fds=True,
                start_new_session=True,
            )
            # set right after the start (the interpreter or binary has written nothing yet), not in a
            # preexec_fn, which is unsafe in a process with threads
            with contextlib.suppress(ProcessLookupError):
                resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (OUTPUT_LIMIT, OUTPUT_LIMIT))
            # wait for the exit without reaping it: its pid (= its group's id) stays taken until the whole
            # group is killed, so the kill cannot reach a process that took the number since
            pidfd = os.pidfd_open(process.pid)
            try:
                waiting = select.poll()  # not select(): a descriptor above FD_SETSIZE is fine
                waiting.register(pidfd, select.POLLIN)
                finished = bool(waiting.poll(REPRO_TIMEOUT * 1000))
            finally:
                os.close(pidfd)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            exit_code = process.wait()
        stdout, stderr = _read_capped(where / "stdout"), _read_capped(where / "stderr")
    if not finished:
        return _broken(name, f"no exit within {REPRO_TIMEOUT:g} s", stdout + stderr)
    return _verdict(name, exit_code, stdout, stderr)


def python_compiles(path: Path) -> str | None:
    """None when ``path`` compiles as Python (nothing runs); else why not, in one line."""
    try:
        compile(path.read_bytes(), str(path), "exec")
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        return f"does not compile: {type(exc).__name__}: {exc.msg if isinstance(exc, SyntaxError) else exc}{where}"
    return None


def run_python_repro(path: Path) -> ReproResult:
    problem = python_compiles(path)
    if problem is not None:
        return _broken(path.name, problem, problem)
    # -I -S: no user site, no site-packages, no PYTHON* variables; proves the reproducer needs only the standard library
    return _run_untrusted(path.name, [sys.executable, "-I", "-S", str(path.resolve())])


def _cc(compiler: str, arguments: list[str]) -> str | None:
    """None when the compiler succeeds; else its first error in one line, then all it said."""
    try:
        done = subprocess.run(
            dying_with_parent([compiler, *arguments]),
            capture_output=True,
            text=True,
            errors="backslashreplace",
            timeout=REPRO_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"cc: no exit within {REPRO_TIMEOUT:g} s"
    if done.returncode == 0:
        return None
    errors = [line for line in done.stderr.splitlines() if "error" in line] or [done.stderr]
    return f"cc failed: {_one_line(errors[0])}\n{done.stderr}"


def run_c_repro(path: Path) -> ReproResult:
    compiler = shutil.which("cc")
    if compiler is None:
        return ReproResult(path.name, None, None, "no C compiler (cc) on PATH")
    with tempfile.TemporaryDirectory(prefix="scm-repro-build-") as build:
        binary = Path(build) / "repro"
        problem = _cc(compiler, ["-fsyntax-only", str(path)]) or _cc(compiler, ["-O1", "-o", str(binary), str(path)])
        if problem is not None:
            return _broken(path.name, problem.split("\n", 1)[0], problem)
        return _run_untrusted(path.name, [str(binary)])


def store_finding(
    root: Path,
    signature: str,
    evaluation: Evaluation,
    platform: Platform,
    *,
    meta: dict[str, object],
    run_repros: bool = True,
    raw_input: bytes | None = None,
) -> Path | None:
    """Write ``root/<slug>/``; None when another process stored the same signature first.

    ``raw_input`` (a finding of an atheris input): libFuzzer's bytes as found, before minimising,
    kept as ``input.bin`` and named in finding.json (``input``: file, size, sha1).

    Built in a temporary directory beside it and renamed into place: a write that fails (a full
    disk) is an OutputError naming the finding, and leaves no part of it behind.
    """
    target = root / slug(signature)
    with writing(target):
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{slug(signature)}.", dir=root))
    try:
        scenario = evaluation.scenario
        title, details = _words(f"scm-harness reproducer: {signature}", signature, evaluation, platform)
        with writing(target):
            write_atomically(work / "scenario.json", codec.dumps(scenario))
            observed: dict[str, object] = {
                "findings": [f.describe() for f in evaluation.findings],
                "observation": jsonify.to_json(evaluation.observation),
                "expected": None if evaluation.expectation is None else expectation_words(evaluation.expectation),
            }
            write_atomically(work / "observed.json", json.dumps(observed, indent=2, sort_keys=True) + "\n")
            unsupported = write_reproducers(work, title, details, evaluation, platform)
            if raw_input is not None:
                (work / RAW_INPUT).write_bytes(raw_input)  # the directory is renamed into place whole
        also = sorted(set(evaluation.signatures) - {signature})
        results: dict[str, object] = {}
        if run_repros:
            for result in (run_python_repro(work / "repro.py"), run_c_repro(work / "repro.c")):
                results[result.name] = result.as_json()
                with writing(target):
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
        if raw_input is not None:
            info["input"] = {"file": RAW_INPUT, "size": len(raw_input), "sha1": hashlib.sha1(raw_input).hexdigest()}
        with writing(target):
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
        data = load_json_file(directory / "finding.json", MAX_SCENARIO_FILE)
    except ValueError:  # an UntrustedInputError: a finding.json that cannot be read counts as none
        return {}
    return data if isinstance(data, dict) else {}
