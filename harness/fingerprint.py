"""Which upstream AF_UNIX changes this kernel carries, measured (``scm-harness fingerprint``).

For each change of :mod:`harness.oracle.history` a few discriminating scenarios (catalogue variants,
listed in :data:`SCENARIOS`) run once on the raw back end; the oracle then judges the same
observation twice, with the change and without it.  A scenario that agrees with one side only is
evidence for that side; a change is ``present`` or ``absent`` when its evidence points one way, and
``inconclusive`` otherwise (no scenario, a scenario the platform cannot run, or evidence for both).
The other changes are taken as the release says, then as measured, until nothing moves (the June
2024 MSG_OOB series decides what the 2025 fixes look like).  Features a probe sees (SO_PASSPIDFD,
SO_PASSRIGHTS, SO_INQ) are read from the platform record.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import os
import select
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.catalogue import CASES
from harness.catalogue.case import Variant
from harness.evaluate import agrees, watchdog
from harness.execute.backend import ExecConfig
from harness.execute.errors import CannotExpress, CaseTimeout
from harness.execute.lifetime import call_in_child
from harness.expectation import Unmodelled
from harness.model import Scenario
from harness.native import constants, libc
from harness.native.constants import UnknownName
from harness.observation import Observation
from harness.oracle import expect, history
from harness.platform import Platform

# change id -> (case id, variant label) of the catalogue that tell its two sides apart
SCENARIOS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "io_uring-scm-refused": (("REG-IO_URING-SCM_RIGHTS", "ring"),),
    "oob-peek-2024-04": (
        ("REG-OOB-PEEK-2024-04", "peek of a lone OOB byte"),
        ("REG-OOB-PEEK-2024-04", "peek of hello"),
    ),
    "oob-peek-loop-2024-06": (("REG-OOB-PEEK-LOOP", "a then b"),),
    "oob-2024-06": (
        ("REG-OOB-SERIES-2024-06", "b94038d841a9 peek at consumed OOB"),
        ("REG-OOB-SERIES-2024-06", "93c99f21db36 consumed OOB at the head"),
        ("REG-OOB-SERIES-2024-06", "e400cfa38bb0 SIOCATMARK, consumed x"),
    ),
    "oob-consumed-2025-06": (("REG-CVE-2025-38236", "SIOCATMARK"),),
    "oob-reset-2025-06": (("OB-01", "oob"),),
    "peek_off-sleep": (("REG-SO_PEEK_OFF-SLEEP", "peek after sleep"),),
    "dgram-peer-lookup-late": (("SC-04", "the peer is looked up after the length check"),),
    "siocatmark-stream-only": (("ER-11", "SIOCATMARK"),),
    "flags-at-connect-2025": (("CR-20", "set after connect()"),),
    "oob-zero-length-2026": (
        ("OB-03", "zero-length reads in front of the mark"),
        ("OB-05", "a zero-length read drops it"),
    ),
}
BACKEND = "raw"
PROBE_TIMEOUT = 10.0  # seconds for a direct probe's child
GC_ROUNDS = 20
ROUNDS = 3  # re-judging with the measured set converges in two for every known kernel


class Seen(enum.Enum):
    PRESENT = "present"
    ABSENT = "absent"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class Evidence:
    scenario: str  # "CASE-ID / variant" or "probe"
    side: str  # "with", "without", "both", "neither", or why it could not say
    observed: str = ""

    def as_json(self) -> dict[str, str]:
        return {"scenario": self.scenario, "side": self.side, "observed": self.observed}


@dataclass(frozen=True, slots=True)
class ChangeVerdict:
    change: str
    seen: Seen
    release_says: bool  # present according to the release
    evidence: tuple[Evidence, ...]

    @property
    def disagrees(self) -> bool:
        return self.seen is not Seen.INCONCLUSIVE and (self.seen is Seen.PRESENT) != self.release_says


@dataclass(frozen=True, slots=True)
class Fingerprint:
    release: str
    verdicts: tuple[ChangeVerdict, ...]

    def present(self, assumed: frozenset[str]) -> frozenset[str]:
        """``assumed`` corrected by what was measured (inconclusive changes stay as assumed)."""
        changes = set(assumed)
        for v in self.verdicts:
            if v.seen is Seen.PRESENT:
                changes.add(v.change)
            elif v.seen is Seen.ABSENT:
                changes.discard(v.change)
        return frozenset(changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "changes": {
                v.change: {
                    "seen": v.seen.value,
                    "release_says": "present" if v.release_says else "absent",
                    "evidence": [e.as_json() for e in v.evidence],
                }
                for v in self.verdicts
            },
        }


def side_of(with_change: bool | None, without_change: bool | None) -> str:
    """Which side one observation matches, from "agrees with the oracle" on each side (None: unmodelled)."""
    if with_change is None or without_change is None:
        return "unmodelled on one side"
    return {(True, False): "with", (False, True): "without", (True, True): "both"}.get(
        (with_change, without_change), "neither"
    )


def verdict_of(evidence: Sequence[Evidence]) -> Seen:
    """present / absent when the evidence points one way only, else inconclusive."""
    sides = {e.side for e in evidence}
    if "with" in sides and "without" not in sides:
        return Seen.PRESENT
    if "without" in sides and "with" not in sides:
        return Seen.ABSENT
    return Seen.INCONCLUSIVE


def _variant(case_id: str, label: str) -> Variant:
    case = CASES[case_id]
    for kind in case.kinds():
        if kind.nonblocking:
            continue
        for variant in case.variants(kind):
            if variant.label == label:
                return variant
    raise LookupError(f"{case_id} has no variant {label!r}")  # the table test keeps this from happening


def _observe(scenario: Scenario, config: ExecConfig) -> Observation | str:
    from harness.execute.run import execute

    try:
        with watchdog(20.0):
            return execute(scenario, BACKEND, config)
    except (CannotExpress, UnknownName, CaseTimeout) as exc:
        return f"cannot run: {exc}"


def _agrees(scenario: Scenario, observation: Observation, platform: Platform, blocking_expected: bool) -> bool | None:
    expectation = expect(scenario, platform)
    if isinstance(expectation, Unmodelled):
        return None
    return agrees(scenario, observation, expectation, blocking_expected)


def judge(
    change: str, observed: Mapping[tuple[str, str], Observation | str], platform: Platform, base: frozenset[str]
) -> tuple[Evidence, ...]:
    """The evidence of each scenario of ``change`` against ``base`` with and without it (no I/O)."""
    from harness.describe import observation_words

    out = []
    for case_id, label in SCENARIOS.get(change, ()):
        name = f"{case_id} / {label}"
        seen = observed.get((case_id, label))
        if seen is None or isinstance(seen, str):
            out.append(Evidence(name, seen or "not run"))
            continue
        variant = _variant(case_id, label)
        sides = [
            _agrees(variant.scenario, seen, dataclasses.replace(platform, changes=changes), variant.blocking_expected)
            for changes in (history.with_change(base, change), history.without_change(base, change))
        ]
        out.append(Evidence(name, side_of(*sides), observation_words(seen)))
    return tuple(out)


def _fork_and_reap(work: Callable[[], None]) -> None:
    """``work()`` in a child that has exited and been reaped when this returns."""
    ended = call_in_child(work, PROBE_TIMEOUT)
    if not ended.ok:
        raise OSError(errno.ECHILD, "the probe's child did not finish its work")


def _reaped_peer_pidfd(platform: Platform) -> Evidence:
    """SO_PEERPIDFD of a socketpair end whose creator exited and was reaped: a pidfd since 6.16, EINVAL before."""
    name = "probe SO_PEERPIDFD, creator reaped"
    if "SO_PEERPIDFD" not in platform.features:
        return Evidence(name, "the platform lacks SO_PEERPIDFD")
    consts = constants.linux(platform.arch)
    carrier, at_parent = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with carrier, at_parent:
        at_parent.settimeout(5.0)

        def child() -> None:
            mine, _theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            socket.send_fds(carrier, [b"s"], [mine.fileno()])

        _fork_and_reap(child)
        _, fds, _, _ = socket.recv_fds(at_parent, 1, 1)
        if len(fds) != 1:
            return Evidence(name, "the child sent no socket")
        try:
            result, raw = libc.getsockopt_bytes(fds[0], consts.sol["SOL_SOCKET"], consts.so["SO_PEERPIDFD"], 4)
        finally:
            os.close(fds[0])
    if result.ok:
        os.close(int.from_bytes(raw[:4], sys.byteorder, signed=True))
        return Evidence(name, "with", "a pidfd")
    seen = errno.errorcode.get(result.errno, str(result.errno))
    return Evidence(name, "without" if seen == "EINVAL" else "neither", f"failed with {seen}")


def _reaped_sender_pidfd(platform: Platform) -> Evidence:
    """SCM_PIDFD of a message whose sender exited and was reaped: a pidfd since 6.17, a negative errno before."""
    name = "probe SCM_PIDFD, sender reaped"
    if "SO_PASSPIDFD" not in platform.features:
        return Evidence(name, "the platform lacks SO_PASSPIDFD")
    consts = constants.linux(platform.arch)
    sol = consts.sol["SOL_SOCKET"]
    carrier, at_parent = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with carrier, at_parent:
        at_parent.settimeout(5.0)
        libc.setsockopt_int(at_parent.fileno(), sol, consts.so["SO_PASSPIDFD"], 1)

        def child() -> None:
            carrier.sendmsg([b"m"])

        _fork_and_reap(child)
        _, cmsgs, _, _ = at_parent.recvmsg(1, socket.CMSG_SPACE(4) * 2)
    values = [
        int.from_bytes(data[:4], sys.byteorder, signed=True)
        for level, kind, data in cmsgs
        if level == sol and kind == consts.scm["SCM_PIDFD"] and len(data) >= 4
    ]
    if not values:
        return Evidence(name, "neither", "no SCM_PIDFD")
    if values[0] >= 0:
        os.close(values[0])
        return Evidence(name, "with", "a pidfd")
    return Evidence(name, "without", f"data {values[0]} (a negative errno)")


def _asynchronous_collection(platform: Platform) -> Evidence:
    """A closed cycle with a pipe's write end in flight, collected when another AF_UNIX socket is released.

    Before the 6.10 collector (and its LTS backports 6.6.93, 6.1.141) ``unix_release_sock()`` ran
    ``unix_gc()`` itself, so the cycle is gone when that ``close()`` returns: the pipe reads end of file at
    once.  Since then ``unix_gc()`` is queued work: right after the ``close()`` the pipe is usually still
    held (EAGAIN), and it reads end of file a moment later.  One such round proves the asynchronous
    collector; a collector that happens to finish first looks like the old one, so only a round that
    finds the pipe still held counts (up to :data:`GC_ROUNDS` rounds).  Mainline 6.8 and 6.9 queued the
    old collector already (d9f21b361333): there this reads "with" too.
    """
    name = "probe: a closed cycle, right after another socket's close()"
    immediate = 0
    for _ in range(GC_ROUNDS):
        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            with one, two:
                socket.send_fds(one, [b"x"], [one.fileno(), two.fileno(), write_end])  # into two's queue
                socket.send_fds(two, [b"y"], [one.fileno(), two.fileno()])  # into one's queue
            os.close(write_end)
            write_end = -1
            trigger, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            trigger.close()  # unix_release_sock(): the collector runs (or is queued)
            other.close()
            try:
                still_held = os.read(read_end, 1) != b""
            except BlockingIOError:
                still_held = True
            if not still_held:
                immediate += 1
                continue
            if not select.select([read_end], [], [], 2.0)[0] or os.read(read_end, 1) != b"":
                return Evidence(name, "neither", "the cycle was not collected within 2 s")
            return Evidence(name, "with", f"still held when close() returned, collected after (round {immediate + 1})")
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
    return Evidence(name, "both", f"collected before close() returned in all {GC_ROUNDS} rounds")


def _splice_pages(platform: Platform) -> Evidence:
    """5000 bytes spliced from a pipe into a datagram socket: one datagram since 6.5 (2dc334f1a63a), one per pipe
    page (4096 + 904) before, when splice_from_pipe() handed each buffer to ->sendpage() by itself."""
    name = "probe: splice of 5000 bytes from a pipe into a datagram socketpair"
    one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(write_end, b"x" * 5000)
        os.splice(read_end, one.fileno(), 5000, flags=os.SPLICE_F_NONBLOCK)
        two.setblocking(False)
        sizes: list[int] = []
        while len(sizes) < 8:
            try:
                sizes.append(len(two.recv(8192)))
            except BlockingIOError:
                break
    finally:
        one.close()
        two.close()
        os.close(read_end)
        os.close(write_end)
    side = {(5000,): "with", (4096, 904): "without"}.get(tuple(sizes), "neither")
    return Evidence(name, side, f"datagrams of {sizes} bytes")


def _guarded(probe: Callable[[Platform], Evidence], platform: Platform) -> Evidence:
    """A direct probe's evidence; a refusal or a timeout of its own sockets makes it inconclusive, not an error."""
    try:
        return probe(platform)
    except OSError as exc:  # socket.timeout is an OSError too
        return Evidence(probe.__name__.strip("_").replace("_", " "), f"cannot run: {exc}")


