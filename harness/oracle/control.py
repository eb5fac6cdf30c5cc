"""Control messages: where a send's cmsgs lie in its buffer, what __scm_send() makes of them, and what
scm_recv() writes into a receive's control buffer (SCM_RIGHTS, SCM_CREDENTIALS, SCM_PIDFD, MSG_CTRUNC).

Functions over the model's state (:class:`harness.oracle.state.Model`), called by the send and
receive paths of :mod:`harness.oracle.linux`.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from harness.expectation import CredExpect, ExpectedCmsg
from harness.model import (
    SCM_MAX_FD,
    UIO_MAXIOV,
    ClosedFd,
    FdKind,
    FdRef,
    Named,
    RawCmsg,
    RawFd,
    Recv,
    ScmCredentials,
    ScmRights,
    Send,
)
from harness.native import cmsg
from harness.observation import Failed
from harness.oracle.processes import UNKNOWN_PID, check_credentials, sent_credentials
from harness.oracle.state import Controls, Creds, Laid, Model, ScmAccepted, ScmRefused, SendFailure, Skb, Unknown


@dataclass(frozen=True, slots=True)
class CopiedMsghdr:
    """What ____sys_sendmsg copied: the send's control messages as laid out, and msg_controllen."""

    layout: tuple[Laid, ...]
    controllen: int


def copy_msghdr(m: Model, step: Send) -> CopiedMsghdr | SendFailure:
    """net/socket.c before any protocol code: copy_msghdr_from_user, import_iovec, then
    ____sys_sendmsg's copy of the control buffer (sock_kmalloc of msg_controllen)."""
    if step.fault == "msghdr":
        return Failed("EFAULT"), (), "msghdr pointer faults"
    if len(step.iov) > UIO_MAXIOV:
        return Failed("EMSGSIZE"), (), "msg_iovlen > UIO_MAXIOV"
    if step.fault == "iov" and step.iov:
        return Failed("EFAULT"), (), "iovec array pointer faults"
    layout, built = control_layout(m, step)
    controllen = built if step.controllen is None else step.controllen
    if controllen:
        optmem = m.platform.limits.get("optmem_max")
        if optmem is None:
            raise Unknown("net.core.optmem_max unknown")
        if controllen >= optmem:
            return Failed("ENOBUFS"), (), "msg_controllen >= net.core.optmem_max (sock_kmalloc)"
        if step.control != "buffer":
            return Failed("EFAULT"), (), "msg_control is NULL or unmapped while msg_controllen > 0"
    return CopiedMsghdr(tuple(layout), controllen)


def copy_recv_msghdr(step: Recv) -> tuple[Failed, str] | None:
    """net/socket.c's ___sys_recvmsg before any protocol code: copy_msghdr_from_user, import_iovec."""
    if step.fault == "msghdr":
        return Failed("EFAULT"), "msghdr pointer faults"
    if len(step.buffers) > UIO_MAXIOV:
        return Failed("EMSGSIZE"), "msg_iovlen > UIO_MAXIOV"
    if step.fault == "iov" and step.buffers:
        return Failed("EFAULT"), "iovec array pointer faults"
    return None


def control_layout(m: Model, step: Send) -> tuple[list[Laid], int]:
    """Where each control message of ``step`` starts in the buffer, and the buffer's size."""
    out: list[Laid] = []
    offset = 0
    for c in step.cmsgs:
        if isinstance(c, ScmRights):
            n = 4 * len(c.fds)
            length = m.abi.length(n) if c.length is None else c.length
            out.append(Laid(offset, "SOL_SOCKET", "SCM_RIGHTS", length, c))
            offset += m.abi.space(n)
        elif isinstance(c, ScmCredentials):
            out.append(Laid(offset, "SOL_SOCKET", "SCM_CREDENTIALS", m.abi.length(12), c))
            offset += m.abi.space(12)
        else:
            level = c.level if isinstance(c.level, str) else m.consts.level_name(c.level)
            type_ = (
                c.type
                if isinstance(c.type, str)
                else m.consts.cmsg_type_name(m.consts.sol["SOL_SOCKET"] if level == "SOL_SOCKET" else -1, c.type)
            )
            length = m.abi.length(len(c.data)) if c.length is None else c.length
            out.append(Laid(offset, level, type_, length, c))
            offset += m.abi.space(len(c.data)) if c.space is None else c.space
    return out, offset


