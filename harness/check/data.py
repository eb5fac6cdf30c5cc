"""Bytes and boundaries: what the call reported, and every byte of every receive buffer."""

from __future__ import annotations

from collections.abc import Iterator

from harness.check.registry import checker, pairs, words
from harness.expectation import Expectation
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import Observation


@checker("bytes")
def bytes_match(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    for seen, want, at in pairs(observation, expectation):
        # recvmany: buffers are each message's first msg_len bytes; sendmany: data is each sent
        # message's first msg_len bytes
        if seen.op not in ("recv", "recvmany", "sendmany"):
            continue
        if seen.data != want.data:
            yield Finding(
                checker="bytes",
                step=seen.index,
                field=at + "data",
                expected=words(want.data),
                observed=words(seen.data),
            )
        if seen.buffers is None or want.buffers is None:
            continue  # this back end cannot see past the returned bytes
        if len(seen.buffers) != len(want.buffers):
            yield Finding(
                checker="bytes",
                step=seen.index,
                field=at + "buffers",
                expected=f"{len(want.buffers)} buffers",
                observed=f"{len(seen.buffers)} buffers",
            )
            continue
        for i, (got, exp) in enumerate(zip(seen.buffers, want.buffers, strict=True)):
            if got != exp:
                first = next(
                    (j for j, (g, e) in enumerate(zip(got, exp, strict=False)) if g != e), min(len(got), len(exp))
                )
                yield Finding(
                    checker="bytes",
                    step=seen.index,
                    field=at + f"buffers[{i}]",
                    expected=words(exp),
                    observed=f"{words(got)} (first difference at byte {first})",
                )
