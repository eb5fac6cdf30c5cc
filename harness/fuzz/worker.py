"""What every fuzzing worker shares, whichever engine drives it: statistics, signatures, findings.

A worker evaluates inputs, keeps the ones that make the kernel do something new (new outcome
signatures), and hands each *new finding signature* to :meth:`WorkerState.sink`, which minimises
the scenario (delta debugging; a Hypothesis finding arrives already shrunk) and stores it under
``findings/<signature>/``.  Statistics go to ``workers/<n>/stats.json`` about once a second and
new outcome signatures to ``workers/<n>/signatures.txt``, which the supervisor reads for its
progress line and the campaign summary.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from harness import codec
from harness.evaluate import Evaluation
from harness.fuzz import findings
from harness.fuzz.evaluate import FuzzConfig, evaluate
from harness.fuzz.minimise import minimise
from harness.fuzz.signature import slug
from harness.fuzz.slot import CANNOT_WRITE_EXIT, Slot
from harness.model import Scenario
from harness.platform import Platform
from harness.report.write import OutputError, write_atomically, writing
from harness.untrusted import MAX_SCENARIO_FILE

FLUSH_EVERY = 1.0  # seconds between statistics files
REFRESH_KNOWN_EVERY = 2.0  # seconds between looks at findings/ (what other workers stored)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    index: int
    engine: str
    out: Path  # the campaign directory
    corpus: Path
    config: FuzzConfig = field(default_factory=FuzzConfig)
    seed: int = 0
    deadline: float | None = None  # time.monotonic() value (CLOCK_MONOTONIC is system-wide)
    runs: int | None = None
    minimise_seconds: float = 60.0
    run_repros: bool = True  # run each reproducer once after writing it (tests may skip it)

    @property
    def directory(self) -> Path:
        return self.out / "workers" / str(self.index)

    @property
    def findings(self) -> Path:
        return self.out / "findings"


class CannotWrite(BaseException):
    """A worker could not write one of its files (a full disk, a read-only file system): it stops.

    A BaseException, so that Hypothesis, inside whose test the corpus and the statistics are
    written, lets it through instead of taking it for a failure of the example.  The message is one
    line naming the file; the worker hands it to the supervisor (:meth:`Slot.cannot_write`).
    """


@contextlib.contextmanager
def worker_writing(path: Path) -> Iterator[None]:
    """A worker's writes of ``path``: an OSError (or an OutputError from below) becomes CannotWrite."""
    try:
        with writing(path):
            yield
    except OutputError as exc:
        raise CannotWrite(str(exc)) from None


def leave_cannot_write(slot: Slot | None, exc: CannotWrite) -> NoReturn:
    """End this worker: the reason in its slot for the supervisor, exit CANNOT_WRITE_EXIT, and no
    clean-up on the way out (it would only try to write to the full disk again)."""
    if slot is not None:
        slot.cannot_write(str(exc))
    os._exit(CANNOT_WRITE_EXIT)


class Found(Exception):
    """A new finding signature, raised inside a Hypothesis test so that Hypothesis shrinks it.

    Hypothesis tells failures apart by exception type and place, so every signature gets its own
    subclass (:func:`found`): the shrinker then keeps exactly this signature, not any failure.
    """

    signature: str = ""

    def __init__(self, scenario: Scenario, evaluation: Evaluation | None) -> None:
        super().__init__(f"{self.signature}: {scenario.kind.name}, {len(scenario.steps)} steps")
        self.scenario = scenario
        self.evaluation = evaluation


_FOUND_CLASSES: dict[str, type[Found]] = {}


def found(signature: str, scenario: Scenario, evaluation: Evaluation | None = None) -> Found:
    cls = _FOUND_CLASSES.get(signature)
    if cls is None:
        cls = type(f"Found_{slug(signature).replace('-', '_').replace('.', '_')}", (Found,), {"signature": signature})
        _FOUND_CLASSES[signature] = cls
    return cls(scenario, evaluation)


