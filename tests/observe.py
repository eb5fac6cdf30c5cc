"""Test helpers: a conforming Observation made from an Expectation, to deviate from one field at a time."""

from __future__ import annotations

import struct

from harness.expectation import Expectation, ExpectedCmsg, ExpectedFd, StepExpectation
from harness.observation import Observation, ObservedCmsg, ProcessContext, ReceivedFd, StepObservation

CONTEXT = ProcessContext(pid=4242, uid=1000, gid=1000)


def received(fd: ExpectedFd, number: int, cloexec: bool) -> ReceivedFd:
    return ReceivedFd(
        number=number,
        valid=True,
        same_inode_as=(fd.name,),
        same_file_as=fd.name,
        identity="kcmp",
        file_type=fd.file_type,
        cloexec=cloexec,
        status_flags=fd.status_flags,
        offset_shared=True if fd.seekable else None,
        flags_shared=True,
    )


def observed_cmsg(cmsg: ExpectedCmsg, cloexec: bool) -> ObservedCmsg:
    fds = tuple(received(fd, 100 + i, cloexec) for i, fd in enumerate(cmsg.fds))
    creds = None
    data = b"".join(struct.pack("=i", fd.number) for fd in fds)
    if cmsg.creds is not None:
        symbols = {"pid": CONTEXT.pid, "uid": CONTEXT.uid, "gid": CONTEXT.gid}
        values = tuple(symbols[v] if isinstance(v, str) else v for v in cmsg.creds)
        data = struct.pack("=iII", *values)[: cmsg.length - 16]
        creds = (values[0], values[1], values[2]) if len(data) == 12 else None
    if cmsg.inq is not None:
        data = struct.pack("=i", cmsg.inq)[: cmsg.length - 16]
    return ObservedCmsg(level=cmsg.level, type=cmsg.type, length=cmsg.length, data=data, fds=fds, creds=creds)


def conforming_step(index: int, want: StepExpectation) -> StepObservation:
    return StepObservation(
        index=index,
        op=want.op,
        outcome=want.outcome,
        data=want.data,
        buffers=want.buffers,
        msg_flags=want.msg_flags,
        controllen=want.controllen,
        control_stray=want.control_stray if want.op == "recv" else None,
        cmsgs=tuple(observed_cmsg(c, want.cloexec) for c in want.cmsgs),
        signals=want.signals,
        events=want.events,
        peercred=None if want.peercred is None else (CONTEXT.pid, CONTEXT.uid, CONTEXT.gid),
        nested=tuple(conforming_step(i, s) for i, s in enumerate(want.nested)),
    )


def conforming(expectation: Expectation, backend: str = "raw") -> Observation:
    steps = tuple(conforming_step(i, s) for i, s in enumerate(expectation.steps))
    return Observation(backend=backend, kind="stream/blocking/as-created", steps=steps, context=CONTEXT)
