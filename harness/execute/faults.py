"""Test-only fault injection: deviations planted in an Observation, to prove the fuzzers find them.

The oracle and the checkers are only as good as the deviations they catch.  Each fault here
rewrites a frozen :class:`~harness.observation.Observation` (with :func:`dataclasses.replace`) the
way a buggy kernel or language runtime would have produced it, so the test suite can show that
each class of deviation is found by each fuzzing engine within a bounded number of examples and
shrinks to a small scenario.  Nothing outside tests and ``scm-harness fuzz --inject-fault`` (a
hidden, test-only option) uses this module.

Two faults are not about observations but about the campaign itself: ``hang-on-listen`` sleeps
and ``killed-on-reopen`` kills the process, so that the campaign's per-scenario timeout and its
worker supervision can be tested (a hang or a dead worker is a finding, never a stuck campaign).

A fault applies to *every* step it can apply to, so that it is a pure function of the scenario
and a minimised scenario still shows it.
"""

from __future__ import annotations

import os
import signal
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from harness.model import RECV_FILL, Listen, Reopen, Scenario, SockType
from harness.observation import Failed, Observation, ObservedCmsg, Returned, StepObservation

__all__ = ["FAULTS", "Fault", "UnknownFault", "inject"]


class UnknownFault(ValueError):
    """A fault name that is not in :data:`FAULTS`."""


StepRewrite = Callable[[Scenario, StepObservation], StepObservation]


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    description: str
    rewrite: Callable[[Scenario, Observation], Observation]


def _per_step(rewrite: StepRewrite) -> Callable[[Scenario, Observation], Observation]:
    def apply(scenario: Scenario, observation: Observation) -> Observation:
        steps = tuple(rewrite(scenario, step) for step in observation.steps)
        return observation if steps == observation.steps else replace(observation, steps=steps)

    return apply


def _drop_msg_trunc(scenario: Scenario, step: StepObservation) -> StepObservation:
    if step.op != "recv" or step.msg_flags is None or "MSG_TRUNC" not in step.msg_flags:
        return step
    return replace(step, msg_flags=step.msg_flags - {"MSG_TRUNC"})


def _swap_fds(scenario: Scenario, step: StepObservation) -> StepObservation:
    """The first two fds of the first SCM_RIGHTS message that carries two or more, swapped."""
    for index, cmsg in enumerate(step.cmsgs):
        if len(cmsg.fds) >= 2:
            fds = (cmsg.fds[1], cmsg.fds[0], *cmsg.fds[2:])
            data = cmsg.data[4:8] + cmsg.data[0:4] + cmsg.data[8:] if len(cmsg.data) >= 8 else cmsg.data
            cmsgs = (*step.cmsgs[:index], replace(cmsg, fds=fds, data=data), *step.cmsgs[index + 1 :])
            return replace(step, cmsgs=cmsgs)
    return step


def _change_credential(scenario: Scenario, step: StepObservation) -> StepObservation:
    """Every SCM_CREDENTIALS message reports a pid one higher than the kernel wrote."""
    changed: list[ObservedCmsg] = []
    for cmsg in step.cmsgs:
        if cmsg.creds is not None and len(cmsg.data) >= 12:
            pid, uid, gid = cmsg.creds
            data = struct.pack("=iII", pid + 1, uid, gid) + cmsg.data[12:]
            cmsg = replace(cmsg, creds=(pid + 1, uid, gid), data=data)
        changed.append(cmsg)
    return replace(step, cmsgs=tuple(changed)) if tuple(changed) != step.cmsgs else step


def _lose_datagram_byte(scenario: Scenario, step: StepObservation) -> StepObservation:
    """A datagram or record arrives one byte short: the last byte is never written."""
    if scenario.kind.sock_type is SockType.STREAM or step.op != "recv":
        return step
    if not isinstance(step.outcome, Returned) or not step.data:
        return step
    lost = len(step.data) - 1
    buffers = step.buffers
    if buffers is not None:
        # put the fill byte back where the lost byte landed
        flat = bytearray(b"".join(buffers))
        flat[lost] = RECV_FILL
        out, offset = [], 0
        for part in buffers:
            out.append(bytes(flat[offset : offset + len(part)]))
            offset += len(part)
        buffers = tuple(out)
    return replace(step, outcome=Returned(step.outcome.value - 1), data=step.data[:lost], buffers=buffers)


def _wrong_errno(scenario: Scenario, step: StepObservation) -> StepObservation:
    if not isinstance(step.outcome, Failed):
        return step
    return replace(step, outcome=Failed("EIO" if step.outcome.errno != "EIO" else "EINVAL"))


def _hang_on_listen(scenario: Scenario, observation: Observation) -> Observation:
    if any(isinstance(step, Listen) for step in scenario.steps):
        time.sleep(3600)  # the campaign's timeout must end this, not the test
    return observation


def _killed_on_reopen(scenario: Scenario, observation: Observation) -> Observation:
    if any(isinstance(step, Reopen) for step in scenario.steps):
        os.kill(os.getpid(), signal.SIGKILL)
    return observation


FAULTS: Mapping[str, Fault] = MappingProxyType(
    {
        f.name: f
        for f in (
            Fault("drop-msg-trunc", "MSG_TRUNC is missing from msg_flags", _per_step(_drop_msg_trunc)),
            Fault("swap-fds", "two fds of one SCM_RIGHTS message arrive swapped", _per_step(_swap_fds)),
            Fault("change-credential", "SCM_CREDENTIALS reports pid + 1", _per_step(_change_credential)),
            Fault("lose-datagram-byte", "a datagram/record loses its last byte", _per_step(_lose_datagram_byte)),
            Fault("wrong-errno", "every failing call reports EIO (EINVAL for EIO)", _per_step(_wrong_errno)),
            Fault("hang-on-listen", "a scenario with listen() never completes", _hang_on_listen),
            Fault("killed-on-reopen", "a scenario with a reopen step kills its process", _killed_on_reopen),
        )
    }
)
# The deviations the oracle must catch (the other two test the campaign's supervision).
OBSERVATION_FAULTS: tuple[str, ...] = (
    "drop-msg-trunc",
    "swap-fds",
    "change-credential",
    "lose-datagram-byte",
    "wrong-errno",
)


def check_name(name: str | None) -> None:
    if name is not None and name not in FAULTS:
        raise UnknownFault(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")


def inject(name: str | None, scenario: Scenario, observation: Observation) -> Observation:
    """``observation`` as it would look with fault ``name`` (``None``: unchanged)."""
    if name is None:
        return observation
    check_name(name)
    return FAULTS[name].rewrite(scenario, observation)
