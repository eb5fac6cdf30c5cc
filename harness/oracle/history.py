"""Linux's AF_UNIX history: every behaviour change the catalogue can see, as data (pure).

Each :class:`Change` names the upstream commit(s), the first mainline release that has it and,
per LTS branch, the first stable release that carries it (or "not backported", or "unknown" when
no public source we checked says which release).  :func:`changes_in` turns a release string into
the set of change ids present; that set is ``Platform.changes`` and the oracle models the
behaviour on both sides of each change where the kernel's code differs (``"oob-2024-06" in
platform.changes``).  Features a probe sees cheaply (SO_PASSPIDFD, SO_INQ, SO_PASSRIGHTS, kcmp,
CONFIG_AF_UNIX_OOB) stay probed; their rows here only place them in history.

Sources: shared/spec/fuzzing.md section 2 (2.1, table 2.2, regression table (a)) and a run of the
whole catalogue on Debian's unmodified UML kernel 6.1.176 ("measured on 6.1.176 (UML)").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Stable(Enum):
    """How an LTS branch relates to a change (with :attr:`Backport.release` for FROM)."""

    FROM = "from"  # carried since Backport.release
    NOT_BACKPORTED = "not backported"
    UNKNOWN = "unknown"  # backported at a release no source we checked names: assumed present in the branch


@dataclass(frozen=True, slots=True)
class Backport:
    branch: str  # "6.1"
    status: Stable
    release: str = ""  # with FROM: the first stable release that carries the change
    measured: str = ""  # a release of the branch where the harness measured the change present
    note: str = ""

    def describe(self) -> str:
        if self.status is Stable.FROM:
            text = f"{self.branch}.y from {self.release}"
        elif self.status is Stable.NOT_BACKPORTED:
            text = f"not in {self.branch}.y"
        else:
            text = f"{self.branch}.y: backported, release unknown"
        if self.measured:
            text += f" (present in {self.measured}, measured)"
        return text


@dataclass(frozen=True, slots=True)
class Change:
    id: str  # a short slug, used in Platform.changes
    commits: tuple[str, ...]  # upstream commit ids (12 hex digits)
    title: str
    mainline: str  # first mainline release "x.y" that has it ("": unknown, then only the backports say)
    backports: tuple[Backport, ...]
    cases: tuple[str, ...]  # catalogue cases whose expectation depends on it
    probed: str = ""  # the Platform feature that shows it, when a probe does (then the oracle asks the probe)
    requires: tuple[str, ...] = ()  # changes it was written on top of: no kernel has it without them
    without: str = ""  # what a kernel without the change does, in a few words

    @property
    def commit(self) -> str:
        return self.commits[0]

    def stable(self, branch: str) -> Backport | None:
        return next((b for b in self.backports if b.branch == branch), None)

    def where(self) -> str:
        """ "6.10; 6.6.y from 6.6.93; 6.1.y from 6.1.141" for messages."""
        return "; ".join((self.mainline or "mainline release unknown", *(b.describe() for b in self.backports)))


# LTS branches a release string is matched against (older releases are "older than every change").
LTS_BRANCHES = ("5.4", "5.10", "5.15", "6.1", "6.6", "6.12")

OOB_CASES = ("OB-01", "OB-02", "OB-03", "OB-04", "OB-05", "OB-08")

CHANGES: tuple[Change, ...] = (
    Change(
        id="io_uring-scm-refused",
        commits=("705318a99a13",),
        title="io_uring/af_unix: disable sending io_uring over sockets",
        mainline="6.7",
        backports=(
            *(Backport(b, Stable.UNKNOWN, note="stable, Dec 2023") for b in ("5.4", "5.10", "5.15", "6.6")),
            Backport("6.1", Stable.UNKNOWN, measured="6.1.176", note="stable, Dec 2023"),
        ),
        cases=("REG-IO_URING-SCM_RIGHTS",),
        without="an io_uring fd in SCM_RIGHTS is passed like any file",
    ),
    Change(
        id="pidfd-2023",
        commits=("5e2ff6704a27", "7b26952a91cf"),
        title="scm: add SO_PASSPIDFD and SCM_PIDFD; net: core: add getsockopt SO_PEERPIDFD",
        mainline="6.5",
        backports=(),
        cases=("REG-SCM_PIDFD-REAPED",),
        probed="SO_PASSPIDFD",
        without="SO_PASSPIDFD, SO_PEERPIDFD: ENOPROTOOPT",
    ),
    Change(
        id="splice-sendmsg-2023",
        commits=("2dc334f1a63a",),
        title="splice, net: Use sendmsg(MSG_SPLICE_PAGES) rather than ->sendpage()",
        mainline="6.5",
        backports=(Backport("6.1", Stable.NOT_BACKPORTED, note="measured absent in 6.1.176"),),
        cases=("MS-06",),
        without="a splice from a pipe into a datagram or seqpacket socket sends each pipe buffer (page) as a "
        "message of its own; into a stream socket it joins the peer's last skb when that has the splicer's "
        "credentials (unix_stream_sendpage), fds and all",
    ),
    Change(
        id="oob-peek-2024-04",
        commits=("22dd70eb2c3d", "283454c8a123"),
        title="af_unix: Don't peek OOB data without MSG_OOB; Call manage_oob() for every skb",
        mainline="6.9",
        backports=(
            Backport("6.1", Stable.UNKNOWN, measured="6.1.176", note="stable review 2024-04-23"),
            Backport("6.6", Stable.UNKNOWN, note="stable review 2024-04-23"),
            Backport("5.15", Stable.UNKNOWN, note="stable review 2024-04-23"),
        ),
        cases=("REG-OOB-PEEK-2024-04", *OOB_CASES),
        without="MSG_PEEK without MSG_OOB returns the OOB byte in band",
    ),
    Change(
        id="oob-peek-loop-2024-06",
        commits=("a6736a0addd6",),
        title="af_unix: Read with MSG_PEEK loops if the first unread byte is OOB",
        mainline="6.10",
        backports=(Backport("6.1", Stable.UNKNOWN, measured="6.1.176", note="stable review 2024-06-19"),),
        cases=("REG-OOB-PEEK-LOOP", *OOB_CASES),
        requires=("oob-peek-2024-04",),
        without="a peek with the OOB byte first stops there (EAGAIN) instead of peeking what follows",
    ),
    Change(
        id="oob-2024-06",
        commits=("b94038d841a9", "93c99f21db36", "36893ef0b661", "e400cfa38bb0"),
        title="af_unix: Fix bunch of MSG_OOB bugs (stop peek at consumed OOB skb, don't stop recv at a "
        "consumed (ex-)OOB skb, fix SIOCATMARK)",
        mainline="6.10",
        backports=(
            Backport("6.1", Stable.NOT_BACKPORTED, note="measured absent in 6.1.176"),
            Backport("6.6", Stable.NOT_BACKPORTED, note="only 6.9.8 got it (Project Zero)"),
        ),
        cases=("REG-OOB-SERIES-2024-06", "REG-CVE-2025-38236", *OOB_CASES),
        requires=("oob-peek-2024-04", "oob-peek-loop-2024-06"),
        without="a peek walks past a consumed OOB skb, a read stops (EAGAIN) at one, SIOCATMARK 0 there",
    ),
    Change(
        id="gc-2024",
        commits=("4090fa373f0e",),
        title="af_unix: Replace garbage collection algorithm (Tarjan SCC, asynchronous unix_gc)",
        mainline="6.10",
        backports=(Backport("6.6", Stable.FROM, "6.6.93"), Backport("6.1", Stable.FROM, "6.1.141")),
        cases=("GC-01",),
        without="the old mark-and-sweep collector runs synchronously in close()",
    ),
    Change(
        id="dgram-peer-lookup-late",
        commits=("f4dd63165b08",),
        title="af_unix: Move !sunaddr case in unix_dgram_sendmsg()",
        # a cleanup of the series "af_unix: Prepare for skb drop reason" (net-next-6.14 pull): the peer of
        # a send without msg_name is looked up after the skb is allocated, not beside the address checks
        mainline="6.14",
        backports=(
            Backport("6.12", Stable.NOT_BACKPORTED, note="measured absent in 6.12.118"),
            Backport("6.1", Stable.NOT_BACKPORTED, note="measured absent in 6.1.176"),
        ),
        cases=("SC-04",),
        without="a datagram send with no msg_name and no peer is ENOTCONN before the autobind, EMSGSIZE "
        "and the SEND_SHUTDOWN EPIPE (the peer is looked up first)",
    ),
    Change(
        id="passrights-2025",
        commits=("77cbe1a6d873",),
        title="af_unix: Introduce SO_PASSRIGHTS",
        mainline="6.16",
        backports=(),
        cases=(),
        probed="SO_PASSRIGHTS",
        without="SO_PASSRIGHTS: ENOPROTOOPT; every receiver accepts fds",
    ),
    Change(
        id="flags-at-connect-2025",
        commits=("3f84d577b79d",),
        title="af_unix: Inherit sk_flags at connect()",
        mainline="6.16",
        backports=(),
        cases=("CR-20",),
        without="the accepted socket takes the listener's SO_PASSCRED / SO_PASSPIDFD at accept(), not at connect()",
    ),
    Change(
        id="peerpidfd-reaped",
        commits=("358ab1fd6922",),
        title="net, pidfs: enable handing out pidfds for reaped sk->sk_peer_pid",
        mainline="6.16",
        backports=(),
        cases=(),  # a socketpair's peer is its creator, which outlives every case
        requires=("pidfd-2023",),
        without="SO_PEERPIDFD for a reaped peer: EINVAL",
    ),
    Change(
        id="oob-consumed-2025-06",
        commits=("32ca245464e1",),
        title="af_unix: Don't leave consecutive consumed OOB skbs",
        mainline="6.16",
        backports=(
            Backport("6.12", Stable.UNKNOWN),
            Backport("6.6", Stable.UNKNOWN),
            Backport("6.1", Stable.UNKNOWN, measured="6.1.176"),
            Backport("5.15", Stable.UNKNOWN, note="posted Sep 2025"),
        ),
        cases=("REG-CVE-2025-38236", "OB-05"),
        without="recv(MSG_OOB) leaves the consumed OOB skb before the new one queued (CVE-2025-38236)",
    ),
    Change(
        id="oob-reset-2025-06",
        commits=("2a5a4841846b",),
        title="af_unix: Don't set -ECONNRESET for consumed OOB skb",
        mainline="6.16",
        backports=(
            Backport("6.12", Stable.UNKNOWN),
            Backport("6.6", Stable.UNKNOWN),
            Backport("6.1", Stable.UNKNOWN, measured="6.1.176"),
        ),
        cases=("OB-04", "OB-05"),
        without="close() with only a consumed OOB skb queued gives the peer ECONNRESET",
    ),
    Change(
        id="scm_pidfd-reaped",
        commits=(),
        title="pidfs: SCM_PIDFD for a sender that was reaped (vfs pidfs pull, 2025-07)",
        mainline="6.17",
        backports=(),
        cases=("REG-SCM_PIDFD-REAPED",),
        requires=("pidfd-2023",),
        without="SCM_PIDFD's data is a negative errno (-EINVAL, measured on 6.12.118) when the sender was reaped",
    ),
    Change(
        id="oob-zero-length-2026",
        commits=(),  # upstream ids not in the sources we checked; titles from Debian's 6.12 changelog
        title="af_unix: Return immediately when manage_oob() returns NULL for 0-length buffer "
        "(with: Update last skb marker in manage_oob())",
        mainline="",  # not in 6.18.44 (measured on the host); the mainline release is unknown to us
        backports=(
            Backport("6.12", Stable.FROM, "6.12.111", measured="6.12.118", note="Debian changelog 6.12.111-1"),
            Backport("6.1", Stable.NOT_BACKPORTED, note="measured absent in 6.1.176"),
        ),
        cases=("OB-03", "OB-05"),
        requires=("oob-2024-06",),
        without="a zero-length read that meets only the OOB byte (dropped, or stepped over by a peek) "
        "fails with EAGAIN (a blocking one waits) instead of returning 0",
    ),
    Change(
        id="so_inq-2025",
        commits=("df30285b3670",),
        title="af_unix: Introduce SO_INQ",
        mainline="6.17",
        backports=(),
        cases=("REG-CVE-2026-22983",),
        probed="SO_INQ",
        without="SO_INQ: ENOPROTOOPT",
    ),
    Change(
        id="siocatmark-stream-only",
        commits=(),  # the mainline id is not in the sources we read; stable shortlogs name the branch commits
        title="af_unix: Reject SIOCATMARK on non-stream sockets",
        # in 7.0.7 (stable, May 2026), so in mainline from 7.1 at the latest
        mainline="7.1",
        backports=(
            Backport("7.0", Stable.FROM, "7.0.7"),
            Backport("6.18", Stable.UNKNOWN, measured="6.18.44"),
            Backport("6.12", Stable.UNKNOWN, measured="6.12.118"),
            Backport("6.6", Stable.NOT_BACKPORTED, note="queued, then reverted in 6.6.142-rc1 (May 2026)"),
            Backport("6.1", Stable.NOT_BACKPORTED, note="measured absent in 6.1.176"),
        ),
        cases=("ER-11",),
        without="ioctl(SIOCATMARK) on a datagram or seqpacket socket answers from the queue's head (0, or 1 "
        "for an empty datagram after the June 2024 series) instead of EOPNOTSUPP",
    ),
    Change(
        id="peek_off-sleep",
        commits=("7bf3a476ce43",),
        title="af_unix: Read sk_peek_offset() again after sleeping in unix_stream_read_generic()",
        mainline="6.18",
        backports=(
            Backport("6.17", Stable.UNKNOWN, note="stable review 2025-11-27"),
            Backport("6.12", Stable.UNKNOWN, note="stable review 2025-11-27"),
            Backport("6.1", Stable.NOT_BACKPORTED, note="measured absent in 6.1.176"),
        ),
        cases=("REG-SO_PEEK_OFF-SLEEP",),
        without="a blocking peek that slept starts again at SO_PEEK_OFF minus what it skipped before sleeping",
    ),
)

BY_ID: dict[str, Change] = {c.id: c for c in CHANGES}
ALL: frozenset[str] = frozenset(BY_ID)

_RELEASE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse(release: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from ``uname -r`` ("6.1.0-47-amd64" -> (6, 1, 0)); None if no version."""
    m = _RELEASE.match(release.strip())
    if m is None:
        return None
    return int(m[1]), int(m[2]), int(m[3] or 0)


