"""Looking at file descriptors: the fd table, and what a received descriptor refers to."""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.native import libc
from harness.observation import ReceivedFd

if TYPE_CHECKING:
    from collections.abc import Mapping

_KCMP_FILE = 0


def open_fds() -> frozenset[int]:
    """The descriptors open in this process now (the listing's own descriptor excluded).

    At RLIMIT_NOFILE (a receiver the scenario put at its limit) the listing itself cannot be
    opened; then every number below the limit is asked with F_GETFD, which allocates nothing.
    """
    try:
        names = os.listdir("/proc/self/fd")
    except OSError as exc:
        if exc.errno != errno.EMFILE:
            raise
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return frozenset(fd for fd in range(limit) if is_open(fd))
    return frozenset(fd for fd in map(int, names) if is_open(fd))


def is_open(fd: int) -> bool:
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError:
        return False
    return True


def describe(fd: int) -> str:
    """``"7 -> socket:[1234]"``: for reports of leaked or unreported descriptors."""
    try:
        return f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}"
    except OSError:
        return f"{fd} -> ?"


def file_type(fd: int, mode: int) -> str:
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "char"
    if stat.S_ISDIR(mode):
        return "directory"
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "unknown"
    if target.startswith("pidfd:") or target == "anon_inode:[pidfd]":
        return "pidfd"
    return target.split(":", 1)[1].strip("[]") if target.startswith("anon_inode:") else "unknown"


def pidfd_pid(fd: int) -> int | None:
    """The ``Pid:`` of a pidfd in /proc/self/fdinfo (-1 once the process is gone), else None."""
    try:
        with open(f"/proc/self/fdinfo/{fd}") as info:
            for line in info:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def status_flag_names(flags: int) -> frozenset[str]:
    names = {("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[flags & os.O_ACCMODE]}
    for name in ("O_APPEND", "O_NONBLOCK", "O_PATH", "O_DIRECT", "O_NOATIME"):
        bit = getattr(os, name, 0)
        if bit and flags & bit:
            names.add(name)
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Known:
    """A descriptor of the scenario that a received fd may turn out to be.

    ``fd`` is a live descriptor of the same open file description (a private dup for table
    entries, the pair end itself for ``a``/``b``), or None once it is gone.
    """

    fd: int | None
    dev: int
    ino: int
    seekable: bool


class Identifier:
    """Tells which known descriptor a received fd is, by kcmp(KCMP_FILE) and by inode."""

    def __init__(self, kcmp_nr: int | None) -> None:
        self._kcmp_nr = kcmp_nr
        self._pid = os.getpid()

    def after_fork(self) -> None:
        self._pid = os.getpid()

    def same_description(self, fd1: int, fd2: int) -> bool | None:
        if self._kcmp_nr is None:
            return None
        r = libc.syscall(self._kcmp_nr, self._pid, self._pid, _KCMP_FILE, fd1, fd2)
        return r.value == 0 if r.ok else None

    def inspect(self, fd: int, known: Mapping[str, Known]) -> ReceivedFd:
        try:
            fd_flags = fcntl.fcntl(fd, fcntl.F_GETFD)
            st = os.fstat(fd)
            fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            return ReceivedFd(
                number=fd,
                valid=False,
                same_inode_as=(),
                same_file_as=None,
                description_checked=False,
                file_type="none",
                cloexec=False,
                status_flags=frozenset(),
                offset_shared=None,
                flags_shared=None,
            )
        inode_matches = sorted(name for name, k in known.items() if (k.dev, k.ino) == (st.st_dev, st.st_ino))
        same_file = None
        checked = False
        original: Known | None = None
        for name in inode_matches:
            k = known[name]
            if k.fd is None:
                continue
            same = self.same_description(fd, k.fd)
            checked = checked or same is not None
            if same:
                same_file, original = name, k
                break
        offset_shared = flags_shared = None
        if original is not None and original.fd is not None:
            if original.seekable:
                offset_shared = _offset_shared(fd, original.fd)
            flags_shared = _flags_shared(fd, original.fd, fl)
        kind = file_type(fd, st.st_mode)
        return ReceivedFd(
            number=fd,
            valid=True,
            same_inode_as=tuple(inode_matches),
            same_file_as=same_file,
            description_checked=checked,
            file_type=kind,
            cloexec=bool(fd_flags & fcntl.FD_CLOEXEC),
            status_flags=status_flag_names(fl),
            offset_shared=offset_shared,
            flags_shared=flags_shared,
            pid=pidfd_pid(fd) if kind == "pidfd" else None,
        )


def _offset_shared(fd: int, original: int) -> bool:
    """Seek one, look at the other, put it back: a shared offset means one open file description."""
    start = os.lseek(original, 0, os.SEEK_CUR)
    os.lseek(fd, start + 7, os.SEEK_SET)
    try:
        return os.lseek(original, 0, os.SEEK_CUR) == start + 7
    finally:
        os.lseek(fd, start, os.SEEK_SET)


def _flags_shared(fd: int, original: int, flags: int) -> bool | None:
    """Toggle O_NONBLOCK on one, read it on the other, put it back (file status flags are shared)."""
    if flags & getattr(os, "O_PATH", 0):
        return None
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags ^ os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return bool((fcntl.fcntl(original, fcntl.F_GETFL) ^ flags) & os.O_NONBLOCK)
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
