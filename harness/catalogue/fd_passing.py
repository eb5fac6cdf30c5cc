"""FD rows: SCM_RIGHTS passing, identity, order, limits and invalid descriptors."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from harness.catalogue.build import (
    FDS_SPACE,
    FILE,
    FILE2,
    FILE3,
    LEN,
    SPACE,
    drain,
    passcred,
    recv,
    refs,
    rights,
    scenario,
    send,
    stream,
)
from harness.catalogue.case import Variant, case
from harness.model import (
    SCM_MAX_FD,
    Child,
    Close,
    ClosedFd,
    FdKind,
    FdSpec,
    GetSockOpt,
    Identity,
    PairKind,
    RawFd,
    ScmRights,
    SetSockOpt,
    SockType,
    Step,
)

# every kind of file that can be passed (an io_uring fd cannot: FD-18)
ALL_KINDS_TABLE = tuple(
    FdSpec(name=f"k_{kind.name.lower()}", kind=kind)
    for kind in FdKind
    if kind not in (FdKind.IO_URING, FdKind.ACCEPTED)  # an accepted entry is empty until an Accept step
)


@case(
    "FD-01",
    "1 fd in SCM_RIGHTS with data arrives as the same file, cmsg_len CMSG_LEN(4)",
    area="fd-passing",
    source="GV BasicFDPass; FB simple_send_fd; LTP sendmsg01; PY testFDPassSimple",
)
def fd_01(kind: PairKind) -> Iterator[Variant]:
    yield Variant("one fd", scenario(kind, send(b"hello", fds=["f"]), recv(64, control=FDS_SPACE(1))))
    # LTP recvmsg01 "large cmesg length": a 128 KiB control buffer (MAX_CONTROL) receives the one cmsg
    yield Variant("128 KiB control buffer", scenario(kind, send(b"hello", fds=["f"]), recv(64, control=1 << 17)))


@case(
    "FD-02",
    "n fds (2..253) in one cmsg arrive in order in one cmsg",
    area="fd-passing",
    source="GV BasicTwo/ThreeFDPass; PY testMultipleFDPass, SendRecvFdsTests",
)
def fd_02(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "3 files", scenario(kind, send(fds=["f", "g", "h"]), recv(control=FDS_SPACE(3)), fds=(FILE, FILE2, FILE3))
    )
    for n in (2, 10, SCM_MAX_FD):
        names = ["f", "g"] * (n // 2) + ["f"] * (n % 2)
        yield Variant(f"{n} fds", scenario(kind, send(fds=names), recv(control=FDS_SPACE(n)), fds=(FILE, FILE2)))


@case(
    "FD-03",
    "several SCM_RIGHTS cmsgs in one sendmsg arrive as one cmsg in send order",
    area="fd-passing",
    source="SRC scm_fp_copy; PY testFDPassSeparate; FB differs",
)
def fd_03(kind: PairKind) -> Iterator[Variant]:
    msg = send(cmsgs=[rights("f"), rights("g", "h")])
    yield Variant("1 + 2", scenario(kind, msg, recv(control=FDS_SPACE(3) + 64), fds=(FILE, FILE2, FILE3)))


@case(
    "FD-04",
    "SCM_RIGHTS with 0 fds: send succeeds, nothing received, no MSG_CTRUNC",
    area="fd-passing",
    source="GV ZeroFDPass; FB empty_rights_message; PY testFDPassEmpty",
)
def fd_04(kind: PairKind) -> Iterator[Variant]:
    yield Variant("empty rights", scenario(kind, send(b"ab", cmsgs=[ScmRights(())]), recv(control=64)))


@case(
    "FD-05",
    "0-fd SCM_RIGHTS is no record boundary: data coalesces with the next write",
    area="fd-passing",
    source="GV ZeroFDPassCoalesceData",
    types="S",
)
def fd_05(kind: PairKind) -> Iterator[Variant]:
    yield Variant("coalesce", scenario(kind, send(b"ab", cmsgs=[ScmRights(())]), send(b"cd"), recv(64, control=64)))


@case(
    "FD-06",
    "an empty SCM_RIGHTS before or after a full one: only the full one's fds arrive",
    area="fd-passing",
    source="FB empty_rights_message",
)
def fd_06(kind: PairKind) -> Iterator[Variant]:
    yield Variant("empty first", scenario(kind, send(cmsgs=[ScmRights(()), rights("f")]), recv(control=64)))
    yield Variant("empty last", scenario(kind, send(cmsgs=[rights("f"), ScmRights(())]), recv(control=64)))


@case(
    "FD-07",
    "partial int: cmsg_len CMSG_LEN(3) sends no fd; CMSG_LEN(7) sends one, the rest ignored",
    area="fd-passing",
    source="SRC scm_fp_copy num = (cmsg_len - 16) / 4; PY testFDPassPartialInt",
)
def fd_07(kind: PairKind) -> Iterator[Variant]:
    yield Variant("CMSG_LEN(3)", scenario(kind, send(cmsgs=[ScmRights(refs("f"), LEN(3))]), recv(control=64)))
    yield Variant(
        "CMSG_LEN(7)",
        scenario(kind, send(cmsgs=[ScmRights(refs("f", "g"), LEN(7))]), recv(control=64), fds=(FILE, FILE2)),
    )


@case(
    "FD-08",
    "253 fds (SCM_MAX_FD) pass; 254 in one cmsg or summed over two: EINVAL, nothing queued",
    area="limits",
    source="SRC scm_fp_copy; FB send_a_lot; ISS tokio-unix-ipc #29, NixOS/nix #15182",
)
def fd_08(kind: PairKind) -> Iterator[Variant]:
    yield Variant("253", scenario(kind, send(fds=["f"] * SCM_MAX_FD), recv(control=FDS_SPACE(SCM_MAX_FD))))
    yield Variant("254 in one", scenario(kind, send(fds=["f"] * (SCM_MAX_FD + 1)), drain()))
    split = send(cmsgs=[rights(*["f"] * 200), rights(*["f"] * 54)])
    yield Variant("200 + 54", scenario(kind, split, drain()))


@case(
    "FD-09",
    "fd -1 or a closed fd in SCM_RIGHTS: EBADF, no data queued",
    area="errors",
    source="GV BadFDPass; SRC",
)
def fd_09(kind: PairKind) -> Iterator[Variant]:
    yield Variant("-1", scenario(kind, send(fds=[RawFd(-1)]), drain()))
    yield Variant("closed", scenario(kind, send(fds=[ClosedFd()]), drain()))
    yield Variant("closed by the scenario", scenario(kind, Close(target="f"), send(fds=["f"]), drain()))


@case(
    "FD-10",
    "valid and invalid fds in one array: EBADF, whole message rejected, nothing leaked",
    area="errors",
    source="SRC scm_destroy on error",
)
def fd_10(kind: PairKind) -> Iterator[Variant]:
    yield Variant("f, -1, g", scenario(kind, send(fds=["f", RawFd(-1), "g"]), drain(), fds=(FILE, FILE2)))
    yield Variant("two cmsgs, bad second", scenario(kind, send(cmsgs=[rights("f"), rights(ClosedFd())]), drain()))


@case(
    "FD-11",
    "the sender closes its fd right after sendmsg: the file in flight stays and arrives",
    area="fd-passing",
    source="FB send_and_close",
)
def fd_11(kind: PairKind) -> Iterator[Variant]:
    yield Variant("close after send", scenario(kind, send(fds=["f"]), Close(target="f"), recv(control=FDS_SPACE(1))))


@case(
    "FD-12",
    "received fd shares the open file description (offset, status flags); FD_CLOEXEC is 0",
    area="fd-passing",
    source="GV CloexecDroppedWhenFDPassed; PY checkFDs",
)
def fd_12(kind: PairKind) -> Iterator[Variant]:
    table = (
        FdSpec(name="cloexec_file", kind=FdKind.REGULAR_FILE, cloexec=True),
        FdSpec(name="append_memfd", kind=FdKind.MEMFD, append=True),
        FdSpec(name="nonblock_pipe", kind=FdKind.PIPE_WRITE, nonblock=True, cloexec=True),
    )
    names = [spec.name for spec in table]
    yield Variant("flags", scenario(kind, send(fds=names), recv(control=FDS_SPACE(3)), fds=table))


@case(
    "FD-13",
    "recvmsg(MSG_CMSG_CLOEXEC): every installed fd has FD_CLOEXEC",
    area="flags",
    source="GV CloexecRecvFDPass; FB simple_send_fd_msg_cmsg_cloexec",
)
def fd_13(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "cloexec",
        scenario(kind, send(fds=["f", "g"]), recv(control=FDS_SPACE(2), flags=["MSG_CMSG_CLOEXEC"]), fds=(FILE, FILE2)),
    )


@case(
    "FD-14",
    "msg_flags of recvmsg(MSG_CMSG_CLOEXEC) also has MSG_CMSG_CLOEXEC (measured: yes, 6.18)",
    area="flags",
    source="net/socket.c ____sys_recvmsg seeds msg_flags from the input flags",
)
def fd_14(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: the bit is echoed, with or without fds in the message.
    yield Variant("with fd", scenario(kind, send(fds=["f"]), recv(control=FDS_SPACE(1), flags=["MSG_CMSG_CLOEXEC"])))
    yield Variant("no fd", scenario(kind, send(b"plain"), recv(flags=["MSG_CMSG_CLOEXEC"])))


@case(
    "FD-15",
    "fd order across messages is kept: two sends, two receives, fds match 1:1",
    area="fd-passing",
    source="FB two_files",
)
def fd_15(kind: PairKind) -> Iterator[Variant]:
    steps = (send(b"1", fds=["f"]), send(b"2", fds=["g"]), recv(1, control=FDS_SPACE(1)), recv(1, control=FDS_SPACE(1)))
    yield Variant("two messages", scenario(kind, *steps, fds=(FILE, FILE2)))


@case(
    "FD-16",
    "a socket may pass its own end or its peer's end; both arrive; closing all frees them",
    area="fd-passing",
    source="FB bundle, bundle_cancel; KS scm_rights self_ref",
)
def fd_16(kind: PairKind) -> Iterator[Variant]:
    yield Variant("own and peer end", scenario(kind, send(fds=["a", "b"]), recv(control=FDS_SPACE(2)), fds=()))


@case(
    "FD-17",
    "O_PATH fds (and every other kind of file) can be passed",
    area="fd-passing",
    source="SRC fget_raw",
)
def fd_17(kind: PairKind) -> Iterator[Variant]:
    names = [spec.name for spec in ALL_KINDS_TABLE]
    yield Variant(
        "every fd kind", scenario(kind, send(fds=names), recv(control=FDS_SPACE(len(names))), fds=ALL_KINDS_TABLE)
    )


@case(
    "FD-22",
    "a large stream write with fds: the fds ride on the first chunk",
    area="fd-passing",
    source="SRC unix_stream_sendmsg: only send the fds in the first buffer",
    types="S",
)
def fd_22(kind: PairKind) -> Iterator[Variant]:
    payload = bytes(range(256)) * 40  # 10240 bytes: more than one skb
    steps = (send(payload, fds=["f"]), recv(1, control=FDS_SPACE(1)), recv(len(payload), control=FDS_SPACE(1)))
    yield Variant("10 KiB", scenario(kind, *steps))


@functools.cache
def _fd_24_payload(size: int) -> bytes:
    """FD-24's payload, made once (every pair kind of both back ends asks for it)."""
    return bytes(i * 7 % 251 for i in range(size))


