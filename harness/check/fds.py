"""fd identity (every received fd is the file that was sent, in order, with the right flags) and fd leaks."""

from __future__ import annotations

from collections.abc import Iterator

from harness.check.registry import checker, pairs, words
from harness.expectation import Expectation, ExpectedFd
from harness.finding import Finding
from harness.model import Scenario
from harness.observation import KNOWN_LIMITS, Observation, ReceivedFd


def _identity_findings(got: ReceivedFd, exp: ExpectedFd, cloexec: bool) -> Iterator[tuple[str, str, str]]:
    """(field, expected, observed) for one received descriptor."""
    if not got.valid:
        yield "", f"an open descriptor for {exp.name!r}", f"{got.number} is not an open descriptor"
        return
    if exp.name not in got.same_inode_as:
        yield (
            "",
            f"the file of {exp.name!r}",
            f"another file (same inode as {list(got.same_inode_as) or 'nothing known'})",
        )
        return
    yield from _description_findings(got, exp)
    if got.file_type != exp.file_type:
        yield ".type", exp.file_type, got.file_type
    if got.status_flags != exp.status_flags:
        yield ".status_flags", words(exp.status_flags), words(got.status_flags)
    if got.offset_shared is False:
        yield ".offset", "shared with the sent fd", "not shared"
    if got.flags_shared is False:
        yield ".status_flags", "shared with the sent fd (F_SETFL)", "not shared"
    if got.cloexec != cloexec:
        yield ".FD_CLOEXEC", str(cloexec), str(got.cloexec)


def _description_findings(got: ReceivedFd, exp: ExpectedFd) -> Iterator[tuple[str, str, str]]:
    """The same open file description, whatever method decided it (ReceivedFd.identity).

    An entry left undecided passes only for the limits every platform has (no live descriptor
    to compare with, an O_PATH fd without kcmp), and the result's observed text says it was not
    decided (harness.describe); undecided for any other reason (a probe that failed) is a finding.
    """
    if got.same_file_as == exp.name:
        return
    if exp.name in got.undecided_as:
        if got.identity_note not in KNOWN_LIMITS:
            yield ".identity", f"the open file description of {exp.name!r} decided", f"undecided: {got.identity_note}"
        return
    yield (
        "",
        f"the open file description of {exp.name!r} ({got.identity})",
        f"same inode, other description ({got.same_file_as or 'none of the scenario'})",
    )


@checker("fd-identity")
def received_fds_are_the_sent_files(
    scenario: Scenario, observation: Observation, expectation: Expectation
) -> Iterator[Finding]:
    for seen, want, at in pairs(observation, expectation):
        if seen.op != "recv" or len(seen.cmsgs) != len(want.cmsgs):
            continue  # a different cmsg list is the cmsgs checker's finding
        for i, (got_cmsg, exp_cmsg) in enumerate(zip(seen.cmsgs, want.cmsgs, strict=True)):
            if exp_cmsg.pidfd is not None or (not exp_cmsg.fds and not got_cmsg.fds):
                continue  # SCM_PIDFD: the cmsgs checker compares the process it refers to
            if len(got_cmsg.fds) != len(exp_cmsg.fds):
                yield Finding(
                    checker="fd-identity",
                    step=seen.index,
                    field=at + f"cmsgs[{i}].fds",
                    expected=f"{len(exp_cmsg.fds)} fds {[f.name for f in exp_cmsg.fds]}",
                    observed=f"{len(got_cmsg.fds)} fds",
                )
                continue
            for j, (got, exp) in enumerate(zip(got_cmsg.fds, exp_cmsg.fds, strict=True)):
                for suffix, expected, observed in _identity_findings(got, exp, want.cloexec):
                    yield Finding(
                        checker="fd-identity",
                        step=seen.index,
                        field=at + f"cmsgs[{i}].fds[{j}]{suffix}",
                        expected=expected,
                        observed=observed,
                    )


@checker("fd-leaks")
def no_fd_appears_or_stays(scenario: Scenario, observation: Observation, expectation: Expectation) -> Iterator[Finding]:
    for seen, _, at in pairs(observation, expectation):
        if seen.unreported_fds:
            yield Finding(
                checker="fd-leaks",
                step=seen.index,
                field=at + "fd table",
                expected="only the fds reported in control messages are installed",
                observed=f"also installed: {', '.join(seen.unreported_fds)}",
            )
    if observation.leaked_fds:
        yield Finding(
            checker="fd-leaks",
            step=None,
            field="fd table",
            expected="every descriptor closed after the scenario",
            observed=f"still open: {', '.join(observation.leaked_fds)}",
        )
