"""Out-of-band data on SOCK_STREAM (CONFIG_AF_UNIX_OOB), the way Linux 6.18 does it.

A pure part of the Linux oracle (:mod:`harness.oracle.linux` calls in here through small hooks and
keeps no OOB logic of its own).  It follows net/unix/af_unix.c after the 2024-2025 fixes:

- ``send(MSG_OOB)`` (unix_stream_sendmsg + queue_oob): all bytes but the last go out as ordinary
  data, with the fds on that first skb; the last byte becomes an skb of its own that
  ``u->oob_skb`` of the receiver points at, and the receiver's owner (F_SETOWN) gets SIGURG.
  A newer OOB byte replaces the pointer: the older one becomes ordinary in-band data.
- ``recv(MSG_OOB)`` (unix_stream_recv_urg): EINVAL without a pending OOB byte or with SO_OOBINLINE;
  otherwise that byte with MSG_OOB in msg_flags and no control messages.  The byte's skb stays in
  the queue, consumed, as a mark that stops the next normal read ("Don't leave consecutive
  consumed OOB skbs": a consumed skb right before it is freed then).
- the normal read path (unix_stream_read_generic with manage_oob() for every skb: "Call
  manage_oob() for every skb", "Don't peek OOB data without MSG_PEEK", "Read with MSG_PEEK loops
  if the first unread byte is OOB", "Stop recv(MSG_PEEK) at consumed OOB skb", "Don't stop
  recv(MSG_DONTWAIT) if consumed OOB skb is at the head", "Don't stop recv() at consumed ex-OOB
  skb"): a read stops before the OOB byte once it copied something; with nothing copied it steps
  over (peek) or drops (read) an unread OOB byte, unless SO_OOBINLINE reads it in line.
- ``SIOCATMARK`` ("Fix wrong ioctl(SIOCATMARK) when consumed OOB skb is at the head"), POLLPRI,
  ECONNRESET for the peer on close ("Don't set -ECONNRESET for consumed OOB skb").

The skbs are the oracle's :class:`~harness.oracle.state.Skb` objects in ``End.queue``; a consumed
OOB skb is one whose ``remaining`` is 0 (no other stream skb ever is: empty sends queue nothing and
reads unlink what they used up).  Skbs compare by value, so everything here compares them by
identity.  A kernel without CONFIG_AF_UNIX_OOB (platform feature ``"MSG_OOB"`` missing) answers
every MSG_OOB with EOPNOTSUPP.

Older kernels (``Platform.changes``, see :mod:`harness.oracle.history`): without the June 2024
series (``oob-2024-06``) manage_oob() is the 6.1.y one (:func:`manage_oob_before_2024_06`) and
SIOCATMARK looks only for the OOB skb at the head; without ``oob-consumed-2025-06`` recv(MSG_OOB)
leaves a consumed skb before the new one; without ``oob-reset-2025-06`` any queued skb resets the
peer on close.  Measured on 6.1.176 (UML): the June 2024 series absent, the 2025 fixes present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.expectation import StepExpectation
from harness.model import Ioctl, Recv, Send, SetOwner, SockType
from harness.observation import Failed, Outcome, Returned
from harness.oracle import accounting, state
from harness.oracle.queue import index_of, next_skb, unlink

if TYPE_CHECKING:
    from harness.oracle.state import Creds, End, Model, SendStop, Skb

FEATURE = "MSG_OOB"  # the platform probe's name for CONFIG_AF_UNIX_OOB


def supported(m: Model) -> bool:
    return FEATURE in m.platform.features


def refused(m: Model, step: Send) -> tuple[Outcome, tuple[str, ...], str] | None:
    """What unix_stream_sendmsg() refuses MSG_OOB with first, before msg_name, the socket's state and
    SEND_SHUTDOWN (no SIGPIPE even after shutdown(SHUT_WR)); None when it goes on."""
    if not supported(m):
        return Failed("EOPNOTSUPP"), (), "MSG_OOB on a kernel without CONFIG_AF_UNIX_OOB"
    if step.length == 0:
        return Failed("EOPNOTSUPP"), (), "MSG_OOB with nothing to send"
    return None


def send(m: Model, step: Send, x: End, fds: tuple[str, ...] | None, creds: Creds | None) -> SendStop:
    """unix_stream_sendmsg() with MSG_OOB, after scm_send() accepted the control messages.

    Always returns the step's outcome (a success too, so that SIGURG can go with it).
    """
    early = refused(m, step)
    if early is not None:
        return early
    peer = m.peer(step.on)
    sigpipe: tuple[str, ...] = () if "MSG_NOSIGNAL" in step.flags else ("SIGPIPE",)
    if state.named(step):
        return Failed("EISCONN"), (), "msg_name on a connected stream socket"
    if x.snd_shutdown:
        return Failed("EPIPE"), sigpipe, "stream send after SEND_SHUTDOWN: EPIPE (+SIGPIPE)"
    blocked = accounting.capacity(m, step, x, peer)
    if blocked is not None:
        return blocked
    passing = fds is not None
    if passing and accounting.too_many_refs(
        m,
    ):
        return Failed("ETOOMANYREFS"), (), "the sender's user has more fds in flight than RLIMIT_NOFILE"
    if peer.released or peer.rcv_shutdown:
        # The loop over the first len-1 bytes meets a dead peer with SIGPIPE; a one-byte send meets
        # it only in queue_oob(), which raises none.
        return Failed("EPIPE"), sigpipe if step.length > 1 else (), "stream peer closed or shut down for reading"
    if passing and not peer.passrights:
        # Measured on Linux 6.18.44: EPERM before anything is queued, for a one-byte and a longer send.
        return Failed("EPERM"), (), "the receiver has SO_PASSRIGHTS off"
    if peer.owner is not None and peer.owner != m.proc.prefix and peer.owner not in m.exited:
        raise state.Unknown("SIGURG for a process other than the sender")
    carried = creds
    if carried is None:
        # maybe_add_creds(): both skbs of the send carry the same credentials
        asked = x.passcred or x.passpidfd or peer.passcred or peer.passpidfd
        carried = m.proc.symbols if asked else state.NO_CREDS
        has_pid = asked
    else:
        has_pid = True
    data = b"".join(step.iov)
    if len(data) > 1:
        peer.queue.append(
            state.Skb(
                data[:-1],
                fds,
                carried,
                big=len(data) - 1 > state.STREAM_SPLIT_SAFE,
                sender=m.proc.prefix,
                has_pid=has_pid,
            )
        )
        fds = None  # "Only send the fds in the first buffer"
    # queue_oob(): unix_scm_to_skb(scm, skb, !fds_sent), so a one-byte send puts its fds here
    oob_skb = state.Skb(data[-1:], fds, carried, sender=m.proc.prefix, has_pid=has_pid)
    peer.queue.append(oob_skb)
    peer.oob_skb = oob_skb  # an older OOB byte, if any, is ordinary data from now on
    # sk_send_sigurg(): to the owner of the receiving socket's file, if F_SETOWN named one; also
    # with SO_OOBINLINE (measured on Linux 6.18.44)
    # An owner that has exited (a child's F_SETOWN) keeps only its struct pid, with no task: no signal.
    signals = ("SIGURG",) if peer.owner == m.proc.prefix else ()
    return Returned(step.length), signals, "queued; the last byte is the out-of-band byte (queue_oob)"


def set_owner(m: Model, step: SetOwner) -> StepExpectation:
    """fcntl(F_SETOWN, getpid()): SIGURG for this end's OOB data goes to this process."""
    x = m.ends[step.on]
    if not x.open:
        return m.simple("set_owner", Failed("EBADF"), "closed descriptor")
    x.owner = m.proc.prefix
    return m.simple("set_owner", Returned(0), "F_SETOWN")