@case(
    "FD-24",
    "credentials + rights + a large payload deliver intact fds, credentials and data",
    area="fd-passing",
    source="FB rights_creds_payload; GV CredAndFDPass",
)
def fd_24(kind: PairKind) -> Iterator[Variant]:
    size = 48 * 1024
    payload = _fd_24_payload(size)
    control = SPACE(12) + FDS_SPACE(2)
    steps: tuple[Step, ...]
    if stream(kind):
        steps = (
            passcred(),
            send(payload, fds=["f", "g"], creds=True),
            recv(1, control=control),
            recv(size, control=control),
        )
    else:
        steps = (passcred(), send(payload, fds=["f", "g"], creds=True), recv(size + 1, control=control))
    yield Variant("48 KiB", scenario(kind, *steps, fds=(FILE, FILE2)))


@case(
    "FD-19",
    "receiver with SO_PASSRIGHTS off (6.16+): sendmsg with SCM_RIGHTS fails EPERM; plain data still flows",
    area="fd-passing",
    source="KS scm_rights *_disabled variants (stream_oob_disabled for MSG_OOB)",
    needs=("SO_PASSRIGHTS",),
)
def fd_19(kind: PairKind) -> Iterator[Variant]:
    off = SetSockOpt(on="b", option="SO_PASSRIGHTS", value=0)
    steps = (
        off,
        GetSockOpt(on="b", option="SO_PASSRIGHTS"),
        send(b"x", fds=["f"]),
        send(b"y"),
        recv(64, control=FDS_SPACE(1)),
    )
    yield Variant("off", scenario(kind, *steps))
    if kind.sock_type is SockType.STREAM:
        # issue 10 item 4: the MSG_OOB send path (queue_oob) checks it too, for a one-byte and a longer send
        for data in (b"!", b"data!"):
            oob = (off, send(data, fds=["f"], flags=["MSG_OOB"]), send(b"y"), recv(64, control=FDS_SPACE(1)))
            yield Variant(f"MSG_OOB, {len(data)} bytes", scenario(kind, *oob))


