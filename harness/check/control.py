"""The control messages: their list (level, type, cmsg_len), credentials, msg_controllen, stray writes."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from harness.check.registry import checker, pairs, resolve, words
from harness.expectation import CredExpect, Expectation, ExpectedCmsg
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import Observation, ObservedCmsg


def _pidfd_words(error: int | None, pidfds: list[tuple[str, int | None, bool]]) -> str:
    """An SCM_PIDFD's payload: 'data -22 (no pidfd)' or '(type, pid, FD_CLOEXEC) [...]'."""
    if error is not None:
        return f"data {error} (no pidfd)"
    return f"(type, pid, FD_CLOEXEC) {pidfds}"


def _shape(cmsgs: tuple[ObservedCmsg, ...] | tuple[ExpectedCmsg, ...]) -> str:
    return "[" + ", ".join(f"{c.level}/{c.type} len {c.length}" for c in cmsgs) + "]"


def resolve_creds(creds: tuple[CredExpect, CredExpect, CredExpect], observation: Observation) -> tuple[int, int, int]:
    pid, uid, gid = (resolve(v, observation) for v in creds)
    return pid, uid, gid


@checker("cmsgs")
def cmsgs_match(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    for seen, want, at in pairs(observation, expectation):
        if seen.op != "recv":
            continue
        if seen.controllen is not None and want.controllen is not None and seen.controllen != want.controllen:
            yield Finding(
                checker="cmsgs",
                step=seen.index,
                field=at + "msg_controllen",
                expected=str(want.controllen),
                observed=str(seen.controllen),
            )
        if seen.control_stray is not None and seen.control_stray != want.control_stray:
            yield Finding(
                checker="cmsgs",
                step=seen.index,
                field=at + "control buffer",
                expected=f"{want.control_stray} bytes written outside the reported control messages",
                observed=f"{seen.control_stray} bytes changed outside them",
            )
        shape_seen = [(c.level, c.type, c.length) for c in seen.cmsgs]
        shape_want = [(c.level, c.type, c.length) for c in want.cmsgs]
        if shape_seen != shape_want:
            yield Finding(
                checker="cmsgs",
                step=seen.index,
                field=at + "cmsgs",
                expected=_shape(want.cmsgs),
                observed=_shape(seen.cmsgs),
            )
            continue
        for i, (got, exp) in enumerate(zip(seen.cmsgs, want.cmsgs, strict=True)):
            if exp.pidfd is not None or exp.pidfd_error is not None:
                # a pidfd is always O_CLOEXEC (pidfd_prepare), whatever MSG_CMSG_CLOEXEC says
                seen_pidfd = _pidfd_words(got.pidfd_error, [(fd.file_type, fd.pid, fd.cloexec) for fd in got.fds])
                wanted = _pidfd_words(
                    exp.pidfd_error, [] if exp.pidfd is None else [("pidfd", resolve(exp.pidfd, observation), True)]
                )
                if seen_pidfd != wanted:
                    yield Finding(
                        checker="cmsgs",
                        step=seen.index,
                        field=at + f"cmsgs[{i}] pidfd",
                        expected=wanted,
                        observed=seen_pidfd,
                    )
            if exp.inq is not None and got.data[:4] != struct.pack("=i", exp.inq)[: len(got.data)]:  # maybe cut
                yield Finding(
                    checker="cmsgs",
                    step=seen.index,
                    field=at + f"cmsgs[{i}] SCM_INQ",
                    expected=str(exp.inq),
                    observed=words(got.data[:4]),
                )
            if exp.creds is None:
                continue
            packed = struct.pack("=iII", *resolve_creds(exp.creds, observation))
            visible = packed[: len(got.data)]
            if got.data[:12] != visible:
                yield Finding(
                    checker="cmsgs",
                    step=seen.index,
                    field=at + f"cmsgs[{i}] credentials",
                    expected=f"{resolve_creds(exp.creds, observation)} ({words(visible)})",
                    observed=f"{got.creds} ({words(got.data[:12])})",
                )
