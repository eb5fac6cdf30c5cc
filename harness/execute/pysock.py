"""The pysock back end: Python's socket module, the way applications pass fds and credentials.

``socket.sendmsg`` builds the control buffer itself (CMSG_SPACE per item, cmsg_len from the data
length), so malformed lengths, NULL or bad pointers and faults cannot be expressed here: such a
step raises :class:`CannotExpress` and the result is ``unsupported`` for this back end.
``recvmsg`` is used for one buffer, ``recvmsg_into`` for several or when ``MSG_TRUNC`` or ``MSG_OOB``
is asked (only ``recvmsg_into`` returns the real length then).  ``msg_controllen`` and ``msg_flags`` after a
failure are not visible through this API.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import warnings

from harness.addresses import SUN_PATH_OFFSET, SUN_PATH_SIZE, confine
from harness.execute.backend import Backend
from harness.execute.errors import CannotExpress
from harness.execute.inspect import fd_listing
from harness.model import RECV_FILL, PairKind, RawCmsg, Recv, ScmRights, Send
from harness.native import cmsg as cmsg_abi
from harness.native import libc
from harness.native.constants import errno_name
from harness.observation import Failed, Outcome, Returned, StepObservation

_ABI = cmsg_abi.CmsgAbi(libc.WORD)


def python_address(raw: bytes) -> bytes:
    """A sockaddr_un as socket.sendmsg takes it: sun_path bytes (it adds the family and a path's NUL)."""
    sun_path = raw[SUN_PATH_OFFSET:]
    if sun_path[:1] != b"\0":
        sun_path = sun_path[:-1]  # a path: socket.sendmsg appends the NUL itself
    # CPython refuses (OSError without an errno) what does not fit sun_path, before any syscall
    if len(sun_path) > SUN_PATH_SIZE or (sun_path[:1] != b"\0" and len(sun_path) >= SUN_PATH_SIZE):
        raise CannotExpress("pysock: socket.sendmsg refuses an AF_UNIX address longer than sun_path")
    return sun_path


def sockaddr_of(sender: object) -> bytes:
    """The sockaddr_un behind the address socket.recvmsg returns (None: msg_namelen 0; a str: a path, whose
    length the kernel counts with its NUL; bytes: an abstract name, or b"": the family alone)."""
    family = struct.pack("=H", socket.AF_UNIX)
    if sender is None:
        return b""
    if isinstance(sender, str):
        return family + os.fsencode(sender) + (b"\0" if sender else b"")
    assert isinstance(sender, bytes)
    return family + sender


class PySockBackend(Backend):
    name = "pysock"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.socks: dict[str, socket.socket] = {}

    def _socketpair(self, kind: PairKind) -> tuple[int, int]:
        type_ = getattr(socket, kind.sock_type.value) | socket.SOCK_CLOEXEC
        if kind.nonblocking:
            type_ |= socket.SOCK_NONBLOCK
        first, second = socket.socketpair(socket.AF_UNIX, type_)
        return first.detach(), second.detach()

    def adopt_pair(self, a: int, b: int) -> None:
        self.socks = {"a": socket.socket(fileno=a), "b": socket.socket(fileno=b)}

    def sock(self, side: str) -> socket.socket:
        if not self.table.is_live(side):
            raise CannotExpress(f"pysock: pair end {side!r} is closed; socket objects refuse closed fds")
        if side not in self.socks:  # a socket of the fd table (issue 10): wrapped when first used
            try:
                self.socks[side] = socket.socket(fileno=self.table.fd(side))
            except OSError as exc:
                raise CannotExpress(f"pysock: {side!r} is no socket ({exc.strerror})") from None
        return self.socks[side]

    def before_close(self, name: str) -> None:
        sock = self.socks.get(name)
        if sock is not None and self.table.is_live(name):
            sock.detach()  # the fd table closes the descriptor itself

    def finish(self) -> None:
        for sock in self.socks.values():
            sock.detach()

    # -- sendmsg ------------------------------------------------------------------------------

    def ancillary(self, step: Send) -> list[tuple[int, int, bytes]]:
        if step.controllen is not None or step.control != "buffer" or step.fault is not None:
            raise CannotExpress("pysock: socket.sendmsg cannot override msg_controllen, msg_control or pointers")
        items = []
        for c in step.cmsgs:
            if isinstance(c, ScmRights):
                if c.length is not None:
                    raise CannotExpress("pysock: socket.sendmsg derives cmsg_len itself")
                data = struct.pack(f"={len(c.fds)}i", *(self.resolve_fd(ref) for ref in c.fds))
                items.append((self.sol_socket, self.c.scm["SCM_RIGHTS"], data))
            elif isinstance(c, RawCmsg):
                if c.length is not None or c.space is not None:
                    raise CannotExpress("pysock: socket.sendmsg derives cmsg_len and padding itself")
                level = self.c.level(c.level)
                items.append((level, self.c.cmsg_type(level, c.type), c.data))
            else:
                items.append((self.sol_socket, self.c.scm["SCM_CREDENTIALS"], self.resolve_creds(c)))
        return items

    def send(self, index: int, step: Send) -> StepObservation:
        ancillary = self.ancillary(step)
        sock = self.sock(step.on)
        if step.address is not None and step.address.startswith("hex:"):
            raise CannotExpress("pysock: socket.sendmsg takes an AF_UNIX address, not raw sockaddr bytes")
        destination = self.destination(step)
        extra = [] if destination is None else [python_address(destination)]
        started = time.monotonic()
        try:
            value, err = sock.sendmsg(list(step.iov), ancillary, self.c.msg_flags(step.flags), *extra), 0
        except OSError as exc:
            value, err = -1, exc.errno or 0
        return StepObservation(
            index=index, op="send", outcome=self.outcome(value, err, started, self.may_block(step.flags, step.on))
        )

    # -- recvmsg ------------------------------------------------------------------------------

    def recv(self, index: int, step: Recv) -> StepObservation:
        if step.control_pointer != "buffer" or step.fault is not None:
            raise CannotExpress("pysock: socket.recvmsg cannot pass a NULL or bad pointer")
        sock = self.sock(step.on)
        flags = self.c.msg_flags(step.flags)
        # recvmsg() returns the bytes it got; recvmsg_into() the kernel's count, which differs for
        # MSG_TRUNC and for MSG_OOB (one byte reported even with no room for it)
        into = len(step.buffers) != 1 or "MSG_TRUNC" in step.flags or "MSG_OOB" in step.flags
        buffers = [bytearray([RECV_FILL]) * size for size in step.buffers]
        before = fd_listing()
        started = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if into:
                    value, ancdata, msg_flags, sender = sock.recvmsg_into(buffers, step.control, flags)
                    data = b"".join(buffers)[:value]
                else:
                    data, ancdata, msg_flags, sender = sock.recvmsg(step.buffers[0], step.control, flags)
                    value = len(data)
                err = 0
            except OSError as exc:
                value, err, data, ancdata, msg_flags, sender = -1, exc.errno or 0, b"", [], None, None
        outcome = self.outcome(value, err, started, self.may_block(step.flags, step.on))
        found = [(level, type_, _ABI.length(len(payload)), bytes(payload), False) for level, type_, payload in ancdata]
        cmsgs = self.observe_cmsgs(found)
        note = "; ".join(str(w.message) for w in caught)
        return StepObservation(
            index=index,
            op="recv",
            outcome=outcome,
            data=data,
            buffers=tuple(bytes(b) for b in buffers) if into else None,
            msg_flags=None if msg_flags is None else self.c.msg_flag_names(msg_flags),
            cmsgs=cmsgs,
            unreported_fds=self.new_fds(before, cmsgs),
            address=None if err else self.describe_name(sockaddr_of(sender)),
            note=f"python warned: {note}" if note else "",
        )

    # -- the rest -----------------------------------------------------------------------------

    def _call(self, fn: object, *args: object) -> Outcome:
        try:
            result = fn(*args)  # type: ignore[operator]
        except OSError as exc:
            return Failed(errno_name(exc.errno or 0))
        return Returned(result if isinstance(result, int) else 0)

    def setsockopt(self, side: str, option: int, value: int | bytes) -> Outcome:
        return self._call(self.sock(side).setsockopt, self.sol_socket, option, value)

    def getsockopt(self, side: str, option: int, size: int) -> tuple[Outcome, bytes]:
        try:
            data = self.sock(side).getsockopt(self.sol_socket, option, size)
        except OSError as exc:
            return Failed(errno_name(exc.errno or 0)), b""
        return Returned(0), data

    def shutdown(self, side: str, how: int) -> Outcome:
        return self._call(self.sock(side).shutdown, how)

    def listen(self, side: str, backlog: int) -> Outcome:
        if backlog < 0:  # measured: CPython's socket.listen() passes 0 for a negative backlog
            raise CannotExpress("pysock: socket.listen() turns a negative backlog into 0")
        return self._call(self.sock(side).listen, backlog)

    # -- listener and address steps (issue 10) ---------------------------------------------------

    def bind(self, target: str, address: str) -> Outcome:
        # "hex:0100" (addrlen 2) is autobind: socket.bind(b"") passes exactly that
        if address == "hex:0100":
            return self._call(self.sock(target).bind, b"")
        if address.startswith("hex:"):
            raise CannotExpress("pysock: socket.bind takes an AF_UNIX address, not raw sockaddr bytes")
        return self._call(self.sock(target).bind, python_address(confine(address, self.addresses)))

    def connect(self, target: str, sockaddr: bytes, started: float) -> Outcome:
        if len(sockaddr) <= SUN_PATH_OFFSET or sockaddr[:SUN_PATH_OFFSET] != struct.pack("=H", socket.AF_UNIX):
            raise CannotExpress("pysock: socket.connect takes an AF_UNIX address, not raw sockaddr bytes")
        sun_path = sockaddr[SUN_PATH_OFFSET:]
        if sun_path[:1] != b"\0":
            sun_path = sun_path.split(b"\0", 1)[0]  # a path: socket.connect appends the NUL itself
        if len(sun_path) >= SUN_PATH_SIZE:
            raise CannotExpress("pysock: socket.connect refuses an AF_UNIX address longer than sun_path")
        try:
            self.sock(target).connect(sun_path)
            value, err = 0, 0
        except OSError as exc:
            value, err = -1, exc.errno or 0
        return self.wait_outcome(value, err, started, target)

    def accept(self, on: str, cloexec: bool, nonblock: bool) -> tuple[Outcome, int | None]:
        started = time.monotonic()
        try:
            conn, _ = self.sock(on).accept()  # accept4(SOCK_CLOEXEC)
        except OSError as exc:
            return self.wait_outcome(-1, exc.errno or 0, started, on), None
        conn.set_inheritable(not cloexec)
        if nonblock:
            conn.setblocking(False)
        return Returned(0), conn.detach()
