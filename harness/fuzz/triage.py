"""Findings the supervisor stores: dead workers' inputs, hangs, and what atheris workers hand over.

The supervisor must not evaluate a scenario that may hang or kill its process in its own process,
so every check here runs in a forked child with a deadline: a child that does not finish is a
hang, a child killed by a signal is a crash, otherwise its evaluation comes back through a pipe.
Atheris workers hand their findings over too (``workers/<n>/pending/``), so that minimising never
runs inside a libFuzzer input, where it would trip libFuzzer's own timeout.  Minimising a hang
costs a deadline per check, so these checks use a short one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from harness.evaluate import Evaluation, Status
from harness.execute.lifetime import call_in_child
from harness.expectation import Expectation
from harness.finding import Finding
from harness.fuzz import findings
from harness.fuzz.evaluate import FuzzConfig, evaluate
from harness.fuzz.minimise import minimise
from harness.model import Scenario
from harness.oracle import expect
from harness.platform import Platform

HANG = "hang/scenario/scenario"


def crash_signature(how: str) -> str:
    return f"crash/{how}/scenario"


def _dead(scenario: Scenario, signature: str, what: str) -> Evaluation:
    checker, field, _ = signature.split("/", 2)
    finding = Finding(checker=checker, step=None, field=field, expected="the scenario completes", observed=what)
    status = Status.TIMEOUT if checker == "hang" else Status.CRASH
    return Evaluation(scenario=scenario, status=status, reason=what, findings=(finding,), signatures=(signature,))


def run_isolated(scenario: Scenario, platform: Platform, config: FuzzConfig, timeout: float) -> Evaluation:
    """``evaluate(scenario)`` in a forked child within ``timeout``; a hang or a crash is a finding."""
    ended = call_in_child(lambda: evaluate(scenario, platform, config), timeout)
    if ended.hang:
        return _dead(scenario, HANG, f"no completion within {timeout:g} s")
    if ended.signal:
        return _dead(scenario, crash_signature(ended.signal), f"killed by {ended.signal}")
    if not isinstance(ended.value, Evaluation):
        return _dead(scenario, crash_signature(f"exit-{ended.exit_status}"), "exited early")
    return ended.value


def store_triaged(
    root: Path,
    signature: str,
    scenario: Scenario,
    platform: Platform,
    config: FuzzConfig,
    *,
    meta: dict[str, object],
    timeout: float = 3.0,
    max_seconds: float = 60.0,
    claimed: bool = False,
    stop: Callable[[], bool] | None = None,
    run_repros: bool = True,
    raw_input: bytes | None = None,
) -> Path | None:
    """Minimise (every check in a child) and store one finding: a hang, a crash, or any other.

    ``raw_input``: the atheris bytes the scenario was decoded from (stored as ``input.bin``).
    """
    if not claimed and not findings.claim(root, signature):
        return None
    if claimed and findings.covered(root, signature):
        findings.release(root, signature)  # handed over with another signature that is stored now
        return None
    first = run_isolated(scenario, platform, config, timeout)
    reproducible = signature in first.signatures
    minimal, final, complete = scenario, first, False
    if reproducible:
        result = minimise(
            scenario,
            lambda s: signature in run_isolated(s, platform, config, timeout).signatures,
            max_seconds=max_seconds,
            stop=stop,
        )
        minimal, complete = result.scenario, result.complete
        final = first if minimal is scenario else run_isolated(minimal, platform, config, timeout)
    if final.expectation is None:
        expectation = expect(minimal, platform)
        final = replace(final, expectation=expectation if isinstance(expectation, Expectation) else None)
    info = {
        **meta,
        "reproducible_in_harness": reproducible,
        "steps_before_minimising": len(scenario.steps),
        "minimised": complete,
    }
    return findings.store_finding(
        root, signature, final, platform, meta=info, run_repros=run_repros, raw_input=raw_input
    )
