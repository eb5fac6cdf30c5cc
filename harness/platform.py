"""The Platform: what the oracle knows of a kernel, as data (pure).

:func:`harness.host.probe` fills one in for the running system; a report's ``run_info`` rebuilds
one with :meth:`Platform.from_json`, so an expectation can be computed for a platform other than
the one at hand (a report from another kernel, an emulator).  Nothing here looks at the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import __version__
from harness.addresses import ADDRESS_CONFINEMENT
from harness.oracle import history

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
    egid: int | None = None  # None: not recorded (a report written before it was)
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
            "egid": self.egid,
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
            egid=None if data.get("egid") is None else int(data["egid"]),
            capabilities=frozenset(data.get("capabilities", ())),
            features=frozenset(data.get("features", ())),
            fd_identity=str(data.get("fd_identity", KCMP_AVAILABLE if "kcmp" in data.get("features", ()) else PROBES)),
            sndbuf={str(k): int(v) for k, v in dict(data.get("sndbuf", {})).items()},
            limits={str(k): int(v) for k, v in dict(data.get("limits", {})).items()},
            # a record from before the history table: the model its release implies
            changes=frozenset(str(c) for c in data["changes"]) if "changes" in data else history.changes_in(release),
            model=str(data.get("model", release)),
        )
