"""TRN rows: truncation of data (MSG_TRUNC) and of control data (MSG_CTRUNC)."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import (
    FDS_SPACE,
    FILE,
    FILE2,
    FILE3,
    HEADER,
    LEN,
    SPACE,
    drain,
    passcred,
    recv,
    scenario,
    send,
)
from harness.catalogue.case import Variant, case
from harness.model import PairKind, Recv


@case(
    "TRN-01",
    "buffer shorter than the message: bytes copied, MSG_TRUNC, the rest discarded",
    area="truncation",
    source="GV RecvmsgMsghdrFlagMsgTrunc; FB unix_dgram basic; PY testRecvmsgTrunc",
    types="DQ",
)
def trn_01(kind: PairKind) -> Iterator[Variant]:
    yield Variant("short", scenario(kind, send(b"0123456789"), recv(4), drain(), fds=()))
    yield Variant("short scatter", scenario(kind, send(b"0123456789"), recv(buffers=(2, 3)), fds=()))


@case(
    "TRN-02",
    "flags MSG_TRUNC: the real length is returned, the buffer holds the prefix, MSG_TRUNC set",
    area="truncation",
    source="GV MsgTruncTruncation, MsgTruncNotFull, MsgTruncSameSize; FB socket_msg_trunc",
    types="DQ",
)
def trn_02(kind: PairKind) -> Iterator[Variant]:
    for size in (4, 10, 20):
        yield Variant(f"buffer {size}", scenario(kind, send(b"0123456789"), recv(size, flags=["MSG_TRUNC"]), fds=()))


@case(
    "TRN-03",
    "MSG_TRUNC|MSG_PEEK with a zero-length buffer: the real length, the message stays",
    area="truncation",
    source="GV RecvmsgMsgTruncMsgPeekZeroLen; FB socket_msg_trunc",
    types="DQ",
)
def trn_03(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "peek 0", scenario(kind, send(b"0123456789"), recv(0, flags=["MSG_TRUNC", "MSG_PEEK"]), recv(64), fds=())
    )


@case(
    "TRN-04",
    "stream: MSG_TRUNC is never reported and the input flag changes nothing",
    area="truncation",
    source="GV StreamSocketPairTest.MsgTrunc, RecvmsgTruncZeroLen",
    types="S",
)
def trn_04(kind: PairKind) -> Iterator[Variant]:
    yield Variant("trunc flag", scenario(kind, send(b"0123456789"), recv(4, flags=["MSG_TRUNC"]), recv(64), fds=()))
    yield Variant("zero length", scenario(kind, send(b"0123456789"), recv(0, flags=["MSG_TRUNC"]), recv(64), fds=()))


@case(
    "TRN-05",
    "control room for k < n fds: k installed, cmsg_len CMSG_LEN(4k), MSG_CTRUNC, the rest closed",
    area="truncation",
    source="GV BasicThreeFDPassTruncationMsgCtrunc; FB truncated_rights; PY testCmsgTruncLen2Minus1",
)
def trn_05(kind: PairKind) -> Iterator[Variant]:
    table = (FILE, FILE2, FILE3)
    yield Variant(
        "3 into CMSG_SPACE(8)", scenario(kind, send(fds=["f", "g", "h"]), recv(control=SPACE(8)), drain(), fds=table)
    )
    yield Variant(
        "3 into CMSG_LEN(8)-1", scenario(kind, send(fds=["f", "g", "h"]), recv(control=LEN(8) - 1), fds=table)
    )
    yield Variant("2 into CMSG_LEN(4)+3", scenario(kind, send(fds=["f", "g"]), recv(control=LEN(4) + 3), fds=table))


@case(
    "TRN-06",
    "CMSG_LEN(4) (20 bytes) is room for 1 fd without MSG_CTRUNC; CMSG_SPACE(4) (24) fits 2",
    area="truncation",
    source="GV BasicFDPassUnalignedRecvNoMsgTrunc; PY testFDPassCMSG_LEN",
)
def trn_06(kind: PairKind) -> Iterator[Variant]:
    yield Variant("1 into CMSG_LEN(4)", scenario(kind, send(fds=["f"]), recv(control=LEN(4))))
    yield Variant(
        "2 into CMSG_SPACE(4)", scenario(kind, send(fds=["f", "g"]), recv(control=SPACE(4)), fds=(FILE, FILE2))
    )


@case(
    "TRN-07",
    "control room 0..16 with fds pending: no cmsg, msg_controllen 0, MSG_CTRUNC, fds closed",
    area="truncation",
    source="GV BasicFDPassNoSpaceMsgCtrunc; PY testCmsgTrunc0/1/2Int; FB truncated_rights",
)
def trn_07(kind: PairKind) -> Iterator[Variant]:
    for size in (0, 1, 8, HEADER - 1, HEADER):
        yield Variant(
            f"control {size}", scenario(kind, send(fds=["f"]), recv(control=size), drain(control=FDS_SPACE(1)))
        )


@case(
    "TRN-08",
    "msg_control NULL with msg_controllen > 0 and fds pending: MSG_CTRUNC, msg_controllen 0",
    area="truncation",
    source="GV BasicFDPassNullControlMsgCtrunc",
)
def trn_08(kind: PairKind) -> Iterator[Variant]:
    yield Variant("NULL", scenario(kind, send(fds=["f"]), Recv(on="b", control=FDS_SPACE(1), control_pointer="null")))


@case(
    "TRN-09",
    "SCM_CREDENTIALS truncated: 20 bytes give cmsg_len 20 + MSG_CTRUNC; 16 the header only; CMSG_SPACE(12) all",
    area="truncation",
    source="GV CredPassTruncated, CredPassNoSpaceMsgCtrunc, CredPassNoMsgCtrunc",
)
def trn_09(kind: PairKind) -> Iterator[Variant]:
    for size in (HEADER, HEADER + 4, LEN(12), SPACE(12)):
        yield Variant(f"control {size}", scenario(kind, passcred(), send(b"x"), recv(control=size), fds=()))


@case(
    "TRN-10",
    "SO_PASSCRED + fd, control 16: credential header only, fd dropped, MSG_CTRUNC; control 8: msg_controllen 0",
    area="truncation",
    source="GV FDPassAfterSoPassCredWithoutCredSpace, ...WithoutCredHeaderSpace",
)
def trn_10(kind: PairKind) -> Iterator[Variant]:
    for size in (HEADER, HEADER // 2, SPACE(12) + LEN(4) - 1, SPACE(12) + LEN(4)):
        yield Variant(f"control {size}", scenario(kind, passcred(), send(fds=["f"]), recv(control=size)))


@case(
    "TRN-11",
    "a datagram truncated by a short data buffer still delivers all its fds (measured 6.18: yes)",
    area="truncation",
    source="SRC-derived: fds are per message, not per byte",
    types="DQ",
)
def trn_11(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: MSG_TRUNC and both fds, no MSG_CTRUNC.
    yield Variant(
        "short data",
        scenario(kind, send(b"0123456789", fds=["f", "g"]), recv(2, control=FDS_SPACE(2)), fds=(FILE, FILE2)),
    )


@case(
    "TRN-12",
    "MSG_CTRUNC as an input flag is ignored; output MSG_CTRUNC only on real truncation",
    area="flags",
    source="GV MsgCtruncInputIsNoop, SendmsgRecvmsgMsgCtruncNoop",
)
def trn_12(kind: PairKind) -> Iterator[Variant]:
    yield Variant("fits", scenario(kind, send(fds=["f"]), recv(control=FDS_SPACE(1), flags=["MSG_CTRUNC"])))
    yield Variant("plain", scenario(kind, send(b"ab"), recv(flags=["MSG_CTRUNC"]), fds=()))


@case(
    "TRN-13",
    "unmapped msg_control on a receive of rights: data returned, MSG_CTRUNC, no fd installed (measured 6.18)",
    area="errors",
    source="FB copyout_rights_error; SRC scm_detach_fds; ISS gvisor PR #14629",
)
def trn_13(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: recvmsg returns the data length, msg_controllen 0, MSG_CTRUNC, and
    # the fd table is unchanged (put_user() fails before fd_install()).
    yield Variant(
        "bad pointer", scenario(kind, send(b"ab", fds=["f"]), Recv(on="b", control=FDS_SPACE(1), control_pointer="bad"))
    )
    _ = drain
