"""The send path: sendmsg() (unix_stream_sendmsg, unix_dgram_sendmsg, unix_seqpacket_sendmsg) and the
calls built on it (sendmmsg, a splice from a pipe), with what a woken or partial writer returns.

Functions over the model's state (:class:`harness.oracle.state.Model`)."""

from __future__ import annotations

import dataclasses

from harness.addresses import TargetKind, address_target
from harness.expectation import StepExpectation
from harness.model import UIO_MAXIOV, Fill, Send, SendMany, SockType, SpliceIn
from harness.observation import Failed, Outcome, Returned
from harness.oracle import accounting, control, lifetimes, names, oob
from harness.oracle.state import (
    NO_CREDS,
    PAGE,
    SEND_FLAGS_MODELLED,
    STREAM_SPLIT_SAFE,
    End,
    Model,
    PartialSend,
    ScmRefused,
    SendStop,
    Skb,
    Unknown,
    address_problem,
    implicit_creds,
    named,
)


def send(m: Model, step: Send) -> StepExpectation:
    x = m.ends[step.on]
    if not x.open:
        return m.simple("send", Failed("EBADF"), "sendmsg on a closed descriptor")
    unknown = step.flags - SEND_FLAGS_MODELLED
    if unknown:
        raise Unknown(f"send flags {sorted(unknown)}")
    fail = send_error(m, step, x)
    if isinstance(fail, PartialSend):
        return StepExpectation(
            op="send",
            outcome=Returned(fail.length - 1),
            value_range=(1, fail.length - 1),
            why="partial send up to SO_SNDBUF",
        )
    if fail is not None:
        outcome, signals, why = fail
        return StepExpectation(op="send", outcome=outcome, signals=signals, why=why)
    return StepExpectation(op="send", outcome=Returned(step.length), why="queued")


def fill(m: Model, step: Fill) -> StepExpectation:
    """A Fill (MSG_DONTWAIT sends of ``chunk`` bytes until one fails): on an end that is closed or shut
    down for sending, or towards a peer that is gone or shut down for reading, the first send fails as
    a Send of one chunk does, with its signal and its effects (a dead datagram peer is dropped), and
    the Fill returns 0; anything else is harness.oracle.accounting's."""
    x, peer = m.ends[step.on], m.peer(step.on)
    if x.open and not x.snd_shutdown and not peer.released and not peer.rcv_shutdown:
        return accounting.fill(m, step)
    first = send(m, Send(on=step.on, iov=(b"F" * step.chunk,), flags=frozenset({"MSG_DONTWAIT"})))
    if not isinstance(first.outcome, Failed) or first.also or first.value_range is not None:
        raise Unknown("filling a queue that cannot take data")
    return StepExpectation(
        op="fill", outcome=Returned(0), signals=first.signals, why=f"the first send fails: {first.why}"
    )


