"""Names: which socket a name reaches (unix_find_other) and the type of a modelled socket, shared by
the listener and address steps (harness.oracle.listener) and datagrams between table sockets
(harness.oracle.table_dgram)."""

from __future__ import annotations

from harness.addresses import Target, TargetKind, address_target
from harness.model import SockType
from harness.observation import Failed, Outcome
from harness.oracle.state import End, Model


def sock_type(m: Model, x: End) -> SockType:
    return x.sock_type or m.sock_type


def target_of(m: Model, x: End) -> Target | None:
    return x.address if isinstance(x.address, Target) else None


def bound_to(m: Model, address: str) -> bool:
    """Some socket of the scenario has (or had: a path stays) the name ``address`` confines to."""
    target = address_target(address)
    return target.kind is not TargetKind.UNCHANGED and any(target_of(m, x) == target for x in m.ends.values())


def may_send_to(m: Model, x: End, other: End) -> bool:
    """unix_may_send(x, other): ``other`` has no peer, or ``x`` is its peer (else connect() and a datagram
    to it are EPERM).  A pair end of a connected kind has the other end as its peer until a send of its
    own found that end dead: unix_dgram_sendmsg() then sets unix_peer to NULL along with the
    ECONNREFUSED (measured on 6.18.44, a Hypothesis finding: connect() to it is 0 after that send and
    EPERM before, closed peer or not).  The ends of an unconnected pair have no peer."""
    if other.table:
        peer = other.peer_name
    else:
        peer = None if not m.scenario.kind.connected or other.peer_dropped else other.peer_name
    return peer is None or peer == x.side


def lookup(m: Model, target: Target, want: SockType, netns: str) -> tuple[End | None, Outcome | None, str]:
    """unix_find_other(): the socket a name reaches, or the error of the lookup."""
    if target.kind is TargetKind.PATH:
        owners = [x for x in m.ends.values() if target_of(m, x) == target]
        if not owners:
            return None, Failed("ENOENT"), "no file at the (confined) path"
        live = [x for x in owners if not x.released]
        if not live:
            return None, Failed("ECONNREFUSED"), "the socket file is left, its socket is gone"
        if sock_type(m, live[0]) is not want:
            return None, Failed("EPROTOTYPE"), "a socket of another type is bound to the path"
        return live[0], None, "found by path"
    found = [
        x
        for x in m.ends.values()
        if target_of(m, x) == target and not x.released and sock_type(m, x) is want and x.netns == netns
    ]
    if not found:
        return None, Failed("ECONNREFUSED"), "no socket of this type has the abstract name in its network namespace"
    return found[0], None, "found by abstract name"
