"""libc through ctypes: sendmsg/recvmsg with byte-exact msghdr, cmsghdr and iovec, and syscall().

Every call returns its errno as a value (``Result``); nothing here raises for a kernel refusal.
The structs follow the C layout of the running machine (ctypes applies the same alignment
rules as the C compiler), which ``tests/test_native_abi.py`` checks against a compiled C program.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from collections.abc import Callable
from dataclasses import dataclass

BAD_ADDRESS = 0x10  # inside page 0, never mapped (vm.mmap_min_addr >= 4096): copies fault


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


class cmsghdr(ctypes.Structure):
    _fields_ = (("cmsg_len", ctypes.c_size_t), ("cmsg_level", ctypes.c_int), ("cmsg_type", ctypes.c_int))


class mmsghdr(ctypes.Structure):
    _fields_ = (("msg_hdr", msghdr), ("msg_len", ctypes.c_uint))


class epoll_event(ctypes.Structure):
    # struct epoll_event is __attribute__((packed)) on x86_64 only (12 bytes; 16 elsewhere)
    _pack_ = 1 if platform.machine() == "x86_64" else 8
    _fields_ = (("events", ctypes.c_uint32), ("data", ctypes.c_uint64))


WORD = ctypes.sizeof(ctypes.c_size_t)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_sendmsg = _libc.sendmsg
_sendmsg.argtypes = (ctypes.c_int, ctypes.POINTER(msghdr), ctypes.c_int)
_sendmsg.restype = ctypes.c_ssize_t
_sendmsg_untyped = _libc["sendmsg"]  # a second function object: any address as the msghdr
_sendmsg_untyped.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_sendmsg_untyped.restype = ctypes.c_ssize_t
_recvmsg = _libc.recvmsg
_recvmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_recvmsg.restype = ctypes.c_ssize_t
_socketpair = _libc.socketpair
_socketpair.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_socketpair.restype = ctypes.c_int
_setsockopt = _libc.setsockopt
_setsockopt.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)
_getsockopt = _libc.getsockopt
_getsockopt.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32))
_shutdown = _libc.shutdown
_shutdown.argtypes = (ctypes.c_int, ctypes.c_int)
_listen = _libc.listen
_listen.argtypes = (ctypes.c_int, ctypes.c_int)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_gnu_get_libc_version = getattr(_libc, "gnu_get_libc_version", None)
_sendmmsg = _libc.sendmmsg
_sendmmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int)
_sendmmsg.restype = ctypes.c_int
_recvmmsg = _libc.recvmmsg
_recvmmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p)
_recvmmsg.restype = ctypes.c_int
_getsockname = _libc.getsockname
_getsockname.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32))
_getpeername = _libc.getpeername
_getpeername.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32))
_socket = _libc.socket
_socket.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
# listener and address steps (issue 10)
_bind = _libc.bind
_bind.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)
_connect = _libc.connect
_connect.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)
_accept4 = _libc.accept4
_accept4.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
_getdents64 = getattr(_libc, "getdents64", None)  # glibc 2.30+, musl
if _getdents64 is not None:
    _getdents64.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
    _getdents64.restype = ctypes.c_ssize_t


@dataclass(frozen=True, slots=True)
class Result:
    """A system call's return value, or -1 and the errno it left."""

    value: int
    errno: int = 0

    @property
    def ok(self) -> bool:
        return self.value >= 0


def _result(value: int) -> Result:
    """The Result of a call that returned ``value``: its errno is read only after a failure, which
    sets it (ctypes keeps each thread's copy, use_errno=True), so nothing resets it before a call."""
    if 0 <= value < _KEPT_RESULTS:
        return _RESULTS[value]
    return Result(value, ctypes.get_errno() if value < 0 else 0)


# a Result is immutable: the successes a call returns most (0, a byte count, a descriptor) are made once
_KEPT_RESULTS = 4096
_RESULTS = tuple(Result(value) for value in range(_KEPT_RESULTS))


def exact(ctype: type[ctypes.c_int] | type[ctypes.c_uint], value: int) -> int:
    """``value``, if the C type holds it: ctypes would wrap it silently (2**80 as an int is 0).

    harness.model refuses such values when a scenario is built (InvalidScenario naming the
    field); reaching this error is a harness bug.
    """
    if ctype is ctypes.c_int and -0x80000000 <= value <= 0x7FFFFFFF:
        return value  # (what c_int(value).value would say, without making one)
    if ctype(value).value != value:
        raise OverflowError(f"{value} does not fit in a C {ctype.__name__.removeprefix('c_')}")
    return value


def sendmsg(fd: int, msg: msghdr, flags: int) -> Result:
    return _result(_sendmsg(fd, ctypes.byref(msg), flags))


def recvmsg(fd: int, msg_address: int, flags: int) -> Result:
    """recvmsg(fd, (struct msghdr *)msg_address, flags): the address may be a bad one on purpose."""
    return _result(_recvmsg(fd, msg_address, flags))


def sendmsg_at(fd: int, msg_address: int, flags: int) -> Result:
    return _result(_sendmsg_untyped(fd, msg_address, flags))


_INT_PAIR = ctypes.c_int * 2


def socketpair(domain: int, type_: int, protocol: int = 0, bad_sv: bool = False) -> tuple[Result, tuple[int, int]]:
    sv = _INT_PAIR(-1, -1)
    domain, type_, protocol = exact(ctypes.c_int, domain), exact(ctypes.c_int, type_), exact(ctypes.c_int, protocol)
    r = _result(_socketpair(domain, type_, protocol, BAD_ADDRESS if bad_sv else ctypes.addressof(sv)))
    return r, (sv[0], sv[1])