DIRECT: Mapping[str, Callable[[Platform], Evidence]] = {
    "gc-2024": _asynchronous_collection,
    "splice-sendmsg-2023": _splice_pages,
    "peerpidfd-reaped": _reaped_peer_pidfd,
    "scm_pidfd-reaped": _reaped_sender_pidfd,
}


def _probed(change: history.Change, platform: Platform) -> tuple[Evidence, ...]:
    side = "with" if change.probed in platform.features else "without"
    return (Evidence(f"probe {change.probed}", side, "supported" if side == "with" else "refused"),)


def fingerprint(platform: Platform, config: ExecConfig | None = None) -> Fingerprint:
    """Run every discriminating scenario once and judge each change (a second or so)."""
    config = config or ExecConfig()
    direct = {change: (_guarded(probe, platform),) for change, probe in DIRECT.items()}
    observed: dict[tuple[str, str], Observation | str] = {}
    for change, scenarios in SCENARIOS.items():
        for case_id, label in scenarios:
            missing = sorted(CASES[case_id].needs - platform.features)
            if missing:
                observed[(case_id, label)] = f"the platform lacks {', '.join(missing)}"
            elif (case_id, label) not in observed:
                observed[(case_id, label)] = _observe(_variant(case_id, label).scenario, config)
        del change
    return judged(platform, observed, direct)


