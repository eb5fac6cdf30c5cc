"""Terse constructors for catalogue scenarios (the model's classes with the usual defaults)."""

from __future__ import annotations

from collections.abc import Iterable

from harness.model import (
    Cmsg,
    FdKind,
    FdRef,
    FdSpec,
    Named,
    PairKind,
    Recv,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetSockOpt,
    SockType,
    Step,
)
from harness.native.cmsg import CmsgAbi
from harness.native.libc import WORD

ABI = CmsgAbi(WORD)  # the host's: control sizes in cases are meant for the machine that runs them
HEADER = ABI.header


def LEN(n: int) -> int:
    return ABI.length(n)


def SPACE(n: int) -> int:
    return ABI.space(n)


def FDS_SPACE(count: int) -> int:
    return ABI.space(4 * count)


FILE = FdSpec(name="f", kind=FdKind.REGULAR_FILE)
FILE2 = FdSpec(name="g", kind=FdKind.MEMFD)
FILE3 = FdSpec(name="h", kind=FdKind.PIPE_READ)


def scenario(kind: PairKind, *steps: Step, fds: Iterable[FdSpec] = (FILE,), note: str = "") -> Scenario:
    return Scenario(kind=kind, fds=tuple(fds), steps=steps, note=note)


def refs(*names: str | FdRef) -> tuple[FdRef, ...]:
    return tuple(Named(n) if isinstance(n, str) else n for n in names)


def rights(*names: str | FdRef) -> ScmRights:
    return ScmRights(refs(*names))


def send(
    data: bytes = b"x",
    *,
    on: str = "a",
    fds: Iterable[str | FdRef] | None = None,
    creds: bool = False,
    cmsgs: Iterable[Cmsg] = (),
    flags: Iterable[str] = (),
    iov: tuple[bytes, ...] | None = None,
    controllen: int | None = None,
) -> Send:
    """sendmsg of ``data`` (or the iovecs ``iov``), with SCM_CREDENTIALS and/or SCM_RIGHTS."""
    items: list[Cmsg] = []
    if creds:
        items.append(ScmCredentials())
    if fds is not None:
        items.append(rights(*fds))
    items.extend(cmsgs)
    return Send(
        on=on, iov=(data,) if iov is None else iov, cmsgs=tuple(items), flags=frozenset(flags), controllen=controllen
    )


def recv(
    size: int = 64,
    *,
    on: str = "b",
    control: int = 0,
    flags: Iterable[str] = (),
    buffers: tuple[int, ...] | None = None,
) -> Recv:
    return Recv(on=on, buffers=(size,) if buffers is None else buffers, control=control, flags=frozenset(flags))


def drain(on: str = "b", control: int = 0) -> Recv:
    """A receive that never waits: it shows what is (not) left in the queue."""
    return recv(256, on=on, control=control, flags=("MSG_DONTWAIT",))


def passcred(on: str = "b", value: int = 1) -> SetSockOpt:
    return SetSockOpt(on=on, option="SO_PASSCRED", value=value)


def stream(kind: PairKind) -> bool:
    return kind.sock_type is SockType.STREAM
