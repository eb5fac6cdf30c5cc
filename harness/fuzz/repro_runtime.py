"""The interpreter every generated ``repro.py`` carries (its source is pasted in verbatim).

Standard library and ctypes only: a reproducer must run on a machine without the harness.  It
does what the raw back end does (socketpair, the fd table, sendmsg/recvmsg with byte-exact
msghdr, cmsghdr and iovec, buffers filled with 0xA5, msg_flags seeded) and compares every
observable with the oracle's expectation the way the checkers do.  Exit status: 1 when
anything deviates (the finding reproduces), 0 when this platform conforms, 2 when the
reproducer cannot run here; the last line printed says the same (``RESULT_LINE`` + a word of
``RESULTS``), so that a reproducer that crashed (a traceback also exits 1) is not taken for one
that reproduced.

The scenario is data, never source: one JSON text (written by :func:`harness.fuzz.repro_py.data_text`,
decoded by :func:`decode`) with these keys::

    title, details          what the finding is (printed first, escaped)
    unsupported             why it cannot be reproduced, or null
    consts                  {name: number} of this platform
    pair                    [type_number, nonblocking, reversed, origin]: origin null (socketpair) or
                            [how, address] (harness.model.PairOrigin: "accepted" / "connected" /
                            "unconnected"; "pathname" / "abstract" / "autobind")
    fds                     [[name, kind, cloexec, nonblock, append, tracked], ...]
    steps                   [[op, args, expected, words], ...]
    # a Child step: ["child", {"uid_base", "nofile", "headroom", "steps": [[op, args, expected, words], ...]}, ...]

bytes are ``{"$bytes": [part, ...]}``, a part being a string of code points 0..255 or [byte, count].
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import resource
import select
import shutil
import signal
import stat
import struct
import sys
import tempfile
import threading
import time
from typing import Any

FILL = 0xA5
FLAGS_SEED = 0x00800000
STEP_TIMEOUT = 0.5  # SO_RCVTIMEO / SO_SNDTIMEO on blocking pairs, as the harness sets them
HANG_SECONDS = 20
BAD_ADDRESS = 0x10  # inside page 0, never mapped: the kernel's copy faults
FILE_CONTENT = b"scm-harness regular file\n" * 4
WORD = ctypes.sizeof(ctypes.c_size_t)
HEADER = (WORD + 8 + WORD - 1) & ~(WORD - 1)
SOCK_NONBLOCK = 0o4000
SOCK_CLOEXEC = 0o2000000
KCMP_FILE = 0
ALL_POLL_BITS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x100 | 0x2000  # the revents the harness reports
CHILD_TIMEOUT = 10.0  # the harness's child_timeout: a child still running then is killed (a hang)
PR_SET_PDEATHSIG = 1
CHILD_CANNOT_RUN = 2  # a child's exit status: it could not run its steps (0 = conforms, 1 = deviated)
RESULT_LINE = "SCM-HARNESS-REPRO-RESULT: "  # + the word of RESULTS for the exit status: the last line printed
RESULTS = {0: "conforms", 1: "reproduced", 2: "unsupported"}
BYTES_TAG = "$bytes"
UNIX_SOCKET_TYPES = {"unix-stream": 1, "unix-dgram": 2, "unix-seqpacket": 5}  # SOCK_* on Linux


def decode(text: str) -> Any:
    """The scenario data: JSON, with bytes as {"$bytes": [latin-1 text | [byte, count], ...]}."""

    def hook(obj: dict[str, Any]) -> Any:
        if BYTES_TAG not in obj:
            return obj
        return b"".join(
            part.encode("latin-1") if isinstance(part, str) else bytes([part[0]]) * part[1] for part in obj[BYTES_TAG]
        )

    return json.loads(text, object_hook=hook)


def printable(text: str) -> str:
    """``text`` with every character outside printable ASCII escaped: data never prints as a new line."""
    return "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)


def brief(value: object) -> str:
    """A value as a deviation shows it: bytes beyond 64 cut as the harness cuts them, any text at 2000 characters."""
    if isinstance(value, bytes):
        return repr(value) if len(value) <= 64 else f"{value[:60]!r}... ({len(value)} bytes)"
    if isinstance(value, list) and all(isinstance(v, bytes) for v in value):
        return "[" + ", ".join(map(brief, value)) + "]"
    text = str(value)
    return text if len(text) <= 2000 else text[:2000] + "..."


# msg_name: the harness's address confinement (harness/addresses.py, Target.sockaddr) restated, as a
# reproducer cannot import the harness (issue 13 will build reproducers from the harness itself).  The
# plan carries address_target() of each address as [kind, data]; a name is rendered here with this run's
# own random token and private directory in the harness's layout, so its length stays within sockaddr_un
# and the kernel's errno is the harness's.  An address the kernel refuses before any lookup is unchanged.
ABSTRACT_TAG = "scm-harness"
NAMES_PARENT = "/tmp"  # searchable by all: $TMPDIR may be a 0700 directory (the harness runs reproducers so)
NAMES_PREFIX = "scm-repro-names-"


def confined_name(kind: str, data: bytes, token: str, directory: str) -> bytes:
    """The sockaddr to send to: ``data`` unchanged, or the confined name (as Target.sockaddr builds it)."""
    if kind == "unchanged":
        return data
    family = struct.pack("=H", 1)  # AF_UNIX
    if kind == "abstract":
        return family + b"\0" + f"{ABSTRACT_TAG}-{token}-".encode() + data
    return family + f"{directory}/{token}-".encode() + data + b"\0"


def pair_name(address: str, role: str, token: str, directory: str) -> bytes:
    """What pair end ``role`` binds (harness.addresses.pair_target restated): the family alone autobinds."""
    if address == "autobind":
        return struct.pack("=H", 1)
    return confined_name("abstract" if address == "abstract" else "path", f"pair-{role}".encode(), token, directory)


def describe_name(raw: bytes, names: dict[str, bytes]) -> str:
    """An address as data comparable across runs (harness.addresses.describe_name restated)."""
    if not raw:
        return "none"
    if len(raw) <= 2:
        return "unnamed"
    for side, name in sorted(names.items()):
        if raw == name:
            return side
    if raw[2] == 0:
        hex_digits = all(c in b"0123456789abcdef" for c in raw[3:])
        return "autobind" if len(raw) == 8 and hex_digits else "abstract"
    return "pathname"


def names_directory() -> str:
    """This run's directory of confined paths: mode 0711, so that an unprivileged child's lookup ends
    in ENOENT as in the harness, not EACCES; nobody else can create a name in it."""
    path = tempfile.mkdtemp(prefix=NAMES_PREFIX, dir=NAMES_PARENT)
    os.chmod(path, 0o711)
    return path


def result(code: int) -> int:
    print(RESULT_LINE + RESULTS[code], flush=True)
    return code


class iovec(ctypes.Structure):
    _fields_ = (("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t))


class msghdr(ctypes.Structure):
    _fields_ = (
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    )


libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
libc.sendmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
libc.sendmsg.restype = ctypes.c_ssize_t
libc.recvmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
libc.recvmsg.restype = ctypes.c_ssize_t
libc.socketpair.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
libc.setsockopt.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)
libc.getsockopt.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
libc.shutdown.argtypes = (ctypes.c_int, ctypes.c_int)
libc.listen.argtypes = (ctypes.c_int, ctypes.c_int)
libc.socket.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
libc.syscall.restype = ctypes.c_long
libc.socket.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
libc.bind.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
libc.connect.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
libc.accept4.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
libc.getsockname.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def call(result: int) -> tuple[int, int]:
    """(return value, errno) of the libc call that just returned ``result``."""
    return (result, ctypes.get_errno() if result < 0 else 0)


def errno_name(number: int) -> str:
    preferred = {errno.EAGAIN: "EAGAIN", errno.EOPNOTSUPP: "EOPNOTSUPP", errno.EDEADLK: "EDEADLK"}
    return preferred.get(number) or errno.errorcode.get(number, f"errno{number}")


def wait_for(fd: int, event: int) -> bool:
    """poll() ``fd`` for ``event`` for at most the step timeout (connect and accept are bounded)."""
    poller = select.poll()
    poller.register(fd, event)
    return any(got & event for _, got in poller.poll(int(STEP_TIMEOUT * 1000)))


def open_fds() -> set[int]:
    """The open descriptors (the listing's own excluded); at RLIMIT_NOFILE, asked one by one with F_GETFD."""
    try:
        numbers = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError as exc:
        if exc.errno != errno.EMFILE:
            raise
        numbers = list(range(resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    out = set()
    for fd in numbers:
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError:
            continue
        out.add(fd)
    return out


def describe(outcome: tuple[Any, ...]) -> str:
    if outcome[0] == "returned":
        return f"returned {outcome[1]}"
    if outcome[0] == "failed":
        return f"failed with {outcome[1]}"
    return "blocked"


def status_names(flags: int) -> list[str]:
    names = {("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[flags & os.O_ACCMODE]}
    for name in ("O_APPEND", "O_NONBLOCK", "O_PATH", "O_DIRECT", "O_NOATIME"):
        bit = getattr(os, name, 0)
        if bit and flags & bit:
            names.add(name)
    return sorted(names)


def file_type(fd: int, mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "regular"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "char"),
        (stat.S_ISDIR, "directory"),
    ):
        if test(mode):
            return name
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "unknown"
    return target.split(":", 1)[1].strip("[]") if target.startswith("anon_inode:") else "unknown"


class Repro:
    def __init__(self, consts: dict[str, int]) -> None:
        self.c = consts
        self.live: dict[str, int] = {}
        self.known: dict[str, tuple[int | None, int, int, bool]] = {}  # name -> (fd, dev, ino, seekable)
        self.owned: set[int] = set()
        self.deviations = 0
        self.tmp = tempfile.mkdtemp(prefix="scm-repro-")
        self.names, self.token = names_directory(), os.urandom(16).hex()  # where msg_names resolve
        self.nonblocking = False
        self.pair_names: dict[str, bytes] = {}  # the name each pair end bound (an accepted pair: b only)
        self.destination: dict[str, bytes] = {}  # an unconnected pair: where a send without msg_name goes
        self.closed_number = self.reserve_closed_number()
        # the scenario's process: expected ids name it, in a child too (which has its own pid)
        self.ids = {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid()}
        self.where = ""  # "2." while a child runs the steps of step 2
        self.indent = ""

    # -- set-up -------------------------------------------------------------------------------

    def reserve_closed_number(self) -> int:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        probe = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            number = fcntl.fcntl(probe, fcntl.F_DUPFD_CLOEXEC, min(soft - 1, 4000))  # F_DUPFD at soft: EINVAL
        finally:
            os.close(probe)
        os.close(number)
        return number

    def new_socket(self, type_number: int) -> int:
        ctypes.set_errno(0)
        fd: int = libc.socket(1, type_number | SOCK_CLOEXEC, 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "socket")
        self.owned.add(fd)
        return fd

    def bind(self, fd: int, address: str, role: str) -> bytes:
        """Bind ``fd`` to the name of ``role`` (a path: writable by all, as the harness leaves it); its name."""
        raw = pair_name(address, role, self.token, self.names)
        ctypes.set_errno(0)
        if libc.bind(fd, raw, len(raw)) < 0:
            raise OSError(ctypes.get_errno(), "bind")
        if raw[2:3] not in (b"", b"\0"):
            os.chmod(raw[2:].split(b"\0", 1)[0], 0o777)
        buf = ctypes.create_string_buffer(128)
        size = ctypes.c_uint32(128)
        if libc.getsockname(fd, buf, ctypes.byref(size)) < 0:
            raise OSError(ctypes.get_errno(), "getsockname")
        return buf.raw[: size.value]

    def api_pair(self, type_number: int, how: str, address: str) -> tuple[int, int]:
        """The pair through socket/bind/listen/connect/accept, as the harness makes it (backend._api_pair)."""
        if how == "accepted":
            listener = self.new_socket(type_number)
            name = self.bind(listener, address, "b")
            if libc.listen(listener, 1) < 0:
                raise OSError(ctypes.get_errno(), "listen")
            a = self.new_socket(type_number)
            os.set_blocking(a, False)
            ctypes.set_errno(0)
            if libc.connect(a, name, len(name)) < 0 and (
                ctypes.get_errno() not in (errno.EAGAIN, errno.EINPROGRESS) or not wait_for(a, select.POLLOUT)
            ):
                raise OSError(ctypes.get_errno(), "connect")
            if not wait_for(listener, select.POLLIN):
                raise OSError(errno.ETIMEDOUT, "accept")
            b = libc.accept4(listener, None, None, SOCK_CLOEXEC)
            if b < 0:
                raise OSError(ctypes.get_errno(), "accept4")
            self.owned.add(b)
            self.owned.discard(listener)
            os.close(listener)
            os.set_blocking(a, True)
            self.pair_names = {"b": name}
            return a, b
        a, b = self.new_socket(type_number), self.new_socket(type_number)
        self.pair_names = {"a": self.bind(a, address, "a"), "b": self.bind(b, address, "b")}
        if how == "connected":
            for fd, peer in ((a, "b"), (b, "a")):
                if libc.connect(fd, self.pair_names[peer], len(self.pair_names[peer])) < 0:
                    raise OSError(ctypes.get_errno(), "connect")
        else:
            self.destination = {"a": self.pair_names["b"], "b": self.pair_names["a"]}
        return a, b

    def pair(self, type_number: int, nonblocking: bool, reversed_: bool, origin: list[str] | None = None) -> None:
        self.nonblocking = nonblocking
        if origin is not None:
            a, b = self.api_pair(type_number, origin[0], origin[1])
        else:
            sv = (ctypes.c_int * 2)(-1, -1)
            ctypes.set_errno(0)
            kind = type_number | SOCK_CLOEXEC | (SOCK_NONBLOCK if nonblocking else 0)
            if libc.socketpair(1, kind, 0, sv) < 0:
                raise OSError(ctypes.get_errno(), "socketpair")
            self.owned |= {sv[0], sv[1]}
            a, b = (sv[1], sv[0]) if reversed_ else (sv[0], sv[1])
        for name, fd in (("a", a), ("b", b)):
            self.live[name] = fd
            st = os.fstat(fd)
            self.known[name] = (fd, st.st_dev, st.st_ino, False)
            if not nonblocking:
                self.bound_waits(fd)

    def bound_waits(self, fd: int) -> None:
        timeval = struct.pack("@ll", int(STEP_TIMEOUT), int(STEP_TIMEOUT % 1 * 1e6))
        buf = ctypes.create_string_buffer(timeval, len(timeval))
        for option in ("SO_RCVTIMEO_OLD", "SO_SNDTIMEO_OLD"):
            libc.setsockopt(fd, self.c["SOL_SOCKET"], self.c[option], buf, len(timeval))

    def open_fd(self, name: str, kind: str, cloexec: bool, nonblock: bool, append: bool, tracked: bool = True) -> None:
        if kind == "regular-file":
            fd = os.open(os.path.join(self.tmp, name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, FILE_CONTENT)
        elif kind == "memfd":
            fd = os.memfd_create(f"scm-harness-{name}", 0)
            os.write(fd, FILE_CONTENT)
        elif kind in ("pipe-read", "pipe-write"):
            r, w = os.pipe()
            fd, other = (r, w) if kind == "pipe-read" else (w, r)
            self.owned.add(other)
        elif kind == "socket":
            sv = (ctypes.c_int * 2)(-1, -1)
            libc.socketpair(1, 1, 0, sv)
            fd = sv[0]
            self.owned.add(sv[1])
        elif kind in UNIX_SOCKET_TYPES:  # a fresh AF_UNIX socket of the table, waits bounded like the pair's
            fd = libc.socket(1, UNIX_SOCKET_TYPES[kind] | SOCK_CLOEXEC, 0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "socket")
            if not nonblock:
                self.bound_waits(fd)
        elif kind == "dev-null":
            fd = os.open(os.devnull, os.O_RDWR)
        elif kind == "opath-dir":
            os.mkdir(os.path.join(self.tmp, name), 0o700)  # one directory per entry, as the harness does
            fd = os.open(os.path.join(self.tmp, name), os.O_PATH | os.O_DIRECTORY)
        elif kind == "eventfd":
            fd = os.eventfd(0)
        elif kind == "io-uring":
            params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
            number = self.c.get("io_uring_setup", -1)
            fd = libc.syscall(ctypes.c_long(number), ctypes.c_long(1), ctypes.c_void_p(ctypes.addressof(params)))
            if number < 0 or fd < 0:
                print(f"cannot run: io_uring_setup: {os.strerror(ctypes.get_errno())}")
                raise SystemExit(2)
        else:
            print(f"cannot run: unknown fd kind {kind!r}")
            raise SystemExit(2)
        self.owned.add(fd)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        flags |= (os.O_NONBLOCK if nonblock else 0) | (os.O_APPEND if append else 0)
        if kind != "opath-dir":
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC if cloexec else 0)
        seekable = kind in ("regular-file", "memfd")
        if seekable:
            os.lseek(fd, 5, os.SEEK_SET)
        # an untracked entry keeps no private duplicate: once closed, it is identified by inode only
        private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0) if tracked else None
        if private is not None:
            self.owned.add(private)
        st = os.fstat(fd)
        self.live[name] = fd
        self.known[name] = (private, st.st_dev, st.st_ino, seekable)

    def fd(self, name: str) -> int:
        return self.live.get(name, self.closed_number)

    # -- observing ----------------------------------------------------------------------------

    def outcome(self, value: int, err: int, started: float, may_block: bool) -> tuple[Any, ...]:
        if value >= 0:
            return ("returned", value)
        if err == errno.EAGAIN and may_block and time.monotonic() - started >= STEP_TIMEOUT * 0.9:
            return ("blocked",)
        return ("failed", errno_name(err))

    def may_block(self, flags: int) -> bool:
        return not self.nonblocking and not flags & self.c["MSG_DONTWAIT"]

    def signals(self) -> list[str]:
        seen = []
        pending = signal.sigpending()
        for sig in (signal.SIGPIPE, signal.SIGURG):
            if sig in pending:
                while signal.sigtimedwait([sig], 0) is not None:
                    pass
                seen.append(sig.name)
        return seen

    def kcmp(self, fd1: int, fd2: int) -> bool | None:
        number = self.c.get("kcmp", -1)
        if number < 0:
            return None
        ctypes.set_errno(0)
        pid = os.getpid()
        r = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(v) for v in (pid, pid, KCMP_FILE, fd1, fd2)))
        return None if r < 0 else r == 0

    def inspect(self, fd: int) -> dict[str, Any]:
        try:
            fd_flags = fcntl.fcntl(fd, fcntl.F_GETFD)
            st = os.fstat(fd)
            fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            return {"valid": False}
        matches = sorted(n for n, k in self.known.items() if (k[1], k[2]) == (st.st_dev, st.st_ino))
        same_file, checked, original = None, False, None
        for name in matches:
            k = self.known[name]
            if k[0] is None:
                continue
            same = self.kcmp(fd, k[0])
            checked = checked or same is not None
            if same:
                same_file, original = name, k
                break
        offset_shared = flags_shared = None
        if original is not None and original[0] is not None:
            if original[3]:
                start = os.lseek(original[0], 0, os.SEEK_CUR)
                os.lseek(fd, start + 7, os.SEEK_SET)
                offset_shared = os.lseek(original[0], 0, os.SEEK_CUR) == start + 7
                os.lseek(fd, start, os.SEEK_SET)
            if not fl & getattr(os, "O_PATH", 0):
                try:
                    fcntl.fcntl(fd, fcntl.F_SETFL, fl ^ os.O_NONBLOCK)
                    flags_shared = bool((fcntl.fcntl(original[0], fcntl.F_GETFL) ^ fl) & os.O_NONBLOCK)
                    fcntl.fcntl(fd, fcntl.F_SETFL, fl)
                except OSError:
                    flags_shared = None
        return {
            "valid": True,
            "inode": matches,
            "same": same_file,
            "checked": checked,
            "type": file_type(fd, st.st_mode),
            "cloexec": bool(fd_flags & fcntl.FD_CLOEXEC),
            "flags": status_names(fl),
            "offset_shared": offset_shared,
            "flags_shared": flags_shared,
        }

    # -- comparing ----------------------------------------------------------------------------

    def announce(self, index: int, words: str) -> None:
        print(f"{self.indent}-- step {self.where}{index}: {printable(words)}")

    def differ(self, index: int, field: str, expected: object, observed: object) -> None:
        self.deviations += 1
        said = f"expected {brief(expected)}, observed {brief(observed)}"
        print(f"{self.indent}  DEVIATION step {self.where}{index} {field}: {said}")

    def check_common(self, index: int, op: str, want: dict[str, Any], got: tuple[Any, ...], sigs: list[str]) -> None:
        allowed = [tuple(o) for o in want["outcome"]]
        span = want.get("range")
        words = f"returned a value within {span[0]}..{span[1]}" if span else " or ".join(map(describe, allowed))
        print(f"{self.indent}step {self.where}{index} {op}: expected {words}; observed {describe(got)}")
        if span:
            if got[0] != "returned" or not span[0] <= got[1] <= span[1]:
                self.differ(index, "outcome", words, describe(got))
        elif tuple(got) not in allowed:
            self.differ(index, "outcome", words, describe(got))
        if sorted(sigs) != sorted(want["signals"]):
            self.differ(index, "signals", sorted(want["signals"]), sorted(sigs))

    # -- steps --------------------------------------------------------------------------------

    def control(self, cmsgs: list[tuple[Any, ...]]) -> bytes:
        out = bytearray()
        for c in cmsgs:
            if c[0] == "rights":
                numbers = [
                    self.fd(r[1]) if r[0] == "fd" else r[1] if r[0] == "raw" else self.closed_number for r in c[2]
                ]
                data = struct.pack(f"={len(numbers)}i", *numbers)
                level, type_, length, space = self.c["SOL_SOCKET"], self.c["SCM_RIGHTS"], c[1], None
            elif c[0] == "creds":
                pid, uid, gid = (
                    real if value == "self" else value
                    for value, real in zip(c[1:4], (os.getpid(), os.getuid(), os.getgid()), strict=True)
                )
                data = struct.pack("=iII", pid, uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)
                level, type_, length, space = self.c["SOL_SOCKET"], self.c["SCM_CREDENTIALS"], None, None
            else:
                level, type_, data, length, space = c[1], c[2], c[3], c[4], c[5]
            align = (len(data) + WORD - 1) & ~(WORD - 1)
            length = HEADER + len(data) if length is None else length
            space = HEADER + align if space is None else space
            header = struct.pack("=Qii" if WORD == 8 else "=Iii", length & ((1 << (8 * WORD)) - 1), level, type_)
            body = header.ljust(HEADER, b"\0") + data
            out += body[:space].ljust(space, b"\0")
        return bytes(out)

    def send(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        keep: list[object] = []
        parts: list[bytes] = args["iov"]
        iov = (iovec * max(1, len(parts)))()
        for i, part in enumerate(parts):
            buf = ctypes.create_string_buffer(part, len(part))
            keep.append(buf)
            iov[i].iov_base = ctypes.addressof(buf)
            iov[i].iov_len = len(part)
        if args["fault"] == "iov_base":
            nonempty = [i for i, part in enumerate(parts) if part] or [0]
            iov[nonempty[0]].iov_base = BAD_ADDRESS
        control = self.control(args["cmsgs"])
        controllen = len(control) if args["controllen"] is None else args["controllen"]
        ctl = ctypes.create_string_buffer(control.ljust(controllen, b"\0"), max(len(control), controllen))
        msg = msghdr()
        raw = self.destination.get(args["on"])  # an unconnected pair: the other end's name
        if args.get("address") is not None:  # msg_name: [kind, data] of the harness's address_target
            kind, data = args["address"]
            raw = confined_name(kind, data, self.token, self.names)
        if raw is not None:
            name = ctypes.create_string_buffer(raw, len(raw))
            keep.append(name)
            msg.msg_name = ctypes.addressof(name)
            msg.msg_namelen = len(raw)
        msg.msg_iov = BAD_ADDRESS if args["fault"] == "iov" else ctypes.addressof(iov)
        msg.msg_iovlen = len(parts)
        msg.msg_control = {"buffer": ctypes.addressof(ctl), "null": None, "bad": BAD_ADDRESS}[args["control"]]
        msg.msg_controllen = controllen
        address = BAD_ADDRESS if args["fault"] == "msghdr" else ctypes.addressof(msg)
        started = time.monotonic()
        ctypes.set_errno(0)
        value, err = call(libc.sendmsg(self.fd(args["on"]), address, args["flags"]))
        got = self.outcome(value, err, started, self.may_block(args["flags"]))
        self.check_common(index, "sendmsg", want, got, self.signals())

    def recv(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        sizes: list[int] = args["buffers"]
        buffers = [ctypes.create_string_buffer(bytes([FILL]) * n, n) for n in sizes]
        iov = (iovec * max(1, len(buffers)))()
        for i, buf in enumerate(buffers):
            iov[i].iov_base = ctypes.addressof(buf)
            iov[i].iov_len = len(buf)
        if args["fault"] == "iov_base" and buffers:
            iov[0].iov_base = BAD_ADDRESS
        control = args["control"]
        ctl = ctypes.create_string_buffer(bytes([FILL]) * control, max(control, 1))
        msg = msghdr()
        sender = ctypes.create_string_buffer(bytes([FILL]) * 128, 128)
        msg.msg_name = ctypes.addressof(sender)
        msg.msg_namelen = 128
        msg.msg_iov = BAD_ADDRESS if args["fault"] == "iov" else ctypes.addressof(iov)
        msg.msg_iovlen = len(buffers)
        msg.msg_control = {"buffer": ctypes.addressof(ctl), "null": None, "bad": BAD_ADDRESS}[args["control_pointer"]]
        msg.msg_controllen = control
        msg.msg_flags = FLAGS_SEED
        before = open_fds()
        address = BAD_ADDRESS if args["fault"] == "msghdr" else ctypes.addressof(msg)
        started = time.monotonic()
        ctypes.set_errno(0)
        value, err = call(libc.recvmsg(self.fd(args["on"]), address, args["flags"]))
        got = self.outcome(value, err, started, self.may_block(args["flags"]))
        contents = [buf.raw for buf in buffers]
        data = b"".join(contents)[:value] if value >= 0 else b""
        found: list[tuple[int, int, int, bytes, int]] = []  # level, type, length, payload, offset
        stray = None
        raw = ctl.raw[:control]
        if args["control_pointer"] == "buffer":
            covered = bytearray(len(raw))
            if value >= 0:
                valid, offset = min(msg.msg_controllen, len(raw)), 0
                while offset + HEADER <= valid:
                    length, level, type_ = struct.unpack_from("=Qii" if WORD == 8 else "=Iii", raw, offset)
                    if length < HEADER:
                        break
                    end = offset + length
                    found.append((level, type_, length, raw[offset + HEADER : min(end, valid)], offset))
                    covered[offset : min(offset + HEADER + len(found[-1][3]), len(raw))] = b"\1" * (
                        min(offset + HEADER + len(found[-1][3]), len(raw)) - offset
                    )
                    offset += (length + WORD - 1) & ~(WORD - 1)
            stray = sum(1 for byte, c in zip(raw, covered, strict=True) if not c and byte != FILL)
        received: list[list[int]] = []
        for level, type_, _, payload, _ in found:
            fds: list[int] = []
            if level == self.c["SOL_SOCKET"] and type_ == self.c["SCM_RIGHTS"]:
                fds = list(struct.unpack(f"={len(payload) // 4}i", payload[: len(payload) // 4 * 4]))
                self.owned |= {fd for fd in fds if fd >= 0}
            received.append(fds)
        identities = [[self.inspect(fd) for fd in fds] for fds in received]
        reported = {fd for fds in received for fd in fds}
        unreported = sorted(open_fds() - before - reported)
        self.owned |= set(unreported)
        self.check_common(index, "recvmsg", want, got, self.signals())
        if value >= 0 and want.get("address") is not None:
            named = describe_name(sender.raw[: min(msg.msg_namelen, 128)], self.pair_names)
            if named != want["address"]:
                self.differ(index, "msg_name", want["address"], named)
        self.compare_recv(index, want, data, contents, msg, stray, found, identities, unreported)

    def compare_recv(
        self,
        index: int,
        want: dict[str, Any],
        data: bytes,
        contents: list[bytes],
        msg: msghdr,
        stray: int | None,
        found: list[tuple[int, int, int, bytes, int]],
        identities: list[list[dict[str, Any]]],
        unreported: list[int],
    ) -> None:
        if data != want["data"]:
            self.differ(index, "data", want["data"], data)
        if want["buffers"] is not None and contents != want["buffers"]:
            self.differ(index, "buffers", want["buffers"], contents)
        flags = msg.msg_flags & 0xFFFFFFFF
        if want["msg_flags"] is not None and flags != want["msg_flags"]:
            self.differ(index, "msg_flags", hex(want["msg_flags"]), hex(flags))
        if want["controllen"] is not None and msg.msg_controllen != want["controllen"]:
            self.differ(index, "msg_controllen", want["controllen"], msg.msg_controllen)
        if stray is not None and stray != want["stray"]:
            self.differ(index, "control buffer", f"{want['stray']} stray bytes", f"{stray} stray bytes")
        shape_want = [(c[0], c[1], c[2]) for c in want["cmsgs"]]
        shape_got = [(c[0], c[1], c[2]) for c in found]
        if shape_got != shape_want:
            self.differ(index, "cmsgs (level, type, cmsg_len)", shape_want, shape_got)
        else:
            for i, (exp, got, idents) in enumerate(zip(want["cmsgs"], found, identities, strict=True)):
                creds = exp[4]
                if creds is not None:
                    values = [self.ids[v] if isinstance(v, str) else v for v in creds]
                    packed = struct.pack("=iII", values[0], values[1] & 0xFFFFFFFF, values[2] & 0xFFFFFFFF)
                    if got[3][:12] != packed[: len(got[3])]:
                        self.differ(index, f"cmsgs[{i}] credentials", values, got[3][:12].hex())
                self.compare_fds(index, i, exp[3], idents, want["cloexec"])
        if unreported:
            self.differ(index, "fd table", "only the fds reported in control messages", f"also {unreported}")

    def compare_fds(
        self, index: int, i: int, expected: list[tuple[Any, ...]], got: list[dict[str, Any]], cloexec: bool
    ) -> None:
        if not expected and not got:
            return
        if len(expected) != len(got):
            self.differ(index, f"cmsgs[{i}].fds", f"{len(expected)} fds {[e[0] for e in expected]}", f"{len(got)} fds")
            return
        for j, (exp, fd) in enumerate(zip(expected, got, strict=True)):
            name, ftype, flags, _seekable = exp
            where = f"cmsgs[{i}].fds[{j}]"
            if not fd["valid"]:
                self.differ(index, where, f"an open descriptor for {name!r}", "no open descriptor")
                continue
            if name not in fd["inode"]:
                self.differ(index, where, f"the file of {name!r}", f"another file (same inode as {fd['inode']})")
                continue
            if fd["checked"] and fd["same"] != name:
                self.differ(index, where, f"the open file description of {name!r}", f"another one ({fd['same']})")
            if fd["type"] != ftype:
                self.differ(index, where + ".type", ftype, fd["type"])
            if fd["flags"] != sorted(flags):
                self.differ(index, where + ".status_flags", sorted(flags), fd["flags"])
            if fd["offset_shared"] is False:
                self.differ(index, where + ".offset", "shared with the sent fd", "not shared")
            if fd["flags_shared"] is False:
                self.differ(index, where + ".status_flags", "shared with the sent fd (F_SETFL)", "not shared")
            if fd["cloexec"] != cloexec:
                self.differ(index, where + ".FD_CLOEXEC", cloexec, fd["cloexec"])

    def simple(self, index: int, op: str, result: int, want: dict[str, Any]) -> None:
        value, err = call(result)
        self.check_common(index, op, want, self.outcome(value, err, 0.0, False), self.signals())

    def setsockopt(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        value = args["value"]
        raw = struct.pack("@ll", value[1], value[2]) if isinstance(value, list) else struct.pack("=i", value)
        buf = ctypes.create_string_buffer(raw, len(raw))
        ctypes.set_errno(0)
        r = libc.setsockopt(self.fd(args["on"]), self.c["SOL_SOCKET"], args["option"], buf, len(raw))
        self.simple(index, "setsockopt", r, want)

    def getsockopt(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        buf = ctypes.create_string_buffer(12)
        size = ctypes.c_uint32(12 if args.get("peercred") else 4)
        ctypes.set_errno(0)
        r = libc.getsockopt(self.fd(args["on"]), self.c["SOL_SOCKET"], args["option"], buf, ctypes.byref(size))
        if r != 0:
            got: tuple[Any, ...] = ("failed", errno_name(ctypes.get_errno()))
        elif args.get("peercred"):
            got = ("returned", 0)
        else:
            got = ("returned", struct.unpack_from("=i", buf.raw)[0])
        self.check_common(index, "getsockopt", want, got, self.signals())
        if want.get("peercred") is not None and r == 0:
            expected = [self.ids[v] if isinstance(v, str) else v for v in want["peercred"]]
            seen = list(struct.unpack_from("=iII", buf.raw))
            if seen != expected:
                self.differ(index, "SO_PEERCRED", expected, seen)

    def poll(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        poller = select.poll()
        poller.register(self.fd(args["on"]), args["events"])
        ready = poller.poll(args.get("timeout", 0))
        revents = ready[0][1] if ready else 0
        self.check_common(index, "poll", want, ("returned", len(ready)), self.signals())
        if "events" in want and revents & ALL_POLL_BITS != want["events"]:
            self.differ(index, "revents", hex(want["events"]), hex(revents & ALL_POLL_BITS))

    def ioctl(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        buf = bytearray(4)
        try:
            fcntl.ioctl(self.fd(args["on"]), args["request"], buf)
            got: tuple[Any, ...] = ("returned", struct.unpack("=i", buf)[0])
        except OSError as exc:
            got = ("failed", errno_name(exc.errno or 0))
        self.check_common(index, "ioctl", want, got, self.signals())

    def set_owner(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        owner = struct.pack("ii", 0, threading.get_native_id())  # struct f_owner_ex {F_OWNER_TID, tid}
        try:
            fcntl.fcntl(self.fd(args["on"]), 15, owner)  # F_SETOWN_EX
            got: tuple[Any, ...] = ("returned", 0)
        except OSError as exc:
            got = ("failed", errno_name(exc.errno or 0))
        self.check_common(index, "set_owner", want, got, self.signals())

    def fill(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        data = ctypes.create_string_buffer(b"F" * args["chunk"], args["chunk"])
        iov = iovec(ctypes.addressof(data), args["chunk"])
        msg = msghdr()
        msg.msg_iov = ctypes.addressof(iov)
        msg.msg_iovlen = 1
        sent = 0
        while sent < args["limit"]:
            if libc.sendmsg(self.fd(args["on"]), ctypes.addressof(msg), self.c["MSG_DONTWAIT"]) < 0:
                break
            sent += 1
        self.check_common(index, "fill", want, ("returned", sent), self.signals())

    def shutdown(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        ctypes.set_errno(0)
        self.simple(index, "shutdown", libc.shutdown(self.fd(args["on"]), args["how"]), want)

    def listen(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        ctypes.set_errno(0)
        self.simple(index, "listen", libc.listen(self.fd(args["on"]), args["backlog"]), want)

    def close(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        name = args["target"]
        fd = self.live.pop(name, None)
        if fd is None:
            got: tuple[Any, ...] = ("failed", "EBADF")
        else:
            if name in ("a", "b"):
                k = self.known[name]
                self.known[name] = (None, k[1], k[2], k[3])
            self.owned.discard(fd)
            try:
                os.close(fd)
                got = ("returned", 0)
            except OSError as exc:
                got = ("failed", errno_name(exc.errno or 0))
        self.check_common(index, "close", want, got, self.signals())

    def reopen(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        mode = os.O_RDWR if args["mode"] == "O_RDWR" else os.O_RDONLY
        try:
            fd = os.open(f"/proc/self/fd/{self.fd(args['on'])}", mode | os.O_CLOEXEC)
            os.close(fd)
            got: tuple[Any, ...] = ("returned", 0)
        except OSError as exc:
            got = ("failed", errno_name(exc.errno or 0))
        self.check_common(index, "reopen", want, got, self.signals())

    # -- a child process --------------------------------------------------------------------

    def child(self, index: int, args: dict[str, Any], want: dict[str, Any]) -> None:
        """fork; the child becomes its identity and runs its steps on the inherited pair and fd table."""
        sys.stdout.flush()  # or the child would print the parent's buffered lines again
        pid = os.fork()
        if pid == 0:  # never returns into the parent's loop
            try:
                status = self.child_body(index, args)
            except BaseException as exc:
                print(f"cannot run: in the child: {type(exc).__name__}: {exc}")
                status = CHILD_CANNOT_RUN
            sys.stdout.flush()
            os._exit(status)
        status = self.wait_child(pid)
        if os.WIFSIGNALED(status):
            got: tuple[Any, ...] = ("failed", f"killed by {signal.Signals(os.WTERMSIG(status)).name}")
        else:
            got = ("returned", 0)
        self.check_common(index, "child", want, got, self.signals())
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
        if code == CHILD_CANNOT_RUN:
            print("cannot run: the child could not run its steps (above)")
            raise SystemExit(2)
        if code:
            observed = "deviations (above)" if code == 1 else f"exit status {code}"
            self.differ(index, "child's steps", "no deviation", observed)

    def child_body(self, index: int, args: dict[str, Any]) -> int:
        """In the child: become the identity (harness.execute.child.become), run the steps, say how it went."""
        self.where, self.indent, self.deviations = f"{index}.", "    ", 0
        try:
            if args["nofile"] is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (args["nofile"], args["nofile"]))
            if args["headroom"] is not None:
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit_with_headroom(args["headroom"]), hard))
            if args["uid_base"] is not None:
                uid = args["uid_base"] + os.getppid() % 10000  # distinct for reproducers run at once
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
        except OSError as exc:
            print(f"cannot run: the child cannot become its identity: {exc}")
            return CHILD_CANNOT_RUN
        # die with the parent (its hang alarm may end it first); set after setresuid, which clears it
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        for inner, (op, inner_args, inner_want, words) in enumerate(args["steps"]):
            self.announce(inner, words)
            getattr(self, op)(inner, inner_args, inner_want)
        return 1 if self.deviations else 0

    def wait_child(self, pid: int) -> int:
        """waitpid with a deadline: a child that overstays is a hang, killed and reported."""
        deadline = time.monotonic() + CHILD_TIMEOUT
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            time.sleep(0.001)
        print(f"{self.indent}  the child did not finish within {CHILD_TIMEOUT} s (hang): killed")
        os.kill(pid, signal.SIGKILL)
        return os.waitpid(pid, 0)[1]

    def remove_directories(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.names, ignore_errors=True)

    def finish(self, baseline: set[int]) -> None:
        for fd in self.owned:
            with contextlib.suppress(OSError):
                os.close(fd)
        leaked = sorted(open_fds() - baseline)
        if leaked:
            self.differ(-1, "fd table", "every descriptor closed after the scenario", f"still open: {leaked}")


def limit_with_headroom(headroom: int) -> int:
    """The RLIMIT_NOFILE under which exactly ``headroom`` more descriptors can be opened.

    The same rule as harness.execute.child.limit_with_headroom, restated: a reproducer carries
    this file's source and cannot import the harness.
    """
    free = fd = 0
    while True:
        try:
            os.fstat(fd)
        except OSError:
            if free == headroom:
                return fd
            free += 1
        fd += 1


def run(consts: dict[str, int], pair: tuple[int, bool, bool], fds: list[tuple[Any, ...]], steps: list[Any]) -> int:
    print(f"kernel: {os.uname().sysname} {os.uname().release} ({os.uname().machine})")
    if not sys.platform.startswith("linux"):
        print("cannot run: this reproducer drives Linux system calls")
        return 2

    baseline = open_fds()
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGPIPE, signal.SIGURG])
    r = Repro(consts)

    def hang(signum: int, frame: object) -> None:
        print(f"DEVIATION: the scenario did not complete within {HANG_SECONDS} s (hang)", flush=True)
        result(1)
        r.remove_directories()
        os._exit(1)

    signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_SECONDS)
    try:
        r.pair(*pair)
        for spec in fds:
            r.open_fd(*spec)
        r.signals()  # nothing from the set-up may count
        for index, (op, args, want, words) in enumerate(steps):
            r.announce(index, words)
            getattr(r, op)(index, args, want)
        r.finish(baseline)
    finally:  # "cannot run" (SystemExit) too; a forked child never comes back here (it leaves with os._exit)
        r.remove_directories()
    signal.alarm(0)
    if r.deviations:
        print(f"REPRODUCED: {r.deviations} deviation(s) from the expected behaviour")
        return 1
    print("CONFORMS: every step behaved as expected")
    return 0


def main(text: str) -> int:
    """Decode the scenario, say what it is, run it; the exit status, also printed as the last line."""
    data = decode(text)
    print(printable(data["title"]))
    for line in data["details"]:
        print("  " + printable(line))
    if data["unsupported"] is not None:
        print("cannot reproduce here: " + printable(data["unsupported"]))
        return result(2)
    try:
        code = run(data["consts"], data["pair"], data["fds"], data["steps"])
    except SystemExit as exc:  # "cannot run: ..." (exit 2) from deep inside a step
        if exc.code != 2:
            raise
        code = 2
    return result(code)