def _whole_header(m: Model, laid: Laid) -> bool:
    """Whether the buffer holds ``laid``'s header as the scenario wrote it (a raw cmsg's space may cut it)."""
    c = laid.cmsg
    return not isinstance(c, RawCmsg) or c.space is None or c.space >= m.abi.header


def control_image(m: Model, layout: Sequence[Laid], controllen: int) -> tuple[bytes, bytes]:
    """The control buffer the executor passes, as (bytes, known), laid out by the executor's own
    :func:`harness.native.cmsg.build_control` (each message cut or zero-padded to its space) and zero
    past the last message up to msg_controllen.  ``known`` is 0 where a byte is only known when the
    scenario runs: the fd numbers of SCM_RIGHTS, the ids of SCM_CREDENTIALS."""
    encoded: list[cmsg.EncodedCmsg] = []
    unknown: list[range] = []
    for laid in layout:
        c = laid.cmsg
        if isinstance(c, RawCmsg):
            level = m.consts.level(c.level)
            encoded.append(cmsg.encode(m.abi, level, m.consts.cmsg_type(level, c.type), c.data, laid.length, c.space))
        else:
            size = 4 * len(c.fds) if isinstance(c, ScmRights) else 12
            sol = m.consts.sol["SOL_SOCKET"]
            encoded.append(cmsg.encode(m.abi, sol, m.consts.scm[laid.type], bytes(size), laid.length, None))
            unknown.append(range(laid.offset + m.abi.header, laid.offset + m.abi.header + size))
    built = cmsg.build_control(m.abi, encoded)
    data = built.ljust(controllen, b"\0")
    known = bytearray(b"\1" * len(data))
    for span in unknown:
        known[span.start : span.stop] = bytes(len(span))
    return data, bytes(known)


def _read(image: tuple[bytes, bytes], start: int, size: int, what: str) -> bytes:
    """The ``size`` bytes of the control buffer at ``start``; Unknown where the scenario's own fd numbers
    or credential ids (known only when it runs) lie among them."""
    data, known = image
    if not all(known[start : start + size]):
        raise Unknown(f"{what} read from inside the fd numbers or ids of another message")
    return data[start : start + size]


def _header_from_bytes(m: Model, image: tuple[bytes, bytes], offset: int) -> Laid:
    """The header __cmsg_nxthdr() finds at ``offset`` where no message of the scenario starts whole."""
    length, level, type_ = m.abi.unpack_header(_read(image, offset, m.abi.header, "a cmsg header"), 0)
    level_name = m.consts.level_name(level)
    type_name = m.consts.cmsg_type_name(level, type_)
    return Laid(offset, level_name, type_name, length, RawCmsg(level=level, type=type_))


