"""Signals raised by each step (SIGPIPE, SIGURG)."""

from __future__ import annotations

from collections.abc import Iterator

from harness.check.registry import checker, pairs, words
from harness.expectation import Expectation
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import Observation


@checker("signals")
def signals_match(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    for seen, want, at in pairs(observation, expectation):
        if seen.signals != want.signals and set(seen.signals) != set(want.signals):
            yield Finding(
                checker="signals",
                step=seen.index,
                field=at + "signals",
                expected=words(frozenset(want.signals)),
                observed=words(frozenset(seen.signals)),
            )
