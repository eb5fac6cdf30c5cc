"""Socket state read back by a step: poll revents, SO_PEERCRED, SO_PEERPIDFD."""

from __future__ import annotations

from collections.abc import Iterator

from harness.check.registry import checker, pairs, resolve, words
from harness.expectation import Expectation
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import Observation


@checker("socket-state")
def socket_state_matches(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    for seen, want, at in pairs(observation, expectation):
        if want.events is not None and seen.events != want.events:
            yield Finding(
                checker="socket-state",
                step=seen.index,
                field=at + "revents",
                expected=words(want.events),
                observed=words(seen.events) if seen.events is not None else "nothing",
            )
        if want.address is not None and seen.address is not None and seen.address != want.address:
            yield Finding(
                checker="socket-state",
                step=seen.index,
                field=at + ("msg_name" if seen.op == "recv" else "address"),
                expected=want.address,
                observed=seen.address,
            )
        if want.peercred is not None:
            expected = tuple(resolve(v, observation) for v in want.peercred)
            if seen.peercred != expected:
                yield Finding(
                    checker="socket-state",
                    step=seen.index,
                    field=at + "SO_PEERCRED",
                    expected=str(expected),
                    observed=str(seen.peercred),
                )
        if want.peer_pid is not None and seen.peer_pid != resolve(want.peer_pid, observation):
            yield Finding(
                checker="socket-state",
                step=seen.index,
                field=at + "SO_PEERPIDFD",
                expected=f"a pidfd of pid {resolve(want.peer_pid, observation)}",
                observed=f"a pidfd of pid {seen.peer_pid}",
            )
