"""Datagrams between sockets of the fd table (issue 10): the small part of unix_dgram_sendmsg() and
__unix_dgram_recvmsg() the peer tests with several senders need (gVisor two senders to one bound
receiver, FreeBSD one2many, LTP bind05, the kselftest scm_rights dgram cycles over pairs of table
sockets).

The model is deliberately narrow: short messages (no send-buffer accounting comes near SO_SNDBUF), data
and SCM_RIGHTS only (no credentials asked for or sent, no faults), receivers at most
``net.unix.max_dgram_qlen`` deep, non-blocking receives.  Anything outside raises Unknown.  Measured on
Linux 6.18.44: a message goes to the socket msg_name names (looked up like connect()'s name) or to the
sender's peer (ENOTCONN without one); unix_may_send() refuses with EPERM a receiver connected to another
socket; each message is received whole, in the order the senders queued them.
"""

from __future__ import annotations

from harness.addresses import TargetKind, address_target
from harness.expectation import StepExpectation
from harness.model import Recv, ScmRights, Send, SockType
from harness.observation import Failed, Returned
from harness.oracle import accounting, control, names
from harness.oracle.state import (
    NO_CREDS,
    RECV_FLAGS_MODELLED,
    SEND_FLAGS_IGNORED,
    End,
    Model,
    ScmRefused,
    Skb,
    Unknown,
    address_problem,
)

SHORT = 1024  # bytes: far below any SO_SNDBUF, so no send waits for room
SEND_FLAGS = frozenset({"MSG_DONTWAIT", "MSG_NOSIGNAL"}) | SEND_FLAGS_IGNORED


def send(m: Model, step: Send, x: End) -> StepExpectation:
    """unix_dgram_sendmsg() from a socket of the table (to a socket of the table)."""
    copied = control.copy_msghdr(m, step)
    if not isinstance(copied, control.CopiedMsghdr):
        outcome, signals, why = copied
        return StepExpectation(op="send", outcome=outcome, signals=signals, why=why)
    if step.flags - SEND_FLAGS or step.fault is not None or step.controllen is not None or step.control != "buffer":
        raise Unknown("a datagram between table sockets with flags, faults or a control length of its own")
    if any(not isinstance(c, ScmRights) for c in step.cmsgs) or step.length > SHORT:
        raise Unknown("a datagram between table sockets with credentials, raw cmsgs or more than 1 KiB")
    if x.error is not None:
        raise Unknown("a datagram from a table socket with a pending error")
    scm = control.scm_send(m, copied.layout, copied.controllen)
    if isinstance(scm, ScmRefused):
        return m.simple("send", Failed(scm.errno), str(scm))
    fds = scm.fds
    if x.snd_shutdown:  # sock_alloc_send_pskb(), before the receiver is looked up; no SIGPIPE on this path
        return m.simple("send", Failed("EPIPE"), "the sender is shut down for writing")
    if step.address is not None:
        problem = address_problem(step.address)
        if problem:
            return m.simple("send", Failed("EINVAL"), problem)
        target = address_target(step.address)
        if target.kind is TargetKind.UNCHANGED:
            raise Unknown("a datagram to an empty name")
        other, failed, why = names.lookup(m, target, SockType.DGRAM, x.netns)
        if failed is not None or other is None:
            return m.simple("send", failed or Failed("ECONNREFUSED"), why)
    else:
        if x.peer_name is None:
            return m.simple("send", Failed("ENOTCONN"), "no msg_name and no peer")
        other = m.ends[x.peer_name]
        if other.released:
            raise Unknown("a datagram to a dead peer (ECONNREFUSED, and the sender's queue is purged)")
    if not other.table:
        raise Unknown("a datagram from a table socket to a pair end")
    if not names.may_send_to(m, x, other):
        return m.simple("send", Failed("EPERM"), "unix_may_send(): the receiver is connected to another socket")
    if x.passcred or x.passpidfd or other.passcred or other.passpidfd or not other.passrights:
        raise Unknown("credentials or SO_PASSRIGHTS between table sockets")
    if other.rcv_shutdown or len(other.queue) >= accounting.max_dgram_qlen(m):
        raise Unknown("a table socket's queue that is shut down or holds max_dgram_qlen datagrams")
    if fds is not None and accounting.too_many_refs(m):
        return m.simple("send", Failed("ETOOMANYREFS"), "the sender's user has more fds in flight than RLIMIT_NOFILE")
    data = b"".join(step.iov)
    other.queue.append(Skb(data, fds, NO_CREDS, sender=m.proc.prefix, has_pid=False))
    return m.simple("send", Returned(step.length), "queued at the receiving table socket")


def recv(m: Model, step: Recv, x: End) -> StepExpectation:
    """__unix_dgram_recvmsg() of a socket of the table: one message per call (msg_name not compared).  It
    takes the pair ends' path (dgram_recv): every flag, data fault and control pointer as there
    (measured on 6.18.44, 6.12.118 and 6.1.176 (UML), each with fds queued)."""
    copied = control.copy_recv_msghdr(step)  # before the protocol: found by a 60 s Hypothesis campaign
    if copied is not None:
        return m.recv_failed(step, *copied)
    unknown = step.flags - RECV_FLAGS_MODELLED
    if unknown:
        raise Unknown(f"a table socket's receive with flags {sorted(unknown)}")
    if "MSG_OOB" in step.flags:
        return m.recv_failed(step, Failed("EOPNOTSUPP"), "MSG_OOB on a datagram socket")
    if x.error is not None or x.passcred or x.passpidfd or x.peek_off >= 0 or x.rcv_shutdown:
        raise Unknown("a table socket's receive with an error, credentials, SO_PEEK_OFF or shut down")
    if not x.queue:
        if m.waits_to_receive(step.flags, step.on):
            raise Unknown("a blocking receive on an empty table socket")
        return m.recv_failed(step, Failed("EAGAIN"), "nothing queued (non-blocking)")
    return m.dgram_recv(step, x)


def handles(m: Model, x: End) -> bool:
    """A datagram socket of the table in a datagram scenario: this module's."""
    return m.sock_type is SockType.DGRAM and names.sock_type(m, x) is SockType.DGRAM
