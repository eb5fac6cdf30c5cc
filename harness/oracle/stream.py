"""The stream receive path: unix_stream_read_generic(), loop for loop (pure).

One implementation for every stream receive and splice.  ``manage_oob()`` is asked about every
skb as the kernel does; without out-of-band data queued it returns each skb unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.expectation import StepExpectation
from harness.observation import Blocked
from harness.oracle import state
from harness.oracle.oob import manage_oob
from harness.oracle.queue import next_skb, unlink

if TYPE_CHECKING:
    from harness.model import Recv
    from harness.oracle.state import Creds, End, Model, Skb


def read_generic(m: Model, step: Recv, x: End) -> StepExpectation:
    """unix_stream_read_generic() with manage_oob() at every skb, label for label.

    SO_PEEK_OFF is modelled as the kernel does it: its skip loop
    steps over consumed OOB skbs (length 0) without asking manage_oob().  Measured on Linux
    6.18.44: with SO_PEEK_OFF 0, "hello" (MSG_OOB) then "world", recv(1, MSG_OOB), recv(4, MSG_PEEK)
    "hell", recv(4, MSG_PEEK) "worl", recv(10) "hell", recv(10, MSG_PEEK) "d" (offset 5).
    """
    size = step.capacity
    peek = "MSG_PEEK" in step.flags
    lowat = size if "MSG_WAITALL" in step.flags else min(x.rcvlowat, size)
    target = lowat or 1  # sock_rcvlowat(): SO_RCVLOWAT, or the whole size with MSG_WAITALL
    skip = max(x.peek_off, 0) if peek else 0
    if peek and m.slept is not None and not m.platform.has_change("peek_off-sleep"):
        # Before 7bf3a476ce43 (6.18; measured on 6.1.176 (UML)) the offset is not read again after
        # sleeping: the skip goes on from what the walk over the queue before the sleep left of it.
        skip = max(skip - m.slept, 0)
    every_skb = m.platform.has_change("oob-peek-2024-04")  # 283454c8a123: manage_oob() for every skb, not the head only
    copied = 0
    out = bytearray()
    fds: tuple[str, ...] | None = None
    creds: Creds | None = None
    check_creds = False
    first: Skb | None = None
    named = False  # unix_copy_addr() ran: an skb was reached (even for a receive of 0 bytes)
    queue = x.queue
    done = False
    while not done:  # do { ... } while (size)
        skb: Skb | None = queue[0] if queue else None  # redo:
        head = True
        while True:  # again:
            if skb is not None and (head or every_skb):
                queued = len(queue)
                skb = manage_oob(m, x, skb, peek, copied)
                if skb is None and (copied or (not step.capacity and m.platform.has_change("oob-zero-length-2026"))):
                    # with the 2026 fix a zero-length read returns 0 here (measured on 6.12.118 (UML)),
                    # without it it goes on to the empty-queue path: EAGAIN (measured on 6.18.44)
                    done = True
                    break
                unlinked = skb is None and len(queue) < queued
                if unlinked and not every_skb:
                    break  # before 283454c8a123: `goto redo` at once
                if (
                    skb is None
                    and queue
                    and not m.platform.has_change("oob-2024-06")
                    and m.waits_to_receive(step.flags, step.on)
                ):
                    # 6.1.y: unix_stream_data_wait() returns at once when the queue's tail moved
                    # (the skb unlinked) and the read starts again; it spins with the OOB byte
                    # ahead of more data on a peek without a6736a0addd6
                    if not unlinked:
                        raise state.Unknown("a blocking peek that loops in the kernel before a6736a0addd6")
                    if x.error is None and not x.rcv_shutdown:
                        break
            head = False
            if skb is None:
                if copied >= target:
                    done = True
                    break
                if not copied:
                    if named and (x.passcred or x.passpidfd):
                        # the scm cookie holds the credentials of the skb it went past, not the zeros
                        raise state.Unknown("a read past an skb that copied nothing, with SO_PASSCRED")
                    reread = peek_after_timeout(m, step, x) if peek and skip < x.peek_off else None  # walked past bytes
                    return reread if reread is not None else m.would_wait(step, x, named=named)
                # part of the target (MSG_WAITALL, SO_RCVLOWAT): sock_error() (consumed), end of file, a
                # non-blocking receive or SO_RCVTIMEO return what was copied; otherwise it waits.
                if x.error is not None:
                    x.error = None
                elif not (
                    x.rcv_shutdown
                    or not m.waits_to_receive(step.flags, step.on)
                    or x.rcvtimeo is state.SocketTimeout.SHORT
                ):
                    if m.trial:  # a background party races this receive: it sleeps here until the party acts
                        return StepExpectation(op="recv", outcome=Blocked(), why="waits for the rest of the target")
                    raise state.Unknown("a read waiting for more data than is queued (MSG_WAITALL, SO_RCVLOWAT)")
                done = True
                break
            while skb is not None and skip >= skb.remaining:
                skip -= skb.remaining
                skb = next_skb(queue, skb)
            if skb is None:
                continue  # `goto again` with nothing: the empty-queue handling above
            if check_creds:
                if skb.creds != creds:
                    done = True  # "Never glue messages from different writers"
                    break
            elif x.passcred or x.passpidfd:
                creds = skb.creds
                first = skb
                check_creds = True
            named = True
            chunk = min(skb.remaining - skip, size)
            if skb.big and skb.fds is not None and skb.consumed + skip + chunk > state.STREAM_SPLIT_SAFE:
                raise state.Unknown("where a large stream send with fds was split into skbs")
            start = skb.consumed + skip
            out += skb.data[start : start + chunk]
            copied += chunk
            size -= chunk
            if not peek:
                skb.consumed += chunk
                if x.peek_off >= 0:
                    x.peek_off = max(0, x.peek_off - chunk)
                if skb.fds is not None:
                    fds, skb.fds = skb.fds, None
                if skb.remaining:
                    done = True
                    break
                unlink(m, queue, skb)
                if fds is not None:
                    done = True  # the fd barrier
                break
            if skb.fds is not None:
                fds = skb.fds  # unix_peek_fds(): installed again as new descriptors
            if x.peek_off >= 0:
                x.peek_off += chunk
            if skb.fds is not None:
                done = True
                break
            skip = 0
            skb = next_skb(queue, skb)
            if skb is None:
                done = True
                break
            # `goto again`: the peek walks on (through manage_oob) even with a full buffer
        if not size:
            done = True
    return m.recv_done(step, copied, bytes(out), set(), creds, fds, "stream receive (manage_oob)", first, named=named)


def peek_after_timeout(m: state.Model, step: Recv, x: state.End) -> StepExpectation | None:
    """Without peek_off-sleep (7bf3a476ce43), a blocking peek whose SO_PEEK_OFF walked past every queued
    byte sleeps, and when its timeout ends the wait it reads once more with what the walk left of the
    offset (SO_PEEK_OFF minus the bytes queued), not SO_PEEK_OFF: measured on 6.1.176 (UML, an atheris
    corpus replayed there), 9 bytes queued and SO_PEEK_OFF 9, a zero-length peek returns 0 after its
    timeout (a 256-byte one would return the bytes from the start), where 6.12.118 and 6.18.44 wait it
    out.  None: the receive waits as modelled (or a party wakes it: Model.raced sets ``slept`` itself)."""
    if (
        m.platform.has_change("peek_off-sleep")
        or m.trial
        or m.slept is not None
        or x.error is not None
        or x.rcv_shutdown
        or not m.waits_to_receive(step.flags, step.on)
    ):
        return None
    if x.rcvtimeo not in (state.SocketTimeout.HARNESS, state.SocketTimeout.SHORT):
        raise state.Unknown("a peek past the queued bytes with a long SO_RCVTIMEO, before 7bf3a476ce43")
    m.slept = x.unread
    try:
        return read_generic(m, step, x)  # nothing found again: the timeout's outcome (would_wait)
    finally:
        m.slept = None
