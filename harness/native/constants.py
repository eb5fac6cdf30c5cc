"""Names to numbers, per operating system and architecture (pure data).

Python's :mod:`socket` lags the kernel (3.11 has no ``SO_PASSPIDFD``, ``SCM_PIDFD``, ``SO_PEEK_OFF``
...), and the numbers differ between Linux architectures (``SOL_SOCKET`` is 0xffff on
alpha/mips/parisc/sparc, ``SO_PASSCRED`` is 20 on powerpc) and between Linux and the BSDs
(``MSG_TRUNC`` 0x20 vs 0x10).  So the harness keeps its own tables and resolves names only when
it executes.  ``tests/test_native_abi.py`` checks them against the C headers of the build machine.
"""

from __future__ import annotations

import errno as _errno
import functools
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")
_REMEMBERED_LIMIT = 4096  # entries of Constants._flag_cache: a fuzzer's stream of new flag words cannot grow it further


class UnknownName(KeyError):
    """A flag, option or cmsg name this platform's table does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


# include/linux/socket.h: the MSG_* values are the same on every Linux architecture.
_LINUX_MSG = {
    "MSG_OOB": 0x1,
    "MSG_PEEK": 0x2,
    "MSG_DONTROUTE": 0x4,
    "MSG_CTRUNC": 0x8,
    "MSG_PROBE": 0x10,
    "MSG_TRUNC": 0x20,
    "MSG_DONTWAIT": 0x40,
    "MSG_EOR": 0x80,
    "MSG_WAITALL": 0x100,
    "MSG_FIN": 0x200,
    "MSG_SYN": 0x400,
    "MSG_CONFIRM": 0x800,
    "MSG_RST": 0x1000,
    "MSG_ERRQUEUE": 0x2000,
    "MSG_NOSIGNAL": 0x4000,
    "MSG_MORE": 0x8000,
    "MSG_WAITFORONE": 0x10000,
    "MSG_BATCH": 0x40000,
    "MSG_ZEROCOPY": 0x4000000,
    "MSG_FASTOPEN": 0x20000000,
    "MSG_CMSG_CLOEXEC": 0x40000000,
}

# include/uapi/asm-generic/socket.h (x86, arm, arm64, riscv, s390, loongarch ...).
_LINUX_GENERIC_SO = {
    "SO_DEBUG": 1,
    "SO_REUSEADDR": 2,
    "SO_TYPE": 3,
    "SO_ERROR": 4,
    "SO_DONTROUTE": 5,
    "SO_BROADCAST": 6,
    "SO_SNDBUF": 7,
    "SO_RCVBUF": 8,
    "SO_KEEPALIVE": 9,
    "SO_OOBINLINE": 10,
    "SO_PRIORITY": 12,
    "SO_LINGER": 13,
    "SO_REUSEPORT": 15,
    "SO_PASSCRED": 16,
    "SO_PEERCRED": 17,
    "SO_RCVLOWAT": 18,
    "SO_SNDLOWAT": 19,
    "SO_RCVTIMEO_OLD": 20,
    "SO_SNDTIMEO_OLD": 21,
    "SO_ACCEPTCONN": 30,
    "SO_PEERSEC": 31,
    "SO_SNDBUFFORCE": 32,
    "SO_RCVBUFFORCE": 33,
    "SO_PASSSEC": 34,
    "SO_PROTOCOL": 38,
    "SO_DOMAIN": 39,
    "SO_PEEK_OFF": 42,
    "SO_PEERGROUPS": 59,
    "SO_PASSPIDFD": 76,
    "SO_PEERPIDFD": 77,
    "SO_PASSRIGHTS": 83,
    "SO_INQ": 84,
}
_LINUX_POWERPC_SO = {
    **_LINUX_GENERIC_SO,
    "SO_RCVLOWAT": 16,
    "SO_SNDLOWAT": 17,
    "SO_RCVTIMEO_OLD": 18,
    "SO_SNDTIMEO_OLD": 19,
    "SO_PASSCRED": 20,
    "SO_PEERCRED": 21,
}

_LINUX_SCM = {"SCM_RIGHTS": 1, "SCM_CREDENTIALS": 2, "SCM_SECURITY": 3, "SCM_PIDFD": 4, "SCM_INQ": 84}
_LINUX_SOL = {"SOL_IP": 0, "SOL_SOCKET": 1, "SOL_TCP": 6, "SOL_UDP": 17, "SOL_IPV6": 41}
_LINUX_SHUT = {"SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2}
_LINUX_SOCK = {"SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_SEQPACKET": 5}

# arch/*/include/uapi/asm/unistd*.h; kcmp differs per architecture, the pidfd calls do not.
_LINUX_SYSCALLS = {
    "x86_64": {"kcmp": 312, "pidfd_open": 434, "pidfd_getfd": 438, "io_uring_setup": 425, "tgkill": 234},
    "aarch64": {"kcmp": 272, "pidfd_open": 434, "pidfd_getfd": 438, "io_uring_setup": 425, "tgkill": 131},
    "riscv64": {"kcmp": 272, "pidfd_open": 434, "pidfd_getfd": 438, "io_uring_setup": 425, "tgkill": 131},
}


# The system calls a scenario's step can sleep in (read, write, readv, writev, poll, ppoll, select,
# pselect6, epoll_wait, epoll_pwait, epoll_pwait2, connect, accept, accept4, sendto, recvfrom,
# sendmsg, recvmsg, sendmmsg, recvmmsg, splice): a background party acts once the scenario's
# thread sleeps in one of them (harness.execute.asleep).  Not futex: a thread waiting for
# Python's GIL sleeps there.  arch/x86/entry/syscalls/syscall_64.tbl; asm-generic/unistd.h.
_X86_64_WAITS = (0, 1, 19, 20, 7, 271, 23, 270, 232, 281, 441, 42, 43, 288, 44, 45, 46, 47, 307, 299, 275)
_GENERIC_WAITS = (63, 64, 65, 66, 73, 72, 22, 441, 203, 202, 242, 206, 207, 211, 212, 269, 243, 76)
_LINUX_WAITING_SYSCALLS = {"x86_64": _X86_64_WAITS, "aarch64": _GENERIC_WAITS, "riscv64": _GENERIC_WAITS}


# SIOCINQ is FIONREAD and SIOCOUTQ is TIOCOUTQ (asm-generic/ioctls.h; powerpc has its own).
_LINUX_GENERIC_IOCTL = {"SIOCINQ": 0x541B, "SIOCOUTQ": 0x5411, "SIOCATMARK": 0x8905}
_LINUX_POWERPC_IOCTL = {"SIOCINQ": 0x4004667F, "SIOCOUTQ": 0x40047473, "SIOCATMARK": 0x8905}


@dataclass(frozen=True, slots=True)
class Constants:
    """The numbers behind the names, for one operating system and architecture."""

    system: str
    arch: str
    msg: Mapping[str, int]
    so: Mapping[str, int]
    scm: Mapping[str, int]
    sol: Mapping[str, int]
    shut: Mapping[str, int]
    sock: Mapping[str, int]
    syscalls: Mapping[str, int]
    # numbers of the calls a step can sleep in; empty where unknown (then parties wait their delay)
    waiting_syscalls: frozenset[int]
    ioctls: Mapping[str, int]
    sock_nonblock: int = 0o4000
    sock_cloexec: int = 0o2000000
    _msg_bits: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    # flag words met before, both ways, and level and cmsg type names (every send and receive asks;
    # a few recur)
    _flag_cache: dict[object, object] = field(default_factory=dict, repr=False, compare=False, hash=False)

    def _remembered(self, key: object, compute: Callable[[], T]) -> T:
        """``compute()``, kept under ``key`` the first time (the values are immutable)."""
        known = self._flag_cache.get(key)
        if known is None:
            known = compute()
            if len(self._flag_cache) < _REMEMBERED_LIMIT:
                self._flag_cache[key] = known
        return cast("T", known)

    def msg_flags(self, names: frozenset[str] | set[str]) -> int:
        if isinstance(names, frozenset):
            return self._remembered(names, lambda: self._msg_flags(names))
        return self._msg_flags(names)

    def _msg_flags(self, names: frozenset[str] | set[str]) -> int:
        value = 0
        for name in names:
            try:
                value |= self.msg[name]
            except KeyError:
                raise UnknownName(f"unknown flag {name!r} on {self.system}/{self.arch}") from None
        return value

    def msg_flag_names(self, value: int) -> frozenset[str]:
        """Names of the bits set in ``value``; bits without a name appear as ``"0x..."``."""
        return self._remembered(value, lambda: self._msg_flag_names(value))

    def _msg_flag_names(self, value: int) -> frozenset[str]:
        names = set()
        rest = value
        for bit, name in self.msg_bits:
            if value & bit:
                names.add(name)
                rest &= ~bit
        if rest:
            names.add(hex(rest))
        return frozenset(names)

    @property
    def msg_bits(self) -> tuple[tuple[int, str], ...]:
        return self._msg_bits

    def level(self, name: str | int) -> int:
        return _lookup(self.sol, name, "level", self)

    def cmsg_type(self, level: int, name: str | int) -> int:
        if isinstance(name, str) and level == self.sol["SOL_SOCKET"]:
            return _lookup(self.scm, name, "cmsg type", self)
        return _lookup({}, name, "cmsg type", self)

    def sockopt(self, name: str) -> int:
        """A SOL_SOCKET option by name; ``SO_<digits>`` is that option number (one no name is for)."""
        if name.startswith("SO_") and name[3:].isdigit() and name not in self.so:
            return int(name[3:])
        return _lookup(self.so, name, "socket option", self)

    def level_name(self, value: int) -> str:
        return self._remembered(("level", value), lambda: _reverse(self.sol, value))

    def cmsg_type_name(self, level: int, value: int) -> str:
        if level != self.sol["SOL_SOCKET"]:
            return str(value)
        return self._remembered(("cmsg", value), lambda: _reverse(self.scm, value))


def _lookup(table: Mapping[str, int], name: str | int, what: str, consts: Constants) -> int:
    if isinstance(name, int):
        return name
    try:
        return table[name]
    except KeyError:
        if name.lstrip("-").isdigit():
            return int(name)
        raise UnknownName(f"unknown {what} {name!r} on {consts.system}/{consts.arch}") from None


def _reverse(table: Mapping[str, int], value: int) -> str:
    for name, number in table.items():
        if number == value:
            return name
    return str(value)


@functools.cache
def linux(arch: str) -> Constants:
    """The table for Linux on ``arch`` (``platform.machine()`` spelling); built once per architecture
    (every scenario's oracle and executor ask, and a Constants is immutable)."""
    if arch in ("alpha", "mips", "mips64", "parisc", "parisc64", "sparc", "sparc64"):
        raise UnknownName(f"no constant table for Linux/{arch} yet (SOL_SOCKET and SO_* differ there)")
    so = _LINUX_POWERPC_SO if arch.startswith("ppc") else _LINUX_GENERIC_SO
    bits = tuple(sorted(((v, k) for k, v in _LINUX_MSG.items()), reverse=True))
    return Constants(
        system="linux",
        arch=arch,
        msg=MappingProxyType(_LINUX_MSG),
        so=MappingProxyType(so),
        scm=MappingProxyType(_LINUX_SCM),
        sol=MappingProxyType(_LINUX_SOL),
        shut=MappingProxyType(_LINUX_SHUT),
        sock=MappingProxyType(_LINUX_SOCK),
        syscalls=MappingProxyType(_LINUX_SYSCALLS.get(arch, {})),
        waiting_syscalls=frozenset(_LINUX_WAITING_SYSCALLS.get(arch, ())),
        ioctls=MappingProxyType(_LINUX_POWERPC_IOCTL if arch.startswith("ppc") else _LINUX_GENERIC_IOCTL),
        _msg_bits=bits,
    )


# Names Linux gives one value twice; reports use the one the kernel source uses.
_PREFERRED = {_errno.EAGAIN: "EAGAIN", _errno.EOPNOTSUPP: "EOPNOTSUPP", _errno.EDEADLK: "EDEADLK"}


def errno_name(number: int) -> str:
    """``errno.errorcode``, but EAGAIN over EWOULDBLOCK and EOPNOTSUPP over ENOTSUP (one value each on Linux)."""
    return _PREFERRED.get(number) or _errno.errorcode.get(number, f"errno{number}")
