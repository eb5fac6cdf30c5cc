"""The Hypothesis engine of ``scm-harness fuzz``: one worker process, many short Hypothesis runs.

A worker alternates time slices between the ``scenarios()`` property and the stateful
:class:`~harness.fuzz.stateful.PairMachine`, each under the ``campaign`` settings profile with a
fresh seed.  Inside a run every example is evaluated (oracle, kernel, checkers, invariants),
its outcome signatures go to ``hypothesis.event()``, and a *new* finding signature raises one
exception class per signature (:func:`~harness.fuzz.worker.found`), so Hypothesis shrinks exactly
that finding.  When the run ends, each shrunk finding is minimised further and stored
(:meth:`~harness.fuzz.worker.WorkerState.sink`), and the next slice starts.

The end of a slice, the time limit and a stop request are a ``BaseException`` (:class:`SliceEnd`)
raised from inside the test: Hypothesis lets it through without counting it as a failure.  While
Hypothesis shrinks a finding the slice is extended (up to :data:`SHRINK_SECONDS`), so a shrink is
not thrown away at a slice boundary.
"""

from __future__ import annotations

import contextlib
import gc
import pickle
import random
import signal
import time
import traceback
from collections.abc import Callable, Iterator

from hypothesis import Verbosity, event, given, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from harness.evaluate import Evaluation
from harness.finding import Finding
from harness.fuzz.signature import finding_signature
from harness.fuzz.slot import PICKLED_SCENARIO, Slot
from harness.fuzz.stateful import PairMachine
from harness.fuzz.worker import CannotWrite, Found, WorkerSpec, WorkerState, found, leave_cannot_write
from harness.generate.profiles import register_profiles
from harness.generate.strategies import scenarios
from harness.model import Scenario
from harness.platform import Platform

# Hypothesis makes many container objects per example (its choice tree, spans): with Python's
# default thresholds (700, 10, 10) an inline worker spent 1.78 s of 25 s in the cyclic GC, 1.13 s
# of it in 8 full collections; with the start-up objects frozen and these thresholds, 0.76 s.
GC_THRESHOLDS = (10_000, 10, 10)
SLICE_SECONDS = 20.0  # then switch between the property and the state machine
SHRINK_SECONDS = 30.0  # how long a slice may run on while Hypothesis shrinks a finding (within the limit)
MACHINE_STEPS = 12


class SliceEnd(BaseException):
    """Not a failure: the slice, the campaign or the run budget is over."""


def _ended_by_slice(exc: BaseException) -> bool:
    """Whether ``exc`` arose while a SliceEnd was propagating out of an example.

    Seen in 60 s campaigns (once in 2 of 3 runs, when the time limit ended a machine slice): a
    SliceEnd raised between two rules of a state machine's example stops it where an earlier
    example with the same choices drew on, and Hypothesis' choice tree raises
    FlakyStrategyDefinition while handling the SliceEnd.  The slice was over either way: that is
    its end, not an error of the engine.  (A property example is whole before its checkpoint.)
    """
    seen: set[int] = set()
    context: BaseException | None = exc
    while context is not None and id(context) not in seen:
        if isinstance(context, SliceEnd):
            return True
        seen.add(id(context))
        context = context.__context__
    return False


def _found_in(exc: BaseException) -> Iterator[Found]:
    if isinstance(exc, Found):
        yield exc
    for inner in getattr(exc, "exceptions", ()):
        yield from _found_in(inner)


