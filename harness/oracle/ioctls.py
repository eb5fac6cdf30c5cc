"""ioctl() on a socket: SIOCINQ, SIOCOUTQ and SIOCATMARK (unix_ioctl, unix_inq_len, unix_outq_len).

Functions over the model's state (:class:`harness.oracle.state.Model`)."""

from __future__ import annotations

from harness.expectation import StepExpectation
from harness.model import Ioctl, SockType
from harness.observation import Failed, Returned
from harness.oracle import oob
from harness.oracle.state import Model, Unknown, wmem_bounds


def ioctl(m: Model, step: Ioctl) -> StepExpectation:
    x = m.ends[step.on]
    if not x.open:
        return m.simple("ioctl", Failed("EBADF"), "closed descriptor")
    # a queue a Fill filled holds more than the oracle knows: its length (SIOCINQ of a stream or
    # seqpacket end) and its truesize (the sender's SIOCOUTQ); the next datagram is known while the
    # Fill's certain ones are still queued
    if step.request == "SIOCINQ":
        if x.full and (m.sock_type is not SockType.DGRAM or not any(skb.filled for skb in x.queue)):
            raise Unknown("queue sizes after a Fill")
        if m.sock_type is SockType.DGRAM:
            value = len(x.queue[0].data) if x.queue else 0  # the next datagram only
        else:
            value = x.unread + oob.inq_extra(m, x)
        return m.simple("ioctl", Returned(value), "unix_inq_len")
    if step.request == "SIOCOUTQ":
        peer = m.peer(step.on)
        if peer.full:
            raise Unknown("queue sizes after a Fill")
        if not peer.queue:
            return m.simple("ioctl", Returned(0), "nothing in flight from this end")
        # sk_wmem_alloc counts skb truesize, not bytes: at most a page per skb more than twice the bytes.
        # At least what wmem_bounds() says: a big stream send the kernel split may have freed the skbs
        # read to their end.  Measured on 6.18.44 (a Hypothesis finding, seed 101): 36545 bytes sent in
        # one call are skbs of 36544 and 1 byte; after a read of 36544, SIOCOUTQ is 768 (one skb).
        lo = wmem_bounds(peer)[0]
        hi = 2 * sum(len(skb.data) for skb in peer.queue) + len(peer.queue) * 4096
        return StepExpectation(op="ioctl", outcome=Returned(lo), value_range=(lo, hi), why="sk_wmem_alloc")
    if x.full:
        raise Unknown("the out-of-band mark after a Fill")
    return oob.atmark(m, step, x)


# -- filling the send buffer ---------------------------------------------------------------
