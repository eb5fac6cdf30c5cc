"""The state machine and the ``scenarios()`` property against the real kernel (ci profile: bounded, derandomised).

Both fail on any disagreement with the oracle or any broken invariant; a failure here is a
finding, to be fixed in the oracle, the executor or the kernel, never by loosening the test.
"""

from __future__ import annotations

import unittest

from hypothesis import given, settings

from harness.fuzz.evaluate import FuzzConfig, evaluate
from harness.fuzz.stateful import PairMachine
from harness.generate.strategies import scenarios
from harness.model import Scenario
from harness.platform import Platform

TestPairMachine: type[unittest.TestCase] = PairMachine.TestCase
# Hypothesis reads the run's settings from this attribute (it is not in TestCase's type).
TestPairMachine.settings = settings(settings.default, max_examples=25, stateful_step_count=8)  # type: ignore[attr-defined]


@given(scenario=scenarios(max_steps=6))
def test_scenarios_agree_with_the_oracle_and_the_invariants(scenario: Scenario, platform: Platform) -> None:
    evaluation = evaluate(scenario, platform, FuzzConfig())
    assert not evaluation.findings, "\n".join(f.describe() for f in evaluation.findings)
