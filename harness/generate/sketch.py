"""QueueSketch: what each pair end has queued, roughly, so that generated steps seldom block.

Stdlib-only, like the rest of what the atheris decoder imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness.generate.vocabulary import INT32_MAX
from harness.model import (
    SCM_MAX_FD,
    SIDES,
    UIO_MAXIOV,
    Close,
    Fill,
    Named,
    PairKind,
    RawCmsg,
    Recv,
    ScmCredentials,
    Send,
    SetSockOpt,
    Shutdown,
    Side,
    SockType,
    Step,
)

__all__ = ["QueueSketch", "without_blocking"]

_DGRAM_MAX = 212960
_SEND_BUDGET = 150_000

# Flags with which a well-formed send is expected to queue its data (QueueSketch).
_QUEUEING_SEND_FLAGS = frozenset(
    {"MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR", "MSG_MORE", "MSG_CONFIRM", "MSG_DONTROUTE"}
)


def _peer(side: str) -> Side:
    return "b" if side == "a" else "a"


@dataclass(slots=True)
class QueueSketch:
    """A rough, conservative picture of what each pair end has queued, to keep calls cheap.

    On a blocking pair the executor bounds every call with SO_RCVTIMEO/SO_SNDTIMEO (0.5 s), so
    a receive that finds too little queued, or a send that finds the send buffer full, costs
    that long and teaches little.  Both generators ask :meth:`would_block` after drawing a send
    or a receive and usually add ``MSG_DONTWAIT`` when it says yes.  A send counts as queued
    only when it looks certain to succeed, so receives err towards "would block"; it is a
    generation heuristic, never an oracle.
    """

    kind: PairKind
    queued: dict[str, list[int]] = field(default_factory=lambda: {"a": [], "b": []})
    closed: set[str] = field(default_factory=set)
    eof: set[str] = field(default_factory=set)  # pair ends whose receives return 0 at once
    shut_wr: set[str] = field(default_factory=set)
    refuse_rights: set[str] = field(default_factory=set)  # SO_PASSRIGHTS was set to 0 there
    lowat: dict[str, int] = field(default_factory=dict)  # SO_RCVLOWAT, where it was set
    filled: set[str] = field(default_factory=set)  # pair ends whose send buffer a Fill step filled
    lengths: list[int] = field(default_factory=list)  # every send's length, in order

    def copy(self) -> QueueSketch:
        """A sketch that records on without changing this one."""
        return QueueSketch(
            self.kind,
            {side: list(queue) for side, queue in self.queued.items()},
            set(self.closed),
            set(self.eof),
            set(self.shut_wr),
            set(self.refuse_rights),
            dict(self.lowat),
            set(self.filled),
            list(self.lengths),
        )

    @property
    def stream(self) -> bool:
        return self.kind.sock_type is SockType.STREAM

    def recent_lengths(self, count: int = 4) -> tuple[int, ...]:
        return tuple(self.lengths[-count:])

    def would_block(self, step: Send | Recv) -> bool:
        """Whether ``step`` may wait for the executor's timeout (some false positives)."""
        if self.kind.nonblocking or "MSG_DONTWAIT" in step.flags or step.fault in ("msghdr", "iov"):
            return False
        if step.on not in SIDES:  # a socket of the table: not sketched
            return False
        if isinstance(step, Send):
            return self._send_would_block(step)
        if step.on in self.closed or step.on in self.eof or "MSG_OOB" in step.flags:
            return False
        queue = self.queued[step.on]
        if not self.stream:
            return not queue
        # unix_stream_read_generic waits for sock_rcvlowat(): WAITALL ? len : min(lowat, len), or 1
        wanted = step.capacity if "MSG_WAITALL" in step.flags else min(self.lowat.get(step.on, 1), step.capacity)
        return sum(queue) < max(1, wanted)

    def _send_would_block(self, step: Send) -> bool:
        peer = _peer(step.on)
        if {step.on, peer} & self.closed or step.on in self.shut_wr:
            return False
        if step.on in self.filled:
            return True
        # Queued bytes stay charged to the sender's wmem (default 212992, skb overhead included).
        in_flight = sum(self.queued[peer])
        if in_flight + step.length <= _SEND_BUDGET:
            return False
        return self.stream or bool(self.queued[peer])

    def record(self, step: Step) -> None:
        """Update the sketch after ``step``."""
        if isinstance(step, (Send, Recv)) and step.on not in SIDES:  # a socket of the table: not sketched
            return
        if isinstance(step, Send):
            self.lengths.append(step.length)
            if self._queues(step) and (step.length > 0 or not self.stream):
                self.queued[_peer(step.on)].append(step.length)
        elif isinstance(step, Recv):
            self._consume(step)
        elif isinstance(step, Close):
            self.closed.add(step.target)
            if step.target in SIDES and self.kind.sock_type is not SockType.DGRAM:
                self.eof.add(_peer(step.target))
        elif isinstance(step, Shutdown) and isinstance(step.how, str):
            if step.how in ("SHUT_RD", "SHUT_RDWR"):
                self.eof.add(step.on)
            if step.how in ("SHUT_WR", "SHUT_RDWR"):
                self.shut_wr.add(step.on)
                if self.kind.sock_type is not SockType.DGRAM:
                    self.eof.add(_peer(step.on))
        elif isinstance(step, SetSockOpt) and step.option == "SO_PASSRIGHTS" and step.value == 0:
            self.refuse_rights.add(step.on)
        elif isinstance(step, Fill):
            self._fill(step)
        elif isinstance(step, SetSockOpt) and step.option == "SO_RCVLOWAT" and isinstance(step.value, int):
            self.lowat[step.on] = INT32_MAX if step.value < 0 else max(1, step.value)

    def _fill(self, step: Fill) -> None:
        if {step.on, _peer(step.on)} & self.closed or step.on in self.shut_wr:
            return
        # about as many chunks as the default wmem (212992) holds with skb overhead
        count = min(step.limit, max(1, 212992 // (step.chunk + 576)))
        self.queued[_peer(step.on)].extend([step.chunk] * count)
        self.filled.add(step.on)

    def _queues(self, step: Send) -> bool:
        peer = _peer(step.on)
        if {step.on, peer} & self.closed or step.on in self.shut_wr:
            return False
        if step.fault is not None or step.control != "buffer" or step.controllen is not None:
            return False
        allowed = _QUEUEING_SEND_FLAGS | ({"MSG_OOB"} if self.stream else set())
        if not step.flags <= allowed or len(step.iov) > UIO_MAXIOV:
            return False
        if not self.stream and step.length > _DGRAM_MAX:
            return False
        refs = 0
        for cmsg in step.cmsgs:
            if isinstance(cmsg, RawCmsg):
                return False
            if isinstance(cmsg, ScmCredentials):
                if (cmsg.pid, cmsg.uid, cmsg.gid) != ("self", "self", "self"):
                    return False
                continue
            if peer in self.refuse_rights and cmsg.fds:
                return False
            for ref in dict.fromkeys(cmsg.fds):  # each distinct one (up to SCM_MAX_FD repeat a few)
                if not isinstance(ref, Named) or ref.name in self.closed:
                    return False
            refs += len(cmsg.fds)
        return refs <= SCM_MAX_FD

    def _consume(self, step: Recv) -> None:
        queue = self.queued[step.on]
        if not queue or "MSG_PEEK" in step.flags or step.fault is not None or step.on in self.closed:
            return
        self.filled.discard(_peer(step.on))
        if not self.stream:
            queue.pop(0)
            return
        want = step.capacity
        while queue and want > 0:
            taken = min(queue[0], want)
            want -= taken
            if taken == queue[0]:
                queue.pop(0)
            else:
                queue[0] -= taken


def without_blocking(step: Send | Recv) -> Send | Recv:
    """``step`` with ``MSG_DONTWAIT`` added (same constructor, so it validates again)."""
    return replace(step, flags=step.flags | {"MSG_DONTWAIT"})
