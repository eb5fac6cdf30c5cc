"""Invariants of a socket pair, checked on the observation alone, whatever the oracle says.

* every received fd is a file that was sent to that end, and the fds a receive consumes arrive
  in the order they were sent (a truncated control buffer may drop some, never reorder them);
* SOCK_STREAM: the bytes received (not peeked) are a prefix of the bytes sent, in order (until
  a MSG_OOB send takes a byte out of the stream);
* SOCK_DGRAM / SOCK_SEQPACKET: every receive that returns while messages are queued takes the
  next message whole or truncated, never a mix of two and never a reordered one.

A child's steps count in line with the parent's; after a Fill step, a background child or a
step kind this module does not follow, only the membership of received fds is checked.
(Leaks, the fourth invariant of the issue, are the ``fd-leaks`` checker's.)  They are a second
opinion next to the oracle: a bug that the oracle models wrongly still breaks one of these.
Violations are :class:`~harness.check.registry.Finding` values with checker ``invariant``.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.finding import Finding
from harness.model import Child, Fill, Named, PairKind, Recv, Scenario, ScmRights, Send, SockType, Step
from harness.observation import Failed, Observation, Returned, StepObservation


def _sent(step: Step, seen: StepObservation) -> tuple[bytes, tuple[str, ...]] | None:
    """What a successful send queued: (bytes, names of the fds it carried)."""
    if not isinstance(step, Send) or not isinstance(seen.outcome, Returned):
        return None
    names = tuple(ref.name for c in step.cmsgs if isinstance(c, ScmRights) for ref in c.fds if isinstance(ref, Named))
    return b"".join(step.iov)[: seen.outcome.value], names


def _received_names(seen: StepObservation) -> list[frozenset[str]]:
    """For each received fd, the names of the entries it may be (empty: none known).

    kcmp or the offset and flag probes name exactly one, or none; an entry of the same inode that
    neither could compare (untracked or closed, an O_PATH fd without kcmp) stays a candidate,
    e.g. two untracked opens of /dev/null.  An entry a probe told apart is never a candidate.
    """
    names: list[frozenset[str]] = []
    for cmsg in seen.cmsgs:
        for fd in cmsg.fds:
            if fd.pid is not None:
                continue  # a pidfd (SCM_PIDFD) was never sent
            if not fd.valid:
                names.append(frozenset())
            elif fd.same_file_as is not None:
                names.append(frozenset((fd.same_file_as,)))
            else:
                names.append(frozenset(fd.undecided_as))
    return names


def _shown(names: list[frozenset[str]]) -> str:
    return str(["|".join(sorted(n)) or None for n in names])


def _is_subsequence(short: list[frozenset[str]], long: list[str]) -> bool:
    """Each element of ``short`` matches a later element of ``long`` (earliest match is optimal)."""
    it = iter(long)
    return all(any(other in names for other in it) for names in short)


def _violation(name: str, index: int, expected: str, observed: str) -> Finding:
    return Finding(checker="invariant", step=index, field=name, expected=expected, observed=observed)


# Step kinds whose effect on the queues is known here (anything else stops the order checks).
_FOLLOWED = frozenset(
    {"Send", "Recv", "SetSockOpt", "GetSockOpt", "Shutdown", "Close", "Listen", "Reopen", "Poll", "Ioctl"}
    | {"SetOwner", "ReadPartner", "Child"}
)


def _flat(scenario: Scenario, observation: Observation) -> Iterator[tuple[int, Step, StepObservation, bool]]:
    """(index, step, observation, ordered): a child's steps in line with the parent's.

    A background child runs whenever it runs, and a Fill step sends bytes the scenario does not
    spell out: after either, order and content can no longer be followed (``ordered`` False).
    """
    ordered = True
    for index, (step, seen) in enumerate(zip(scenario.steps, observation.steps, strict=False)):
        if isinstance(step, Fill) or type(step).__name__ not in _FOLLOWED:
            ordered = False  # bytes this module cannot follow (Fill, sendmmsg, steps added later)
        if isinstance(step, Child):
            ordered = ordered and not getattr(step, "background", False)
            for inner, inner_seen in zip(step.steps, seen.nested, strict=False):
                if isinstance(inner, Fill) or type(inner).__name__ not in _FOLLOWED:
                    ordered = False  # a child's Fill sends bytes nobody spelled out, too
                yield index, inner, inner_seen, ordered
            continue
        yield index, step, seen, ordered


def _dropped_a_message(step: Recv, seen: StepObservation, stream: bool) -> bool:
    """A datagram or seqpacket receive whose first buffer's address faults takes the next message and
    drops it: unix_dgram_recvmsg() dequeues the skb, skb_copy_datagram_msg() fails (EFAULT), and the skb
    is freed (measured on 6.18.44: the next receive gets the message after it; a faulting msghdr or
    iovec array fails before anything is dequeued, and a stream receive leaves the bytes queued)."""
    return (
        not stream
        and step.fault == "iov_base"
        and seen.outcome == Failed("EFAULT")
        and "MSG_PEEK" not in step.flags
        and "MSG_OOB" not in step.flags
    )


def _purged_own_queue(step: Step, seen: StepObservation, kind: PairKind, receiver: str) -> bool:
    """A datagram send by ``receiver`` that found its connected peer dead: unix_dgram_sendmsg()
    disconnects the sender and unix_dgram_disconnected() purges the sender's own receive queue
    ("Messages are lost"), then it fails with ECONNREFUSED.  Measured on 6.18.44 (a Hypothesis
    finding): b sends "x" to a, b closes, a's send is ECONNREFUSED, and a's receive then finds
    nothing.  A sendto() of an unconnected end (no unix_peer) is refused by the lookup and purges
    nothing (measured: a then receives "x"), and so is a connected end's sendto() of a name nobody
    has bound (a Hypothesis finding); seqpacket says EPIPE and purges nothing."""
    return (
        isinstance(step, Send)
        and step.on == receiver
        and step.address is None  # a sendto() of a name nobody has bound is refused by the lookup alone
        and kind.sock_type is SockType.DGRAM
        and kind.connected
        and seen.outcome == Failed("ECONNREFUSED")
    )


def invariants(scenario: Scenario, observation: Observation) -> Iterator[Finding]:
    stream = scenario.kind.sock_type is SockType.STREAM
    for receiver in ("a", "b"):
        sent_bytes = b""
        messages: list[bytes] = []
        sent_fds: list[str] = []
        consumed_bytes = b""
        next_message = 0
        consumed_fds: list[frozenset[str]] = []
        out_of_band = False  # after MSG_OOB the byte stream has a hole: byte order is not checked
        broken: set[str] = set()  # each invariant is reported once per receiver, where it first broke
        for index, step, seen, ordered in _flat(scenario, observation):
            queued = _sent(step, seen)
            # a send on a socket of the fd table (issue 10) reaches neither pair end
            if queued is not None and isinstance(step, Send) and step.on in ("a", "b") and step.on != receiver:
                out_of_band = out_of_band or "MSG_OOB" in step.flags
                sent_bytes += queued[0]
                messages.append(queued[0])
                sent_fds.extend(queued[1])
                continue
            if _purged_own_queue(step, seen, scenario.kind, receiver):
                next_message = len(messages)  # the messages queued at this end are gone, fds and all
                continue
            if not isinstance(step, Recv) or step.on != receiver:
                continue
            if _dropped_a_message(step, seen, stream) and ordered and next_message < len(messages):
                next_message += 1  # taken off the queue, then its copy faulted: gone (fds and all)
                continue
            if not isinstance(seen.outcome, Returned):
                continue
            if "MSG_OOB" in step.flags:
                continue
            names = _received_names(seen)
            if any(candidates.isdisjoint(sent_fds) for candidates in names):
                yield _violation("fd-is-sent-file", index, f"one of the fds sent here {sent_fds}", _shown(names))
            if "MSG_PEEK" in step.flags or not ordered:
                continue
            consumed_fds.extend(names)
            if "fd-order" not in broken and not _is_subsequence(consumed_fds, sent_fds):
                broken.add("fd-order")
                yield _violation("fd-order", index, f"in the order sent {sent_fds}", f"received {_shown(consumed_fds)}")
            if stream and out_of_band:
                continue
            if stream:
                consumed_bytes += seen.data
                if "stream-order" not in broken and not sent_bytes.startswith(consumed_bytes):
                    broken.add("stream-order")
                    yield _violation(
                        "stream-order", index, "a prefix of the bytes sent", f"{len(consumed_bytes)} bytes that are not"
                    )
            elif next_message < len(messages):
                message = messages[next_message]
                next_message += 1
                if seen.data != message[: len(seen.data)] or len(seen.data) != min(len(message), step.capacity):
                    yield _violation(
                        "boundaries",
                        index,
                        f"the start of the next message ({len(message)} bytes, buffers {step.capacity})",
                        f"{len(seen.data)} bytes that are not",
                    )
            elif seen.data:
                yield _violation("boundaries", index, "no data (nothing queued)", f"{len(seen.data)} bytes")
