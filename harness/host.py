"""The Platform: the only module that inspects the running system.  Probed once, then data.

The oracle receives a :class:`Platform` as an argument and never looks at the host itself, so
an expectation can be computed for a platform other than the one at hand (a report from another
kernel, an emulator).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform as _platform
import resource
import socket
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness import __version__
from harness.addresses import ADDRESS_CONFINEMENT
from harness.native import constants, libc
from harness.oracle import history

if TYPE_CHECKING:
    from collections.abc import Mapping

# CAP_* bit numbers (include/uapi/linux/capability.h)
_CAPS = {"CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24}

# Platform.fd_identity: how a received fd's open file description is decided (_fd_identity)
KCMP_AVAILABLE = "kcmp"
PROBES = "offset and status-flag probes"


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    system: str  # "linux"
    release: str  # uname -r
    version: str = ""  # uname -v
    arch: str  # uname -m
    word: int = 8  # sizeof(size_t): the cmsg ABI
    libc: str = "unknown"
    python: str = ""
    harness: str = __version__
    label: str = "native"  # "native", or a name given with --platform-label (e.g. "gvisor")
    euid: int = 0
    capabilities: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()  # probed: "kcmp", "SO_PASSPIDFD", "MSG_OOB", ...
    fd_identity: str = KCMP_AVAILABLE  # "kcmp", or the probes and why (_fd_identity)
    sndbuf: Mapping[str, int] = field(default_factory=dict)  # default SO_SNDBUF per socket type
    limits: Mapping[str, int] = field(default_factory=dict)  # wmem_max, optmem_max, nofile ...
    # ids of harness.oracle.history changes the oracle models as present (default: current upstream)
    changes: frozenset[str] = history.ALL
    model: str = "latest"  # what decided `changes`: a release, "latest" or "fingerprint" (run --as-linux)

    def has_change(self, change: str) -> bool:
        return change in self.changes

    def has(self, feature: str) -> bool:
        return feature in self.features

    @property
    def privileged(self) -> bool:
        return "CAP_SYS_ADMIN" in self.capabilities

    def as_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "release": self.release,
            "version": self.version,
            "arch": self.arch,
            "word": self.word,
            "libc": self.libc,
            "python": self.python,
            "harness": self.harness,
            "label": self.label,
            "euid": self.euid,
            "capabilities": sorted(self.capabilities),
            "features": sorted(self.features),
            "fd_identity": self.fd_identity,
            "sndbuf": dict(sorted(self.sndbuf.items())),
            "limits": dict(sorted(self.limits.items())),
            "changes": sorted(self.changes),
            "changes_absent": sorted(history.ALL - self.changes),
            "model": self.model,
            "address_confinement": ADDRESS_CONFINEMENT,  # how a scenario's msg_name is kept in the harness's namespace
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Platform:
        release = str(data["release"])
        return cls(
            system=str(data["system"]),
            release=release,
            version=str(data.get("version", "")),
            arch=str(data["arch"]),
            word=int(data.get("word", 8)),
            libc=str(data.get("libc", "unknown")),
            python=str(data.get("python", "")),
            harness=str(data.get("harness", "")),
            label=str(data.get("label", "native")),
            euid=int(data.get("euid", 0)),
            capabilities=frozenset(data.get("capabilities", ())),
            features=frozenset(data.get("features", ())),
            fd_identity=str(data.get("fd_identity", KCMP_AVAILABLE if "kcmp" in data.get("features", ()) else PROBES)),
            sndbuf={str(k): int(v) for k, v in dict(data.get("sndbuf", {})).items()},
            limits={str(k): int(v) for k, v in dict(data.get("limits", {})).items()},
            # a record from before the history table: the model its release implies
            changes=frozenset(str(c) for c in data["changes"]) if "changes" in data else history.changes_in(release),
            model=str(data.get("model", release)),
        )


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
        capabilities=_capabilities(),
        features=_probe_features(consts) | ({"kcmp"} if fd_identity == KCMP_AVAILABLE else set()),
        fd_identity=fd_identity,
        sndbuf=_default_sndbuf(),
        limits=limits,
        changes=history.changes_in(uname.release),  # run --as-linux chooses another model
        model=uname.release,
    )


def host_constants() -> constants.Constants:
    return constants.linux(os.uname().machine)
