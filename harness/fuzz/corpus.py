"""Corpora: reading scenario files and directories, and the checked-in seeds under ``corpora/``.

``corpora/seeds/<CASE-ID>__<variant>.json``  one scenario per catalogue case, generated from the
                                             catalogue (``scm-harness corpus --sync``)
``corpora/atheris/<sha1>``                   byte inputs for the atheris target (decode to scenarios)
``corpora/regressions/*.json``               fixed findings, replayed for ever

Reading is forgiving per file and strict per value: a file that is not a scenario gives one line
naming the file, and the others are still read.

Corpora are shared, so a corpus is untrusted input (harness.untrusted): only regular files are read
(a FIFO, a device or a socket is refused without being opened, or without blocking), at most
MAX_SCENARIO_FILE bytes of each; a symlinked directory is never followed (no loops), a symlink to
a file is followed only when the file is inside the directory given, and directories deeper than
MAX_DIRECTORY_DEPTH are not walked.  Each entry left out that way is one line naming it.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import codec
from harness.catalogue import CASES
from harness.catalogue.case import sort_key
from harness.evaluate import Evaluation
from harness.generate.decode import decode
from harness.model import Scenario
from harness.scenario_files import NoScenario, read_scenario
from harness.untrusted import (
    MAX_DIRECTORY_DEPTH,
    MAX_SCENARIO_FILE,
    UntrustedInputError,
    kind_of,
    one_line,
    read_file,
)

SEEDS = "seeds"
ATHERIS = "atheris"
REGRESSIONS = "regressions"
SKIPPED_SUFFIXES = (".md", ".txt", ".dict", ".out", ".c", ".py")
REGRESSIONS_README = """\
# Regression scenarios

Every finding that was fixed (in the kernel, the oracle or the harness) lives on here as a
scenario file, replayed on every test run (`tests/test_corpora.py`) and by
`scm-harness replay corpora/`.