def scm_send(m: Model, layout: Sequence[Laid], controllen: int) -> ScmAccepted | ScmRefused:
    """__scm_send(): walk the buffer with CMSG_FIRSTHDR / __cmsg_nxthdr; what it accepted, or why it refused.

    The kernel finds the next header at CMSG_ALIGN(cmsg_len) from the current one, whatever the
    sender meant: where that is not the start of a message the scenario wrote (a cmsg_len or a space
    override, padding, bytes past the last message), the header is read from the buffer's bytes.
    Measured on 6.18.44, 6.12.118 and 6.1.176 (UML) with raw cmsgs whose space cuts their own header.
    """
    fds: list[str] = []
    creds: Creds | None = None
    header = m.abi.header
    at = {laid.offset: laid for laid in layout if _whole_header(m, laid)}
    image: tuple[bytes, bytes] | None = None
    offset = 0
    while offset + header <= controllen:  # CMSG_FIRSTHDR, then __cmsg_nxthdr's room check
        laid = at.get(offset)
        if laid is None:
            image = image or control_image(m, layout, controllen)
            laid = _header_from_bytes(m, image, offset)
        length = laid.length
        if length < header or length > controllen - offset:  # CMSG_OK
            return ScmRefused("EINVAL", "cmsg_len smaller than the header or past msg_controllen")
        offset += m.abi.align(length)
        if laid.level != "SOL_SOCKET":
            continue  # other levels are ignored on AF_UNIX
        c = laid.cmsg
        if laid.type == "SCM_RIGHTS":
            whole = (length - header) // 4  # scm_fp_copy: num = (cmsg_len - sizeof(cmsghdr)) / sizeof(int)
            if whole <= 0:
                continue
            if whole > SCM_MAX_FD or len(fds) + whole > SCM_MAX_FD:
                return ScmRefused("EINVAL", "more than SCM_MAX_FD (253) fds in one message")
            if isinstance(c, ScmRights):
                if whole > len(c.fds):
                    raise Unknown("cmsg_len reaches past the fds of the SCM_RIGHTS message")
                refs = c.fds[:whole]
            else:  # raw bytes (or a header found in the buffer): the numbers are what the buffer holds there
                image = image or control_image(m, layout, controllen)
                refs = _numbers_from_bytes(m, image, laid.offset + header, whole)
            passed = _passed_names(m, refs)
            if isinstance(passed, ScmRefused):
                return passed
            fds.extend(passed)
        elif laid.type == "SCM_CREDENTIALS":
            if length != m.abi.length(12):
                return ScmRefused("EINVAL", "SCM_CREDENTIALS cmsg_len is not CMSG_LEN(sizeof(struct ucred))")
            if not isinstance(c, ScmCredentials):  # raw bytes (or a header found in the buffer)
                image = image or control_image(m, layout, controllen)
                c = _credentials_from_bytes(m, image, laid.offset + header)
            refused = check_credentials(m.proc, c.pid, c.uid, c.gid)
            if refused == UNKNOWN_PID:
                raise Unknown(refused)
            if refused:
                return ScmRefused.from_text(refused)
            creds = sent_credentials(m.proc, m.main, c.pid, c.uid, c.gid)
        else:
            return ScmRefused("EINVAL", f"SOL_SOCKET cmsg type {laid.type} cannot be sent")
    return ScmAccepted(tuple(fds) if fds else None, creds)


def _numbers_from_bytes(m: Model, image: tuple[bytes, bytes], start: int, count: int) -> tuple[FdRef, ...]:
    """The ``count`` ints (fd numbers) the buffer holds from ``start`` (within msg_controllen: CMSG_OK held)."""
    numbers = struct.unpack(f"{m.abi.byte_order}{count}i", _read(image, start, 4 * count, "SCM_RIGHTS numbers"))
    return tuple(map(RawFd, numbers))


def _credentials_from_bytes(m: Model, image: tuple[bytes, bytes], start: int) -> ScmCredentials:
    """The struct ucred (pid_t pid, uid_t uid, gid_t gid) the buffer holds from ``start``."""
    pid, uid, gid = struct.unpack(m.abi.byte_order + "iII", _read(image, start, 12, "SCM_CREDENTIALS"))
    return ScmCredentials(pid=pid, uid=uid, gid=gid)


def _passed_names(m: Model, refs: tuple[FdRef, ...]) -> tuple[str, ...] | ScmRefused:
    """scm_fp_copy(): the fds in order, and the first it refuses decides (EBADF: not open; EINVAL: an
    io_uring, since 6.7).  A refusal depends on the descriptor alone, so each distinct one is looked at
    once, in the order of its first place (a fuzzed message repeats a few descriptors up to SCM_MAX_FD
    times).  A raw number that may or may not be open (harness.oracle.control.fd_name) does not stop
    the walk: a later one that is certainly not open makes it EBADF, unless an uncertain one before
    it could be an io_uring (EINVAL first)."""
    refuses_io_uring = m.platform.has_change("io_uring-scm-refused")
    could_be_io_uring = refuses_io_uring and any(spec.kind is FdKind.IO_URING for spec in m.kinds.values())
    uncertain = False
    names: dict[FdRef, str] = {}
    for ref in dict.fromkeys(refs):
        try:
            name = fd_name(m, ref)
        except Unknown:
            uncertain = True
            continue
        if name is None:
            if uncertain and could_be_io_uring:
                raise Unknown("a raw fd number before a closed one may be an io_uring (EINVAL first)")
            return ScmRefused("EBADF", "an fd in SCM_RIGHTS is not open")
        if refuses_io_uring and name in m.kinds and m.kinds[name].kind is FdKind.IO_URING:
            if uncertain:
                raise Unknown("a raw fd number before an io_uring may not be open (EBADF first)")
            return ScmRefused("EINVAL", "an io_uring fd cannot be passed (scm_fp_copy, since 6.7)")
        names[ref] = name
    if uncertain:
        raise Unknown("a raw fd number in SCM_RIGHTS may or may not be open")
    return tuple(map(names.__getitem__, refs))


