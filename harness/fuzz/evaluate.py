"""One fuzzing example: oracle first (pure and cheap), then the kernel, then checkers and invariants.

The same property as the conformance run (:func:`harness.runner.run_variant`), but it keeps the
observation (for outcome signatures and ``observed.json``) and it never spends time on what
cannot teach anything: a scenario the oracle does not model, or one whose expectation has a
blocking step (each would cost the executor's whole step timeout), is skipped before it runs.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from harness.check import check
from harness.execute import faults
from harness.execute.backend import CannotExpress, ExecConfig
from harness.execute.lifetime import call_in_child
from harness.execute.run import execute
from harness.expectation import Expectation, Unmodelled
from harness.finding import Finding
from harness.fuzz.invariants import invariants
from harness.fuzz.signature import finding_signature, outcome_signatures
from harness.model import FdKind, Scenario
from harness.native.constants import UnknownName
from harness.observation import Observation
from harness.oracle import expect
from harness.platform import Platform
from harness.runner import CaseTimeout, watchdog


@dataclass(frozen=True, slots=True)
class FuzzConfig:
    backend: str = "raw"  # the back end that can express every scenario
    fault: str | None = None  # test-only: harness.execute.faults
    exec: ExecConfig = field(default_factory=ExecConfig)
    # SIGALRM watchdog for one scenario (0: none, e.g. under atheris, whose -timeout owns SIGALRM).
    scenario_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    scenario: Scenario
    skipped: str = ""  # why nothing was checked: unmodelled, blocking, cannot express ...
    expectation: Expectation | None = None
    observation: Observation | None = None
    findings: tuple[Finding, ...] = ()
    signatures: tuple[str, ...] = ()  # finding signatures, sorted, no duplicates
    outcomes: tuple[str, ...] = ()  # outcome signatures, one per step

    @property
    def ran(self) -> bool:
        return not self.skipped


# Measured on 6.18.44: once a task has closed an io_uring instance, the ring's teardown can later
# interrupt a sleeping recvmsg of that task (SO_RCVTIMEO set) with EINTR although no signal was
# sent, so one scenario with an io_uring fd changes the verdict of a later one in the same process.
# Such scenarios run in a forked child, where the teardown reaches no later scenario.
_SELF_CONTAINED = frozenset({FdKind.IO_URING})


def evaluate(scenario: Scenario, platform: Platform, config: FuzzConfig) -> Evaluation:
    """Check ``scenario`` against the oracle; a harness exception is a finding, not a crash."""
    if any(spec.kind in _SELF_CONTAINED for spec in scenario.fds):
        timeout = max(config.scenario_timeout, 5.0) + 5.0
        ended = call_in_child(lambda: _evaluate(scenario, platform, config), timeout)
        if isinstance(ended.value, Evaluation):
            return ended.value
        how = f"no completion within {timeout:g} s" if ended.hang else f"its process died ({ended.signal})"
        checker, signature = ("hang", "hang/scenario/scenario") if ended.hang else ("crash", "crash/child/scenario")
        finding = Finding(checker=checker, step=None, field="scenario", expected="completion", observed=how)
        return Evaluation(scenario, findings=(finding,), signatures=(signature,))
    return _evaluate(scenario, platform, config)


def _evaluate(scenario: Scenario, platform: Platform, config: FuzzConfig) -> Evaluation:
    expectation = expect(scenario, platform)
    if isinstance(expectation, Unmodelled):
        return Evaluation(scenario, skipped=f"unmodelled: {expectation.reason}")
    if any(step.blocks for step in expectation.steps):
        return Evaluation(scenario, skipped="blocking: the oracle expects a step to wait", expectation=expectation)
    try:
        with watchdog(config.scenario_timeout):
            observation = execute(scenario, config.backend, config.exec)
            observation = faults.inject(config.fault, scenario, observation)
    except (CannotExpress, UnknownName) as exc:
        return Evaluation(scenario, skipped=f"cannot run: {exc}", expectation=expectation)
    except CaseTimeout as exc:
        hang = Finding(
            checker="hang",
            step=None,
            field="scenario",
            expected=f"completion within {config.scenario_timeout:g} s",
            observed=str(exc),
        )
        return Evaluation(scenario, expectation=expectation, findings=(hang,), signatures=("hang/scenario/scenario",))
    except Exception as exc:  # a harness bug: recorded as a finding so the campaign goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        error = Finding(
            checker="harness-error",
            step=None,
            field=type(exc).__name__,
            expected="no exception",
            observed=f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})",
        )
        return Evaluation(
            scenario,
            expectation=expectation,
            findings=(error,),
            signatures=(f"harness-error/{type(exc).__name__}/scenario",),
        )
    findings = (*check(scenario, observation, expectation), *invariants(scenario, observation))
    signatures = tuple(sorted({finding_signature(f, observation) for f in findings}))
    return Evaluation(
        scenario,
        expectation=expectation,
        observation=observation,
        findings=findings,
        signatures=signatures,
        outcomes=outcome_signatures(scenario, observation),
    )