# -- recvmsg ------------------------------------------------------------------------------------


def recv_urg(m: Model, step: Recv, x: End) -> StepExpectation:
    """recvmsg(MSG_OOB) on SOCK_STREAM: unix_stream_recv_urg()."""
    if not supported(m):
        return m.recv_failed(step, Failed("EOPNOTSUPP"), "MSG_OOB on a kernel without CONFIG_AF_UNIX_OOB")
    skb = x.oob_skb
    if x.oobinline or skb is None:
        return m.recv_failed(step, Failed("EINVAL"), "no out-of-band byte pending, or SO_OOBINLINE")
    peek = "MSG_PEEK" in step.flags
    if not peek:
        x.oob_skb = None
    if not peek and m.platform.has_change("oob-consumed-2025-06"):
        # "Don't leave consecutive consumed OOB skbs" (32ca245464e1): a consumed OOB skb right
        # before this one is freed now
        i = index_of(x.queue, skb)
        if i > 0 and x.queue[i - 1].remaining == 0:
            unlink(m, x.queue, x.queue[i - 1])
    byte = skb.data[skb.consumed : skb.consumed + 1]
    if not peek:
        skb.consumed += 1  # the skb stays queued: the mark that stops the next normal read
    if state.data_fault(step):
        # recv_actor()'s copy faults after the byte was taken: -EFAULT, no MSG_OOB, and the byte is
        # consumed all the same (measured on 6.18.44: the next recv(MSG_OOB) is EINVAL; an atheris finding)
        return m.recv_failed(step, Failed("EFAULT"), "the copy of the out-of-band byte faults: it is consumed anyway")
    # recv_actor() copies one byte whatever the buffer; with no room it copies nothing and still
    # returns 1.  Measured on Linux 6.18.44: recv(fd, buf, 0, MSG_OOB) returns 1 and consumes the byte.
    # No control messages: the path never reaches scm_recv_unix(), not even for SO_PASSCRED.
    return m.recv_done(step, 1, byte[: step.capacity], {"MSG_OOB"}, None, None, "the out-of-band byte")


