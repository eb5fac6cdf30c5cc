"""Every checker passes a conforming observation and reports each kind of deviation (pure, no kernel)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from harness.catalogue.build import FDS_SPACE, FILE, FILE2, SPACE, passcred, recv, scenario, send
from harness.check import CHECKERS, Finding, check
from harness.expectation import Expectation
from harness.model import GetSockOpt, PairKind, Poll, SockType
from harness.observation import Failed, Observation, ReceivedFd, Returned, StepObservation
from harness.oracle import expect
from harness.platform import Platform
from tests.observe import conforming

PLATFORM = Platform(
    system="linux",
    release="6.18.44",
    arch="x86_64",
    sndbuf={"SOCK_STREAM": 212992, "SOCK_DGRAM": 212992, "SOCK_SEQPACKET": 212992},
    limits={"optmem_max": 131072},
)
KIND = PairKind(SockType.DGRAM)
SCENARIO = scenario(
    KIND,
    passcred(),
    send(b"hello", fds=["f", "g"], creds=True),
    recv(buffers=(3, 8), control=SPACE(12) + FDS_SPACE(2)),
    send(b"bye", on="b"),
    Poll(on="a"),
    GetSockOpt(on="a", option="SO_PEERCRED"),
    fds=(FILE, FILE2),
)


def expectation() -> Expectation:
    result = expect(SCENARIO, PLATFORM)
    assert isinstance(result, Expectation), result
    return result


def deviate_step(obs: Observation, index: int, **changes: object) -> Observation:
    steps = list(obs.steps)
    steps[index] = dataclasses.replace(steps[index], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(obs, steps=tuple(steps))


def deviate_fd(obs: Observation, **changes: object) -> Observation:
    step = obs.steps[2]
    cmsg = step.cmsgs[1]
    fds = (dataclasses.replace(cmsg.fds[0], **changes), *cmsg.fds[1:])  # type: ignore[arg-type]
    return deviate_step(obs, 2, cmsgs=(step.cmsgs[0], dataclasses.replace(cmsg, fds=fds)))


def test_the_expectation_is_what_linux_documents() -> None:
    recv_step = expectation().steps[2]
    assert recv_step.outcome == Returned(5)
    assert recv_step.buffers == (b"hel", b"lo" + b"\xa5" * 6)
    assert [c.type for c in recv_step.cmsgs] == ["SCM_CREDENTIALS", "SCM_RIGHTS"]
    assert [f.name for f in recv_step.cmsgs[1].fds] == ["f", "g"]
    assert recv_step.msg_flags == frozenset()


def test_state_expectations_are_filled() -> None:
    steps = expectation().steps
    assert steps[4].events == frozenset({"POLLIN", "POLLOUT"})
    assert steps[5].peercred == ("pid", "uid", "gid")


def test_a_conforming_observation_has_no_findings() -> None:
    exp = expectation()
    assert check(SCENARIO, conforming(exp), exp) == []


Deviation = Callable[[Observation], Observation]
FD_SWAP = ReceivedFd(
    number=101,
    valid=True,
    same_inode_as=("g",),
    same_file_as="g",
    identity="kcmp",
    file_type="regular",
    cloexec=False,
    status_flags=frozenset({"O_RDWR"}),
    offset_shared=True,
    flags_shared=True,
)

DEVIATIONS: dict[str, list[tuple[str, Deviation]]] = {
    "outcome": [
        ("wrong errno", lambda o: deviate_step(o, 1, outcome=Failed("EINVAL"))),
        ("wrong length", lambda o: deviate_step(o, 3, outcome=Returned(2))),
        ("missing step", lambda o: dataclasses.replace(o, steps=o.steps[:-1])),
    ],
    "bytes": [
        ("lost byte", lambda o: deviate_step(o, 2, data=b"hell")),
        ("scatter order", lambda o: deviate_step(o, 2, buffers=(b"lo\xa5", b"hel\xa5\xa5\xa5\xa5\xa5"))),
        ("write past the data", lambda o: deviate_step(o, 2, buffers=(b"hel", b"lo\x00\xa5\xa5\xa5\xa5\xa5"))),
    ],
    "msg-flags": [
        ("MSG_TRUNC dropped or added", lambda o: deviate_step(o, 2, msg_flags=frozenset({"MSG_TRUNC"}))),
        ("unknown bit", lambda o: deviate_step(o, 2, msg_flags=frozenset({"0x800000"}))),
    ],
    "cmsgs": [
        ("controllen", lambda o: deviate_step(o, 2, controllen=40)),
        ("order", lambda o: deviate_step(o, 2, cmsgs=o.steps[2].cmsgs[::-1])),
        ("missing cmsg", lambda o: deviate_step(o, 2, cmsgs=o.steps[2].cmsgs[1:])),
        ("stray bytes", lambda o: deviate_step(o, 2, control_stray=4)),
        (
            "forged credentials",
            lambda o: deviate_step(
                o,
                2,
                cmsgs=(
                    dataclasses.replace(o.steps[2].cmsgs[0], data=b"\x01\x00\x00\x00" + bytes(8)),
                    o.steps[2].cmsgs[1],
                ),
            ),
        ),
    ],
    "fd-identity": [
        ("swapped fds", lambda o: deviate_fd(o, same_inode_as=("g",), same_file_as="g")),
        ("same inode other description", lambda o: deviate_fd(o, same_file_as=None)),
        ("not open", lambda o: deviate_fd(o, valid=False)),
        ("cloexec", lambda o: deviate_fd(o, cloexec=True)),
        ("offset not shared", lambda o: deviate_fd(o, offset_shared=False)),
        ("flags not shared", lambda o: deviate_fd(o, flags_shared=False)),
        ("status flags", lambda o: deviate_fd(o, status_flags=frozenset({"O_RDONLY"}))),
        ("file type", lambda o: deviate_fd(o, file_type="fifo")),
        (
            "one fd missing",
            lambda o: deviate_step(
                o, 2, cmsgs=(o.steps[2].cmsgs[0], dataclasses.replace(o.steps[2].cmsgs[1], fds=(FD_SWAP,)))
            ),
        ),
    ],
    "fd-leaks": [
        ("unreported fd", lambda o: deviate_step(o, 2, unreported_fds=("9 -> /tmp/x",))),
        ("leaked after the scenario", lambda o: dataclasses.replace(o, leaked_fds=("9 -> socket:[1]",))),
    ],
    "signals": [
        ("unexpected SIGPIPE", lambda o: deviate_step(o, 3, signals=("SIGPIPE",))),
    ],
    "socket-state": [
        ("revents", lambda o: deviate_step(o, 4, events=frozenset({"POLLOUT"}))),
        (
            "a revents bit nobody asked for",
            lambda o: deviate_step(o, 4, events=frozenset({"POLLIN", "POLLOUT", "0x400"})),
        ),
        ("SO_PEERCRED", lambda o: deviate_step(o, 5, peercred=(1, 0, 0))),
    ],
}


def test_every_registered_checker_has_deviations() -> None:
    assert set(DEVIATIONS) == set(CHECKERS)


@pytest.mark.parametrize(
    ("name", "deviate"),
    [pytest.param(name, fn, id=f"{name}: {label}") for name, cases in DEVIATIONS.items() for label, fn in cases],
)
def test_checker_reports_the_deviation(name: str, deviate: Deviation) -> None:
    exp = expectation()
    observation = deviate(conforming(exp))
    findings = list(CHECKERS[name](SCENARIO, observation, exp))
    assert findings, f"{name} did not notice"
    assert all(isinstance(f, Finding) and f.checker == name for f in findings)
    assert all(f.expected != f.observed for f in findings)


def test_unobservable_fields_are_not_judged() -> None:
    exp = expectation()
    obs = deviate_step(conforming(exp, backend="pysock"), 2, buffers=None, msg_flags=None, controllen=None)
    assert check(SCENARIO, obs, exp) == []


def test_pysock_style_observation_without_buffers_still_checks_data() -> None:
    exp = expectation()
    obs = deviate_step(conforming(exp), 2, buffers=None, data=b"hellx")
    assert [f.checker for f in check(SCENARIO, obs, exp)] == ["bytes"]


def test_finding_describes_itself() -> None:
    f = Finding(checker="bytes", step=2, field="data", expected="b'a'", observed="b'b'")
    assert f.describe() == "[bytes step 2] data: expected b'a', observed b'b'"
    labelled = Finding(checker="bytes", variant="peek", step=None, field="data", expected="1", observed="2")
    assert labelled.describe() == "[bytes peek] data: expected 1, observed 2"
    assert isinstance(StepObservation, type)
