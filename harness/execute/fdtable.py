"""The scenario's descriptors: the pair ends and the fd table, all owned by one ExitStack.

How many descriptors a scenario needs is known before it runs (:func:`descriptors_needed`):
:func:`ensure_descriptor_limit` raises the soft RLIMIT_NOFILE up to the hard limit when it must,
and otherwise refuses the scenario (:class:`DescriptorLimitTooLow`, a ``CannotExpress``: the
verdict is ``unsupported``) instead of letting it fail half-way with EMFILE.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import resource
import shutil
import socket
import tempfile
import threading

from harness.execute.errors import CannotExpress
from harness.execute.inspect import Known, process_id
from harness.model import (
    FRESH_SOCKET_TYPES,
    SEEKABLE_KINDS,
    Child,
    FdKind,
    FdSpec,
    RawCmsg,
    Recv,
    Scenario,
    ScmRights,
    Send,
    Step,
)
from harness.model import _all_steps as all_steps  # every step, a Child step's too

FILE_CONTENT = b"scm-harness regular file\n" * 4  # so that offsets can move
# What the executor holds open for a moment besides the table: a /proc/self/fd listing, a
# child's report pipe, a splice pipe, a reopened pair end, the temporary directory's removal.
WORKING_DESCRIPTORS = 16
CLOSED_NUMBER_CEILING = 4000  # a higher reserved number would only grow the kernel's fd table
PARTNER_KINDS = frozenset({FdKind.PIPE_READ, FdKind.PIPE_WRITE, FdKind.SOCKET})  # their other end stays open


class DescriptorLimitTooLow(CannotExpress):
    """RLIMIT_NOFILE (its hard limit) is below what the scenario needs: it cannot run here."""

    def __init__(self, limit: int, required: int) -> None:
        super().__init__(f"RLIMIT_NOFILE {limit} is too low for this case: it needs {required} descriptors")
        self.limit = limit
        self.required = required


def descriptors_needed(scenario: Scenario) -> int:
    """The descriptors one execution of ``scenario`` may hold at once, beyond those open before.

    The pair, each table entry with its private dup and partner, every fd a receive can install
    (no more than were sent in the scenario, no more than its control buffer holds, plus an
    SCM_PIDFD), and :data:`WORKING_DESCRIPTORS`.  Child steps are counted too: a child inherits
    the table and the limit.
    """
    table = sum(1 + spec.tracked + (spec.kind in PARTNER_KINDS) for spec in scenario.fds)
    steps = scenario.steps
    if any(isinstance(step, Child) for step in steps):
        steps = tuple(all_steps(steps))
    sent = sum(_fds_in(step) for step in steps if isinstance(step, Send))
    received = sum(min(sent, step.control // 4) + 1 for step in steps if isinstance(step, Recv))
    return 2 + table + received + WORKING_DESCRIPTORS


def _fds_in(step: Step) -> int:
    if not isinstance(step, Send):
        return 0
    return sum(
        len(cmsg.fds) if isinstance(cmsg, ScmRights) else len(cmsg.data) // 4
        for cmsg in step.cmsgs
        if isinstance(cmsg, ScmRights | RawCmsg)
    )


def ensure_descriptor_limit(scenario: Scenario, open_now: int) -> tuple[int, int]:
    """Make the soft RLIMIT_NOFILE big enough for ``scenario`` (up to the hard limit), or refuse it.

    Returns the lowest number the reserved closed descriptor may have (above all the scenario's),
    and the soft limit it leaves (for :class:`FdTable`).  Raising the soft limit up to the hard one
    is what any program may do; the hard limit is the user's decision and stays.
    """
    closed_above = open_now + descriptors_needed(scenario)
    required = closed_above + 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if required > soft:
        if hard != resource.RLIM_INFINITY and required > hard:
            raise DescriptorLimitTooLow(hard, required)
        resource.setrlimit(resource.RLIMIT_NOFILE, (required, hard))
        soft = required
    return closed_above, soft


class FdTable:
    """Name -> live descriptor, for the pair ends ``a``/``b`` and every FdSpec.

    Each table entry also gets a private dup (never passed anywhere), so that a received fd can
    be compared with the file that was sent even after the scenario closed the original.  The pair
    ends get none: a dup would keep a closed end alive and change what the peer sees.
    """

    def __init__(self, stack: contextlib.ExitStack, closed_above: int = 0, soft_limit: int | None = None) -> None:
        """``soft_limit``: the soft RLIMIT_NOFILE, when the caller has just read (or set) it."""
        self._stack = stack
        self._owned: set[int] = set()
        self._private_dir: str | None = None
        stack.callback(self._close_all)
        self._live: dict[str, int] = {}
        self.known: dict[str, Known] = {}
        self.partners: dict[str, int] = {}  # the private other end of a pipe write end or a socket
        self.pending: dict[str, FdSpec] = {}  # ``accepted`` entries no Accept has filled yet
        if soft_limit is None:
            soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.closed_number = self._reserve_closed_number(closed_above, soft_limit)

    # -- set-up -------------------------------------------------------------------------------

    def own(self, fd: int) -> int:
        """Close ``fd`` when the scenario ends, unless the scenario closes it first."""
        self._owned.add(fd)
        return fd

    def _close_all(self) -> None:
        # every descriptor is closed before the directory is removed, which needs descriptors of its
        # own (a receiver that filled its table to RLIMIT_NOFILE left none: EMFILE, and the directory
        # stayed behind in $TMPDIR)
        try:
            self._close_owned()
        finally:
            self._remove_directory()

    def _close_owned(self) -> None:
        """Close every owned descriptor: each run of consecutive numbers by one close_range
        (os.closerange, which ignores errors as :func:`_close_quietly` does); every number of a run
        is owned, so nothing else is closed."""
        owned = sorted(self._owned)
        self._owned.clear()
        start = 0
        for end in range(1, len(owned) + 1):
            if end == len(owned) or owned[end] != owned[end - 1] + 1:
                if end - start == 1:
                    _close_quietly(owned[start])
                else:
                    os.closerange(owned[start], owned[end - 1] + 1)
                start = end

    def close_owned(self, fd: int) -> None:
        """Close an owned descriptor that is no entry of the table (a pair's listener)."""
        self._owned.discard(fd)
        os.close(fd)

    def unlink_after(self, path: bytes) -> None:
        """Remove the socket file ``path`` when the scenario ends (a pair bound it), even after an error."""
        self._stack.callback(_unlink_quietly, path)

    def add_pair_end(self, side: str, fd: int) -> None:
        self._live[side] = fd
        st = os.fstat(fd)
        self.known[side] = Known(fd, st.st_dev, st.st_ino, False)

    def open(self, spec: FdSpec) -> int:
        if spec.kind is FdKind.ACCEPTED:
            self.pending[spec.name] = spec  # filled by an Accept step (fill); closed until then
            return -1
        fd = self.own(self._open(spec))
        if (spec.nonblock or spec.append) and spec.kind is not FdKind.OPATH_DIR:
            # (setting the status flags it has already would change nothing: then neither call is made)
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            if spec.nonblock:
                flags |= os.O_NONBLOCK
            if spec.append:
                flags |= os.O_APPEND
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        if spec.kind is not FdKind.MEMFD:  # memfd_create set FD_CLOEXEC as asked (_open)
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC if spec.cloexec else 0)
        seekable = spec.kind in SEEKABLE_KINDS
        if seekable:
            os.lseek(fd, 5, os.SEEK_SET)
        private = self.own(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)) if spec.tracked else None
        st = os.fstat(fd)
        self._live[spec.name] = fd
        self.known[spec.name] = Known(private, st.st_dev, st.st_ino, seekable)
        if self._last_partner is not None:
            self.partners[spec.name] = self._last_partner
            self._last_partner = None
        return fd

    _last_partner: int | None = None

    def fill(self, name: str, fd: int) -> None:
        """An Accept step's new descriptor becomes the ``accepted`` entry ``name`` (accept4 set its flags)."""
        spec = self.pending.pop(name)
        self.own(fd)
        private = self.own(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)) if spec.tracked else None
        st = os.fstat(fd)
        self._live[name] = fd
        self.known[name] = Known(private, st.st_dev, st.st_ino, False)

    def _directory(self) -> str:
        if self._private_dir is None:
            self._private_dir = _private_directory()
        return self._private_dir

    def _remove_directory(self) -> None:
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir)

    def _open(self, spec: FdSpec) -> int:
        kind = spec.kind
        if kind is FdKind.REGULAR_FILE:
            fd = _unnamed_regular_file()
            if fd is None:
                fd = os.open(os.path.join(self._directory(), spec.name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, FILE_CONTENT)
            return fd
        if kind is FdKind.MEMFD:
            fd = os.memfd_create(f"scm-harness-{spec.name}", os.MFD_CLOEXEC if spec.cloexec else 0)
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
        if kind in FRESH_SOCKET_TYPES:
            type_ = getattr(socket, FRESH_SOCKET_TYPES[kind].value)
            return socket.socket(socket.AF_UNIX, type_ | socket.SOCK_CLOEXEC).detach()
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
    def _reserve_closed_number(closed_above: int, soft: int) -> int:
        """A number that was a descriptor and is closed now, above what the scenario allocates.

        It must stay below the soft RLIMIT_NOFILE: F_DUPFD to a number at or above it fails with
        EINVAL (what every case met at ``ulimit -n 64`` when the floor was a fixed 64).  The number
        of an earlier scenario of this process is taken again while it still fits and is still
        closed (one F_GETFD instead of an open, a dup and two closes).
        """
        floor = max(closed_above, min(soft - 1, CLOSED_NUMBER_CEILING))
        pid = process_id()
        earlier = _reserved.get(pid)
        if earlier is not None and floor <= earlier < soft:
            try:
                fcntl.fcntl(earlier, fcntl.F_GETFD)
            except OSError as exc:
                if exc.errno == errno.EBADF:
                    return earlier
                raise
        probe = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            number = fcntl.fcntl(probe, fcntl.F_DUPFD_CLOEXEC, floor)
        finally:
            os.close(probe)
        os.close(number)
        _reserved.clear()  # a forked child's entry never outlives its parent's use
        _reserved[pid] = number
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


_reserved: dict[int, int] = {}  # pid -> the closed number its last scenario reserved


class FdUnavailable(Exception):
    """This platform cannot open an fd of that kind (io_uring disabled, no memfd ...)."""


def io_uring_fd() -> int:
    """io_uring_setup(1, &params) with zeroed params (struct io_uring_params is 120 bytes), made by a
    thread of its own that has ended when this returns.

    Measured on Linux 6.18.44: the ring is tied to the task that set it up, and about 15 ms after
    the ring is closed its teardown adds task work (TWA_SIGNAL) to that task, which interrupts the
    sleeping system call the task is in once (a recv under SO_RCVTIMEO fails with EINTR, no signal).
    A task that exits is untied from its rings first: a ring set up by a thread that has ended
    interrupts nobody later (measured: no EINTR within 200 ms of the close), so the harness process
    may own one.  tests/test_executor.py shows both.
    """
    from harness.host import host_constants
    from harness.native import libc

    number = host_constants().syscalls.get("io_uring_setup")
    if number is None:
        raise FdUnavailable("no io_uring_setup syscall number for this architecture")
    params = ctypes.create_string_buffer(120)
    results: list[libc.Result] = []
    setter = threading.Thread(target=lambda: results.append(libc.syscall(number, 1, ctypes.addressof(params))))
    setter.start()
    setter.join()
    r = results[0]
    if not r.ok:
        raise FdUnavailable(f"io_uring_setup failed: {os.strerror(r.errno)}")
    return r.value


# Where a regular file without a name is made (O_TMPFILE): tmpfs first (measured here: 32 us for
# open+write+close on /dev/shm, 290 us on the ext4 temporary directory, 2.1 ms for mkdtemp + create +
# unlink + rmdir), then the temporary directory.  A directory whose filesystem refuses O_TMPFILE
# (hostfs under UML, ...) is dropped; with none left, files get names in the table's private directory.
_TMPFILE_PLACES: list[str] = ["/dev/shm", tempfile.gettempdir()]


def _unnamed_regular_file() -> int | None:
    """A regular file without a name (O_TMPFILE), or None where no filesystem offers O_TMPFILE.

    Nothing to create or remove per scenario, and nothing is left behind even when the process is
    killed; a scenario never needs a regular file's name (a reopen goes through /proc/self/fd).
    """
    while _TMPFILE_PLACES:
        try:
            return os.open(_TMPFILE_PLACES[0], os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT, errno.EACCES, errno.EROFS):
                raise
            _TMPFILE_PLACES.pop(0)
    return None


# Where a scenario's private directory is made (the directories of opath-dir entries, named files):
# $TMPDIR when the user set it (what is left there after a kill is theirs to see), else tmpfs first, as
# for O_TMPFILE (measured on 6.18.44: mkdtemp + mkdir + open(O_PATH) + rmtree 117 us on /dev/shm, 523 us
# on the ext4 /tmp), then the temporary directory.
_DIRECTORY_PLACES: list[str | None] = [None] if os.environ.get("TMPDIR") else ["/dev/shm", None]


def _private_directory() -> str:
    """A fresh directory that only this user may enter (mkdtemp: mode 0700), removed when the scenario ends."""
    while len(_DIRECTORY_PLACES) > 1:
        try:
            return tempfile.mkdtemp(prefix="scm-harness-", dir=_DIRECTORY_PLACES[0])
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
                raise
            _DIRECTORY_PLACES.pop(0)
    return tempfile.mkdtemp(prefix="scm-harness-")


def _unlink_quietly(path: bytes) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
