"""Buffer accounting: what a send costs against SO_SNDBUF (skb truesize), when it waits, stops part way or
fails with ETOOMANYREFS, the datagram queue limit, POLLOUT, and the Fill step that fills a queue.

Functions over the model's state (:class:`harness.oracle.state.Model`)."""

from __future__ import annotations

from harness.expectation import StepExpectation
from harness.model import Fill, Send, SockType
from harness.observation import Failed, Outcome, Returned
from harness.oracle.state import (
    NO_CREDS,
    STREAM_SPLIT_SAFE,
    End,
    Model,
    PartialSend,
    SendStop,
    Skb,
    Unknown,
    implicit_creds,
    truesize_ceiling,
    wmem_bounds,
)


def sends_part_then_sleeps(m: Model, step: Send, x: End, peer: End) -> bool:
    """A blocking stream send far over SO_SNDBUF into an empty queue: unix_stream_sendmsg() queues
    skbs until sock_alloc_send_pskb() waits (some bytes, never all), then sleeps."""
    return (
        m.sock_type is SockType.STREAM
        and m.blocking(step.flags)
        and not peer.queue
        and not peer.full
        and not peer.released
        and not peer.rcv_shutdown
        and step.length > x.sndbuf + (256 << 10)
    )


def would_block_on_send(m: Model, step: Send, x: End) -> tuple[Outcome, tuple[str, ...], str]:
    if not m.blocking(step.flags, step.on):
        return Failed("EAGAIN"), (), "the peer's queue is full (SO_SNDBUF), non-blocking"
    outcome, why = x.sndtimeo.ends_wait("the peer's queue is full (SO_SNDBUF)")
    return outcome, (), why


def too_many_refs(m: Model) -> bool:
    """too_many_unix_fds(): user->unix_inflight > RLIMIT_NOFILE, without CAP_SYS_RESOURCE/ADMIN.

    Only an unprivileged child with a lowered RLIMIT_NOFILE can get there: root has both
    capabilities.  The in-flight count is the files this process's messages hold in queues.
    """
    identity = m.proc.identity
    if identity is None or identity.user != "unprivileged" or identity.nofile is None:
        return False
    mine = sum(len(skb.fds or ()) for end in m.ends.values() for skb in end.queue if skb.sender == m.proc.prefix)
    return mine > identity.nofile


