"""One fuzzing example: the evaluation pipeline (harness.evaluate) plus what a campaign keeps of it.

A fuzzer never spends time on what cannot teach anything: a scenario the oracle does not model, or
one whose expectation has a blocking step (each would cost the executor's whole step timeout), is
skipped before it runs.  What breaks is a finding, not a crash of the campaign: a scenario past its
watchdog is a ``hang``, a child that died a ``crash``, a harness exception a ``harness-error``.
Every evaluation that ran gets its signatures (harness.fuzz.signature).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

from harness.evaluate import Evaluation, EvaluationConfig, Status
from harness.evaluate import evaluate as evaluate_scenario
from harness.execute.backend import ExecConfig
from harness.finding import Finding
from harness.fuzz.invariants import invariants
from harness.fuzz.signature import finding_signature, outcome_signatures
from harness.model import Scenario
from harness.platform import Platform


@dataclass(frozen=True, slots=True)
class FuzzConfig:
    backend: str = "raw"  # the back end that can express every scenario
    fault: str | None = None  # test-only: harness.execute.faults
    exec: ExecConfig = field(default_factory=ExecConfig)
    # SIGALRM watchdog for one scenario (0: none, e.g. under atheris, whose -timeout owns SIGALRM).
    scenario_timeout: float = 5.0

    def evaluation(self) -> EvaluationConfig:
        """The pipeline's configuration: made once per FuzzConfig (both are frozen), not per example."""
        return _evaluation_config(self)


@cache
def _evaluation_config(config: FuzzConfig) -> EvaluationConfig:
    return EvaluationConfig(
        backend=config.backend,
        exec=config.exec,
        scenario_timeout=config.scenario_timeout,
        faults=() if config.fault is None else (config.fault,),
        skip_blocking=True,
        extra_checks=(invariants,),
    )


_BROKEN = {Status.TIMEOUT: "hang", Status.CRASH: "crash", Status.HARNESS_ERROR: "harness-error"}


def evaluate(scenario: Scenario, platform: Platform, config: FuzzConfig) -> Evaluation:
    """Check ``scenario`` against the oracle; what breaks is a finding with its signature."""
    evaluation = evaluate_scenario(scenario, platform, config.evaluation())
    checker = _BROKEN.get(evaluation.status)
    if checker is not None:
        field_name = evaluation.error_type or "scenario"
        expected = "no exception" if evaluation.error_type else "completion"
        broken = Finding(checker=checker, step=None, field=field_name, expected=expected, observed=evaluation.reason)
        return replace(evaluation, findings=(broken,), signatures=(f"{checker}/{field_name}/scenario",))
    if evaluation.observation is None:
        return evaluation
    signatures = tuple(sorted({finding_signature(f, evaluation.observation) for f in evaluation.findings}))
    return replace(evaluation, signatures=signatures, outcomes=outcome_signatures(scenario, evaluation.observation))