def manage_oob(m: Model, x: End, skb: Skb, peek: bool, copied: int) -> Skb | None:
    """manage_oob(): the skb a normal read goes on with (None: stop, or nothing to read)."""
    if not m.platform.has_change("oob-2024-06"):
        return manage_oob_before_2024_06(m, x, skb, peek, copied)
    queue = x.queue
    if skb.remaining and skb is not x.oob_skb:
        return skb
    if not skb.remaining:
        # a consumed OOB skb
        if copied and (x.oob_skb is None or skb is x.oob_skb):
            return None
        following = next_skb(queue, skb)
        if not peek:
            unlink(m, queue, skb)
        if following is None:
            return None
        skb = following
    if skb is not x.oob_skb:
        return skb
    if copied:
        return None  # stop before the out-of-band byte
    if not peek:
        x.oob_skb = None
        if not x.oobinline:
            # The unread OOB byte is dropped.  Measured on Linux 6.18.44: SIOCINQ keeps counting
            # it (u->inq_len is not decremented on this path), for as long as the socket lives.
            unlink(m, queue, skb)
            x.inq_stale += 1
            return queue[0] if queue else None
        return skb  # SO_OOBINLINE: read in line
    if not x.oobinline:
        return next_skb(queue, skb)  # a peek steps over it
    return skb


def manage_oob_before_2024_06(m: Model, x: End, skb: Skb, peek: bool, copied: int) -> Skb | None:
    """manage_oob() before "Fix bunch of MSG_OOB bugs" (6.10; not in 6.1.y; measured on 6.1.176 (UML)).

    A read (not a peek) that meets a consumed OOB skb unlinks it and stops there, even with nothing
    copied (EAGAIN although data follows, 93c99f21db36; 'hellowo', 36893ef0b661); a peek returns the
    consumed skb, whose length 0 the skip loop steps over, so it walks on past the mark
    ('hellworld', b94038d841a9).  The unread OOB byte: as today, with the April 2024 peek fixes
    (22dd70eb2c3d, a6736a0addd6) or without them.
    """
    queue = x.queue
    if not skb.remaining and not peek:
        unlink(m, queue, skb)
        return None
    if skb is not x.oob_skb:
        return skb
    if copied:
        return None
    if x.oobinline:
        if not peek:
            x.oob_skb = None
        return skb
    if peek:
        if not m.platform.has_change("oob-peek-2024-04"):
            return skb  # peeked in band: "Don't peek OOB data without MSG_OOB" was missing
        if not m.platform.has_change("oob-peek-loop-2024-06"):
            return None  # 22dd70eb2c3d alone: the peek stops at the OOB byte
        return next_skb(queue, skb)
    unlink(m, queue, skb)
    x.oob_skb = None
    x.inq_stale += 1
    return queue[0] if queue else None