To add one: copy `findings/<signature>/scenario.json` of a campaign here under a name that says
what it was (`seqpacket-econnreset-before-queued-record.json`), and put the reason in its
`"note"`.  A file here must pass on every platform the harness supports; a deviation that is
still open belongs in an expectations file, not here.
"""


@dataclass(frozen=True, slots=True)
class LoadError:
    path: Path
    message: str  # one line, naming the file
    no_scenario: bool = False  # atheris bytes that decode to no scenario (not an error for replay)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Loaded:
    path: Path
    label: str  # the file stem, or the finding directory's name for findings/<sig>/scenario.json
    scenario: Scenario


# A longer error line (a path of thousands of characters) is cut: the line is for a person.
MAX_ERROR_LINE = 1000


@dataclass(frozen=True, slots=True)
class _Candidate:
    path: Path
    follow: bool  # open through a symlink: the path the user named, or a link checked to stay inside


def _error(path: Path, problem: str) -> LoadError:
    return LoadError(path, f"{one_line(str(path))}: {problem}")


def _candidates(root: Path) -> Iterator[_Candidate | LoadError]:
    """The files under ``root`` to read as scenarios, and one LoadError per entry left out."""
    try:
        mode = root.stat().st_mode  # the path named on the command line is followed
    except OSError as exc:
        yield _error(root, f"cannot read: {exc.strerror or exc}")
        return
    if not stat.S_ISDIR(mode):
        yield _Candidate(root, follow=True)  # the reader refuses anything but a regular file
        return
    yield from _walk(root, os.path.realpath(root), 0)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _walk(directory: Path, inside: str, depth: int) -> Iterator[_Candidate | LoadError]:
    if _is_regular(directory / "scenario.json") and _is_regular(directory / "finding.json"):
        yield _Candidate(directory / "scenario.json", follow=False)  # a finding: only its scenario is one
        return
    try:
        with os.scandir(directory) as listing:
            entries = sorted((entry.name, entry.stat(follow_symlinks=False).st_mode) for entry in listing)
    except OSError as exc:
        yield _error(directory, f"cannot list: {exc.strerror or exc}")
        return
    for name, mode in entries:
        path = directory / name
        if name.startswith(".") or name.upper().startswith("README"):
            continue
        if stat.S_ISDIR(mode):
            if depth < MAX_DIRECTORY_DEPTH:
                yield from _walk(path, inside, depth + 1)
            else:
                yield _error(path, f"skipped: a directory deeper than MAX_DIRECTORY_DEPTH={MAX_DIRECTORY_DEPTH}")
        elif not name.endswith(SKIPPED_SUFFIXES):
            yield _symlink(path, inside) if stat.S_ISLNK(mode) else _Candidate(path, follow=False)


def _symlink(path: Path, inside: str) -> _Candidate | LoadError:
    """A symlink in a corpus directory: followed only to a file inside the directory walked."""
    try:
        target = os.path.realpath(path, strict=True)
        mode = os.stat(target).st_mode
    except OSError as exc:  # a loop (ELOOP) or a dangling link
        return _error(path, f"skipped: a symlink that does not resolve ({exc.strerror or exc})")
    if os.path.commonpath((inside, target)) != inside:
        return _error(path, f"skipped: a symlink out of the directory (to {one_line(target)})")
    if stat.S_ISDIR(mode):
        return _error(path, "skipped: a symlink to a directory (not followed)")
    return _Candidate(path, follow=True)


def byte_corpus_problem(root: Path) -> str | None:
    """Why libFuzzer may not be given ``root`` as its corpus, or None.

    libFuzzer walks its corpus directory itself: it reads a symlink as a file (a link to a FIFO
    blocks it, one to /dev/zero feeds it for ever) and reads every file whole.  So a directory
    given to an atheris campaign must hold nothing but directories (at most MAX_DIRECTORY_DEPTH
    deep) and regular files of at most MAX_SCENARIO_FILE bytes.
    """
    pending = [(root, 0)]
    while pending:
        directory, depth = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = [(Path(e.path), e.stat(follow_symlinks=False)) for e in listing]
        except OSError as exc:
            return f"{one_line(str(directory))}: cannot list: {exc.strerror or exc}"
        for path, status in entries:
            where = one_line(str(path))
            if stat.S_ISDIR(status.st_mode):
                if depth >= MAX_DIRECTORY_DEPTH:
                    return f"{where}: a directory deeper than MAX_DIRECTORY_DEPTH={MAX_DIRECTORY_DEPTH}"
                pending.append((path, depth + 1))
            elif not stat.S_ISREG(status.st_mode):
                return f"{where}: {kind_of(status.st_mode)}, not a regular file (libFuzzer would read it)"
            elif status.st_size > MAX_SCENARIO_FILE:
                return f"{where}: {status.st_size} bytes, over MAX_SCENARIO_FILE={MAX_SCENARIO_FILE}"
    return None


def _label(path: Path) -> str:
    if path.name == "scenario.json" and (path.parent / "finding.json").exists():
        return path.parent.name
    return path.stem if path.suffix == ".json" else path.name


def load(paths: Iterable[Path]) -> tuple[list[Loaded], list[LoadError]]:
    """Every scenario under ``paths``, and one error line per file that is not one."""
    loaded: list[Loaded] = []
    errors: list[LoadError] = []
    for root in paths:
        if not root.exists():
            errors.append(_error(root, "no such file or directory"))
            continue
        for candidate in _candidates(root):
            if isinstance(candidate, LoadError):
                errors.append(candidate)
                continue
            path = candidate.path
            try:
                loaded.append(Loaded(path, _label(path), read_scenario(path, follow_symlinks=candidate.follow)))
            except codec.CodecError as exc:
                line = " ".join(str(exc).split())  # one line, whatever it held
                errors.append(LoadError(path, line[:MAX_ERROR_LINE], no_scenario=isinstance(exc, NoScenario)))
    return loaded, errors


# ----------------------------------------------------------------------------------------------
# catalogue seeds


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "default"


def catalogue_seeds() -> dict[str, str]:
    """File name -> JSON text: one scenario per catalogue case, for its first pair kind."""
    out: dict[str, str] = {}
    for case_id in sorted(CASES, key=sort_key):
        case = CASES[case_id]
        kinds = case.kinds()
        if not kinds:
            continue
        kind = kinds[0]
        variants = [v for v in case.variants(kind) if not v.blocking_expected] or list(case.variants(kind))
        if not variants:
            continue
        variant = variants[0]
        note = f"{case.id} [{kind.name}] {variant.label}: {case.title}"
        scenario = Scenario(
            kind=variant.scenario.kind, fds=variant.scenario.fds, steps=variant.scenario.steps, note=note
        )
        out[f"{case.id}__{_slug(variant.label)}.json"] = codec.dumps(scenario)
    return out


def sync_seeds(corpora: Path, *, check: bool = False) -> list[str]:
    """Make ``corpora/seeds`` exactly the catalogue's seeds; returns what differs (or changed)."""
    seeds = corpora / SEEDS
    wanted = catalogue_seeds()
    present = {p.name: p for p in seeds.glob("*.json")} if seeds.is_dir() else {}
    changes = []
    for name, text in wanted.items():
        path = seeds / name
        if name not in present:
            changes.append(f"missing {path}")
        elif _seed_text(present[name]) != text:
            changes.append(f"stale {path}")
        else:
            continue
        if not check:
            seeds.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                path.unlink()  # never write through a link (to a file outside corpora/)
            path.write_text(text, encoding="utf-8")
    for name, path in sorted(present.items()):
        if name not in wanted:
            changes.append(f"extra {path}")
            if not check:
                path.unlink()
    readme = corpora / REGRESSIONS / "README.md"
    if not readme.exists():
        changes.append(f"missing {readme}")
        if not check:
            readme.parent.mkdir(parents=True, exist_ok=True)
            readme.write_text(REGRESSIONS_README, encoding="utf-8")
    return changes


def _seed_text(path: Path) -> str | None:
    """A seed file's text, or None for anything but a regular file of at most MAX_SCENARIO_FILE bytes."""
    try:
        return read_file(path, MAX_SCENARIO_FILE, follow_symlinks=False).decode("utf-8", "replace")
    except UntrustedInputError:
        return None


def random_inputs(count: int, seed: int) -> Iterator[bytes]:
    """Byte strings shaped for the decoder: mostly small numbers, even stop bytes now and then."""
    rng = random.Random(seed)
    for _ in range(count):
        size = rng.choice((16, 32, 64, 128, 256))
        data = bytearray(rng.choice((0, 1, 2, 3, 4, 255, rng.randrange(256))) for _ in range(size))
        yield bytes(data)


def atheris_seed_name(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def select_atheris_seeds(evaluate: Callable[[Scenario], Evaluation], *, budget: int, seed: int) -> dict[str, bytes]:
    """Byte inputs that decode and show distinct kernel behaviour, found by random search.

    Searching (rather than encoding scenarios) keeps the seeds valid whatever the decoder's
    tables are: each seed is only kept because it decodes *now* to a scenario that runs
    cleanly and shows an outcome signature no earlier seed showed.
    """
    seen: set[str] = set()
    out: dict[str, bytes] = {}
    for data in random_inputs(budget, seed):
        scenario = decode(data)
        if scenario is None:
            continue
        evaluation = evaluate(scenario)
        if evaluation.skipped or evaluation.findings:
            continue
        fresh = set(evaluation.outcomes) - seen
        if fresh:
            seen |= fresh
            out[atheris_seed_name(data)] = data
    return out