def send_error(m: Model, step: Send, x: End) -> SendStop:
    """Checks in the order the kernel makes them; on success the message is queued."""
    copied = control.copy_msghdr(m, step)
    if not isinstance(copied, control.CopiedMsghdr):
        return copied
    layout, controllen = copied.layout, copied.controllen
    # unix_seqpacket_sendmsg: sock_error() and the state come before the control messages
    if m.sock_type is SockType.SEQPACKET and x.error is not None:
        err, x.error = x.error, None
        return Failed(err), (), "pending socket error (sock_error)"
    scm = control.scm_send(m, layout, controllen)
    if isinstance(scm, ScmRefused):
        return Failed(scm.errno), (), str(scm)
    fds, creds = scm.fds, scm.creds
    if "MSG_OOB" in step.flags:
        if m.sock_type is not SockType.STREAM:
            return Failed("EOPNOTSUPP"), (), "MSG_OOB on a datagram/seqpacket socket"
        if step.fault == "iov_base" and step.length:
            raise Unknown("an out-of-band send from a faulting iov_base")
        return oob.send(m, step, x, fds, creds)
    peer = m.peer(step.on)
    nosignal = "MSG_NOSIGNAL" in step.flags
    sigpipe: tuple[str, ...] = () if nosignal else ("SIGPIPE",)
    passing = fds is not None
    if m.sock_type is SockType.STREAM:
        if named(step):
            return Failed("EISCONN"), (), "msg_name on a connected stream socket"
        if x.snd_shutdown:
            return Failed("EPIPE"), sigpipe, "stream send after SEND_SHUTDOWN: EPIPE (+SIGPIPE)"
        if step.length == 0:
            # `while (sent < len)` never runs: nothing is queued, attached fds/creds are dropped
            return None
        if step.fault == "iov_base" and (step.length > STREAM_SPLIT_SAFE or peer.full or peer.fill_unknown):
            raise Unknown("a faulting stream send that may be split or wait for room first")
        blocked = accounting.capacity(m, step, x, peer)
        if blocked is not None:
            return blocked
        if passing and accounting.too_many_refs(
            m,
        ):
            return Failed("ETOOMANYREFS"), (), "the sender's user has more fds in flight than RLIMIT_NOFILE"
        if step.fault == "iov_base":
            if passing and not peer.passrights:
                raise Unknown("a faulting send of fds to a receiver with SO_PASSRIGHTS off (which check first)")
            return data_fault_on_send()
        if peer.released or peer.rcv_shutdown:
            return Failed("EPIPE"), sigpipe, "stream peer closed or shut down for reading: EPIPE (+SIGPIPE)"
        if passing and not peer.passrights:
            return Failed("EPERM"), (), "the receiver has SO_PASSRIGHTS off"
    else:
        target_named = named(step) and m.sock_type is SockType.DGRAM
        if target_named:
            problem = address_problem(step.address or "")
            if problem:
                return Failed("EINVAL"), (), problem
        # dgram/pathname/unconnected: a Send without an address names the other end's path; one with
        # an empty address ("hex:", msg_namelen 0) names nothing and has no peer either
        implicit = step.address is None and not m.scenario.kind.connected
        no_peer = not target_named and not implicit and (not m.scenario.kind.connected or x.peer_dropped)
        if no_peer and not m.platform.has_change("dgram-peer-lookup-late"):
            # before f4dd63165b08 (6.14) unix_dgram_sendmsg() called unix_peer_get() beside the address
            # checks, ahead of the autobind, the length check and the skb: measured on 6.1.176 and
            # 6.12.118 (UML), a send with no name and no peer is ENOTCONN whatever its length or
            # SHUT_WR, and autobinds nothing
            why = "no msg_name and no peer: unix_peer_get() before the skb (an older kernel)"
            return Failed("ENOTCONN"), (), why
        x.autobind_to_send_credentials()
        if step.length > x.sndbuf - 32:
            return Failed("EMSGSIZE"), (), "datagram longer than SO_SNDBUF - 32"
        if x.snd_shutdown:
            return Failed("EPIPE"), (), "sock_alloc_send_pskb after SEND_SHUTDOWN (no SIGPIPE on this path)"
        blocked = accounting.capacity(m, step, x, peer)  # sk_wmem_alloc is the sender's, named or not
        if blocked is not None:
            return blocked
        if passing and accounting.too_many_refs(
            m,
        ):
            return Failed("ETOOMANYREFS"), (), "the sender's user has more fds in flight than RLIMIT_NOFILE"
        if step.fault == "iov_base" and step.length:
            if passing and not peer.passrights:
                raise Unknown("a faulting send of fds to a receiver with SO_PASSRIGHTS off (which check first)")
            return data_fault_on_send()
        if no_peer:
            # measured on 6.18.44 (fuzz findings): EMSGSIZE and a SEND_SHUTDOWN EPIPE come first, and a
            # sender asking for credentials is autobound; unix_peer_get() finds no peer after the skb
            if x.peer_dropped:
                return Failed("ENOTCONN"), (), "the dead peer was dropped by an earlier send"
            return Failed("ENOTCONN"), (), "no msg_name and no peer (an unconnected socket)"
        if target_named and names.bound_to(m, step.address or ""):
            raise Unknown("a datagram to an address a socket of the scenario is bound to")
        if target_named:
            # harness.addresses confines every name the kernel looks up to a fresh one in the
            # harness's namespace, which nobody can have bound (the kernel's answer, measured 6.18.44)
            assert step.address is not None
            if address_target(step.address).kind is TargetKind.ABSTRACT:
                return Failed("ECONNREFUSED"), (), "no socket is bound to the (confined) abstract name"
            return Failed("ENOENT"), (), "no socket file at the (confined) path"
        if peer.released and implicit:
            # measured on 6.18.44: the path is still there (unlinked when the scenario ends) but no
            # socket is behind it any more: unix_find_bsd() -> ECONNREFUSED, every time
            return Failed("ECONNREFUSED"), (), "sendto() the closed other end's path: no socket behind it"
        if peer.released:
            # unix_dgram_sendmsg(): forget the dead peer, and unix_dgram_disconnected() purges our
            # own receive queue ("Messages are lost").
            x.peer_dropped = True
            x.purge()
            lifetimes.settle(
                m,
            )
            return Failed("ECONNREFUSED"), (), "the peer is dead: ECONNREFUSED once, then ENOTCONN"
        if peer.rcv_shutdown:
            return Failed("EPIPE"), (), "peer shut down for reading"
        if passing and not peer.passrights:
            return Failed("EPERM"), (), "the receiver has SO_PASSRIGHTS off"
        if implicit and len(peer.queue) > accounting.max_dgram_qlen(
            m,
        ):
            # unix_recvq_full_lockless(): only a receiver whose peer is not the sender limits its
            # queue to net.unix.max_dgram_qlen (sk_max_ack_backlog) datagrams, measured on 6.18.44
            if not m.blocking(step.flags):
                return Failed("EAGAIN"), (), "the receiver's queue holds more than max_dgram_qlen datagrams"
            outcome, why = x.sndtimeo.ends_wait("the receiver's queue holds more than max_dgram_qlen datagrams")
            return outcome, (), why
        if implicit and peer.full:
            raise Unknown("whether a queue a Fill filled holds more than max_dgram_qlen datagrams")
    carried, has_pid = creds, True
    if carried is None:
        carried = implicit_creds(m, x, peer)
        has_pid = carried is not None
    peer.queue.append(
        Skb(
            b"".join(step.iov),
            fds,
            carried or NO_CREDS,
            big=m.sock_type is SockType.STREAM and step.length > STREAM_SPLIT_SAFE,
            sender=m.proc.prefix,
            has_pid=has_pid,
        )
    )
    return None


