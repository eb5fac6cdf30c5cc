"""The one evaluation pipeline: oracle, kernel, checkers -> :class:`Evaluation`.

``scm-harness run`` (:func:`harness.runner.run_variant`), ``replay``, ``fingerprint``, both fuzz
engines (:mod:`harness.fuzz.evaluate` adds signatures) and ``bench`` all evaluate a scenario here.
What can go wrong is captured once, as a value (like pytest's ``CallInfo``): the oracle does not
model it, the platform cannot express it, the scenario outran its watchdog, the child that ran it
died, or the harness itself raised.  Only :data:`PROPAGATE` and what is no ``Exception``
(KeyboardInterrupt, SystemExit) get through: they stop the harness, not one scenario.
"""

from __future__ import annotations

import contextlib
import enum
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from harness.check import check
from harness.execute.backend import ExecConfig
from harness.execute.errors import CannotExpress, CaseTimeout, ChildDied
from harness.execute.faults import inject
from harness.execute.fdtable import DescriptorLimitTooLow
from harness.execute.run import execute
from harness.expectation import Expectation, Unmodelled
from harness.finding import Finding
from harness.model import Scenario, woken_steps
from harness.native.constants import UnknownName
from harness.observation import Blocked, Observation
from harness.oracle import expect
from harness.platform import Platform

# Exceptions that end the harness rather than one scenario (besides BaseExceptions that are no Exception).
PROPAGATE: tuple[type[BaseException], ...] = (MemoryError,)

ExtraCheck = Callable[[Scenario, Observation], Iterable[Finding]]


class Status(enum.Enum):
    CHECKED = "checked"  # ran and checked: no findings means the kernel agrees with the oracle
    UNMODELLED = "unmodelled"  # the oracle does not model the scenario: nothing ran
    WOULD_BLOCK = "would-block"  # not run: the oracle expects a step to wait (EvaluationConfig.skip_blocking)
    UNSUPPORTED = "unsupported"  # the platform cannot express it (a constant, a feature, RLIMIT_NOFILE)
    TIMEOUT = "timeout"  # no result within the scenario's watchdog
    CRASH = "crash"  # the child process that ran it died
    HARNESS_ERROR = "harness-error"  # the harness raised: a bug of the harness, never the kernel's fault


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationConfig:
    backend: str = "raw"
    exec: ExecConfig = field(default_factory=ExecConfig)
    # SIGALRM watchdog for one scenario (0: none, e.g. under atheris, whose -timeout owns SIGALRM)
    scenario_timeout: float = 20.0
    faults: tuple[str, ...] = ()  # test-only: harness.execute.faults names applied to the observation, in order
    skip_blocking: bool = False  # fuzzing: a scenario the oracle expects to wait would cost the step timeout
    extra_checks: tuple[ExtraCheck, ...] = ()  # besides the checker registry (the fuzzers' invariants)


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    scenario: Scenario
    status: Status
    reason: str = ""  # why it was not checked, in one line
    expectation: Expectation | None = None
    observation: Observation | None = None
    findings: tuple[Finding, ...] = ()
    blocked: str = ""  # a step that blocked where the oracle says it returns ('' when none did)
    descriptors_short: tuple[int, int] | None = None  # RLIMIT_NOFILE too low: (the limit, what it needs)
    error_type: str = ""  # HARNESS_ERROR: the exception's type name
    seconds: float = 0.0
    # filled in by harness.fuzz.evaluate: finding signatures (sorted, unique) and one outcome signature per step
    signatures: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()

    @property
    def ran(self) -> bool:
        return self.observation is not None

    @property
    def skipped(self) -> str:
        """Why nothing was checked ('' when it was, or when it broke: see status)."""
        if self.status in (Status.UNMODELLED, Status.WOULD_BLOCK, Status.UNSUPPORTED):
            return f"{self.status.value}: {self.reason}"
        return ""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """SIGALRM after ``seconds``: a syscall that no step timeout ends is interrupted (main thread only).

    With ``seconds`` 0 the harness keeps no watchdog: SIGALRM belongs to someone else, libFuzzer's
    -timeout under atheris, an interval timer every -timeout/2 + 1 s whose handler has no
    SA_RESTART.  Then SIGALRM is held back in this thread while the scenario runs (its Child
    threads inherit that), and is handled as the scenario ends: a tick that came during a blocking
    step made it fail with EINTR (an atheris finding of a 15-minute campaign, EINTR for the EAGAIN
    of a receive under a 100 ms SO_RCVTIMEO, that no run outside libFuzzer gave again).  A scenario
    that hangs is still found: the campaign's supervisor watches every worker.
    """
    if seconds <= 0:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CaseTimeout(f"no result within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def unexpected_block(
    observation: Observation, expectation: Expectation, blocking_expected: bool, woken: frozenset[int] = frozenset()
) -> str:
    """Why a step that blocked is the harness's timeout ('' when none did out of turn).

    A step in ``woken`` (one a background party should wake: model.woken_steps) that stayed blocked
    is no timeout of the harness: the wake-up did not come, and the checkers report it as a fail.
    """
    for seen, want in zip(observation.steps, expectation.steps, strict=False):
        if seen.index in woken and not want.blocks:
            continue
        if isinstance(seen.outcome, Blocked) and not (want.blocks and blocking_expected):
            oracle = "the oracle expects it to block too" if want.blocks else f"expected {want.outcome.describe()}"
            return f"timeout: step {seen.index} ({seen.op}) {seen.outcome.describe()}; {oracle}"
    return ""


