"""Corpora: reading scenario files and directories, and the checked-in seeds under ``corpora/``.

``corpora/seeds/<CASE-ID>__<variant>.json``  one scenario per catalogue case, generated from the
                                             catalogue (``scm-harness corpus --sync``)
``corpora/atheris/<sha1>``                   byte inputs for the atheris target (decode to scenarios)
``corpora/regressions/*.json``               fixed findings, replayed for ever

Reading is forgiving per file and strict per value: a file that is not a scenario gives one line
naming the file, and the others are still read.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import codec
from harness.catalogue import CASES
from harness.catalogue.case import sort_key
from harness.fuzz.evaluate import Evaluation
from harness.generate.decode import decode
from harness.model import Scenario

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

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Loaded:
    path: Path
    label: str  # the file stem, or the finding directory's name for findings/<sig>/scenario.json
    scenario: Scenario


def _candidates(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    if (path / "scenario.json").is_file() and (path / "finding.json").is_file():
        yield path / "scenario.json"  # a finding directory: only its scenario is a scenario
        return
    for child in sorted(path.iterdir()):
        if child.name.startswith(".") or child.name.upper().startswith("README"):
            continue
        if child.is_dir():
            yield from _candidates(child)
        elif not child.name.endswith(SKIPPED_SUFFIXES):
            yield child


def _label(path: Path) -> str:
    if path.name == "scenario.json" and (path.parent / "finding.json").exists():
        return path.parent.name
    return path.stem if path.suffix == ".json" else path.name


def read_scenario(path: Path) -> Scenario:
    """A ``.json`` scenario, or any other file as atheris bytes; CodecError names the file."""
    if path.suffix == ".json":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise codec.CodecError(f"{path}: cannot read: {exc}") from None
        return codec.loads(text, str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise codec.CodecError(f"{path}: cannot read: {exc.strerror or exc}") from None
    scenario = decode(data)
    if scenario is None:
        raise codec.CodecError(f"{path}: {len(data)} bytes that do not decode to a scenario (atheris input)")
    return scenario


def load(paths: Iterable[Path]) -> tuple[list[Loaded], list[LoadError]]:
    """Every scenario under ``paths``, and one error line per file that is not one."""
    loaded: list[Loaded] = []
    errors: list[LoadError] = []
    for root in paths:
        if not root.exists():
            errors.append(LoadError(root, f"{root}: no such file or directory"))
            continue
        for path in _candidates(root):
            try:
                loaded.append(Loaded(path, _label(path), read_scenario(path)))
            except codec.CodecError as exc:
                errors.append(LoadError(path, " ".join(str(exc).split())))  # one line, whatever it held
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
        elif present[name].read_text(encoding="utf-8") != text:
            changes.append(f"stale {path}")
        else:
            continue
        if not check:
            seeds.mkdir(parents=True, exist_ok=True)
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