def partly_sent(m: Model, step: Send) -> StepExpectation:
    """The writer of sends_part_then_sleeps(), asleep after queuing part of its data, woken by the
    reader's close: sock_alloc_send_pskb() fails (sock_error() consumes the ECONNRESET the close
    left, or EPIPE) and unix_stream_sendmsg() returns what it sent, without SIGPIPE; the next send
    is EPIPE with SIGPIPE.  Measured on Linux 6.18.44 (1 MiB into a default SO_SNDBUF of 212992:
    219264 bytes sent).  A reader that reads or only shuts down is not modelled (how much it left)."""
    x, peer = m.ends[step.on], m.peer(step.on)
    if not peer.released:
        raise Unknown("a writer that sent part of its data, woken by anything but the reader's close")
    x.error = None
    return StepExpectation(
        op="send",
        outcome=Returned(step.length - 1),
        value_range=(1, step.length - 1),
        why="a sleeping writer woken by the reader's close: the partial count, no SIGPIPE",
    )


def woken_writer(m: Model, step: Send) -> StepExpectation | None:
    """A stream send that slept on a full queue (it sent nothing) and that the peer's close or
    SHUT_RD woke: sock_alloc_send_pskb() returns sock_error() (ECONNRESET when the peer closed
    with unread data in its queue, consumed) or EPIPE, and unix_stream_sendmsg() goes to its
    out_err path, which raises no SIGPIPE: only a send that finds the peer dead before it
    allocates (out_pipe) does.  Measured on Linux 6.18.44: ECONNRESET after the close, EPIPE
    after SHUT_RD, neither with SIGPIPE; the next send EPIPE with SIGPIPE.  (Datagram and
    seqpacket sends check sock_error first anyway: send_error gives the same there.)"""
    if m.sock_type is not SockType.STREAM:
        return None
    x, peer = m.ends[step.on], m.peer(step.on)
    if not x.open or not (peer.released or peer.rcv_shutdown):
        return None
    if x.error is not None:
        err, x.error = x.error, None
        return m.simple("send", Failed(err), "a sleeping writer woken: sock_error(), no SIGPIPE")
    return m.simple("send", Failed("EPIPE"), "a sleeping writer woken by the peer's shutdown: no SIGPIPE")


def send_many(m: Model, step: SendMany) -> StepExpectation:
    """sendmmsg(): at most UIO_MAXIOV messages; the count sent, or the first one's error."""
    sent = 0
    for _ in range(min(step.count, UIO_MAXIOV)):
        one = send(m, Send(on=step.on, iov=(step.data,), flags=frozenset({"MSG_DONTWAIT"})))
        if not isinstance(one.outcome, Returned):
            if sent == 0:
                return StepExpectation(op="sendmany", outcome=one.outcome, signals=one.signals, why=one.why)
            break
        if one.value_range is not None:
            raise Unknown("a partial message in sendmmsg (its msg_len)")
        sent += 1
    # every message's msg_len is its whole length: the observation shows that many bytes of each
    why = "vlen is capped at UIO_MAXIOV; msg_len = the message's length"
    return StepExpectation(op="sendmany", outcome=Returned(sent), data=step.data * sent, why=why)


