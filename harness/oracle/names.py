"""Names: which socket a name reaches (unix_find_other) and the type of a modelled socket, shared by
the listener and address steps (harness.oracle.listener) and datagrams between table sockets
(harness.oracle.table_dgram)."""

from __future__ import annotations

from harness.addresses import Target, TargetKind, address_target
from harness.model import SockType
from harness.observation import Failed, Outcome
from harness.oracle.state import End, Model, Unknown


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


def write_denied(m: Model, owner: End) -> str:
    """unix_find_bsd(): path_permission(MAY_WRITE) on the socket file, before its type or its socket is
    looked at; why it is refused, or "".  The directory is the harness's (0711: anyone may search it).
    Root in the initial namespaces passes (CAP_DAC_OVERRIDE); the unprivileged uid is neither the file's
    owner nor in its group (the binder was root or the harness's user: a bind by the unprivileged uid is
    not modelled); root inside a new user namespace is the owner (kuid 0 when the harness is root) without
    CAP_DAC_OVERRIDE over the file.  Measured on 6.18.44 (an atheris finding, seed 97): under umask 022 a
    datagram socket bound to a path by a root child, connect() from an unprivileged child is EACCES."""
    proc = m.proc
    if proc.root:
        return ""
    if proc.userns and m.platform.euid != 0:
        raise Unknown("a path lookup from a user namespace of a harness that is not root")
    mode = owner.path_mode
    if not proc.unprivileged:
        # the harness's own user, or root inside a new user namespace: the file's owner, whose write bit
        # no umask takes (the harness could not write its own files under one that did)
        return "" if mode is None or mode & 0o200 else f"the socket file's mode {mode:04o} denies its owner write"
    if mode is None:
        raise Unknown("a path lookup by another user of a socket file made under an unknown umask")
    return "" if mode & 0o002 else f"the socket file's mode {mode:04o} denies other users write access"


def lookup(m: Model, target: Target, want: SockType, netns: str) -> tuple[End | None, Outcome | None, str]:
    """unix_find_other(): the socket a name reaches, or the error of the lookup."""
    if target.kind is TargetKind.PATH:
        owners = [x for x in m.ends.values() if target_of(m, x) == target]
        if not owners:
            return None, Failed("ENOENT"), "no file at the (confined) path"
        denied = write_denied(m, owners[0])
        if denied:
            return None, Failed("EACCES"), denied
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
