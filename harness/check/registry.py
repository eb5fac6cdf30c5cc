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
    outcome checker reports a difference in their number.

    Every checker walks the same pairs of one check(): they are made once per (observation,
    expectation), both immutable, and the last ones kept."""
    global _last_pairs
    last = _last_pairs
    if last is not None and last[0] is observation and last[1] is expectation:
        return iter(last[2])
    made = tuple(_pairs(observation, expectation))
    _last_pairs = (observation, expectation, made)
    return iter(made)


_last_pairs: tuple[Observation, Expectation, tuple[tuple[StepObservation, StepExpectation, str], ...]] | None = None


def _pairs(
    observation: Observation, expectation: Expectation
) -> Iterator[tuple[StepObservation, StepExpectation, str]]:
    for seen, want in zip(observation.steps, expectation.steps, strict=False):
        yield seen, want, ""
        if seen.nested:
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
