"""GC rows: sockets and files in flight in cycles are collected; live queues are not."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import scenario, send
from harness.catalogue.case import Variant, case
from harness.catalogue.listener import KSELFTEST_CYCLES, kselftest_dgram_pairs
from harness.model import Child, Close, FdKind, FdSpec, Identity, PairKind, ReadPartner, SockType, Step

WITNESS = FdSpec(name="w", kind=FdKind.PIPE_WRITE, tracked=False)  # its pipe shows when it is released
WAIT = 3000  # ms: the garbage collector runs asynchronously


@case(
    "GC-01",
    "a socket sent into its own queue, then closed: the cycle is collected (at the next unix socket release)",
    area="gc-inflight",
    source="KS scm_rights self_ref; FB bundle_cancel",
    types="SD",
)
def gc_01(kind: PairKind) -> Iterator[Variant]:
    steps: tuple[Step, ...] = (
        send(fds=["b", "w"]),  # b is now in its own receive queue, with the witness
        Close(target="w"),
        ReadPartner(target="w"),  # b is open and its queue holds w: alive
        Close(target="b"),  # only b's own queue holds b now: a cycle nothing reaches
        Close(target="a"),  # releasing a unix socket runs the garbage collector
        ReadPartner(target="w", wait_ms=WAIT),  # collected (asynchronously, hence the wait)
    )
    yield Variant("self reference", scenario(kind, *steps, fds=(WITNESS,)))


@case(
    "GC-02",
    "cycles across two pairs are collected; a cycle still reachable from an open socket is kept",
    area="gc-inflight",
    source="KS scm_rights triangle, cross_edge, backtrack_from_scc (dgram variant over table sockets)",
    types="SD",
)
def gc_02(kind: PairKind) -> Iterator[Variant]:
    other = FdSpec(name="s", kind=FdKind.SOCKET, tracked=False)
    steps: tuple[Step, ...] = (
        send(fds=["a", "s", "w"]),  # a and the other pair's end in b's queue
        Close(target="s"),
        Close(target="w"),
        Close(target="a"),
        ReadPartner(target="w"),  # b is open and holds everything: alive
        ReadPartner(target="s"),
        Close(target="b"),
        ReadPartner(target="w", wait_ms=WAIT),
        ReadPartner(target="s", wait_ms=WAIT),
    )
    yield Variant("a in b's queue, then both closed", scenario(kind, *steps, fds=(WITNESS, other)))
    # issue 10: the kselftest scm_rights dgram cycles over several pairs of datagram sockets of the table
    # (stream: GC-03); the sockets are the table's, so only the socketpair() kinds that are not reversed
    if kind.sock_type is SockType.DGRAM and kind.by_socketpair and not kind.reversed:
        for name, (n, edges) in KSELFTEST_CYCLES.items():
            if name != "self_ref":  # GC-01
                fds_d, steps_d = kselftest_dgram_pairs(kind, n, edges)
                yield Variant(f"kselftest dgram {name}", scenario(kind, *steps_d, fds=fds_d))


@case(
    "GC-04",
    "a sender whose user has more fds in flight than its RLIMIT_NOFILE: ETOOMANYREFS (measured 6.18: count > limit)",
    area="gc-inflight",
    source="SRC too_many_unix_fds; ISS mercury #385",
)
def gc_04(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: with RLIMIT_NOFILE 8, 9 fds in flight still allow one more
    # sendmsg; the one after that fails (user->unix_inflight > RLIMIT_NOFILE, strictly).
    sender = Identity(user="unprivileged", nofile=8)
    sends = (send(fds=["f"] * 8), send(fds=["f"]), send(fds=["f"]), send(b"plain"))
    yield Variant("unprivileged, nofile 8", scenario(kind, Child(steps=sends, identity=sender)))
