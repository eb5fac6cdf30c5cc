"""msg_flags after every receive, all bits (unknown bits appear as hex)."""

from __future__ import annotations

from collections.abc import Iterator

from harness.check.registry import checker, pairs, words
from harness.expectation import Expectation
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import Observation


@checker("msg-flags")
def msg_flags_match(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    for seen, want, at in pairs(observation, expectation):
        if seen.op != "recv" or seen.msg_flags is None or want.msg_flags is None:
            continue  # msg_flags only exist for recvmsg; None: not visible through this back end
        if seen.msg_flags != want.msg_flags:
            yield Finding(
                checker="msg-flags",
                step=seen.index,
                field=at + "msg_flags",
                expected=words(want.msg_flags),
                observed=words(seen.msg_flags),
            )
