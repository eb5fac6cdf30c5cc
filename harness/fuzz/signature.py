"""Signatures: short, stable strings for "what the kernel did" and "what went wrong".

*Outcome signatures* normalise one step's observation (socket type, step kind, return class or
errno, msg_flags, control-message shape, fd counts, signals) so that a new kernel behaviour is
a new string.  They feed ``hypothesis.event()`` and, through :func:`counter_index`, atheris'
extra coverage counters: the fuzzers keep inputs that make the kernel do something new, not
only inputs that run new Python lines.

*Finding signatures* name a deviation by (checker, field without indices, step kind), so that
the same bug found through different scenarios is stored once.
"""

from __future__ import annotations

import re
import zlib

from harness.finding import Finding
from harness.model import RECV_FLAGS_SEED, Recv, Scenario, Send, Step
from harness.observation import Blocked, Failed, Observation, StepObservation

_SEED_NAME = hex(RECV_FLAGS_SEED)
_CMSG_TYPES = {"SCM_RIGHTS": "R", "SCM_CREDENTIALS": "C", "SCM_PIDFD": "P", "SCM_SECURITY": "S", "SCM_INQ": "I"}


def _return_class(step: Step, seen: StepObservation, value: int) -> str:
    """A return value reduced to what matters: none, all, part, or more than asked (and small values as is)."""
    if isinstance(step, Send):
        wanted = step.length
    elif isinstance(step, Recv):
        wanted = step.capacity
    elif -1 <= value <= 4:
        return str(value)
    else:
        return "big"
    if value == 0:
        return "0"
    if value == wanted:
        return "all"
    return "part" if value < wanted else "more"


def step_signature(scenario: Scenario, index: int, seen: StepObservation) -> str:
    """``stream|recv|all|MSG_CTRUNC|R2t|u0|`` -- one step's observable outcome, normalised."""
    step = scenario.steps[index]
    outcome = seen.outcome
    if isinstance(outcome, Failed):
        result = outcome.errno
    elif isinstance(outcome, Blocked):
        result = "blocked"
    else:
        result = _return_class(step, seen, outcome.value)
    flags = "+".join(sorted(f for f in seen.msg_flags or () if f != _SEED_NAME))
    shape = ",".join(
        _CMSG_TYPES.get(c.type, c.type)
        + (str(len(c.fds)) if c.fds else "")
        + ("!" * sum(1 for fd in c.fds if not fd.valid))
        + ("t" if c.truncated else "")
        for c in seen.cmsgs
    )
    extra = f"u{len(seen.unreported_fds)}" if seen.unreported_fds else ""
    return "|".join((scenario.kind.sock_type.short, seen.op, result, flags, shape, extra, "+".join(seen.signals)))


def outcome_signatures(scenario: Scenario, observation: Observation) -> tuple[str, ...]:
    """One signature per step, plus one for fds left open after the scenario."""
    out = [step_signature(scenario, i, seen) for i, seen in enumerate(observation.steps)]
    if observation.leaked_fds:
        out.append(f"{scenario.kind.sock_type.short}|leak|{len(observation.leaked_fds)}")
    return tuple(out)


def counter_index(signature: str, counters: int) -> int:
    """A stable counter index for ``signature`` (crc32: the same on every run and machine)."""
    return zlib.crc32(signature.encode()) % counters


_INDEX = re.compile(r"\[\d*\]")
_CHILD_STEP = re.compile(r"child\.steps\[(\d+)\]\.")


def finding_signature(finding: Finding, observation: Observation | None) -> str:
    """``checker/field/step-kind``, e.g. ``fd-identity/cmsgs.fds.status_flags/recv``.

    A child's step is named by its own kind: ``cmsgs/child.steps.cmsgs/recv``.
    """
    field = _INDEX.sub("", finding.field).strip()
    op = "scenario"
    if finding.step is not None and observation is not None and finding.step < len(observation.steps):
        step = observation.steps[finding.step]
        op = step.op
        inner = _CHILD_STEP.match(finding.field)
        if inner is not None and int(inner.group(1)) < len(step.nested):
            op = step.nested[int(inner.group(1))].op
    return f"{finding.checker}/{field}/{op}"


def slug(signature: str) -> str:
    """A directory name for a finding signature: ``fd-identity__cmsgs.fds.status_flags__recv``."""
    text = signature.replace("/", "__")
    text = re.sub(r"[^A-Za-z0-9_.=+-]+", "-", text).strip("-")
    return text[:120] or "unnamed"