# -- ioctl, poll, close ---------------------------------------------------------------------------


def atmark(m: Model, step: Ioctl, x: End) -> StepExpectation:
    """ioctl(SIOCATMARK): 1 when the next byte a read returns is the out-of-band mark."""
    if not supported(m):
        raise state.Unknown("SIOCATMARK on a kernel without CONFIG_AF_UNIX_OOB")
    if m.sock_type is not SockType.STREAM and m.platform.has_change("siocatmark-stream-only"):
        # Measured on Linux 6.18.44: EOPNOTSUPP on SOCK_DGRAM and SOCK_SEQPACKET, queue empty or not.
        return m.simple("ioctl", Failed("EOPNOTSUPP"), "SIOCATMARK is for SOCK_STREAM only")
    # Before that fix unix_ioctl() answers for every socket type from the queue's head alone (measured on
    # 6.1.176 (UML): 0 on a datagram pair); a datagram has no OOB skb, so only an empty one reads as the
    # mark, and only with the June 2024 series below (read in the source of a 6.13 tree, not measured).
    queue = x.queue
    answer = 0
    if queue and not m.platform.has_change("oob-2024-06"):
        # before e400cfa38bb0 (measured on 6.1.176 (UML)): only the OOB skb itself at the head is the mark
        answer = int(queue[0] is x.oob_skb)
    elif queue:
        head = queue[0]
        following = queue[1] if len(queue) > 1 else None
        if head is x.oob_skb or (not head.remaining and (x.oob_skb is None or following is x.oob_skb)):
            answer = 1
    return m.simple("ioctl", Returned(answer), "SIOCATMARK: the OOB skb, or a consumed one before it, is at the head")


def poll_bits(x: End) -> set[str]:
    """unix_poll(): EPOLLPRI while an OOB byte is pending (a queue holding only a consumed OOB skb is
    still POLLIN: the queue is not empty)."""
    return {"POLLPRI"} if x.oob_skb is not None else set()


def inq_extra(m: Model, x: End) -> int:
    """What SIOCINQ counts on top of the queued bytes: OOB bytes a normal read dropped.

    Measured on Linux 6.18.44 (stream inq_len cache of the SO_INQ series, 6.17): "x" (MSG_OOB),
    recv(5, MSG_DONTWAIT) -> EAGAIN, then SIOCINQ 1, and 1 more than the queue holds from then on.
    """
    if not x.inq_stale:
        return 0
    if "SO_INQ" not in m.platform.features:
        raise state.Unknown("SIOCINQ after a dropped OOB byte on a kernel without the inq_len cache")
    return x.inq_stale


def resets_peer(m: Model, x: End) -> bool:
    """unix_release_sock(): the peer gets ECONNRESET if unread data is left, not counting a
    zero-length skb at the head ("Don't set -ECONNRESET for consumed OOB skb", 2a5a4841846b).

    The check looks at the length of any skb.  Measured on Linux 6.18.44: a SOCK_SEQPACKET end
    closed with only a zero-length record queued leaves its peer EOF, not ECONNRESET; with one more
    record, ECONNRESET.
    """
    if x.full:
        if any(skb.remaining for skb in x.queue):
            return True
        raise state.Unknown("whether a Fill queued more than the receives took (unread data at close)")
    queue = x.queue
    if queue and not queue[0].remaining and m.platform.has_change("oob-reset-2025-06"):
        return len(queue) > 1
    return bool(queue)
