"""MS rows that a socketpair shows without another process."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import DiagUid, GetSockOpt, Ioctl, PairKind, SetSockOpt


@case(
    "MS-03",
    "getsockopt SO_TYPE / SO_DOMAIN / SO_PROTOCOL report the pair's type, AF_UNIX and 0",
    area="misc",
    source="GV GetSockoptType/Domain/Protocol",
)
def ms_03(kind: PairKind) -> Iterator[Variant]:
    steps = tuple(
        GetSockOpt(on=side, option=opt) for side in ("a", "b") for opt in ("SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL")
    )
    yield Variant("type, domain, protocol", scenario(kind, *steps, fds=()))


@case(
    "MS-01",
    "SIOCINQ: stream/seqpacket all unread bytes, datagram the next message; SIOCOUTQ the bytes in flight (truesize)",
    area="limits",
    source="GV TIOCINQSucceeds, TIOCOUTQSucceeds; SRC unix_inq_len, unix_outq_len",
)
def ms_01(kind: PairKind) -> Iterator[Variant]:
    steps = (
        Ioctl(on="b", request="SIOCINQ"),
        Ioctl(on="a", request="SIOCOUTQ"),
        send(b"abc"),
        send(b"defgh"),
        Ioctl(on="b", request="SIOCINQ"),
        Ioctl(on="a", request="SIOCOUTQ"),
        recv(2),
        Ioctl(on="b", request="SIOCINQ"),
    )
    yield Variant("queue sizes", scenario(kind, *steps, fds=()))


@case(
    "MS-02",
    "SO_INQ: datagram and seqpacket refuse it with ENOPROTOOPT",
    area="flags",
    source="KS scm_inq",
    types="DQ",
    needs=("SO_INQ",),
)
def ms_02(kind: PairKind) -> Iterator[Variant]:
    yield Variant("refused", scenario(kind, SetSockOpt(on="b", option="SO_INQ", value=1), fds=()))


@case(
    "MS-04",
    "sock_diag (UNIX_DIAG_UID) reports the socket's owner uid",
    area="misc",
    source="KS diag_uid",
)
def ms_04(kind: PairKind) -> Iterator[Variant]:
    yield Variant("both ends", scenario(kind, DiagUid(on="a"), DiagUid(on="b"), fds=()))
