"""The atheris target's per-input work, importable (and testable) without atheris running.

``one_input(data)``: decode the bytes into a scenario (``None``: ignore the input), evaluate it,
and turn every outcome signature into extra coverage: a stable counter index per signature (and
per pair of consecutive signatures, so that a new *sequence* of kernel behaviours counts too)
passed to ``atheris._trace_branch``.  libFuzzer then keeps an input because the kernel did
something new, not only because new Python lines ran.

In a campaign (the supervisor sets ``SCM_HARNESS_WORKER``) new findings are handed to the
supervisor, which minimises and stores them, and fuzzing goes on.  Standalone, as OSS-Fuzz runs
it, a deviation is raised as an exception, which libFuzzer reports as a crash with the input
saved.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import codec
from harness.evaluate import Evaluation
from harness.fuzz.evaluate import FuzzConfig
from harness.fuzz.signature import counter_index, slug
from harness.fuzz.slot import ENV_SLOT, FUZZER_BYTES, PICKLED_SCENARIO, Slot
from harness.fuzz.worker import CannotWrite, WorkerSpec, WorkerState, first_seen, leave_cannot_write, worker_writing
from harness.generate.decode import decode
from harness.host import probe
from harness.platform import Platform
from harness.report.write import write_atomically
from harness.untrusted import load_json_file, read_file

COUNTERS = 1 << 14  # extra coverage counters reserved for outcome signatures
# seeds.json: the JSON texts of this worker's share of the seeds (each within MAX_SCENARIO_FILE, escaped in JSON)
SEEDS_FILE_LIMIT = 256 << 20
ENV_WORKER = "SCM_HARNESS_WORKER"  # JSON of the WorkerSpec fields (set by the campaign)


class Deviation(Exception):
    """Standalone mode: the kernel disagreed with the oracle (libFuzzer saves the input)."""


@dataclass
class Feedback:
    """Where counter hits go: atheris' extra counters, or nowhere (tests, replays)."""

    base: int
    trace: Callable[[int], None]

    @classmethod
    def atheris(cls) -> Feedback:
        import atheris

        base = atheris._reserve_counter()
        for _ in range(COUNTERS - 1):
            atheris._reserve_counter()  # consecutive indices: base .. base + COUNTERS - 1
        return cls(base, atheris._trace_branch)

    @classmethod
    def none(cls) -> Feedback:
        return cls(0, lambda index: None)

    def signatures(self, signatures: tuple[str, ...]) -> None:
        previous = "start"
        for signature in signatures:
            self.trace(self.base + counter_index(signature, COUNTERS))
            self.trace(self.base + counter_index(previous + ">" + signature, COUNTERS))
            previous = signature


def spec_from_environment() -> WorkerSpec | None:
    text = os.environ.get(ENV_WORKER)
    if not text:
        return None
    raw = json.loads(text)
    config = FuzzConfig(backend=raw["backend"], fault=raw["fault"], scenario_timeout=0.0)
    return WorkerSpec(
        index=int(raw["index"]),
        engine="atheris",
        out=Path(raw["out"]),
        corpus=Path(raw["scenarios"]),
        config=config,
        seed=int(raw["seed"]),
        minimise_seconds=float(raw.get("minimise_seconds", 60.0)),
    )


def spec_to_environment(spec: WorkerSpec) -> str:
    return json.dumps(
        {
            "index": spec.index,
            "out": str(spec.out),
            "scenarios": str(spec.corpus),
            "backend": spec.config.backend,
            "fault": spec.config.fault,
            "seed": spec.seed,
            "minimise_seconds": spec.minimise_seconds,
        }
    )


