"""CR rows that one process can show: SO_PASSCRED timing, explicit own credentials, malformed ones.

Rows that need a second process, another uid or a namespace (CR-07..09, CR-11, CR-13..17) come with
the forked-sender machinery.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, SPACE, passcred, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import GetSockOpt, PairKind, RawCmsg, SockType

CREDS = SPACE(12)


@case(
    "CR-01",
    "SO_PASSCRED defaults to 0 on both ends; setting it on one end leaves the other alone",
    area="credentials",
    source="GV SoPassCred",
)
def cr_01(kind: PairKind) -> Iterator[Variant]:
    both = (GetSockOpt(on="a", option="SO_PASSCRED"), GetSockOpt(on="b", option="SO_PASSCRED"))
    steps = (*both, passcred("a"), *both)
    yield Variant("defaults", scenario(kind, *steps, fds=()))


@case(
    "CR-02",
    "explicit SCM_CREDENTIALS {getpid(), getuid(), getgid()}: the receiver with SO_PASSCRED gets them",
    area="credentials",
    source="GV BasicCredPass",
)
def cr_02(kind: PairKind) -> Iterator[Variant]:
    yield Variant("own creds", scenario(kind, passcred(), send(b"x", creds=True), recv(64, control=CREDS), fds=()))
    # gVisor CredPassPartialRead: one stream write read in halves; measured on 6.18.44: each partial read
    # carries the SCM_CREDENTIALS again (the skb keeps them until it is consumed)
    halves = (passcred(), send(b"abcd", creds=True), recv(2, control=CREDS), recv(2, control=CREDS))
    if kind.sock_type is SockType.STREAM:
        yield Variant("one write read in halves", scenario(kind, *halves, fds=()))


@case(
    "CR-03",
    "receiver without SO_PASSCRED: no SCM_CREDENTIALS cmsg even if the sender attached one",
    area="credentials",
    source="GV NoPassCred",
)
def cr_03(kind: PairKind) -> Iterator[Variant]:
    yield Variant("not asked", scenario(kind, send(b"x", creds=True), recv(64, control=CREDS), fds=()))


@case(
    "CR-04",
    "implicit creds: attached when either end has SO_PASSCRED at send time; seen if the receiver has it at recv time",
    area="credentials",
    source="GV WriteAfterSoPassCredRecvEnd, WriteBeforeSoPassCredRecvEndAfterSendEnd; SRC maybe_add_creds; "
    "switched off between writes (issue 10 item 4)",
)
def cr_04(kind: PairKind) -> Iterator[Variant]:
    yield Variant("receiver set before", scenario(kind, passcred("b"), send(b"x"), recv(64, control=CREDS), fds=()))
    steps = (passcred("a"), send(b"x"), passcred("b"), recv(64, control=CREDS))
    yield Variant("sender set at send, receiver later", scenario(kind, *steps, fds=()))
    both = (passcred("a"), passcred("b"), send(b"x"), recv(64, control=CREDS))
    yield Variant("both set before", scenario(kind, *both, fds=()))
    late = (send(b"x"), passcred("a"), passcred("b"), recv(64, control=CREDS))
    yield Variant("both set after the send", scenario(kind, *late, fds=()))
    # issue 10 item 4: SO_PASSCRED switched off between two writes and on again before the reads: the
    # first message carries the sender's credentials, the second none ({0, 65534, 65534}); a stream
    # never glues them (BND-08)
    toggled = (passcred("b"), send(b"x"), passcred("b", 0), send(b"y"), passcred("b"), recv(64, control=CREDS))
    yield Variant("switched off between writes", scenario(kind, *toggled, recv(64, control=CREDS), fds=()))
    # read while it is off: no cmsg at all, the credentials stay with the message
    off = (passcred("b"), send(b"x"), passcred("b", 0), recv(64, control=CREDS), send(b"y"), recv(64, control=CREDS))
    yield Variant("switched off before the read", scenario(kind, *off, fds=()))


@case(
    "CR-05",
    "queued while neither end had SO_PASSCRED, receiver enables it later: {pid 0, uid 65534, gid 65534}",
    area="credentials",
    source="GV WriteBeforeSoPassCredRecvEnd, FDPassBeforeSoPassCred, SendNullCredsBeforeSoPassCredRecvEnd; "
    "explicit credentials: GV BasicCredPass (sends them before the receiver sets SO_PASSCRED)",
)
def cr_05(kind: PairKind) -> Iterator[Variant]:
    yield Variant("data", scenario(kind, send(b"x"), passcred("b"), recv(64, control=CREDS), fds=()))
    yield Variant(
        "with fd", scenario(kind, send(b"x", fds=["f"]), passcred("b"), recv(64, control=CREDS + FDS_SPACE(1)))
    )
    # issue 10 item 4: explicit SCM_CREDENTIALS sent before the receiver set SO_PASSCRED are kept with
    # the message (UNIXCB(skb).pid is set): the receiver that enables it later sees them, not the overflow ids
    steps = (send(b"x", creds=True), passcred("b"), recv(64, control=CREDS))
    yield Variant("explicit credentials", scenario(kind, *steps, fds=()))
    # gVisor CoalescedCreds1: two writes queued before SO_PASSCRED; a stream receive takes both in one go
    # (the same {0, 65534, 65534} on each skb), a datagram or record receive the first
    coalesced = (send(b"ab"), send(b"cd"), passcred("b"), recv(64, control=CREDS))
    yield Variant("two writes, one receive", scenario(kind, *coalesced, fds=()))


@case(
    "CR-06",
    "only the sender has SO_PASSCRED: the receiver gets no cmsg",
    area="credentials",
    source="GV SendNullCredsAfterSoPassCredSendEnd, WriteAfterSoPassCredSendEnd",
)
def cr_06(kind: PairKind) -> Iterator[Variant]:
    yield Variant("sender only", scenario(kind, passcred("a"), send(b"x"), recv(64, control=CREDS), fds=()))


@case(
    "CR-10",
    "SCM_CREDENTIALS with cmsg_len other than CMSG_LEN(sizeof(struct ucred)): EINVAL",
    area="errors",
    source="GV NoDataCredPass; SRC __scm_send",
)
def cr_10(kind: PairKind) -> Iterator[Variant]:
    for size in (0, 8, 16):
        raw = RawCmsg(level="SOL_SOCKET", type="SCM_CREDENTIALS", data=bytes(size))
        yield Variant(
            f"{size} data bytes", scenario(kind, send(b"x", cmsgs=[raw]), recv(64, flags=["MSG_DONTWAIT"]), fds=())
        )


@case(
    "CR-12",
    "SCM_CREDENTIALS + SCM_RIGHTS in one sendmsg: the receiver gets SCM_CREDENTIALS first",
    area="credentials",
    source="GV CredAndFDPass; SRC scm_recv order",
)
def cr_12(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "creds then rights",
        scenario(kind, passcred(), send(b"x", creds=True, fds=["f"]), recv(64, control=CREDS + FDS_SPACE(1))),
    )
    yield Variant(
        "implicit creds with rights",
        scenario(kind, passcred(), send(b"x", fds=["f"]), recv(64, control=CREDS + FDS_SPACE(1))),
    )


@case(
    "CR-18",
    "a user-sent SCM_PIDFD or unknown SOL_SOCKET type: EINVAL; other levels are ignored",
    area="errors",
    source="SRC __scm_send",
)
def cr_18(kind: PairKind) -> Iterator[Variant]:
    for type_ in ("SCM_PIDFD", "SCM_SECURITY", 99):
        raw = RawCmsg(level="SOL_SOCKET", type=type_, data=bytes(4))
        yield Variant(
            f"SOL_SOCKET/{type_}", scenario(kind, send(b"x", cmsgs=[raw]), recv(64, flags=["MSG_DONTWAIT"]), fds=())
        )
    ignored = RawCmsg(level="SOL_IP", type=1, data=bytes(4))
    yield Variant("SOL_IP ignored", scenario(kind, send(b"x", cmsgs=[ignored]), recv(64), fds=()))
