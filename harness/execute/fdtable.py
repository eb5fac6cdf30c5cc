"""The scenario's descriptors: the pair ends and the fd table, all owned by one ExitStack."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import resource
import socket
import tempfile

from harness.execute.inspect import Known
from harness.model import SEEKABLE_KINDS, FdKind, FdSpec

FILE_CONTENT = b"scm-harness regular file\n" * 4  # so that offsets can move


class FdTable:
    """Name -> live descriptor, for the pair ends ``a``/``b`` and every FdSpec.

    Each table entry also gets a private dup (never passed anywhere), so that a received fd can
    be compared with the file that was sent even after the scenario closed the original.  The pair
    ends get none: a dup would keep a closed end alive and change what the peer sees.
    """

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._owned: set[int] = set()
        stack.callback(self._close_owned)
        self._live: dict[str, int] = {}
        self.known: dict[str, Known] = {}
        self._private_dir: str | None = None
        self.partners: dict[str, int] = {}  # the private other end of a pipe write end or a socket
        self.closed_number = self._reserve_closed_number()

    # -- set-up -------------------------------------------------------------------------------

    def own(self, fd: int) -> int:
        """Close ``fd`` when the scenario ends, unless the scenario closes it first."""
        self._owned.add(fd)
        return fd

    def _close_owned(self) -> None:
        while self._owned:
            _close_quietly(self._owned.pop())

    def add_pair_end(self, side: str, fd: int) -> None:
        self._live[side] = fd
        st = os.fstat(fd)
        self.known[side] = Known(fd, st.st_dev, st.st_ino, False)

    def open(self, spec: FdSpec) -> int:
        fd = self.own(self._open(spec))
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        if spec.nonblock:
            flags |= os.O_NONBLOCK
        if spec.append:
            flags |= os.O_APPEND
        if spec.kind is not FdKind.OPATH_DIR:
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC if spec.cloexec else 0)
        if spec.kind in SEEKABLE_KINDS:
            os.lseek(fd, 5, os.SEEK_SET)
        private = self.own(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)) if spec.tracked else None
        st = os.fstat(fd)
        self._live[spec.name] = fd
        self.known[spec.name] = Known(private, st.st_dev, st.st_ino, spec.kind in SEEKABLE_KINDS)
        if self._last_partner is not None:
            self.partners[spec.name] = self._last_partner
            self._last_partner = None
        return fd

    _last_partner: int | None = None

    def _directory(self) -> str:
        if self._private_dir is None:
            self._private_dir = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="scm-harness-"))
        return self._private_dir

    def _open(self, spec: FdSpec) -> int:
        kind = spec.kind
        if kind is FdKind.REGULAR_FILE:
            fd = os.open(os.path.join(self._directory(), spec.name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, FILE_CONTENT)
            return fd
        if kind is FdKind.MEMFD:
            fd = os.memfd_create(f"scm-harness-{spec.name}", 0)
            os.write(fd, FILE_CONTENT)
            return fd
        if kind in (FdKind.PIPE_READ, FdKind.PIPE_WRITE):
            r, w = os.pipe2(os.O_CLOEXEC)
            keep, other = (r, w) if kind is FdKind.PIPE_READ else (w, r)
            self._last_partner = self.own(other)
            os.set_blocking(other, False)
            return keep
        if kind is FdKind.SOCKET:
            one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            self._last_partner = self.own(two.detach())
            return one.detach()
        if kind is FdKind.DEV_NULL:
            return os.open(os.devnull, os.O_RDWR)
        if kind is FdKind.OPATH_DIR:
            # a directory of its own, so that two opath-dir entries are told apart by inode too
            path = os.path.join(self._directory(), spec.name)
            os.mkdir(path, 0o700)
            return os.open(path, os.O_PATH | os.O_DIRECTORY)
        if kind is FdKind.EVENTFD:
            return os.eventfd(0)
        if kind is FdKind.IO_URING:
            return io_uring_fd()
        raise AssertionError(f"unhandled fd kind {kind}")

    @staticmethod
    def _reserve_closed_number() -> int:
        """A number that was a descriptor and is closed now, far above what a scenario allocates."""
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        floor = max(64, min(soft - 8, 4000))
        probe = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            number = fcntl.fcntl(probe, fcntl.F_DUPFD_CLOEXEC, floor)
        finally:
            os.close(probe)
        os.close(number)
        return number

    # -- use ----------------------------------------------------------------------------------

    def fd(self, name: str) -> int:
        """The live descriptor for ``name``, or the reserved closed number once it was closed."""
        return self._live.get(name, self.closed_number)

    def is_live(self, name: str) -> bool:
        return name in self._live

    def close(self, name: str) -> int | None:
        """Close ``name``; returns the errno as a value (a second close gives EBADF)."""
        fd = self._live.pop(name, None)
        if fd is None:
            return 9  # EBADF: the scenario closes what it closed before
        if name in ("a", "b"):
            k = self.known[name]
            self.known[name] = Known(None, k.dev, k.ino, k.seekable)
        self._owned.discard(fd)
        try:
            os.close(fd)
        except OSError as exc:
            return exc.errno
        return None


class FdUnavailable(Exception):
    """This platform cannot open an fd of that kind (io_uring disabled, no memfd ...)."""


def io_uring_fd() -> int:
    """io_uring_setup(1, &params) with zeroed params (struct io_uring_params is 120 bytes)."""
    from harness.host import host_constants
    from harness.native import libc

    number = host_constants().syscalls.get("io_uring_setup")
    if number is None:
        raise FdUnavailable("no io_uring_setup syscall number for this architecture")
    params = ctypes.create_string_buffer(120)
    r = libc.syscall(number, 1, ctypes.addressof(params))
    if not r.ok:
        raise FdUnavailable(f"io_uring_setup failed: {os.strerror(r.errno)}")
    return r.value


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