def sendmmsg(fd: int, messages: ctypes.Array[mmsghdr], flags: int) -> Result:
    return _result(_sendmmsg(fd, ctypes.addressof(messages), len(messages), flags))


def recvmmsg(fd: int, messages: ctypes.Array[mmsghdr], flags: int, timeout: tuple[int, int] | None = None) -> Result:
    """recvmmsg(fd, messages, len(messages), flags, timeout): NULL, or a struct timespec (seconds, nanoseconds)."""
    spec = None if timeout is None else (ctypes.c_long * 2)(*timeout)  # struct timespec on LP64 and ILP32
    pointer = None if spec is None else ctypes.addressof(spec)
    return _result(_recvmmsg(fd, ctypes.addressof(messages), len(messages), flags, pointer))


def epoll_create1(flags: int) -> Result:
    return _result(_libc.epoll_create1(flags))


def epoll_ctl(epfd: int, op: int, fd: int, events: int) -> Result:
    event = epoll_event(events, fd)
    return _result(_libc.epoll_ctl(epfd, op, fd, ctypes.byref(event)))


def epoll_wait(epfd: int, timeout_ms: int) -> tuple[Result, int]:
    """epoll_wait() for one event: (the result, the events of the one reported, 0 when none)."""
    event = epoll_event(0, 0)
    r = _result(_libc.epoll_wait(epfd, ctypes.byref(event), 1, timeout_ms))
    return r, event.events if r.ok and r.value else 0


def _socket_name(call: Callable[..., int], fd: int) -> tuple[Result, bytes]:
    """getsockname() or getpeername(): the sockaddr the kernel wrote, at the length it returned."""
    buf = ctypes.create_string_buffer(128)
    size = ctypes.c_uint32(128)
    r = _result(call(fd, buf, ctypes.byref(size)))
    return r, buf.raw[: size.value] if r.ok else b""


def getsockname(fd: int) -> tuple[Result, bytes]:
    return _socket_name(_getsockname, fd)


def getpeername(fd: int) -> tuple[Result, bytes]:
    return _socket_name(_getpeername, fd)


def socket(domain: int, type_: int, protocol: int = 0) -> Result:
    return _result(_socket(domain, type_, protocol))


def bind(fd: int, address: bytes) -> Result:
    """bind(fd, address, len(address)): the sockaddr byte for byte (its length is addrlen)."""
    buf = ctypes.create_string_buffer(address, max(1, len(address)))
    return _result(_bind(fd, buf, len(address)))


def connect(fd: int, address: bytes) -> Result:
    buf = ctypes.create_string_buffer(address, max(1, len(address)))
    return _result(_connect(fd, buf, len(address)))


def accept4(fd: int, flags: int) -> Result:
    """accept4(fd, NULL, NULL, flags): the new descriptor."""
    return _result(_accept4(fd, None, None, exact(ctypes.c_int, flags)))


def setsockopt_int(fd: int, level: int, option: int, value: int) -> Result:
    v = ctypes.c_int(exact(ctypes.c_int, value))
    return _result(_setsockopt(fd, level, option, ctypes.byref(v), ctypes.sizeof(v)))


def setsockopt_bytes(fd: int, level: int, option: int, value: bytes) -> Result:
    buf = ctypes.create_string_buffer(value, len(value))
    return _result(_setsockopt(fd, level, option, buf, len(value)))


def getsockopt_int(fd: int, level: int, option: int) -> Result:
    """The option's value as a C int in ``value`` (or -1 and errno)."""
    v = ctypes.c_int(0)
    size = ctypes.c_uint32(ctypes.sizeof(v))
    r = _result(_getsockopt(fd, level, option, ctypes.byref(v), ctypes.byref(size)))
    return Result(v.value, 0) if r.ok else r


def getsockopt_bytes(fd: int, level: int, option: int, size: int) -> tuple[Result, bytes]:
    buf = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    r = _result(_getsockopt(fd, level, option, buf, ctypes.byref(length)))
    return r, buf.raw[: length.value] if r.ok else b""


def shutdown(fd: int, how: int) -> Result:
    how = exact(ctypes.c_int, how)
    return _result(_shutdown(fd, how))


def listen(fd: int, backlog: int) -> Result:
    backlog = exact(ctypes.c_int, backlog)
    return _result(_listen(fd, backlog))


def syscall(number: int, *args: int) -> Result:
    return _result(_syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args)))


def getdents64(fd: int, buffer: ctypes.Array[ctypes.c_char]) -> Result | None:
    """getdents64(fd, buffer, sizeof buffer); None where libc has no getdents64 wrapper."""
    if _getdents64 is None:
        return None
    return _result(_getdents64(fd, ctypes.addressof(buffer), len(buffer)))


_syscall5 = _libc["syscall"]  # a second function object with five long arguments: no c_long per call
_syscall5.argtypes = (ctypes.c_long,) * 6
_syscall5.restype = ctypes.c_long


def syscall5(number: int, a: int, b: int, c: int, d: int, e: int) -> Result:
    """syscall(number, a, b, c, d, e) for a call that takes five integer arguments (kcmp)."""
    return _result(_syscall5(number, a, b, c, d, e))


def libc_version() -> str:
    if _gnu_get_libc_version is None:
        return "unknown"
    _gnu_get_libc_version.restype = ctypes.c_char_p
    raw = _gnu_get_libc_version()
    return f"glibc {raw.decode()}" if isinstance(raw, bytes) else "unknown"
