"""The probe: the only module that inspects the running system.  Probed once, then data
(a :class:`harness.platform.Platform`, which the oracle receives as an argument)."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform as _platform
import resource
import socket
import sys
from collections.abc import Mapping

from harness.native import constants, libc
from harness.oracle import history
from harness.platform import KCMP_AVAILABLE, PROBES, Platform

# CAP_* bit numbers (include/uapi/linux/capability.h)
_CAPS = {
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_RESOURCE": 24,
}


def _capabilities() -> frozenset[str]:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    mask = int(line.split()[1], 16)
                    return frozenset(name for name, bit in _CAPS.items() if mask >> bit & 1)
    except OSError:
        pass
    return frozenset()


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _fd_identity(consts: constants.Constants) -> str:
    """How fd identity is decided here (Platform.fd_identity, run_info ``fd_identity``).

    ``"kcmp"`` where kcmp(KCMP_FILE) of a descriptor with itself answers 0; else the offset and
    status-flag probes of harness.execute.inspect decide, and the value says why: kcmp missing
    (ENOSYS: a kernel built without CONFIG_KCMP) or refused (EPERM: a seccomp filter).
    """
    nr = consts.syscalls.get("kcmp")
    if nr is None:
        return f"{PROBES} (no kcmp number for {os.uname().machine})"
    fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        r = libc.syscall(nr, os.getpid(), os.getpid(), 0, fd, fd)
    finally:
        os.close(fd)
    if r.ok and r.value == 0:
        return KCMP_AVAILABLE
    why = "missing" if r.errno == errno.ENOSYS else "refused" if r.errno in (errno.EPERM, errno.EACCES) else "failed"
    return f"{PROBES} (kcmp {why}: {constants.errno_name(r.errno) if r.errno else r.value})"


def _probe_features(consts: constants.Constants) -> frozenset[str]:
    found: set[str] = set()
    sol = consts.sol["SOL_SOCKET"]
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for option in ("SO_PASSCRED", "SO_PASSPIDFD", "SO_PEEK_OFF", "SO_INQ"):
            sock = a if option == "SO_INQ" else d1
            if libc.setsockopt_int(sock.fileno(), sol, consts.so[option], 0).ok:
                found.add(option)
        for option in ("SO_PASSRIGHTS", "SO_PEERPIDFD"):
            if libc.getsockopt_bytes(a.fileno(), sol, consts.so[option], 8)[0].ok:
                found.add(option)
        try:
            a.send(b"!", socket.MSG_OOB)
            found.add("MSG_OOB")
        except OSError as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
        nr = consts.syscalls.get("pidfd_open")
        if nr is not None:
            r = libc.syscall(nr, os.getpid(), 0)
            if r.ok:
                os.close(r.value)
                found.add("pidfd")
    finally:
        for s in (a, b, d1, d2):
            s.close()
    if _bpf_lsm_active():
        found.add("bpf-lsm")
    if hasattr(os, "memfd_create"):
        found.add("memfd")
    if hasattr(os, "eventfd"):
        found.add("eventfd")
    return frozenset(found)


# Why a probed feature can be missing: the runner adds it to a case's `unsupported` reason.
FEATURE_WHY: Mapping[str, str] = {
    "bpf-lsm": "bpf is not among the active LSMs of /sys/kernel/security/lsm, or securityfs is not mounted",
    "bpf-lsm-loader": "the harness has no loader for a BPF LSM program that denies security_file_receive for "
    "chosen files: it would need libbpf or bpftool and a compiled program, and ships neither",
}


def _bpf_lsm_active() -> bool:
    """Whether the BPF LSM is active (FD-20 needs it to deny a received file); never mounts securityfs.

    Seen on the 6.18.44 test machine: CONFIG_BPF_LSM=y and "bpf" last in CONFIG_LSM, but securityfs
    is not mounted, so the active list cannot be read: not probed as present.
    """
    try:
        with open("/sys/kernel/security/lsm") as lsm:
            return "bpf" in lsm.read().strip().split(",")
    except OSError:
        return False


def _minimum_buffer(option: int) -> int:
    """SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF: what a buffer size of 0 turns into (they hold skb overhead)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        a.setsockopt(socket.SOL_SOCKET, option, 0)
        return a.getsockopt(socket.SOL_SOCKET, option)
    finally:
        a.close()
        b.close()


def _default_rcvbuf() -> int:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    finally:
        a.close()
        b.close()


def _default_sndbuf() -> dict[str, int]:
    out = {}
    for kind in ("SOCK_STREAM", "SOCK_DGRAM", "SOCK_SEQPACKET"):
        a, b = socket.socketpair(socket.AF_UNIX, getattr(socket, kind))
        try:
            out[kind] = a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        finally:
            a.close()
            b.close()
    return out


def _umask() -> int | None:
    """This process's umask, read from /proc/self/status (Linux 4.7+) without changing it; None without it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        return None
    return None


@functools.cache
def probe(label: str = "native") -> Platform:
    """Probe the running system once (cached per label)."""
    uname = os.uname()
    if uname.sysname != "Linux":
        raise NotImplementedError(f"no executor for {uname.sysname!r} yet: scm-harness runs on Linux")
    consts = constants.linux(uname.machine)
    limits = {
        name: v
        for name in ("wmem_max", "wmem_default", "rmem_max", "optmem_max")
        if (v := _read_int(f"/proc/sys/net/core/{name}")) is not None
    }
    limits["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if (v := _read_int("/proc/sys/net/unix/max_dgram_qlen")) is not None:
        limits["max_dgram_qlen"] = v
    limits["sndbuf_min"] = _minimum_buffer(socket.SO_SNDBUF)
    limits["rcvbuf_min"] = _minimum_buffer(socket.SO_RCVBUF)
    limits["rcvbuf_default"] = _default_rcvbuf()
    if (mask := _umask()) is not None:
        limits["umask"] = mask  # the mode of the socket files a Bind step makes (0777 & ~umask)
    fd_identity = _fd_identity(consts)
    return Platform(
        system="linux",
        release=uname.release,
        version=uname.version,
        arch=uname.machine,
        word=ctypes.sizeof(ctypes.c_size_t),
        libc=libc.libc_version(),
        python=_platform.python_version()
        + ("" if sys.implementation.name == "cpython" else f" ({sys.implementation.name})"),
        label=label,
        euid=os.geteuid(),
        egid=os.getegid(),
        capabilities=_capabilities(),
        features=_probe_features(consts) | ({"kcmp"} if fd_identity == KCMP_AVAILABLE else set()),
        fd_identity=fd_identity,
        sndbuf=_default_sndbuf(),
        limits=limits,
        changes=history.changes_in(uname.release),  # run --as-linux chooses another model
        model=uname.release,
    )


@functools.cache
def host_constants() -> constants.Constants:
    """The constant table of this machine's architecture (looked up once per process: every scenario asks)."""
    return constants.linux(os.uname().machine)
