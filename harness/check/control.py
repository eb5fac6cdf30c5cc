"""The control messages: their list (level, type, cmsg_len), credentials, msg_controllen, stray writes."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from harness.check.registry import Finding, checker, pairs, words
from harness.expectation import CredExpect, Expectation, ExpectedCmsg
from harness.model import Scenario
from harness.observation import Observation, ObservedCmsg, ProcessContext


def _shape(cmsgs: tuple[ObservedCmsg, ...] | tuple[ExpectedCmsg, ...]) -> str:
    return "[" + ", ".join(f"{c.level}/{c.type} len {c.length}" for c in cmsgs) + "]"


def resolve_creds(creds: tuple[CredExpect, CredExpect, CredExpect], context: ProcessContext) -> tuple[int, int, int]:
    symbols = {"pid": context.pid, "uid": context.uid, "gid": context.gid}
    pid, uid, gid = (symbols[v] if isinstance(v, str) else v for v in creds)
    return pid, uid, gid


@checker("cmsgs")
def cmsgs_match(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    for seen, want in pairs(observation, expectation):
        if seen.op != "recv":
            continue
        if seen.controllen is not None and want.controllen is not None and seen.controllen != want.controllen:
            yield Finding(
                checker="cmsgs",
                step=seen.index,
                field="msg_controllen",
                expected=str(want.controllen),
                observed=str(seen.controllen),
            )
        if seen.control_stray is not None and seen.control_stray != want.control_stray:
            yield Finding(
                checker="cmsgs",
                step=seen.index,
                field="control buffer",
                expected=f"{want.control_stray} bytes written outside the reported control messages",
                observed=f"{seen.control_stray} bytes changed outside them",
            )
        shape_seen = [(c.level, c.type, c.length) for c in seen.cmsgs]
        shape_want = [(c.level, c.type, c.length) for c in want.cmsgs]
        if shape_seen != shape_want:
            yield Finding(
                checker="cmsgs",
                step=seen.index,
                field="cmsgs",
                expected=_shape(want.cmsgs),
                observed=_shape(seen.cmsgs),
            )
            continue
        for i, (got, exp) in enumerate(zip(seen.cmsgs, want.cmsgs, strict=True)):
            if exp.creds is None:
                continue
            packed = struct.pack("=iII", *resolve_creds(exp.creds, observation.context))
            visible = packed[: len(got.data)]
            if got.data[:12] != visible:
                yield Finding(
                    checker="cmsgs",
                    step=seen.index,
                    field=f"cmsgs[{i}] credentials",
                    expected=f"{resolve_creds(exp.creds, observation.context)} ({words(visible)})",
                    observed=f"{got.creds} ({words(got.data[:12])})",
                )
