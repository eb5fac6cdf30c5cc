"""ioctl() on a socket: SIOCINQ, SIOCOUTQ and SIOCATMARK (unix_ioctl, unix_inq_len, unix_outq_len).

Functions over the model's state (:class:`harness.oracle.state.Model`)."""

from __future__ import annotations

from harness.expectation import StepExpectation
from harness.model import Ioctl, SockType
from harness.observation import Failed, Returned
from harness.oracle import oob
from harness.oracle.state import Model, Unknown


def ioctl(m: Model, step: Ioctl) -> StepExpectation:
    x = m.ends[step.on]
    if not x.open:
        return m.simple("ioctl", Failed("EBADF"), "closed descriptor")
    if x.full or m.peer(step.on).full:
        raise Unknown("queue sizes after a Fill")
    if step.request == "SIOCINQ":
        if m.sock_type is SockType.DGRAM:
            value = len(x.queue[0].data) if x.queue else 0  # the next datagram only
        else:
            value = x.unread + oob.inq_extra(m, x)
        return m.simple("ioctl", Returned(value), "unix_inq_len")
    if step.request == "SIOCOUTQ":
        queued = m.peer(step.on).queue
        sent = sum(len(skb.data) for skb in queued)
        if not queued:
            return m.simple("ioctl", Returned(0), "nothing in flight from this end")
        # sk_wmem_alloc counts skb truesize, not bytes: at least the bytes, at most a page per skb more
        hi = 2 * sent + len(queued) * 4096  # truesize rounds each skb's allocation up
        return StepExpectation(op="ioctl", outcome=Returned(sent), value_range=(sent, hi), why="sk_wmem_alloc")
    return oob.atmark(m, step, x)


# -- filling the send buffer ---------------------------------------------------------------
