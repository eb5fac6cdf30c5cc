"""What the oracle says the kernel must do: the frozen counterpart of an Observation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from harness.observation import Blocked, Outcome

# Symbolic credential values, resolved against the Observation's contexts by the checker: an int,
# or "pid" / "uid" / "gid" of the scenario's process, or "child0.pid" ... of its first child.
CredExpect: TypeAlias = int | str


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedFd:
    """A descriptor that must arrive: the same open file description as the scenario's ``name``."""

    name: str
    file_type: str  # "regular", "fifo", "socket", "char", "directory", "eventfd"
    status_flags: frozenset[str]  # O_RDWR / O_RDONLY / O_WRONLY, O_APPEND, O_NONBLOCK, O_PATH
    seekable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedCmsg:
    level: str
    type: str
    length: int
    fds: tuple[ExpectedFd, ...] = ()  # SCM_RIGHTS: the sent fds, in order
    creds: tuple[CredExpect, CredExpect, CredExpect] | None = None
    pidfd: CredExpect | None = None  # SCM_PIDFD: the pid its pidfd refers to
    pidfd_error: int | None = None  # SCM_PIDFD: the negative errno the cmsg carries instead of a pidfd
    truncated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StepExpectation:
    op: str
    outcome: Outcome
    also: tuple[Outcome, ...] = ()  # other outcomes Linux documents as correct (e.g. ENOBUFS or EAGAIN)
    value_range: tuple[int, int] | None = None  # any Returned value within these bounds is right
    data: bytes = b""
    buffers: tuple[bytes, ...] | None = None
    msg_flags: frozenset[str] | None = None
    controllen: int | None = None
    cmsgs: tuple[ExpectedCmsg, ...] = ()
    control_stray: int = 0  # control-buffer bytes written although the call reports none (see oracle)
    cloexec: bool = False  # every received fd has FD_CLOEXEC
    signals: tuple[str, ...] = ()
    events: frozenset[str] | None = None
    peercred: tuple[CredExpect, CredExpect, CredExpect] | None = None
    peer_pid: CredExpect | None = None
    address: str | None = None  # getsockname / getpeername / recv's msg_name (StepObservation.address)
    nested: tuple[StepExpectation, ...] = ()
    why: str = field(default="", compare=False)  # the rule that decided, for reports

    @property
    def blocks(self) -> bool:
        return isinstance(self.outcome, Blocked)


@dataclass(frozen=True, slots=True)
class Expectation:
    steps: tuple[StepExpectation, ...]


@dataclass(frozen=True, slots=True)
class Unmodelled:
    """The oracle does not model this scenario; it never guesses."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unsupported:
    """The platform lacks a feature the scenario needs (recorded, not a failure)."""

    reason: str


Verdictable: TypeAlias = Expectation | Unmodelled | Unsupported