class HypothesisWorker:
    def __init__(self, spec: WorkerSpec, platform: Platform, slot: Slot | None = None) -> None:
        self.state = WorkerState(spec, platform, slot=slot)
        self.slot = slot
        self.stop_requested = False
        self.pending: dict[str, Evaluation] = {}  # raised in this slice, not yet stored
        self.first_found: float | None = None
        self.slice_end = 0.0
        self.errors = 0

    # -- one example --------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Raise SliceEnd when this example must not run.

        A shrink in progress may run past the end of its slice, never past the campaign's time
        limit: then the finding is stored as it is and delta debugging minimises it.
        """
        now = time.monotonic()
        shrinking = self.first_found is not None and now - self.first_found < SHRINK_SECONDS
        if self.stop_requested or self.state.time_left() <= 0 or not self.state.runs_left():
            raise SliceEnd
        if now >= self.slice_end and not shrinking:
            raise SliceEnd

    def examine(self, scenario: Scenario, *, in_test: bool = True) -> Evaluation:
        if in_test:
            self.checkpoint()
        if self.slot is not None:
            self.slot.begin(PICKLED_SCENARIO, pickle.dumps(scenario))
        evaluation = self.state.evaluate(scenario)
        if self.slot is not None:
            self.slot.end()
        if self.state.record(evaluation):
            self.state.save_corpus(scenario)
        if in_test:
            for signature in evaluation.outcomes:
                event(signature)
        return evaluation

    def replay(self, scenarios: list[Scenario]) -> None:
        """The corpus and seed scenarios first: their findings are stored as they are, then minimised."""
        for scenario in scenarios:
            if self.stop_requested or self.state.time_left() <= 0 or not self.state.runs_left():
                return
            evaluation = self.examine(scenario, in_test=False)
            for signature in self.state.new_findings(evaluation):
                self.state.sink(signature, scenario, shrunk_by="none", stop=self.stopping, seen=evaluation)

    def raise_new(self, evaluation: Evaluation, findings: tuple[Finding, ...] | None = None) -> None:
        chosen = evaluation.findings if findings is None else findings
        signatures = sorted({finding_signature(f, evaluation.observation) for f in chosen})
        fresh = [sig for sig in signatures if sig not in self.state.known]
        if not fresh:
            return
        self.state.refresh_known()
        fresh = [sig for sig in fresh if sig not in self.state.known]
        if fresh:
            signature = fresh[0]
            self.pending.setdefault(signature, evaluation)
            if self.first_found is None:
                self.first_found = time.monotonic()
            raise found(signature, evaluation.scenario, evaluation)

    # -- slices -------------------------------------------------------------------------------

    def _settings(self) -> settings:
        return settings(
            settings.get_profile("campaign"),
            database=None,  # findings are kept as scenario.json; a database would replay stale shrinks
            verbosity=Verbosity.quiet,
            print_blob=False,
            derandomize=False,
            stateful_step_count=MACHINE_STEPS,
        )

    def property_slice(self, rng: random.Random) -> Callable[[], None]:
        @seed(rng.getrandbits(64))
        @self._settings()
        @given(scenarios())
        def scenario_property(scenario: Scenario) -> None:
            self.raise_new(self.examine(scenario))

        return scenario_property

    def machine_slice(self, rng: random.Random) -> Callable[[], None]:
        worker = self

        class CampaignMachine(PairMachine):
            config = worker.state.spec.config

            def evaluate(self, scenario: Scenario) -> Evaluation:
                return worker.examine(scenario)

            def observe(self, evaluation: Evaluation, findings: list[Finding]) -> None:
                worker.raise_new(evaluation, tuple(findings))

        def run() -> None:
            run_state_machine_as_test(CampaignMachine, settings=self._settings())

        return run

    def run_slice(self, test: Callable[[], None]) -> None:
        self.slice_end = min(time.monotonic() + SLICE_SECONDS, time.monotonic() + max(0.0, self.state.time_left()))
        self.pending.clear()
        self.first_found = None
        delivered: set[str] = set()
        try:
            test()
        except SliceEnd:
            pass
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit | CannotWrite):
                raise
            caught = list(_found_in(exc))
            if not caught and _ended_by_slice(exc):
                pass
            elif not caught:  # the engine itself broke: log it, and stop after repeated breakage
                self.errors += 1
                log_error(exc)
                if self.errors > 20:
                    raise
            for f in caught:
                if f.signature not in delivered:
                    delivered.add(f.signature)
                    seen = f.evaluation or self.pending.get(f.signature)
                    self.state.sink(f.signature, f.scenario, shrunk_by="hypothesis", stop=self.stopping, seen=seen)
        for signature, evaluation in list(self.pending.items()):
            if signature not in delivered:  # the slice ended before Hypothesis reported it
                self.state.sink(signature, evaluation.scenario, shrunk_by="none", stop=self.stopping, seen=evaluation)

    def stopping(self) -> bool:
        # Ctrl-C (SIGTERM from the supervisor) stops minimising and the best scenario so far is
        # stored; the time limit does not: a finding in hand is minimised within --minimise-seconds
        return self.stop_requested

    def run(self, initial: list[Scenario] | None = None) -> None:
        register_profiles()
        self.replay(initial or [])
        rng = random.Random(self.state.spec.seed * 1_000_003 + self.state.spec.index)
        turn = 0
        while not self.stop_requested and self.state.time_left() > 0 and self.state.runs_left():
            # two slices of the property for one of the machine: the property reaches more of the model
            test = self.machine_slice(rng) if turn % 3 == 2 else self.property_slice(rng)
            self.run_slice(test)
            turn += 1
        self.state.flush(force=True)


def log_error(exc: BaseException) -> None:
    with contextlib.suppress(OSError):  # the log is in the campaign directory, which may be full
        print("scm-harness worker: engine error:", "".join(traceback.format_exception(exc))[-4000:], flush=True)


def worker_main(spec: WorkerSpec, platform: Platform, initial: list[Scenario], slot: Slot) -> None:
    """Entry point of a forked worker process (see :mod:`harness.fuzz.campaign`), mapping ``slot``.

    A file it cannot write ends it with CANNOT_WRITE_EXIT, the message in the slot for the supervisor.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when to stop
    try:
        worker = HypothesisWorker(spec, platform, slot)

        def stop(signum: int, frame: object) -> None:
            worker.stop_requested = True

        signal.signal(signal.SIGTERM, stop)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked since the fork (campaign)
        gc.freeze()  # what exists now lives as long as the worker: no collection needs to look at it
        gc.set_threshold(*GC_THRESHOLDS)
        worker.run(initial)
    except CannotWrite as exc:
        leave_cannot_write(slot, exc)


def run_inline(spec: WorkerSpec, platform: Platform, initial: list[Scenario] | None = None) -> WorkerState:
    """One worker in this process, without a supervisor (tests)."""
    worker = HypothesisWorker(spec, platform)
    worker.run(initial)
    return worker.state