def judged(
    platform: Platform,
    observed: Mapping[tuple[str, str], Observation | str],
    direct: Mapping[str, tuple[Evidence, ...]] | None = None,
) -> Fingerprint:
    """The verdicts for observations already made (pure): the part the tests exercise directly."""
    direct = direct or {}
    said = history.changes_in(platform.release)
    base = said
    verdicts: tuple[ChangeVerdict, ...] = ()
    for _ in range(ROUNDS):
        verdicts = tuple(
            ChangeVerdict(
                c.id,
                verdict_of(evidence),
                c.id in said,
                evidence,
            )
            for c in history.CHANGES
            for evidence in [
                _probed(c, platform) if c.probed else direct.get(c.id) or judge(c.id, observed, platform, base)
            ]
        )
        verdicts = _absent_with_what_they_build_on(verdicts)
        measured = Fingerprint(platform.release, verdicts).present(base)
        if measured == base:
            break
        base = measured
    return Fingerprint(platform.release, verdicts)


def _absent_with_what_they_build_on(verdicts: tuple[ChangeVerdict, ...]) -> tuple[ChangeVerdict, ...]:
    """A change whose foundation (``Change.requires``) is measured absent is absent too (SCM_PIDFD for a
    reaped sender on a kernel without SCM_PIDFD)."""
    absent = {v.change for v in verdicts if v.seen is Seen.ABSENT}
    out = []
    for v in verdicts:
        missing = sorted(set(history.BY_ID[v.change].requires) & absent)
        if missing and v.seen is not Seen.ABSENT:
            v = dataclasses.replace(
                v, seen=Seen.ABSENT, evidence=(*v.evidence, Evidence(f"requires {', '.join(missing)}", "without"))
            )
        out.append(v)
    return tuple(out)


def render(result: Fingerprint) -> str:
    """The table ``scm-harness fingerprint`` prints."""
    rows = [f"Linux {result.release}: upstream AF_UNIX changes, measured", ""]
    width = max(len(c.id) for c in history.CHANGES)
    rows.append(f"{'change':{width}}  {'commit':12}  {'since':5}  {'release says':12}  {'measured':12}  evidence")
    for v in result.verdicts:
        change = history.BY_ID[v.change]
        mark = "  <- differs from the release" if v.disagrees else ""
        evidence = "; ".join(f"{e.scenario}: {e.side}" for e in v.evidence) or "no discriminating scenario"
        says = "present" if v.release_says else "absent"
        commit = change.commit if change.commits else "-"
        since = change.mainline or "?"
        rows.append(f"{v.change:{width}}  {commit:12}  {since:5}  {says:12}  {v.seen.value:12}  {evidence}{mark}")
    return "\n".join(rows)
