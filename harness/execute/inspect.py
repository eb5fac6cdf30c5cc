"""Looking at file descriptors: the fd table, and what a received descriptor refers to."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import resource
import stat
import struct
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.native import libc
from harness.native.constants import errno_name
from harness.observation import (
    IDENTITY_DUPFD_QUERY,
    IDENTITY_FLAGS,
    IDENTITY_KCMP,
    IDENTITY_OFFSET,
    IDENTITY_OFFSET_AND_FLAGS,
    NO_DESCRIPTOR,
    NO_METHOD_FOR_O_PATH,
    UNDECIDED,
    ReceivedFd,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

_KCMP_FILE = 0
_F_DUPFD_QUERY = 1027  # F_LINUX_SPECIFIC_BASE + 3 (Linux 6.10): 1 when two fds share one struct file

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def process_id() -> int:
    """``os.getpid()`` without a system call per question (a scenario asked it nine times).

    A process's id changes only in a new process: it is read once at import and again in the child
    of every ``os.fork()`` (os.register_at_fork runs the hook there before fork returns), which is
    how every process of the harness is made (harness.execute.lifetime, multiprocessing's fork
    context); a process made any other way (subprocess, libFuzzer's -fork) execs and imports anew.
    """
    return _pid


def open_fds() -> frozenset[int]:
    """The descriptors open in this process now (the listing's own descriptor excluded).

    One getdents64 of /proc/self/fd into a reused buffer: no per-descriptor probe.  The directory
    is the one :func:`hold_listing` keeps open for this process (rewound), else it is opened and
    closed around the listing (a Child step's process: its own RLIMIT_NOFILE headroom must not
    lose a descriptor to the harness).  At RLIMIT_NOFILE (a receiver the scenario put at its limit)
    the listing itself cannot be opened; then every number below the limit is asked with F_GETFD,
    which allocates nothing.
    """
    return frozenset(fd_numbers(fd_listing()))


def fd_listing() -> frozenset[bytes]:
    """:func:`open_fds` as the names /proc/self/fd gives the descriptors (:func:`fd_name`).

    Listings are compared as they are read, without a conversion per descriptor: only what one
    has and the other lacks is turned into numbers (:func:`fd_numbers`).
    """
    held = _held
    if held is not None and held[0] == _pid:
        names = _listed(held[1], rewind=True)
        if names is not None:
            names.discard(held[2])
            return frozenset(names)
    try:
        listing = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.EMFILE:
            raise
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return frozenset(fd_name(fd) for fd in range(limit) if is_open(fd))
    try:
        names = _listed(listing, rewind=False)
    finally:
        os.close(listing)
    if names is None:  # no getdents64 in this libc: the listing by name, each number asked
        return frozenset(fd_name(fd) for fd in map(int, os.listdir("/proc/self/fd")) if is_open(fd))
    names.discard(fd_name(listing))
    return frozenset(names)


def fd_name(fd: int) -> bytes:
    """How a listing names descriptor ``fd``: its decimal digits, NUL-padded to 5 bytes (``b"12\\0\\0\\0"``,
    the d_name field of a 24-byte record as :func:`_listed` leaves it)."""
    digits = b"%d" % fd
    return digits + _NAME_PADDING[len(digits) :]


def fd_numbers(names: frozenset[bytes] | set[bytes]) -> list[int]:
    """The descriptors ``names`` (a listing or a difference of listings) name, in order."""
    return sorted(int(name.rstrip(b"\0")) for name in names)


# (pid, descriptor, its fd_name): the /proc/self/fd hold_listing() keeps open
_held: tuple[int, int, bytes] | None = None


def hold_listing() -> None:
    """Keep /proc/self/fd open in this process for :func:`open_fds` (an open and a close fewer per
    listing).  Called before a scenario's baseline, never in a Child step's process; a forked
    process (a fuzz worker) opens its own, as the inherited one lists its parent's table."""
    global _held
    pid = _pid
    if _held is not None and _held[0] == pid:
        return
    try:
        fd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.ENFILE):
            raise
        return  # the listings open the directory each time (or probe, at the limit)
    _held = (pid, fd, fd_name(fd))


_DIRENT_BYTES = bytearray(1 << 16)  # guarded by _DIRENTS_LOCK (a Child thread lists too)
_DIRENTS = (ctypes.c_char * len(_DIRENT_BYTES)).from_buffer(_DIRENT_BYTES)  # the same memory, for getdents64
_ZEROS = memoryview(bytes(len(_DIRENT_BYTES)))
_DIRENTS_LOCK = threading.Lock()
_SHORT_DIRENT = 24  # the record of a name of at most 4 bytes: ".", "..", descriptors 0-9999
_SHORT_LENGTH = _SHORT_DIRENT.to_bytes(2, sys.byteorder)
_NAME_FIELD = 5  # the d_name field of a 24-byte record: a name of at most 4 bytes and its NUL
_NAME_PADDING = bytes(_NAME_FIELD)
_DOTS = (b".\0\0\0\0", b"..\0\0\0")
_RECLEN = struct.Struct("=H")
_SHORT_NAMES: dict[int, struct.Struct] = {}  # record count -> the Struct of their d_name fields


def _listed(directory: int, *, rewind: bool) -> set[bytes] | None:
    """The names (:func:`fd_name`) in the open /proc/self/fd ``directory`` (from its start), by getdents64.

    It reads until getdents64 returns 0 (the end of the directory).  A reply that left room for
    more records is not the end: filldir64() stops early when a signal is pending, and
    measured on 6.18.44, with a 50 us interval timer every listing of 205 descriptors came back
    short.  A listing taken as complete then made the harness's own descriptors "appear" during
    a receive, own them and close them (the fuzz workers' flaky fd-leaks findings, and a run
    under py-spy that lost a worker's result socket).  None: no getdents64 in libc, or (``rewind``:
    the held directory) it is no longer the directory (a scenario closed that number), which is
    then let go.
    """
    global _held
    names: set[bytes] = set()
    with _DIRENTS_LOCK:
        if rewind:
            try:
                os.lseek(directory, 0, os.SEEK_SET)
            except OSError:
                _held = None
                return None
        while True:
            r = libc.getdents64(directory, _DIRENTS)
            if r is None:
                return None
            if not r.ok:
                if rewind:
                    _held = None
                    return None
                raise OSError(r.errno, "getdents64(/proc/self/fd)")
            size = r.value
            if size == 0:
                return names
            try:
                names.update(_dirent_names(size))
            finally:
                _DIRENT_BYTES[:size] = _ZEROS[:size]  # the kernel writes a name and its NUL only (filldir64)


def _dirent_names(size: int) -> set[bytes]:
    """The descriptors named by the linux_dirent64 records in the first ``size`` bytes of the
    buffer ("." and ".." left out), as :func:`fd_name` spells them.

    struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }: when
    every record is 24 bytes long (numbers below 10,000), the name fields are unpacked at once; the
    buffer is all zeros past what the kernel wrote (_listed clears it), so each field is the name
    and NULs.
    """
    raw = _DIRENT_BYTES
    count, rest = divmod(size, _SHORT_DIRENT)
    if (
        not rest
        and raw[16:size:_SHORT_DIRENT] == _SHORT_LENGTH[:1] * count
        and (raw[17:size:_SHORT_DIRENT] == _SHORT_LENGTH[1:] * count)
    ):
        unpack = _SHORT_NAMES.get(count)
        if unpack is None:
            unpack = struct.Struct("=" + "19x5s" * count)
            if len(_SHORT_NAMES) < 256:
                _SHORT_NAMES[count] = unpack
        names = set(unpack.unpack_from(raw))
        names.difference_update(_DOTS)
        return names
    names = set()
    position = 0
    while position < size:
        end = raw.index(b"\0", position + 19)
        if raw[position + 19] != 46:  # "." and ".."
            names.add(fd_name(int(raw[position + 19 : end])))
        position += _RECLEN.unpack_from(raw, position + 16)[0]
    return names


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
    names = _STATUS_NAMES.get(flags)
    if names is None:
        found = {("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[flags & os.O_ACCMODE]}
        found.update(name for name, bit in _STATUS_BITS if flags & bit)
        names = frozenset(found)
        if len(_STATUS_NAMES) < 1024:  # a few flag words recur; the cache stays small whatever comes
            _STATUS_NAMES[flags] = names
    return names


_STATUS_BITS = tuple(
    (name, bit)
    for name in ("O_APPEND", "O_NONBLOCK", "O_PATH", "O_DIRECT", "O_NOATIME")
    if (bit := getattr(os, name, 0))
)
_STATUS_NAMES: dict[int, frozenset[str]] = {}


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
    """Tells which known descriptor a received fd is: by inode, then by open file description.

    The description is compared by kcmp(KCMP_FILE); where kcmp is missing (ENOSYS: user-mode
    Linux, gVisor, CONFIG_KCMP=n) or refused (EPERM: seccomp, a Yama ptrace scope), by probes
    of what one open file description shares: its offset (seekable files) and its status flags
    (everything but O_PATH).  Per fd kind without kcmp (measured on 6.18 with kcmp denied by
    seccomp, tests/test_identity_without_kcmp.py, and the same on user-mode Linux 6.1.176, which
    has no kcmp): regular-file and memfd by "offset+flags probe";
    pipe-read, pipe-write, socket (and the pair ends), dev-null, eventfd and io-uring by "flags
    probe" (/dev/null's lseek always returns 0, pipes and sockets give ESPIPE); opath-dir by
    "F_DUPFD_QUERY" (Linux 6.10+), else "undecided" (an O_PATH fd answers lseek and F_SETFL with
    EBADF, and nothing else a process can read tells two O_PATH descriptions of one directory apart).
    """

    def __init__(self, kcmp_nr: int | None) -> None:
        self._kcmp_nr = kcmp_nr
        self._pid = _pid

    def after_fork(self) -> None:
        self._pid = _pid

    def same_description(self, fd1: int, fd2: int) -> bool | None:
        """kcmp(KCMP_FILE); None when it cannot be asked (once missing or refused, never again)."""
        if self._kcmp_nr is None:
            return None
        r = libc.syscall5(self._kcmp_nr, self._pid, self._pid, _KCMP_FILE, fd1, fd2)
        if not r.ok and r.errno in (errno.ENOSYS, errno.EPERM, errno.EACCES):
            self._kcmp_nr = None
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
                identity=UNDECIDED,
                file_type="none",
                cloexec=False,
                status_flags=frozenset(),
                offset_shared=None,
                flags_shared=None,
            )
        dev, ino = st.st_dev, st.st_ino
        inode_matches = [name for name, k in known.items() if k.ino == ino and k.dev == dev]
        if len(inode_matches) > 1:
            inode_matches.sort()
        live = {name: k for name in inode_matches if (k := known[name]).fd is not None}
        decision = self._decide(fd, fl, live)
        identity = decision.identity
        if identity == UNDECIDED:
            undecided = tuple(inode_matches)
            note = decision.note
        else:
            undecided = () if len(live) == len(inode_matches) else tuple(n for n in inode_matches if n not in live)
            note = NO_DESCRIPTOR if undecided else ""
        mode = st.st_mode
        kind = "regular" if stat.S_ISREG(mode) else file_type(fd, mode)
        return ReceivedFd(
            number=fd,
            valid=True,
            same_inode_as=tuple(inode_matches),
            same_file_as=decision.same,
            identity=identity,
            undecided_as=undecided,
            identity_note=note,
            file_type=kind,
            cloexec=bool(fd_flags & fcntl.FD_CLOEXEC),
            status_flags=status_flag_names(fl),
            offset_shared=decision.offset_shared,
            flags_shared=decision.flags_shared,
            pid=pidfd_pid(fd) if kind == "pidfd" else None,
        )

    def _decide(self, fd: int, flags: int, live: Mapping[str, Known]) -> _Decision:
        """Which of the live same-inode entries ``fd`` shares its open file description with."""
        if not live:
            return _NOTHING_LIVE
        others = {name: k.fd for name, k in live.items() if k.fd is not None}
        seekable = all(k.seekable for k in live.values())
        decided = True  # kcmp answered for every one (each is asked, in order)
        same = None  # the first it said is the same description
        for name, other in others.items():
            verdict = self.same_description(fd, other)
            if verdict is None:
                decided = False
            elif verdict and same is None:
                same = name
        if decided:
            if same is None:
                return _NONE_BY_KCMP
            # kcmp said which: check that the kernel really shares offset and status flags
            only = {same: others[same]}
            offsets = _offsets_seen(fd, only) if seekable else {}
            seen = _flags_seen(fd, flags, only)
            return _Decision(
                IDENTITY_KCMP,
                same,
                offset_shared=offsets.get(same),
                flags_shared=seen.get(same) if isinstance(seen, dict) else None,
            )
        if flags & os.O_PATH:
            return _queried(fd, others)
        offsets = _offsets_seen(fd, others) if seekable else {}
        seen = _flags_seen(fd, flags, others)
        if isinstance(seen, str) and not offsets:
            return _Decision(UNDECIDED, note=seen)
        by_flags = seen if isinstance(seen, dict) else {}
        method = IDENTITY_OFFSET_AND_FLAGS if offsets and by_flags else IDENTITY_OFFSET if offsets else IDENTITY_FLAGS
        same = next((name for name in others if offsets.get(name, True) and by_flags.get(name, True)), None)
        if same is None:
            return _Decision(method)
        return _Decision(method, same, offset_shared=offsets.get(same), flags_shared=by_flags.get(same))


@dataclass(frozen=True, slots=True)
class _Decision:
    identity: str
    same: str | None = None
    note: str = ""
    offset_shared: bool | None = None
    flags_shared: bool | None = None


_NOTHING_LIVE = _Decision(UNDECIDED, note=NO_DESCRIPTOR)
_NONE_BY_KCMP = _Decision(IDENTITY_KCMP)


def _queried(fd: int, others: Mapping[str, int]) -> _Decision:
    """An O_PATH fd, which answers lseek and F_SETFL with EBADF: fcntl(F_DUPFD_QUERY) if the kernel
    has it (6.10, allowed on O_PATH), else undecided.  Before 6.10 an O_PATH fd answers the unknown
    command with EBADF (measured on 6.1.176; EINVAL on other fds); ``fd`` was just fstat'ed."""
    try:
        same = next((name for name, other in others.items() if fcntl.fcntl(fd, _F_DUPFD_QUERY, other) == 1), None)
    except OSError as exc:
        if exc.errno not in (errno.EBADF, errno.EINVAL):
            raise
        return _Decision(UNDECIDED, note=NO_METHOD_FOR_O_PATH)
    return _Decision(IDENTITY_DUPFD_QUERY, same)


def _offsets_seen(fd: int, others: Mapping[str, int]) -> dict[str, bool]:
    """Seek ``fd`` to an offset none of the others has, read theirs, seek ``fd`` back.

    An open file description has one offset: the others that moved with ``fd`` are its own
    description, and seeking ``fd`` back restores theirs too; the others never moved.
    """
    start = os.lseek(fd, 0, os.SEEK_CUR)
    mark = max(start, *(os.lseek(other, 0, os.SEEK_CUR) for other in others.values())) + 7919
    os.lseek(fd, mark, os.SEEK_SET)
    try:
        return {name: os.lseek(other, 0, os.SEEK_CUR) == mark for name, other in others.items()}
    finally:
        os.lseek(fd, start, os.SEEK_SET)


def _flags_seen(fd: int, flags: int, others: Mapping[str, int]) -> dict[str, bool] | str:
    """Toggle O_NONBLOCK on ``fd``, read F_GETFL through each other, put ``fd``'s flags back.

    File status flags belong to the open file description: the others that saw the toggle are
    its description (and are restored with it).  A string says why this cannot be tried.
    """
    if flags & os.O_PATH:
        return NO_METHOD_FOR_O_PATH  # with kcmp: nothing to check beyond what kcmp said
    before = {name: fcntl.fcntl(other, fcntl.F_GETFL) for name, other in others.items()}
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags ^ os.O_NONBLOCK)
    except OSError as exc:
        return f"F_SETFL O_NONBLOCK failed with {errno_name(exc.errno or 0)}"
    try:
        return {
            name: bool((fcntl.fcntl(o, fcntl.F_GETFL) ^ before[name]) & os.O_NONBLOCK) for name, o in others.items()
        }
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