FIRST_SEEN_LIMIT = 20  # findings kept from the evaluation that found a signature
FIRST_SEEN_CHARS = 1000  # characters kept of each


def first_seen(evaluation: Evaluation | None) -> list[str]:
    """The findings of the evaluation that found a signature, as finding.json keeps them (``first_seen``)."""
    if evaluation is None:
        return []
    return [f.describe()[:FIRST_SEEN_CHARS] for f in evaluation.findings[:FIRST_SEEN_LIMIT]]


def _shrunk_by(engine_shrinking: str, delta_debugged: bool) -> str:
    """The engine's own shrinking ("hypothesis", or "none"), then the delta debugging of sink()."""
    passes = [] if engine_shrinking == "none" else [engine_shrinking]
    if delta_debugged:
        passes.append("delta debugging")
    return " + ".join(passes) or "none"


class WorkerState:
    def __init__(self, spec: WorkerSpec, platform: Platform, *, slot: Slot | None = None) -> None:
        self.spec = spec
        self.platform = platform
        with worker_writing(spec.directory):
            spec.directory.mkdir(parents=True, exist_ok=True)
            spec.findings.mkdir(parents=True, exist_ok=True)
        self.slot = slot
        self.started = time.monotonic()
        self.execs = 0
        self.ran = 0
        self.skipped: Counter[str] = Counter()
        self.outcomes: set[str] = set()
        self._new_outcomes: list[str] = []
        self.corpus_written = 0
        self.corpus_too_large = 0  # scenarios whose JSON exceeds MAX_SCENARIO_FILE: no campaign could read them back
        self.stored: list[str] = []  # signatures this worker stored
        self.known: set[str] = set()
        self._last_flush = 0.0
        self._last_refresh = 0.0
        self.refresh_known(force=True)

    # -- bookkeeping --------------------------------------------------------------------------

    def refresh_known(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_refresh < REFRESH_KNOWN_EVERY:
            return
        self._last_refresh = now
        for directory in findings.finding_dirs(self.spec.findings):
            info = findings.read_finding(directory)
            also = info.get("also")
            for signature in [info.get("signature"), *(also if isinstance(also, list) else [])]:
                if isinstance(signature, str):
                    self.known.add(signature)

    def time_left(self) -> float:
        if self.spec.deadline is None:
            return float("inf")
        return self.spec.deadline - time.monotonic()

    def runs_left(self) -> bool:
        return self.spec.runs is None or self.execs < self.spec.runs

    def record(self, evaluation: Evaluation) -> list[str]:
        """Count ``evaluation``; returns the outcome signatures never seen by this worker."""
        self.execs += 1
        if evaluation.skipped:
            self.skipped[evaluation.skipped.split(":", 1)[0]] += 1
        else:
            self.ran += 1
        fresh = [sig for sig in evaluation.outcomes if sig not in self.outcomes]
        if fresh:
            self.outcomes.update(fresh)
            self._new_outcomes.extend(fresh)
        self.flush()
        return fresh

    def new_findings(self, evaluation: Evaluation) -> list[str]:
        self.refresh_known()
        return [sig for sig in evaluation.signatures if sig not in self.known]

    def save_corpus(self, scenario: Scenario) -> None:
        """Keep a scenario that showed new kernel behaviour (JSON: the one exchange format).

        Atomically but not durably (no fsync): a corpus entry lost with a crash of the machine is
        found again, and a fresh outcome is common early in a campaign (185 writes in 30 s, at
        ~7 ms each with the fsyncs, 5 % of a Hypothesis worker's time).
        """
        text = codec.dumps(scenario)
        if len(text) > MAX_SCENARIO_FILE:  # (the JSON is ASCII: one byte per character)
            self.corpus_too_large += 1  # e.g. megabytes of bytes with no short repeating unit (codec.encode_data)
            return
        name = hashlib.sha1(text.encode()).hexdigest()[:16] + ".json"
        path = self.spec.corpus / name
        if not path.exists():
            with worker_writing(path):
                self.spec.corpus.mkdir(parents=True, exist_ok=True)
                write_atomically(path, text, durable=False)
            self.corpus_written += 1

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < FLUSH_EVERY:
            return
        self._last_flush = now
        if self._new_outcomes:
            signatures = self.spec.directory / "signatures.txt"
            with worker_writing(signatures), open(signatures, "a", encoding="utf-8") as out:
                out.write("".join(sig + "\n" for sig in self._new_outcomes))
            self._new_outcomes.clear()
        stats = {
            "pid": os.getpid(),
            "execs": self.execs,
            "ran": self.ran,
            "skipped": dict(self.skipped),
            "signatures": len(self.outcomes),
            "corpus_written": self.corpus_written,
            "corpus_too_large": self.corpus_too_large,
            "stored": self.stored,
            "elapsed": now - self.started,
        }
        path = self.spec.directory / "stats.json"
        with worker_writing(path):  # progress, rewritten every second: atomically, without the two fsyncs
            write_atomically(path, json.dumps(stats, sort_keys=True) + "\n", durable=False)

    # -- findings -----------------------------------------------------------------------------

    def evaluate(self, scenario: Scenario) -> Evaluation:
        return evaluate(scenario, self.platform, self.spec.config)

    def sink(
        self,
        signature: str,
        scenario: Scenario,
        *,
        shrunk_by: str,
        stop: Callable[[], bool] | None = None,
        seen: Evaluation | None = None,
    ) -> None:
        """Minimise and store one new finding (unless another worker has it already).

        The scenario's other signatures are claimed too while this one is minimised, so that a
        second worker that meets the same deviation through another field leaves it to this one;
        the stored finding takes those it still shows as aliases, and the claims are let go.
        ``seen``: the evaluation that found it, whose findings are kept as ``first_seen`` (all a
        finding that does not come back when run again can show).
        """
        self.known.add(signature)
        if not self.claim(signature):
            return
        first = self.evaluate(scenario)
        held = [s for s in first.signatures if s != signature and self.claim(s)]
        try:
            self._minimise_and_store(signature, scenario, first, shrunk_by=shrunk_by, stop=stop, seen=first_seen(seen))
        finally:
            for other in held:
                findings.release(self.spec.findings, other)

    def claim(self, signature: str) -> bool:
        with worker_writing(self.spec.findings / findings.CLAIMS / slug(signature)):
            return findings.claim(self.spec.findings, signature)

    def _minimise_and_store(
        self,
        signature: str,
        scenario: Scenario,
        first: Evaluation,
        *,
        shrunk_by: str,
        stop: Callable[[], bool] | None,
        seen: list[str],
    ) -> None:

        def beat() -> None:
            if self.slot is not None:
                self.slot.beat()

        def still(candidate: Scenario) -> bool:
            return signature in self.evaluate(candidate).signatures

        reproducible = signature in first.signatures
        minimal, complete = scenario, False
        if reproducible:
            result = minimise(scenario, still, max_seconds=self.spec.minimise_seconds, on_check=beat, stop=stop)
            minimal, complete = result.scenario, result.complete
        final = self.evaluate(minimal) if minimal is not scenario else first
        meta = {
            "engine": self.spec.engine,
            "worker": self.spec.index,
            "backend": self.spec.config.backend,
            "fault": self.spec.config.fault,
            "shrunk_by": _shrunk_by(shrunk_by, reproducible),
            "steps_before_minimising": len(scenario.steps),
            "minimised": complete,
            "reproducible_in_harness": reproducible,
            "first_seen": seen,
        }
        with worker_writing(self.spec.findings / slug(signature)):  # store_finding's OutputError names it too
            stored = findings.store_finding(
                self.spec.findings, signature, final, self.platform, meta=meta, run_repros=self.spec.run_repros
            )
        if stored is not None:
            self.stored.append(signature)
        self.flush(force=True)
