"""Lifetimes and garbage collection: which files a scenario still holds, what a close releases, when
unix_gc() runs and what it frees, and the ReadPartner step that sees whether a passed file is gone.

Functions over the model's state (:class:`harness.oracle.state.Model`)."""

from __future__ import annotations

from harness.expectation import StepExpectation
from harness.model import ReadPartner, SockType
from harness.observation import Failed, Returned
from harness.oracle import listener, oob
from harness.oracle.state import Model, Unknown


def inflight(m: Model, name: str) -> int:
    return sum(skb.fds.count(name) for end in m.ends.values() for skb in end.queue if skb.fds)


def held(m: Model, name: str) -> int:
    """References to the file ``name`` that keep it alive, apart from in-flight ones."""
    parent = int(name in m.closed_in_child)  # a child closed its copy: the parent's still holds the file
    if name in m.ends and not m.ends[name].table:
        return int(m.ends[name].open) + parent + m.installed.get(name, 0)
    if name in m.ends and name not in m.kinds:
        return 0  # an embryo: no descriptor; its listener's queue holds it (settle)
    if name in m.ends:
        tracked = m.kinds[name].tracked and name not in m.untracked  # (a child's accept: its duplicate went with it)
        return int(m.ends[name].open) + parent + int(tracked) + m.installed.get(name, 0)
    tracked = m.kinds[name].tracked
    return int(m.table_open[name]) + parent + int(tracked) + m.installed.get(name, 0)


def settle(m: Model) -> None:
    """Release every socket nothing holds (and collect unreachable cycles, like unix_gc()).

    Not while a system call that drops files is still running (``m.fput_deferred``): fput() leaves the
    release to task work run as the call returns, which settles then."""
    if m.fput_deferred:
        return
    while True:
        live = {side for side in m.ends if not m.ends[side].released}
        roots = {side for side in live if held(m, side) > 0}
        reachable = set(roots)
        frontier = list(roots)
        while frontier:
            side = frontier.pop()
            # each name once (what is reachable does not depend on the order or on repeats, and a
            # message may carry one file up to SCM_MAX_FD times)
            held_by: dict[str, None] = {}
            for skb in m.ends[side].queue:
                if skb.fds:
                    held_by.update(dict.fromkeys(skb.fds))
            held_by.update(dict.fromkeys(m.ends[side].embryos))  # a listener's queue holds its embryos (skb->sk)
            for name in held_by:
                if name in m.ends and name not in reachable:
                    reachable.add(name)
                    frontier.append(name)
        dead = live - reachable
        if not dead:
            return
        # Sockets nothing carries go first (their queues are purged, which may free what they
        # carried: a chain is released, not collected); what is left is carried only by itself, a
        # cycle.  An embryo is carried by its listener's queue, so it goes with its listener
        # (harness/oracle/listener.py).
        flying = {side for side in dead if inflight(m, side)}
        carried = flying | {side for side in dead if m.ends[side].listener in dead}
        free = sorted(dead - carried)
        for side in free:
            m.gc_triggered = (
                m.gc_triggered
                or m.gc_garbage
                or any_inflight(
                    m,
                )
            )
            release(m, side)
        if free:
            continue
        m.gc_garbage = True  # a cycle: only the garbage collector frees it
        for side in sorted(dead):
            release(m, side)


def release(m: Model, side: str) -> None:
    """unix_release_sock(): the socket is gone; its queue (and the files in it) go with it."""
    x = m.ends[side]
    x.released = True
    if listener.release(m, x):
        return
    peer = m.peer(side)
    if m.sock_type is not SockType.DGRAM and not peer.released:
        peer.snd_shutdown = peer.rcv_shutdown = True
        if oob.resets_peer(m, x):
            peer.error = "ECONNRESET"
    x.purge()


def file_released(m: Model, name: str) -> bool:
    if name in m.ends:
        return m.ends[name].released
    return held(m, name) == 0 and inflight(m, name) == 0


def any_inflight(m: Model) -> bool:
    return any(skb.fds for end in m.ends.values() for skb in end.queue)


def read_partner(m: Model, step: ReadPartner) -> StepExpectation:
    if m.gc_garbage:
        if not m.gc_triggered:
            raise Unknown("garbage that no unix socket release has handed to the collector yet")
        if step.wait_ms < 1000 and m.platform.has_change("gc-2024"):
            # the old collector (before 4090fa373f0e: 6.10, 6.6.93, 6.1.141) ran inside close()
            raise Unknown("looking before the garbage collector had time to run")
        m.gc_garbage = m.gc_triggered = False
    gone = file_released(m, step.target)
    if gone:
        return m.simple("read_partner", Returned(0), "every reference is gone: end of file")
    return m.simple("read_partner", Failed("EAGAIN"), "the file is still referenced (open or in flight)")
