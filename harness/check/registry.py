"""The checker registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from harness.expectation import CredExpect, Expectation, StepExpectation
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import Observation, StepObservation

Checker = Callable[[Scenario, Observation, Expectation], Iterable[Finding]]
CHECKERS: dict[str, Checker] = {}


def checker(name: str) -> Callable[[Checker], Checker]:
    def register(fn: Checker) -> Checker:
        if name in CHECKERS:
            raise ValueError(f"checker {name!r} registered twice")
        CHECKERS[name] = fn
        return fn

    return register


def pairs(observation: Observation, expectation: Expectation) -> Iterator[tuple[StepObservation, StepExpectation, str]]:
    """Steps side by side, a child's steps after their Child step, with a field prefix for those
    (``"child.steps[1]."``) and the Child step's index (a finding names the scenario's step); the
    outcome checker reports a difference in their number."""
    for seen, want in zip(observation.steps, expectation.steps, strict=False):
        yield seen, want, ""
        for i, (inner_seen, inner_want) in enumerate(zip(seen.nested, want.nested, strict=False)):
            yield replace(inner_seen, index=seen.index), inner_want, f"child.steps[{i}]."


def resolve(value: CredExpect, observation: Observation) -> int:
    """A symbolic id ("pid", "child0.uid") as the number the scenario's processes had."""
    if isinstance(value, int):
        return value
    owner, _, attr = value.rpartition(".")
    context = observation.context if not owner else observation.children[int(owner.removeprefix("child"))]
    return int(getattr(context, attr))


def check(scenario: Scenario, observation: Observation, expectation: Expectation) -> list[Finding]:
    found: list[Finding] = []
    for fn in CHECKERS.values():
        found.extend(fn(scenario, observation, expectation))
    return found


def words(value: object) -> str:
    """A value in a report: byte strings shown as Python literals, flag sets as sorted names."""
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, bytes):
        return repr(value) if len(value) <= 64 else f"{value[:60]!r}... ({len(value)} bytes)"
    return str(value)