@case(
    "FD-18",
    "an io_uring fd in SCM_RIGHTS: EINVAL (since 6.7 and its stable backports); nothing queued",
    area="errors",
    source="io_uring/af_unix: disable sending io_uring over sockets (705318a99a13)",
)
def fd_18(kind: PairKind) -> Iterator[Variant]:
    ring = FdSpec(name="ring", kind=FdKind.IO_URING)
    yield Variant("ring", scenario(kind, send(fds=["ring"]), drain(), fds=(ring,)))
    yield Variant("bad fd first", scenario(kind, send(fds=[RawFd(-1), "ring"]), drain(), fds=(ring,)))
    yield Variant("after a file", scenario(kind, send(fds=["f", "ring"]), drain(), fds=(FILE, ring)))


@case(
    "FD-21",
    "receiver at RLIMIT_NOFILE: recvmsg returns the data, installs the fds that fit, MSG_CTRUNC, closes the rest",
    area="limits",
    source="SRC scm_detach_fds; FB send_a_lot (FreeBSD: EMFILE); ISS rr #3870, freeunit #264, systemd #42043",
)
def fd_21(kind: PairKind) -> Iterator[Variant]:
    for headroom in (0, 1, 2):
        receiver = Child(steps=(recv(64, control=FDS_SPACE(3)),), identity=Identity(fd_headroom=headroom))
        yield Variant(
            f"{headroom} free slots",
            scenario(kind, send(b"data", fds=["f", "g", "h"]), receiver, fds=(FILE, FILE2, FILE3)),
        )


# ---- issue 10 item 4: fds an LSM refuses ----------------------------------------------------------


@case(
    "FD-20",
    "an LSM denies a passed file (security_file_receive): the fd array is cut at the first denied fd, "
    "MSG_CTRUNC, data delivered",
    area="fd-passing",
    source="KS scm_rights_denial_lsm (a BPF LSM program denies chosen inodes)",
    needs=("bpf-lsm", "bpf-lsm-loader"),
)
def fd_20(kind: PairKind) -> Iterator[Variant]:
    # What the case runs once the harness can load a BPF LSM program that denies "g": the receiver
    # gets "f" only, with MSG_CTRUNC.  No platform has "bpf-lsm-loader" yet (harness.host.FEATURE_WHY):
    # the case is `unsupported` with that reason, never run without the program.
    steps = (send(b"x", fds=["f", "g", "f"]), recv(64, control=FDS_SPACE(3)))
    yield Variant("second of three denied", scenario(kind, *steps, fds=(FILE, FILE2)))