def capacity(m: Model, step: Send, x: End, peer: End) -> SendStop:
    """Send-buffer accounting: None when the message certainly fits, the blocked outcome when it
    certainly does not, and unmodelled in between (skb truesize is the kernel's business)."""
    cost = truesize_ceiling(step.length)
    if peer.fill_unknown:
        raise Unknown("sending after a Fill that may have stopped at its limit")
    if m.trial and sends_part_then_sleeps(m, step, x, peer):
        return would_block_on_send(m, step, x)  # after the part that fits (see raced)
    if peer.full_at is not None:
        if x.sndbuf <= peer.full_at:
            return would_block_on_send(m, step, x)
        # the Fill stopped once sk_wmem_alloc reached full_at, one skb past it at most
        if peer.full_at + peer.fill_excess + peer.fill_used + cost > x.sndbuf:
            raise Unknown("how much more fits after a Fill")
        peer.fill_used += cost
        return None
    queued = peer.queue  # on a socketpair everything in the peer's queue came from this end
    if m.sock_type is SockType.STREAM and not queued and x.sndbuf < step.length <= x.sndbuf + (256 << 10):
        # sock_alloc_send_pskb() lets the skb that crosses SO_SNDBUF through: maybe all of it goes
        raise Unknown("a stream send just over SO_SNDBUF")
    if m.sock_type is SockType.STREAM and not queued and step.length > x.sndbuf and not m.blocking(step.flags, step.on):
        # unix_stream_sendmsg() sends skb after skb until sock_alloc_send_pskb() would wait,
        # then returns what it sent: some, never all; the queue is full after it.
        peer.filled_up(x.sndbuf, x.sndbuf // 2)  # a stream skb carries at most sk_sndbuf / 2
        return PartialSend(step.length)
    in_flight, most = wmem_bounds(peer)
    if not queued and m.sock_type is not SockType.STREAM:
        return None  # sock_alloc_send_pskb() only waits while sk_wmem_alloc >= sk_sndbuf
    if queued and in_flight >= x.sndbuf:
        return would_block_on_send(m, step, x)  # sk_wmem_alloc >= the bytes >= SO_SNDBUF
    if most + cost > x.sndbuf:
        raise Unknown("send-buffer accounting near SO_SNDBUF")
    if m.sock_type is SockType.STREAM and step.length > x.sndbuf // 3:
        raise Unknown("a stream send larger than a third of SO_SNDBUF (partial sends)")
    return None


def queue_certain(m: Model, step: Fill, most: int) -> None:
    """Queue the skbs a Fill that stops part way certainly sent, marked ``filled`` (a receive reads
    them; what may follow them is not known).

    It stops at EAGAIN once sk_wmem_alloc >= SO_SNDBUF (sock_alloc_send_pskb), or at its limit.  What
    was in flight before counts at most ``most``, and each send adds at most truesize_ceiling(chunk):
    so ceil((SO_SNDBUF - most) / truesize_ceiling(chunk)) sends at least, or the limit, or (sending to
    an unconnected datagram socket) what the receiver's max_dgram_qlen leaves room for.  A stream send
    of at most STREAM_SPLIT_SAFE bytes is one skb.  A larger one is split (unix_stream_sendmsg: skbs of
    at most sk_sndbuf / 2 - 64 bytes, and of at most a head and 32 KiB of fragments) and may be sent in
    part: only its first skb is certain (sk_wmem_alloc was under SO_SNDBUF), one of that many bytes."""
    x, peer = m.ends[step.on], m.peer(step.on)
    chunk, count = step.chunk, 1
    if m.sock_type is SockType.STREAM and chunk > STREAM_SPLIT_SAFE:
        chunk = min(chunk, x.sndbuf // 2 - 64, 32 << 10)
    else:
        count = min(step.limit, max(1, -(-(x.sndbuf - most) // truesize_ceiling(chunk))))
    if not m.scenario.kind.connected:
        count = min(count, max_dgram_qlen(m) + 1 - len(peer.queue))
    queue_sent(m, step, count, chunk, filled=True)


def queue_sent(m: Model, step: Fill, count: int, chunk: int, *, filled: bool) -> None:
    """``count`` skbs of ``chunk`` bytes of "F" in the receiver's queue.  Like a Send without credentials,
    each carries the sender's if either end asks for them (maybe_add_creds)."""
    x, peer = m.ends[step.on], m.peer(step.on)
    creds = implicit_creds(m, x, peer)
    for _ in range(count):
        skb = Skb(b"F" * chunk, None, creds or NO_CREDS, sender=m.proc.prefix, has_pid=creds is not None, filled=filled)
        peer.queue.append(skb)


def max_dgram_qlen(m: Model) -> int:
    qlen = m.platform.limits.get("max_dgram_qlen")
    if qlen is None:
        raise Unknown("net.unix.max_dgram_qlen unknown")
    return qlen


def writable(m: Model, side: str) -> bool:
    """unix_writable(): sk_wmem_alloc * 4 <= sk_sndbuf, where sk_wmem_alloc is the truesize of
    what this end has in flight (wmem_bounds)."""
    x, peer = m.ends[side], m.peer(side)
    if peer.released:
        return True  # the peer's queue, and with it everything this end had in flight, is gone
    if peer.fill_unknown:
        raise Unknown("POLLOUT after a Fill that may have stopped at its limit")
    if peer.full_at is not None:
        low, high = peer.full_at, peer.full_at + peer.fill_excess + peer.fill_used
    else:
        low, high = wmem_bounds(peer)
    if high * 4 <= x.sndbuf:
        return True
    if low * 4 > x.sndbuf:
        return False
    raise Unknown("whether the in-flight truesize is under a quarter of SO_SNDBUF (POLLOUT)")


def fill(m: Model, step: Fill) -> StepExpectation:
    """A Fill into a queue that can take data (harness.oracle.send.fill decides the rest)."""
    x = m.ends[step.on]
    peer = m.peer(step.on)
    if m.sock_type is not SockType.STREAM:
        x.autobind_to_send_credentials()  # by the first send, whatever becomes of it
        if step.chunk > x.sndbuf - 32:
            return m.simple("fill", Returned(0), "every datagram is too long (EMSGSIZE)")
    if not m.scenario.kind.connected and not peer.full:
        # sendto() the other end: its queue takes max_dgram_qlen + 1 datagrams (unix_recvq_full)
        room = max(
            0,
            max_dgram_qlen(
                m,
            )
            + 1
            - len(peer.queue),
        )
        if room < step.limit and wmem_bounds(peer)[1] + room * truesize_ceiling(step.chunk) <= x.sndbuf:
            queue_sent(m, step, room, step.chunk, filled=False)
            return m.simple("fill", Returned(room), "sends until the receiver's queue is over max_dgram_qlen")
    if peer.fill_unknown:
        raise Unknown("filling after a Fill that may have stopped at its limit")
    if peer.full and x.sndbuf <= (peer.full_at or 0):
        return m.simple("fill", Returned(0), "the queue is already full: the first send gets EAGAIN")
    if peer.full:
        raise Unknown("filling after SO_SNDBUF grew")
    in_flight, most = wmem_bounds(peer)
    if in_flight >= x.sndbuf:
        # sock_alloc_send_pskb() waits while sk_wmem_alloc >= sk_sndbuf: after SO_SNDBUF was
        # lowered under what is in flight, the first send gets EAGAIN (measured 6.18.44, all types)
        return m.simple("fill", Returned(0), "what is in flight already exceeds SO_SNDBUF: EAGAIN")
    if most >= x.sndbuf:
        raise Unknown("whether the in-flight truesize already reaches SO_SNDBUF")
    if most + step.limit * truesize_ceiling(step.chunk) <= x.sndbuf:
        # it all fits: `limit` sends, each its own skb (a stream coalesces nothing on send)
        queue_sent(m, step, step.limit, step.chunk, filled=False)
        return m.simple("fill", Returned(step.limit), "every send fits in SO_SNDBUF")
    queue_certain(m, step, most)
    if step.limit * step.chunk <= 2 * x.sndbuf:
        # it may have stopped at the limit with room left, or at EAGAIN: nothing after it is known
        peer.full_at = x.sndbuf
        peer.fill_used = 0
        peer.fill_unknown = True
        return StepExpectation(op="fill", outcome=Returned(1), value_range=(1, step.limit), why="sends")
    # the last skb: a datagram of chunk bytes, or a stream skb of at most sk_sndbuf / 2
    peer.filled_up(x.sndbuf, step.chunk if m.sock_type is not SockType.STREAM else min(step.chunk, x.sndbuf // 2))
    return StepExpectation(
        op="fill", outcome=Returned(1), value_range=(1, max(1, step.limit - 1)), why="sends until SO_SNDBUF"
    )
