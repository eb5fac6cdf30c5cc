"""The return value or errno of every step, and that every step ran."""

from __future__ import annotations

from collections.abc import Iterator

from harness.check.registry import checker, pairs
from harness.expectation import Expectation
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import Observation, Returned


@checker("outcome")
def outcomes_match(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    if len(observation.steps) != len(expectation.steps):
        yield Finding(
            checker="outcome",
            step=None,
            field="steps",
            expected=f"{len(expectation.steps)} steps",
            observed=f"{len(observation.steps)} steps",
        )
    for seen, want, at in pairs(observation, expectation):
        if len(seen.nested) != len(want.nested):
            yield Finding(
                checker="outcome",
                step=seen.index,
                field=at + "child steps",
                expected=f"{len(want.nested)} steps",
                observed=f"{len(seen.nested)} steps",
            )
        if want.value_range is not None:
            lo, hi = want.value_range
            if not (isinstance(seen.outcome, Returned) and lo <= seen.outcome.value <= hi):
                yield Finding(
                    checker="outcome",
                    step=seen.index,
                    field=at + "outcome",
                    expected=f"returned a value within {lo}..{hi}",
                    observed=seen.outcome.describe(),
                )
            continue
        if seen.outcome != want.outcome and seen.outcome not in want.also:
            allowed = " or ".join(o.describe() for o in (want.outcome, *want.also))
            yield Finding(
                checker="outcome",
                step=seen.index,
                field=at + "outcome",
                expected=allowed,
                observed=seen.outcome.describe(),
            )