def fd_name(m: Model, ref: FdRef) -> str | None:
    if isinstance(ref, Named):
        if ref.name in m.ends:
            return ref.name if m.ends[ref.name].open else None
        return ref.name if m.table_open[ref.name] else None
    if isinstance(ref, ClosedFd):
        return None
    assert isinstance(ref, RawFd)
    if ref.number < 0 or ref.number >= 1 << 20:
        return None  # never an open descriptor (fs.nr_open is at most 2^20 by default)
    raise Unknown(f"raw fd number {ref.number} may or may not be open")


def scm_recv(
    m: Model, step: Recv, creds: Creds | None, fds: tuple[str, ...] | None, pidfd_of: Skb | None = None
) -> Controls:
    """scm_recv_unix(): SCM_CREDENTIALS (put_cmsg), SCM_RIGHTS (scm_detach_fds), then SCM_PIDFD."""
    x = m.ends[step.on]
    if x.passpidfd and pidfd_of is not None:
        return with_pidfd(m, step, creds, fds, pidfd_of)
    if creds is None and fds is None:
        return Controls([], 0, False)
    if step.control_pointer == "null":
        return Controls([], 0, True)  # __scm_recv_common: no msg_control -> MSG_CTRUNC, files dropped
    if step.control_pointer == "bad":
        if creds is not None:
            raise Unknown("credentials into an unmapped control buffer")
        return Controls([], 0, True)  # put_user() of the first fd fails: nothing installed
    remaining = step.control
    consumed = 0
    ctrunc = False
    cmsgs: list[ExpectedCmsg] = []
    header = m.abi.header
    if creds is not None:
        if remaining < header:
            ctrunc = True
        else:
            length = m.abi.length(12)
            if remaining < length:
                ctrunc = True
                length = remaining
            cmsgs.append(ExpectedCmsg(level="SOL_SOCKET", type="SCM_CREDENTIALS", length=length, creds=creds))
            used = min(m.abi.space(12), remaining)
            consumed += used
            remaining -= used
    if fds is not None:
        fit = 0 if remaining <= header else (remaining - header) // 4
        identity = m.proc.identity
        if identity is not None and identity.nofile is not None and fit and fds:
            # receive_fd() fails with EMFILE when no slot below RLIMIT_NOFILE is free, and
            # which slots a child has free is not tracked (fd_headroom is the modelled way)
            raise Unknown("receiving fds at a lowered RLIMIT_NOFILE")
        if identity is not None and identity.fd_headroom is not None:
            # receive_fd() fails with EMFILE at RLIMIT_NOFILE: scm_detach_fds stops there
            fit = min(fit, identity.fd_headroom - m.used_headroom)
        n = min(fit, len(fds))
        if identity is not None and identity.fd_headroom is not None:
            m.used_headroom += n
        if n:
            installed = fds[:n]
            expected = {f: m.expected_fd(f) for f in dict.fromkeys(installed)}  # a few files, up to 253 times
            cmsgs.append(
                ExpectedCmsg(
                    level="SOL_SOCKET",
                    type="SCM_RIGHTS",
                    length=m.abi.length(4 * n),
                    fds=tuple(map(expected.__getitem__, installed)),
                )
            )
            consumed += min(m.abi.space(4 * n), remaining)
        if n < len(fds):
            ctrunc = True  # the files that do not fit are closed, never installed
    return Controls(cmsgs, consumed, ctrunc)