class Target:
    def __init__(self, platform: Platform, feedback: Feedback, spec: WorkerSpec | None) -> None:
        self.platform = platform
        self.feedback = feedback
        self.spec = spec
        # Standalone runs have no campaign directory; they keep nothing and raise on findings.  In a
        # campaign the slot is the supervisor's (ENV_SLOT), else one of its own that nobody reads.
        slot = os.environ.get(ENV_SLOT, "")
        self.slot = None if spec is None else Slot(int(slot)) if slot.isdigit() else Slot.create()
        self.state = WorkerState(spec, platform, slot=self.slot) if spec is not None else None
        fault = os.environ.get("SCM_HARNESS_FAULT") or None
        self.config = spec.config if spec is not None else FuzzConfig(fault=fault, scenario_timeout=0.0)

    @classmethod
    def from_environment(cls, feedback: Feedback) -> Target:
        target = cls(probe(), feedback, spec_from_environment())
        try:
            target.replay_seeds()
        except CannotWrite as exc:
            leave_cannot_write(target.slot, exc)
        return target

    def replay_seeds(self) -> None:
        """The campaign's JSON seeds for this worker (bytes cannot carry them), before fuzzing starts.

        libFuzzer's -timeout is not armed yet, so each seed is marked in the slot: a seed that
        hangs is found by the supervisor's watch (killed, triaged as a hang), and the restarted
        worker goes on with the seed after it (``seeds.next``).
        """
        if self.state is None or self.spec is None:
            return
        seeds, progress = self.spec.directory / "seeds.json", self.spec.directory / "seeds.next"
        try:
            texts = load_json_file(seeds, SEEDS_FILE_LIMIT)
            start = int(read_file(progress, 32)) if progress.exists() else 0
        except ValueError:  # none (a restarted worker that replayed them all), or not ours: an UntrustedInputError
            return
        if not isinstance(texts, list):
            return
        for index in range(start, len(texts)):
            with worker_writing(progress):  # for a restart after this process dies: no fsync needed
                write_atomically(progress, f"{index + 1}\n", durable=False)
            text = texts[index]
            try:
                scenario = codec.loads(text if isinstance(text, str) else "", f"{seeds}: seed {index}")
            except ValueError:
                continue  # the supervisor wrote it from scenarios it loaded: only a changed file gets here
            if self.slot is not None:
                self.slot.begin(PICKLED_SCENARIO, pickle.dumps(scenario))
            evaluation = self.state.evaluate(scenario)
            if self.slot is not None:
                self.slot.end()
            self.state.record(evaluation)
            self.hand_over(evaluation, self.state.new_findings(evaluation), raw_input=None)
        seeds.unlink()  # once: not again after a restart
        progress.unlink()

    def one_input(self, data: bytes) -> None:
        try:
            self._one_input(data)
        except CannotWrite as exc:  # not a crash of this input: the campaign directory is full
            leave_cannot_write(self.slot, exc)

    def _one_input(self, data: bytes) -> None:
        scenario = decode(data)
        if scenario is None:
            return
        if self.slot is not None:
            self.slot.begin(FUZZER_BYTES, data)
        if self.state is not None:
            evaluation = self.state.evaluate(scenario)
        else:
            from harness.fuzz.evaluate import evaluate

            evaluation = evaluate(scenario, self.platform, self.config)
        if self.slot is not None:
            self.slot.end()
        self.feedback.signatures(evaluation.outcomes)
        if self.state is None:
            if evaluation.findings:
                raise Deviation("; ".join(f.describe() for f in evaluation.findings[:5]))
            return
        if self.state.record(evaluation):
            self.state.save_corpus(scenario)
        self.hand_over(evaluation, self.state.new_findings(evaluation), raw_input=data)

    def hand_over(self, evaluation: Evaluation, signatures: list[str], *, raw_input: bytes | None) -> None:
        """New findings go to the supervisor, which minimises them in isolated children.

        Minimising here, inside one libFuzzer input, would run into libFuzzer's -timeout.
        """
        if self.state is None or self.spec is None:
            return
        for signature in signatures:
            self.state.known.add(signature)
            if self.state.claim(signature):
                pending = self.spec.directory / "pending" / f"{slug(signature)}.json"
                item: dict[str, object] = {
                    "signature": signature,
                    "scenario": codec.dumps(evaluation.scenario),
                    "first_seen": first_seen(evaluation),  # kept with the finding, found again or not
                }
                if raw_input is not None:  # libFuzzer's bytes, kept with the finding (input.bin)
                    item["input"] = base64.b64encode(raw_input).decode("ascii")
                with worker_writing(pending):
                    pending.parent.mkdir(exist_ok=True)
                    write_atomically(pending, json.dumps(item))
