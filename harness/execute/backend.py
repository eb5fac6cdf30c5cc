"""What both back ends share: pair set-up, step dispatch, outcomes, and building observations."""

from __future__ import annotations

import os
import struct
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.execute.inspect import Identifier, describe, open_fds
from harness.model import (
    Close,
    ClosedFd,
    FdRef,
    GetSockOpt,
    Listen,
    Named,
    PairKind,
    RawFd,
    Recv,
    Reopen,
    ScmCredentials,
    Send,
    SetSockOpt,
    Shutdown,
    Step,
)
from harness.native import constants, libc
from harness.native.constants import errno_name
from harness.observation import Blocked, Failed, ObservedCmsg, Outcome, Returned, StepObservation

if TYPE_CHECKING:
    from harness.execute.fdtable import FdTable


class CannotExpress(Exception):
    """The back end has no way to say what the step asks (e.g. a NULL msg_control via socket.sendmsg)."""


@dataclass(frozen=True, slots=True)
class ExecConfig:
    # A blocking call that has not completed after this long is a Blocked outcome.  Every step of
    # a scenario finds its data already queued, so a correct call never comes near it.
    step_timeout: float = 0.5


class Backend(ABC):
    name: str

    def __init__(self, consts: constants.Constants, table: FdTable, config: ExecConfig) -> None:
        self.c = consts
        self.table = table
        self.config = config
        self.sol_socket = consts.sol["SOL_SOCKET"]
        self.identifier = Identifier(consts.syscalls.get("kcmp"))
        self.kind: PairKind | None = None

    # -- set-up -------------------------------------------------------------------------------

    def create_pair(self, kind: PairKind) -> None:
        self.kind = kind
        first, second = self._socketpair(kind)
        self.table.own(first)
        self.table.own(second)
        a, b = (second, first) if kind.reversed else (first, second)
        self.table.add_pair_end("a", a)
        self.table.add_pair_end("b", b)
        if not kind.nonblocking:
            timeval = struct.pack("@ll", int(self.config.step_timeout), int(self.config.step_timeout % 1 * 1e6))
            for fd in (a, b):
                for option in ("SO_RCVTIMEO_OLD", "SO_SNDTIMEO_OLD"):
                    r = libc.setsockopt_bytes(fd, self.sol_socket, self.c.so[option], timeval)
                    if not r.ok:
                        raise OSError(r.errno, f"cannot bound blocking calls with {option}")

    @abstractmethod
    def _socketpair(self, kind: PairKind) -> tuple[int, int]: ...

    # -- steps --------------------------------------------------------------------------------

    def run_step(self, index: int, step: Step) -> StepObservation:
        if isinstance(step, Send):
            return self.send(index, step)
        if isinstance(step, Recv):
            return self.recv(index, step)
        if isinstance(step, SetSockOpt):
            return StepObservation(index=index, op="setsockopt", outcome=self.setsockopt(step))
        if isinstance(step, GetSockOpt):
            return StepObservation(index=index, op="getsockopt", outcome=self.getsockopt(step))
        if isinstance(step, Shutdown):
            how = step.how if isinstance(step.how, int) else self.c.shut[step.how]
            return StepObservation(index=index, op="shutdown", outcome=self.shutdown(step.on, how))
        if isinstance(step, Listen):
            return StepObservation(index=index, op="listen", outcome=self.listen(step.on, step.backlog))
        if isinstance(step, Close):
            self.before_close(step.target)
            err = self.table.close(step.target)
            return StepObservation(
                index=index, op="close", outcome=Returned(0) if err is None else Failed(errno_name(err))
            )
        if isinstance(step, Reopen):
            return StepObservation(index=index, op="reopen", outcome=self.reopen(step))
        raise AssertionError(f"unhandled step {step!r}")

    @abstractmethod
    def send(self, index: int, step: Send) -> StepObservation: ...

    @abstractmethod
    def recv(self, index: int, step: Recv) -> StepObservation: ...

    @abstractmethod
    def setsockopt(self, step: SetSockOpt) -> Outcome: ...

    @abstractmethod
    def getsockopt(self, step: GetSockOpt) -> Outcome: ...

    @abstractmethod
    def shutdown(self, side: str, how: int) -> Outcome: ...

    @abstractmethod
    def listen(self, side: str, backlog: int) -> Outcome: ...

    def before_close(self, name: str) -> None:  # noqa: B027 - a hook, empty by default
        """Hook for a back end that wraps the pair ends in objects."""

    def reopen(self, step: Reopen) -> Outcome:
        mode = os.O_RDWR if step.mode == "O_RDWR" else os.O_RDONLY
        try:
            fd = os.open(f"/proc/self/fd/{self.table.fd(step.on)}", mode | os.O_CLOEXEC)
        except OSError as exc:
            return Failed(errno_name(exc.errno or 0))
        os.close(fd)
        return Returned(0)

    # -- shared helpers -----------------------------------------------------------------------

    def resolve_fd(self, ref: FdRef) -> int:
        if isinstance(ref, Named):
            return self.table.fd(ref.name)
        if isinstance(ref, RawFd):
            return ref.number
        assert isinstance(ref, ClosedFd)
        return self.table.closed_number

    @staticmethod
    def resolve_creds(creds: ScmCredentials) -> bytes:
        pid = os.getpid() if creds.pid == "self" else creds.pid
        uid = os.getuid() if creds.uid == "self" else creds.uid
        gid = os.getgid() if creds.gid == "self" else creds.gid
        return struct.pack("=iII", pid, uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)

    def may_block(self, flag_names: frozenset[str]) -> bool:
        assert self.kind is not None
        return not self.kind.nonblocking and "MSG_DONTWAIT" not in flag_names

    def outcome(self, value: int, err: int, started: float, may_block: bool) -> Outcome:
        if value >= 0:
            return Returned(value)
        if err == 11 and may_block and time.monotonic() - started >= self.config.step_timeout * 0.9:
            return Blocked(self.config.step_timeout)
        return Failed(errno_name(err))

    def observe_cmsgs(self, found: list[tuple[int, int, int, bytes, bool]]) -> tuple[ObservedCmsg, ...]:
        """(level, type, cmsg_len, payload, truncated) -> ObservedCmsg with every fd inspected."""
        out = []
        rights = self.c.scm["SCM_RIGHTS"]
        creds = self.c.scm["SCM_CREDENTIALS"]
        for level, type_, length, data, truncated in found:
            fds: tuple[int, ...] = ()
            cred: tuple[int, int, int] | None = None
            if level == self.sol_socket and type_ == rights:
                fds = struct.unpack(f"={len(data) // 4}i", data[: len(data) // 4 * 4])
            elif level == self.sol_socket and type_ == creds and len(data) >= 12:
                pid, uid, gid = struct.unpack_from("=iII", data)
                cred = (pid, uid, gid)
            for fd in fds:
                if fd >= 0:
                    self.table.own(fd)
            out.append(
                ObservedCmsg(
                    level=self.c.level_name(level),
                    type=self.c.cmsg_type_name(level, type_),
                    length=length,
                    data=data,
                    truncated=truncated,
                    fds=tuple(self.identifier.inspect(fd, self.table.known) for fd in fds),
                    creds=cred,
                )
            )
        return tuple(out)

    def new_fds(self, before: frozenset[int], cmsgs: tuple[ObservedCmsg, ...]) -> tuple[str, ...]:
        """Descriptors that appeared during the call but were reported in no cmsg (owned, then closed)."""
        reported = {fd.number for c in cmsgs for fd in c.fds}
        extra = sorted(open_fds() - before - reported)
        for fd in extra:
            self.table.own(fd)
        return tuple(describe(fd) for fd in extra)