def pidless_pidfd(m: Model, step: Recv, creds: Creds | None, fds: tuple[str, ...] | None = None) -> Controls:
    """SO_PASSPIDFD at a stream's end of file, or on a message sent before either end asked for
    credentials (maybe_add_creds() left UNIXCB(skb).pid NULL): scm_recv_unix() runs with no sender pid.

    scm_pidfd_recv() checks for room for a header and an int before it looks for a pid, so a
    short control buffer gets MSG_CTRUNC and a long enough one nothing.  Measured on Linux
    6.18.44: SO_PASSPIDFD alone, 0 or 16 bytes of control -> MSG_CTRUNC, 24 -> no flag, no cmsg;
    with SO_PASSCRED too, the zero SCM_CREDENTIALS comes first.  SOCK_DGRAM and SOCK_SEQPACKET
    return at end of file before scm_recv_unix(): no flag.  A message without a pid, with or without
    fds and SO_PASSCRED, the same on 6.18.44 and 6.12.118 (336 scenarios, every pair type and control
    room 0 to 64, a null msg_control too; 6.1.176 has no SO_PASSPIDFD).
    """
    before = scm_recv(m, step, creds, fds)
    if step.control_pointer == "null":
        return Controls([], 0, True)  # __scm_recv_common(): sk_scm_pidfd without msg_control
    short = step.control - before.consumed < m.abi.length(4)
    return Controls(before.cmsgs, before.consumed, before.ctrunc or short)


def with_pidfd(m: Model, step: Recv, creds: Creds | None, fds: tuple[str, ...] | None, skb: Skb) -> Controls:
    """SO_PASSPIDFD (6.5+): an SCM_PIDFD cmsg after the others, with a pidfd of the sender.

    With less room left than CMSG_LEN(sizeof(int)) it is MSG_CTRUNC and no pidfd.  Since 6.17 a sender that
    exited and was reaped still gets a pidfd (fdinfo then says Pid: -1); before, the cmsg carries -EINVAL.
    """
    if m.proc.nofile_lowered:
        raise Unknown("an SCM_PIDFD at a lowered RLIMIT_NOFILE")
    if step.control_pointer == "null":
        return Controls([], 0, True)  # scm_recv_unix(): no msg_control, SO_PASSPIDFD: MSG_CTRUNC, all dropped
    if step.control_pointer != "buffer":
        raise Unknown("SCM_PIDFD into an unmapped control buffer")
    if not skb.has_pid:
        return pidless_pidfd(m, step, creds, fds)
    before = scm_recv(m, step, creds, fds)
    if step.control - before.consumed < m.abi.length(4):
        # scm_pidfd_recv() checks the room itself (put_cmsg() would cut the message and say nothing):
        # MSG_CTRUNC, and no pidfd is made
        return Controls(before.cmsgs, before.consumed, True)
    if before.ctrunc:
        raise Unknown("an SCM_PIDFD after a control message that was cut")
    # UNIXCB(skb).pid: the pid of explicit SCM_CREDENTIALS (a forged pid 1 is init), else the
    # sender's.  fdinfo's Pid: is in the pid namespace of the /proc mount, and the harness never
    # mounts one for a child: a receiver in a new pid namespace still sees the outer number.
    # Measured on 6.18.44 (atheris findings in corpora/regressions/scm-pidfd-*).
    owner: CredExpect = skb.creds[0]
    gone = isinstance(owner, str) and owner.removesuffix("pid") in m.exited
    length = m.abi.length(4)
    if gone and not m.platform.has_change("scm_pidfd-reaped"):
        # 6.5-6.16: scm_pidfd_recv() puts pidfd_prepare()'s return in the cmsg whatever it is;
        # for a reaped sender that is -EINVAL (!pid_has_task()).  Measured on 6.12.118 (UML): -22 (EINVAL).
        pidfd = ExpectedCmsg(level="SOL_SOCKET", type="SCM_PIDFD", length=length, pidfd_error=-errno.EINVAL)
    else:
        pid: CredExpect = -1 if gone else owner
        pidfd = ExpectedCmsg(level="SOL_SOCKET", type="SCM_PIDFD", length=length, pidfd=pid)
    used = min(m.abi.space(4), step.control - before.consumed)
    return Controls([*before.cmsgs, pidfd], before.consumed + used, False)
