"""CR rows that need another process: forged credentials by privilege, namespaces, peer credentials, pidfds.

Privilege-dependent rows run both ways: an unprivileged sender (a child that switched to
UNPRIVILEGED_UID, which drops every capability) and a privileged one (a child that stays root).
The variant label says which way ran; without root the privileged variant is unsupported.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, SPACE, passcred, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import Child, CredValue, GetSockName, GetSockOpt, Identity, PairKind, ScmCredentials, SetSockOpt

CREDS = SPACE(12)
UNPRIVILEGED = Identity(user="unprivileged")
PRIVILEGED = Identity()


def forged(
    kind: PairKind, who: Identity, pid: CredValue = "self", uid: CredValue = "self", gid: CredValue = "self"
) -> Variant:
    label = f"{'unprivileged' if who.user == 'unprivileged' else 'privileged (root)'} sender"
    sender = Child(steps=(send(b"x", cmsgs=[ScmCredentials(pid=pid, uid=uid, gid=gid)]),), identity=who)
    return Variant(label, scenario(kind, passcred(), sender, recv(64, control=CREDS, flags=["MSG_DONTWAIT"]), fds=()))


@case(
    "CR-07",
    "forged pid (another live process): EPERM without CAP_SYS_ADMIN; delivered with it",
    area="credentials",
    source="GV CredPassDifferentPIDUnprivileged, BasicCredPassDifferentPID; SRC scm_check_creds",
)
def cr_07(kind: PairKind) -> Iterator[Variant]:
    for who in (UNPRIVILEGED, PRIVILEGED):
        yield forged(kind, who, pid="parent")


@case(
    "CR-08",
    "forged uid or gid: EPERM without CAP_SETUID/CAP_SETGID; delivered with them",
    area="credentials",
    source="SRC scm_check_creds (no anchor tests uid/gid forging)",
)
def cr_08(kind: PairKind) -> Iterator[Variant]:
    for who in (UNPRIVILEGED, PRIVILEGED):
        v = forged(kind, who, uid=4242)
        yield Variant(f"uid, {v.label}", v.scenario)
        v = forged(kind, who, gid=4343)
        yield Variant(f"gid, {v.label}", v.scenario)


@case(
    "CR-09",
    "a pid no process has: ESRCH for a privileged sender (EPERM for an unprivileged one)",
    area="credentials",
    source="GV CredPassNonexistentPID; shared/spec/kernels.md (measured)",
)
def cr_09(kind: PairKind) -> Iterator[Variant]:
    for who in (UNPRIVILEGED, PRIVILEGED):
        yield forged(kind, who, pid="nonexistent")


@case(
    "CR-11",
    "uid or gid not mapped in the sender's user namespace: EINVAL",
    area="errors",
    source="SRC scm_check_creds make_kuid; shared/spec/kernels.md (measured)",
)
def cr_11(kind: PairKind) -> Iterator[Variant]:
    inside = Identity(userns=True)
    for field, value in (("uid", 1000), ("gid", 1000)):
        creds = ScmCredentials(uid=value) if field == "uid" else ScmCredentials(gid=value)
        sender = Child(steps=(send(b"x", cmsgs=[creds]),), identity=inside)
        yield Variant(
            f"{field} in a new user namespace",
            scenario(kind, passcred(), sender, recv(64, control=CREDS, flags=["MSG_DONTWAIT"]), fds=()),
        )
    v = forged(kind, UNPRIVILEGED, uid=-1)
    yield Variant("uid -1, unprivileged", v.scenario)


@case(
    "CR-13",
    "credentials are translated into the receiver's namespaces: pid 0 if invisible, 65534 if unmapped",
    area="credentials",
    source="GV PeerCredAcrossPIDNamespace; SRC pid_vnr, from_kuid_munged; shared/spec/kernels.md",
)
def cr_13(kind: PairKind) -> Iterator[Variant]:
    receive = recv(64, control=CREDS, flags=["MSG_DONTWAIT"])
    inside_both = Identity(userns=True, pidns=True)
    yield Variant(
        "receiver in new user+pid namespaces, sender outside",
        scenario(kind, passcred(), send(b"x"), Child(steps=(receive,), identity=inside_both), fds=()),
    )
    yield Variant(
        "receiver in a new user namespace, unprivileged sender",
        scenario(
            kind,
            passcred(),
            Child(steps=(send(b"x"),), identity=UNPRIVILEGED),
            Child(steps=(receive,), identity=Identity(userns=True)),
            fds=(),
        ),
    )
    yield Variant(
        "sender in a new user namespace, receiver outside",
        scenario(kind, passcred(), Child(steps=(send(b"x"),), identity=Identity(userns=True)), receive, fds=()),
    )


@case(
    "CR-14",
    "SO_PEERCRED of a socketpair: the creator's pid/uid/gid, also read from a forked child",
    area="credentials",
    source="GV GetPeerCred, PeerCredSurvivesPeerExit; LTP getsockopt02; ISS Flow-IPC #148",
)
def cr_14(kind: PairKind) -> Iterator[Variant]:
    both = (GetSockOpt(on="a", option="SO_PEERCRED"), GetSockOpt(on="b", option="SO_PEERCRED"))
    yield Variant("creator", scenario(kind, *both, fds=()))
    yield Variant("read by an unprivileged child", scenario(kind, Child(steps=both, identity=UNPRIVILEGED), fds=()))
    yield Variant(
        "read from a new pid namespace", scenario(kind, Child(steps=both, identity=Identity(pidns=True)), fds=())
    )


@case(
    "CR-15",
    "SO_PASSPIDFD: an SCM_PIDFD cmsg with a pidfd of the sender, its Pid the SCM_CREDENTIALS pid",
    area="credentials",
    source="KS scm_pidfd; ISS systemd PR #37874",
    types="SD",
    needs=("SO_PASSPIDFD",),
)
def cr_15(kind: PairKind) -> Iterator[Variant]:
    pidfd = SetSockOpt(on="b", option="SO_PASSPIDFD", value=1)
    control = CREDS + SPACE(4) + FDS_SPACE(1)
    yield Variant("pidfd only", scenario(kind, pidfd, send(b"x"), recv(64, control=SPACE(4)), fds=()))
    yield Variant(
        "with credentials", scenario(kind, pidfd, passcred(), send(b"x"), recv(64, control=CREDS + SPACE(4)), fds=())
    )
    child = Child(steps=(send(b"x", fds=["f"]),), identity=UNPRIVILEGED)
    yield Variant("with rights from a child", scenario(kind, pidfd, passcred(), child, recv(64, control=control)))


@case(
    "CR-16",
    "SO_PEERPIDFD: a pidfd of the peer (the creator of a socketpair), its Pid the SO_PEERCRED pid",
    area="credentials",
    source="KS scm_pidfd",
    types="S",
    needs=("SO_PEERPIDFD",),
)
def cr_16(kind: PairKind) -> Iterator[Variant]:
    steps = (GetSockOpt(on="a", option="SO_PEERPIDFD"), GetSockOpt(on="a", option="SO_PEERCRED"))
    yield Variant("creator", scenario(kind, *steps, fds=()))
    yield Variant("read by a child", scenario(kind, Child(steps=steps), fds=()))


@case(
    "CR-17",
    "sender exited and reaped before recv: SCM_CREDENTIALS keeps its pid; SCM_PIDFD still comes (6.17+), Pid -1",
    area="credentials",
    source="KS scm_pidfd cmsg_check_dead; ISS criu PR #3093, dbus-broker #409, #425",
    types="SD",
    needs=("SO_PASSPIDFD",),
)
def cr_17(kind: PairKind) -> Iterator[Variant]:
    pidfd = SetSockOpt(on="b", option="SO_PASSPIDFD", value=1)
    sender = Child(steps=(send(b"bye"),), identity=UNPRIVILEGED)
    yield Variant(
        "reaped sender", scenario(kind, pidfd, passcred(), sender, recv(64, control=CREDS + SPACE(4)), fds=())
    )


@case(
    "CR-19",
    "SO_PASSCRED on an unbound datagram sender autobinds it on send (getsockname: an abstract name)",
    area="credentials",
    source="SRC unix_dgram_sendmsg unix_autobind",
    types="DQ",
)
def cr_19(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: seqpacket sends go through unix_dgram_sendmsg and autobind too.
    steps = (
        GetSockName(on="a"),
        passcred("a"),
        GetSockName(on="a"),
        send(b"x"),
        GetSockName(on="a"),
        GetSockName(on="b"),
    )
    yield Variant("sender asks for credentials", scenario(kind, *steps, fds=()))
    yield Variant("receiver asks", scenario(kind, passcred("b"), send(b"x"), GetSockName(on="a"), fds=()))