def splice_in(m: Model, step: SpliceIn) -> StepExpectation:
    """splice_to_socket(): the pipe's buffers go to the socket in one sendmsg(MSG_SPLICE_PAGES),
    MSG_DONTWAIT only if the socket is O_NONBLOCK.  Measured on 6.18.44: 5 and 5000 bytes arrive
    as one datagram/record; an empty pipe is EAGAIN; to a closed peer, stream EPIPE with SIGPIPE,
    datagram ECONNREFUSED, seqpacket EPIPE without.  After SHUT_WR of the end or SHUT_RD of its peer
    it fails as a send does (stream EPIPE with SIGPIPE, datagram and seqpacket EPIPE without): measured
    on 6.18.44, 6.12.118 and 6.1.176 (->sendpage before 6.5), 5 and 5000 bytes, every connected kind."""
    x = m.ends[step.on]
    if not x.open:
        return m.simple("splice_in", Failed("EBADF"), "closed descriptor")
    if not step.data:
        return m.simple("splice_in", Failed("EAGAIN"), "the pipe is empty (SPLICE_F_NONBLOCK)")
    # A splice has no msg_name.  On an end of dgram/pathname/unconnected that is msg_namelen 0 ("hex:"),
    # which the send path models: nowhere to send it, unix_dgram_sendmsg() -> ENOTCONN, after the
    # checks a send makes first (measured on 6.18.44, found by the stateful machine and Hypothesis: a
    # 5000-byte splice over SO_SNDBUF 4608 is EMSGSIZE, with or without SHUT_WR; after SHUT_WR EPIPE,
    # no SIGPIPE).  A connected end sends to its peer, as a send without an address does.
    address = None if m.scenario.kind.connected or step.on not in ("a", "b") else "hex:"
    if address is None and len(step.data) > 4 * PAGE:
        raise Unknown("splicing more pages than were measured (one sendmsg or several)")
    if (
        not m.platform.has_change("splice-sendmsg-2023")
        and m.sock_type is not SockType.STREAM
        and len(step.data) > PAGE
    ):
        # before 6.5 (2dc334f1a63a) splice_from_pipe() handed each pipe buffer to ->sendpage() by itself,
        # which AF_UNIX did as a sendmsg of that page: measured on 6.1.176 (UML), 5000 bytes arrive as a
        # datagram/record of 4096 and one of 904
        total = 0
        for start in range(0, len(step.data), PAGE):
            got = send(m, Send(on=step.on, iov=(step.data[start : start + PAGE],), address=address))
            if not isinstance(got.outcome, Returned) or got.value_range is not None:
                if total:
                    raise Unknown("a splice whose later page was refused (not measured)")
                return StepExpectation(op="splice_in", outcome=got.outcome, signals=got.signals, why=got.why)
            total += got.outcome.value
        return m.simple("splice_in", Returned(total), "a message per pipe page (->sendpage, before 6.5)")
    appended_to = sendpage_tail(m, step) if m.sock_type is SockType.STREAM else None
    got = send(m, Send(on=step.on, iov=(step.data,), address=address))
    why = got.why
    if appended_to is not None and isinstance(got.outcome, Returned) and got.value_range is None:
        queue = m.peer(step.on).queue
        spliced = queue.pop()
        assert queue[-1] is appended_to, "the splice's skb follows the tail it looked at"
        queue[-1] = dataclasses.replace(appended_to, data=appended_to.data + spliced.data)
        why = "appended to the peer's last skb, whose credentials are the splicer's (->sendpage, before 6.5)"
    return StepExpectation(
        op="splice_in", outcome=got.outcome, value_range=got.value_range, signals=got.signals, why=why
    )


def sendpage_tail(m: Model, step: SpliceIn) -> Skb | None:
    """The skb a splice into a stream socket appends its pages to, before 6.5 (splice-sendmsg-2023).

    unix_stream_sendpage() puts the page into the last skb of the peer's queue when unix_skb_scm_eq()
    holds: the same pid, uid and gid (an skb of 6.1 records its sender's own, or the explicit ones, and
    the splicer's are its own), the fds not compared.  So a splice after a send with fds by the same
    process joins that skb, and a read that stops at the fd barrier takes the spliced bytes too:
    measured on 6.1.176 (UML), "ab" with an fd then a spliced "c" read as "abc" with the fd; from 6.5
    each splice is an skb of its own (MSG_SPLICE_PAGES), measured on 6.18.44 and 6.12.118 (UML)."""
    if m.platform.has_change("splice-sendmsg-2023"):
        return None
    queue = m.peer(step.on).queue
    if not queue:
        return None
    tail = queue[-1]
    if tail is m.peer(step.on).oob_skb or not tail.remaining:
        raise Unknown("a splice onto an out-of-band skb before 6.5 (->sendpage; not measured)")
    if tail.sender != m.proc.prefix or tail.creds not in (NO_CREDS, m.proc.symbols):
        return None  # another writer, or explicit credentials of someone else: an skb of its own
    return tail


def data_fault_on_send() -> tuple[Outcome, tuple[str, ...], str]:
    """skb_copy_datagram_from_iter() faults on the first non-empty iovec: the skb is freed with the
    fds and credentials attached to it, nothing is queued and sendmsg returns EFAULT."""
    return Failed("EFAULT"), (), "the data buffer (iov_base) faults: nothing queued"