def agrees(scenario: Scenario, observation: Observation, expectation: Expectation, blocking_expected: bool) -> bool:
    """The observation is what ``expectation`` says: no checker finds anything, nothing blocked out of turn."""
    if unexpected_block(observation, expectation, blocking_expected, woken_steps(scenario)):
        return False
    return not check(scenario, observation, expectation)


def evaluate(
    scenario: Scenario,
    platform: Platform,
    config: EvaluationConfig,
    *,
    blocking_expected: bool = False,
    expectation: Expectation | Unmodelled | None = None,
) -> Evaluation:
    """Oracle first (pure and cheap), then the kernel, then every checker.  ``blocking_expected``: the
    scenario is about blocking (a case's variant says so), so a step the oracle expects to wait may.
    ``expectation``: what ``expect(scenario, platform)`` returned already (the oracle is pure: a run
    asks it once per variant for both back ends)."""
    started = time.monotonic()

    def ended(status: Status, reason: str = "", **more: Any) -> Evaluation:
        base = Evaluation(scenario=scenario, status=status, reason=reason)
        return replace(base, seconds=time.monotonic() - started, **more)

    if expectation is None:
        expectation = expect(scenario, platform)
    if isinstance(expectation, Unmodelled):
        return ended(Status.UNMODELLED, expectation.reason)
    if config.skip_blocking and any(step.blocks for step in expectation.steps):
        return ended(Status.WOULD_BLOCK, "the oracle expects a step to wait", expectation=expectation)
    try:
        with watchdog(config.scenario_timeout):  # a fault (test only) may hang or kill, as a kernel could
            observation = execute(scenario, config.backend, config.exec)
            for fault in config.faults:
                observation = inject(fault, scenario, observation)
        findings = [*check(scenario, observation, expectation)]
        for extra in config.extra_checks:
            findings.extend(extra(scenario, observation))
    except DescriptorLimitTooLow as exc:
        short = (exc.limit, exc.required)
        return ended(Status.UNSUPPORTED, str(exc), expectation=expectation, descriptors_short=short)
    except CannotExpress as exc:
        return ended(Status.UNSUPPORTED, str(exc), expectation=expectation)
    except UnknownName as exc:
        return ended(Status.UNSUPPORTED, str(exc), expectation=expectation)
    except CaseTimeout as exc:
        return ended(Status.TIMEOUT, str(exc), expectation=expectation)
    except ChildDied as exc:
        return ended(Status.CRASH, str(exc), expectation=expectation)
    except PROPAGATE:
        raise
    except Exception as exc:  # a harness bug: this scenario's error, the run or campaign goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        reason = f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})"
        return ended(Status.HARNESS_ERROR, reason, expectation=expectation, error_type=type(exc).__name__)
    return ended(
        Status.CHECKED,
        expectation=expectation,
        observation=observation,
        findings=tuple(findings),
        blocked=unexpected_block(observation, expectation, blocking_expected, woken_steps(scenario)),
    )