def _present(change: Change, version: tuple[int, int, int]) -> bool:
    major, minor, patch = version
    if change.mainline and (major, minor) >= parse_branch(change.mainline):
        return True
    port = change.stable(f"{major}.{minor}")
    if port is None or port.status is Stable.NOT_BACKPORTED:
        return False
    if port.status is Stable.UNKNOWN:
        return True  # backported at a release no source names: assumed carried (a fail then names the change)
    return patch >= (parse(port.release) or (0, 0, 0))[2]


def parse_branch(branch: str) -> tuple[int, int]:
    version = parse(branch)
    if version is None:
        raise ValueError(f"not a release: {branch!r}")
    return version[0], version[1]


def changes_in(release: str) -> frozenset[str]:
    """The ids of the changes a kernel that says ``release`` carries ('latest': all).

    A mainline release has every change of its release and older; an LTS release x.y.z those of
    x.y and the ones backported to x.y by z.  An unknown or fake release (gVisor says 4.4.0)
    has none of them: judge such a platform with ``--as-linux latest`` or ``fingerprint``.
    """
    if release == "latest":
        return ALL
    version = parse(release)
    if version is None:
        return frozenset()
    return frozenset(c.id for c in CHANGES if _present(c, version))


def with_change(changes: frozenset[str], change: str) -> frozenset[str]:
    """``changes`` plus ``change`` and everything it was written on top of."""
    out = set(changes) | {change}
    while missing := {r for c in out if c in BY_ID for r in BY_ID[c].requires} - out:
        out |= missing
    return frozenset(out)


def without_change(changes: frozenset[str], change: str) -> frozenset[str]:
    """``changes`` minus ``change`` and everything written on top of it."""
    out = set(changes) - {change}
    while dependent := {c for c in out if c in BY_ID and not set(BY_ID[c].requires) <= out}:
        out -= dependent
    return frozenset(out)


def consistent(changes: frozenset[str]) -> bool:
    """No change present without one it was written on top of (a set some kernel can have)."""
    return all(set(BY_ID[c].requires) <= changes for c in changes if c in BY_ID)


def describe(change_id: str, release: str = "", *, carried: bool = False) -> str:
    """'behaves as without b94038d841a9 (af_unix: ...; 6.10; not in 6.1.y)' for a result
    ('behaves as with ...' when ``carried``: the kernel has a change the model it was judged as lacks)."""
    change = BY_ID[change_id]
    commit = change.commit if change.commits else change.id
    where = change.mainline or "mainline release unknown"
    version = parse(release) if release else None
    if version is not None:
        port = change.stable(f"{version[0]}.{version[1]}")
        if port is not None:
            where += f"; {port.describe()}"
    return f"behaves as {'with' if carried else 'without'} {commit} ({change.title}; {where})"
