"""Scenario + Expectation -> repro.c's plan: every name resolved to this platform's numbers.

:mod:`harness.fuzz.repro_c` renders the plan as the generated ``main()`` over the C runtime
(harness/fuzz/c/).  (``repro.py`` needs no plan: it runs the harness itself, see
:mod:`harness.fuzz.repro_main`.)  Anything that cannot be expressed (a name this platform's table lacks, an expectation
the plan does not know how to state) raises :class:`Inexpressible`; the writers then emit a
reproducer that says why and exits 2, never wrong code.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from harness.addresses import address_target
from harness.check.registry import words
from harness.expectation import Expectation, ExpectedCmsg, StepExpectation
from harness.model import (
    C_INT,
    CMSG_LEN,
    GID_T,
    INT64_T,
    MAX_BUFFER,
    MAX_CONTROL,
    PID_T,
    RLIM_T,
    UID_T,
    UINT32_T,
    UNPRIVILEGED_UID,
    Child,
    Close,
    ClosedFd,
    Cmsg,
    CType,
    FdRef,
    Fill,
    GetSockOpt,
    Ioctl,
    Listen,
    Named,
    PairKind,
    Poll,
    RawFd,
    Recv,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetOwner,
    SetSockOpt,
    Shutdown,
    Step,
)
from harness.native.constants import Constants, UnknownName, linux
from harness.observation import Blocked, Failed, Outcome, Returned
from harness.platform import Platform
from harness.untrusted import shorten

SUPPORTED_FD_KINDS = frozenset(
    {"regular-file", "memfd", "pipe-read", "pipe-write", "socket", "dev-null", "opath-dir", "eventfd", "io-uring"}
    | {"unix-stream", "unix-dgram", "unix-seqpacket"}  # fresh AF_UNIX sockets of the table (issue 10)
)


# poll(2) bits on Linux (asm-generic/poll.h; the harness lists the same names in POLL_REVENTS)
POLL_BITS = {
    "POLLNVAL": 0x20,
    "POLLIN": 0x1,
    "POLLPRI": 0x2,
    "POLLOUT": 0x4,
    "POLLERR": 0x8,
    "POLLHUP": 0x10,
    "POLLRDNORM": 0x40,
    "POLLWRNORM": 0x100,
    "POLLRDHUP": 0x2000,
}


def poll_mask(names: frozenset[str]) -> int:
    return sum(POLL_BITS[name] for name in names)


class Inexpressible(Exception):
    """The reproducer cannot state this scenario or expectation; the message says what."""


MAX_TABLE = 64  # fd table entries a reproducer opens (the C runtime's MAX_NAMES counts the pair's two ends too)
MAX_RIGHTS = 1024  # fds in one SCM_RIGHTS message (the C runtime's SCM_MAX_FD_PLUS)
MAX_OUTCOMES = 8  # allowed outcomes of one step (the C runtime's MAX_EXP)
SIGNALS = ("SIGPIPE", "SIGURG")  # the signals both runtimes observe
POINTERS = ("buffer", "null", "bad")
FAULTS = (None, "msghdr", "iov", "iov_base")
REOPEN_MODES = ("O_RDONLY", "O_RDWR")
ADDRESS_WORDS = ("none", "unnamed", "a", "b", "autobind", "abstract", "pathname")  # harness.addresses.describe_name


TEXT_LIMIT = 1000  # a title, detail line or reason longer than this is cut: it is for people to read


def clip(text: str) -> str:
    """Text for people to read (a title, a detail line, a reason), cut at TEXT_LIMIT characters.

    It stays text (the runtimes escape it when they print it); a value quoted in a one-line message
    is :func:`harness.untrusted.shorten`'s job.
    """
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "..."


def fits(value: object, ctype: CType, field: str) -> int:
    """``value`` when it is an int that ``ctype`` holds; else Inexpressible naming ``field``.

    The reproducers pass every integer as a C type (repro.c literally; repro.py through ctypes and
    struct), with the ranges of harness.model's CType constants.  A value outside its type is
    refused, never truncated: shutdown(how=2**80) would otherwise become shutdown(how=0) and an
    SCM_RIGHTS fd 2**40 the valid fd 0.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise Inexpressible(f"{field} is not an integer")
    if not ctype.low <= value <= ctype.high:
        raise Inexpressible(f"{field} = {shorten(value)} does not fit in {ctype.name} ({ctype.low}..{ctype.high})")
    return value


def within(value: object, high: int, field: str) -> int:
    """``value`` when it is an int within 0..high: a size a reproducer allocates, refused before it does."""
    number = fits(value, INT64_T, field)
    if not 0 <= number <= high:
        raise Inexpressible(f"{field} = {number} is outside 0..{high}")
    return number


def one_of(value: object, allowed: tuple[object, ...], field: str) -> None:
    if value not in allowed:
        raise Inexpressible(f"{field} = {shorten(value)} is none of {list(allowed)}")


@dataclass(frozen=True, slots=True)
class PlanStep:
    op: str  # the runtime's method: send, recv, setsockopt, getsockopt, shutdown, close, listen, reopen
    args: dict[str, Any]
    want: dict[str, Any]
    words: str  # a one-line comment: what the step does
    nested: tuple[PlanStep, ...] = ()  # a child's steps (op "child"), run in the forked process


@dataclass(frozen=True, slots=True)
class Plan:
    consts: dict[str, int]
    # socket type number, nonblocking, reversed, and for a pair the socket API makes (how, address):
    # ("accepted" | "connected" | "unconnected", "pathname" | "abstract" | "autobind")
    pair: tuple[int, bool, bool, tuple[str, str] | None]
    pair_words: str
    fds: tuple[tuple[str, str, bool, bool, bool, bool], ...]  # name, kind, cloexec, nonblock, append, tracked
    steps: tuple[PlanStep, ...]


def _ref(ref: FdRef) -> tuple[Any, ...]:
    if isinstance(ref, Named):
        return ("fd", ref.name)
    if isinstance(ref, RawFd):
        return ("raw", fits(ref.number, C_INT, "SCM_RIGHTS raw fd"))
    assert isinstance(ref, ClosedFd)
    return ("closed",)


def _optional(value: int | None, ctype: CType, field: str) -> int | None:
    return None if value is None else fits(value, ctype, field)


def _cred(value: object, ctype: CType, field: str) -> object:
    return value if isinstance(value, str) else fits(value, ctype, field)


def _cmsg(c: Cmsg, consts: Constants) -> tuple[Any, ...]:
    if isinstance(c, ScmRights):
        if len(c.fds) > MAX_RIGHTS:
            raise Inexpressible(f"SCM_RIGHTS with {len(c.fds)} fds (a reproducer passes at most {MAX_RIGHTS})")
        return ("rights", _optional(c.length, CMSG_LEN, "ScmRights.length"), [_ref(r) for r in c.fds])
    if isinstance(c, ScmCredentials):
        return (
            "creds",
            _cred(c.pid, PID_T, "ScmCredentials.pid"),
            _cred(c.uid, UID_T, "ScmCredentials.uid"),
            _cred(c.gid, GID_T, "ScmCredentials.gid"),
        )
    level = fits(consts.level(c.level), C_INT, "RawCmsg.level")
    type_ = fits(consts.cmsg_type(level, c.type), C_INT, "RawCmsg.type")
    space = None if c.space is None else within(c.space, MAX_CONTROL, "RawCmsg.space")
    return ("raw", level, type_, c.data, _optional(c.length, CMSG_LEN, "RawCmsg.length"), space)


def _outcome(o: Outcome) -> tuple[Any, ...]:
    if isinstance(o, Returned):
        return ("returned", fits(o.value, INT64_T, "expected return value"))
    if isinstance(o, Failed):
        if o.errno not in errno.errorcode.values():
            raise Inexpressible(f"errno {shorten(o.errno)} has no number on this platform")
        return ("failed", o.errno)
    assert isinstance(o, Blocked)
    return ("blocked",)


def flag_bits(names: frozenset[str], consts: Constants) -> int:
    """msg_flags names back to the number (unnamed bits are written as ``0x...``)."""
    value = 0
    for name in names:
        value |= int(name, 16) if name.startswith("0x") else consts.msg_flags({name})
    return fits(value, UINT32_T, "expected msg_flags")


def _expected_cmsg(c: ExpectedCmsg, consts: Constants) -> tuple[Any, ...]:
    level = consts.level(c.level)
    fds = [(fd.name, fd.file_type, sorted(fd.status_flags), fd.seekable) for fd in c.fds]
    creds = None if c.creds is None else [_cred(v, INT64_T, "expected credentials") for v in c.creds]
    type_ = fits(consts.cmsg_type(level, c.type), C_INT, "expected cmsg_type")
    return (
        fits(level, C_INT, "expected cmsg_level"),
        type_,
        fits(c.length, INT64_T, "expected cmsg_len"),
        fds,
        creds,
    )


_BASIC_SYMBOLS = ("pid", "uid", "gid")


def _refuse_unknown_parts(step: Step, want: StepExpectation) -> None:
    """What the reproducer runtimes do not do yet: said plainly, so the reproducer exits 2."""
    if want.peer_pid is not None:
        raise Inexpressible("expectations of SO_PEERPIDFD")
    if want.peercred is not None and any(isinstance(v, str) and v not in _BASIC_SYMBOLS for v in want.peercred):
        raise Inexpressible(f"SO_PEERCRED of another process {want.peercred}")
    for c in want.cmsgs:
        if c.pidfd is not None:
            raise Inexpressible("an expected SCM_PIDFD")
        if c.creds is not None and any(isinstance(v, str) and v not in _BASIC_SYMBOLS for v in c.creds):
            raise Inexpressible(f"credentials of another process {c.creds}")
    if isinstance(step, Send):
        for cmsg in step.cmsgs:
            if isinstance(cmsg, ScmCredentials) and any(
                v in ("parent", "nonexistent", "thread") for v in cmsg_ids(cmsg)
            ):
                raise Inexpressible("credentials naming another process")


def cmsg_ids(c: ScmCredentials) -> tuple[object, object, object]:
    return (c.pid, c.uid, c.gid)


def _want(step: Step, want: StepExpectation, consts: Constants) -> dict[str, Any]:
    _refuse_unknown_parts(step, want)
    outcomes = (want.outcome, *want.also)
    if len(outcomes) > MAX_OUTCOMES:
        raise Inexpressible(f"{len(outcomes)} allowed outcomes (a reproducer states at most {MAX_OUTCOMES})")
    for signal in want.signals:
        one_of(signal, SIGNALS, "expected signal")
    out: dict[str, Any] = {
        "outcome": [_outcome(o) for o in outcomes],
        "range": None if want.value_range is None else [fits(v, INT64_T, "expected range") for v in want.value_range],
        "signals": sorted(want.signals),
    }
    if want.events is not None:
        out["events"] = poll_mask(want.events)  # every bit: the runtime compares the whole revents
    if want.peercred is not None:
        out["peercred"] = [_cred(v, INT64_T, "expected SO_PEERCRED") for v in want.peercred]
    if isinstance(step, Recv):
        out.update(
            data=want.data,
            buffers=None if want.buffers is None else list(want.buffers),
            msg_flags=None if want.msg_flags is None else flag_bits(want.msg_flags, consts),
            controllen=_optional(want.controllen, INT64_T, "expected msg_controllen"),
            stray=fits(want.control_stray, INT64_T, "expected stray control bytes"),
            cloexec=want.cloexec,
            cmsgs=[_expected_cmsg(c, consts) for c in want.cmsgs],
        )
        if want.address is not None:
            one_of(want.address, ADDRESS_WORDS, "expected msg_name")
            out["address"] = want.address
    return out


def _send_words(step: Send) -> str:
    parts = [f"sendmsg on {step.on}: {len(step.iov)} iovec(s), {step.length} bytes"]
    for c in step.cmsgs:
        if isinstance(c, ScmRights):
            refs = ", ".join(r.name if isinstance(r, Named) else str(_ref(r)) for r in c.fds)
            parts.append(f"SCM_RIGHTS [{refs}]" + ("" if c.length is None else f" cmsg_len {c.length}"))
        elif isinstance(c, ScmCredentials):
            parts.append(f"SCM_CREDENTIALS pid {c.pid} uid {c.uid} gid {c.gid}")
        else:
            parts.append(f"raw cmsg {c.level}/{c.type} ({len(c.data)} bytes, len {c.length}, space {c.space})")
    if step.flags:
        parts.append(f"flags {words(step.flags)}")
    if step.controllen is not None:
        parts.append(f"msg_controllen {step.controllen}")
    if step.control != "buffer":
        parts.append(f"msg_control {step.control}")
    if step.fault:
        parts.append(f"fault {step.fault}")
    return "; ".join(parts)


def _step(step: Step, want: StepExpectation, consts: Constants) -> PlanStep:
    wanted = _want(step, want, consts)
    args: dict[str, Any]
    if isinstance(step, Send):
        one_of(step.control, POINTERS, "Send.control")
        one_of(step.fault, FAULTS, "Send.fault")
        args = {
            "on": step.on,
            "iov": list(step.iov),
            "cmsgs": [_cmsg(c, consts) for c in step.cmsgs],
            "flags": fits(consts.msg_flags(step.flags), C_INT, "Send.flags"),
            "controllen": None if step.controllen is None else within(step.controllen, MAX_CONTROL, "Send.controllen"),
            "control": step.control,
            "fault": step.fault,
            "address": None if step.address is None else _address(step.address),  # [kind, data]
        }
        return PlanStep("send", args, wanted, _send_words(step))
    if isinstance(step, Recv):
        within(sum(step.buffers), MAX_BUFFER, "Recv.buffers (in all)")
        one_of(step.control_pointer, POINTERS, "Recv.control_pointer")
        one_of(step.fault, FAULTS, "Recv.fault")
        args = {
            "on": step.on,
            "buffers": [within(size, MAX_BUFFER, "Recv.buffers") for size in step.buffers],
            "control": within(step.control, MAX_CONTROL, "Recv.control"),
            "flags": fits(consts.msg_flags(step.flags), C_INT, "Recv.flags"),
            "control_pointer": step.control_pointer,
            "fault": step.fault,
        }
        text = f"recvmsg on {step.on}: buffers {list(step.buffers)}, control {step.control}"
        if step.flags:
            text += f", flags {words(step.flags)}"
        if step.control_pointer != "buffer":
            text += f", msg_control {step.control_pointer}"
        if step.fault:
            text += f", fault {step.fault}"
        return PlanStep("recv", args, wanted, text)
    if isinstance(step, SetSockOpt):
        value: Any = (
            fits(step.value, C_INT, "SetSockOpt.value")
            if isinstance(step.value, int)
            else ["timeval", *(fits(v, INT64_T, "SetSockOpt.value (timeval)") for v in step.value)]
        )
        args = {"on": step.on, "option": fits(consts.sockopt(step.option), C_INT, "SetSockOpt.option"), "value": value}
        return PlanStep("setsockopt", args, wanted, f"setsockopt({step.on}, {step.option}, {step.value})")
    if isinstance(step, GetSockOpt):
        option = fits(consts.sockopt(step.option), C_INT, "GetSockOpt.option")
        args = {"on": step.on, "option": option, "peercred": step.option == "SO_PEERCRED"}
        if step.option == "SO_PEERPIDFD":
            raise Inexpressible("getsockopt(SO_PEERPIDFD): the pid behind a pidfd")
        return PlanStep("getsockopt", args, wanted, f"getsockopt({step.on}, {step.option})")
    if isinstance(step, Poll):
        args = {"on": step.on, "events": poll_mask(step.events), "timeout": step.timeout_ms}
        events = ", ".join(sorted(step.events))
        return PlanStep("poll", args, wanted, f"poll({step.on}, {{{events}}}, timeout {step.timeout_ms} ms)")
    if isinstance(step, Ioctl):
        args = {"on": step.on, "request": consts.ioctls[step.request]}
        return PlanStep("ioctl", args, wanted, f"ioctl({step.on}, {step.request})")
    if isinstance(step, SetOwner):
        return PlanStep("set_owner", {"on": step.on}, wanted, f"fcntl({step.on}, F_SETOWN_EX, this thread)")
    if isinstance(step, Fill):
        args = {
            "on": step.on,
            "chunk": within(step.chunk, MAX_BUFFER, "Fill.chunk"),
            "limit": fits(step.limit, INT64_T, "Fill.limit"),
        }
        text = f"sendmsg({step.chunk} bytes, MSG_DONTWAIT) on {step.on} until it fails, at most {step.limit} times"
        return PlanStep("fill", args, wanted, text)
    if isinstance(step, Shutdown):
        how = fits(step.how if isinstance(step.how, int) else consts.shut[step.how], C_INT, "Shutdown.how")
        return PlanStep("shutdown", {"on": step.on, "how": how}, wanted, f"shutdown({step.on}, {step.how})")
    if isinstance(step, Close):
        return PlanStep("close", {"target": step.target}, wanted, f"close({step.target})")
    if isinstance(step, Listen):
        args = {"on": step.on, "backlog": fits(step.backlog, C_INT, "Listen.backlog")}
        return PlanStep("listen", args, wanted, f"listen({step.on}, {step.backlog})")
    if isinstance(step, Reopen):
        one_of(step.mode, REOPEN_MODES, "Reopen.mode")
        return PlanStep("reopen", {"on": step.on, "mode": step.mode}, wanted, f"open(/proc/self/fd/<{step.on}>)")
    if isinstance(step, Child):
        return _child(step, want, wanted, consts)
    # Bind, Connect, Accept (issue 10) and the accepted entries they fill are not in the reproducer
    # runtimes yet (the fresh unix-* sockets of the table are)
    raise Inexpressible(f"no reproducer for step {type(step).__name__}")


def _address(address: str) -> tuple[str, bytes]:
    """msg_name for a reproducer: ``harness.addresses.address_target`` of the address, as data.

    The runtimes render it as the harness does (:meth:`harness.addresses.Target.sockaddr`), with a
    token and a private directory of their own: never a name of this host's sockets (the harness
    runs reproducers as root), and an address the kernel refuses before any lookup unchanged.
    """
    target = address_target(address)
    return (target.kind.value, target.data)


def _numbered(index: int, step: Step, want: StepExpectation, consts: Constants, label: str = "step") -> PlanStep:
    """The plan of one step; why it cannot be written names the step ("step 3: Shutdown.how = ...")."""
    try:
        return _step(step, want, consts)
    except Inexpressible as exc:
        raise Inexpressible(f"{label} {index}: {exc}") from None


def _child(step: Child, want: StepExpectation, wanted: dict[str, Any], consts: Constants) -> PlanStep:
    """fork; the child becomes the identity (as harness.execute.child.become does) and runs its steps.

    Its steps are planned like the scenario's own, so they are refused for the same reasons.
    """
    identity = step.identity
    if step.background:
        raise Inexpressible("a background child (its steps race the parent's next step)")
    if step.thread:
        raise Inexpressible("a child thread (the reproducers run one thread)")
    if identity.userns or identity.pidns or identity.netns:
        raise Inexpressible("a child in a new user, pid or network namespace")
    if any(isinstance(inner, Child) for inner in step.steps):
        raise Inexpressible("a child inside a child")
    if len(want.nested) != len(step.steps):
        raise Inexpressible("the expectation does not cover every step of the child")
    nested = tuple(
        _numbered(index, inner, w, consts, "child's step")
        for index, (inner, w) in enumerate(zip(step.steps, want.nested, strict=True))
    )
    args = {
        # uid = gid = uid_base + (the reproducer's pid % 10000), like model.UNPRIVILEGED_UID in the harness
        "uid_base": UNPRIVILEGED_UID if identity.user == "unprivileged" else None,
        "nofile": _optional(identity.nofile, RLIM_T, "Identity.nofile"),
        "headroom": _optional(identity.fd_headroom, UINT32_T, "Identity.fd_headroom"),
    }
    parts = ["an unprivileged user" if identity.user == "unprivileged" else "the same user"]
    if identity.nofile is not None:
        parts.append(f"RLIMIT_NOFILE {identity.nofile}")
    if identity.fd_headroom is not None:
        parts.append(f"RLIMIT_NOFILE leaving {identity.fd_headroom} free descriptor(s)")
    text = f"fork a child ({', '.join(parts)}) that runs {len(nested)} step(s), and wait for it"
    return PlanStep("child", args, wanted, text, nested)


def _origin(kind: PairKind) -> tuple[str, str] | None:
    """How the runtimes make the pair (harness.execute.backend.Backend._api_pair), None for socketpair()."""
    if kind.address is None:
        return None
    return ("accepted" if kind.accepted else "connected" if kind.connected else "unconnected", kind.address)


def make_plan(scenario: Scenario, expectation: Expectation, platform: Platform) -> Plan:
    if platform.system != "linux":
        raise Inexpressible(f"reproducers drive Linux system calls, not {platform.system}")
    if len(expectation.steps) != len(scenario.steps):
        raise Inexpressible("the expectation does not cover every step")
    for spec in scenario.fds:
        if not spec.name.isidentifier() or spec.name in ("a", "b"):
            raise Inexpressible(f"fd name {shorten(spec.name)} is not an identifier other than 'a' and 'b'")
    if len(scenario.fds) > MAX_TABLE:
        raise Inexpressible(f"{len(scenario.fds)} fd table entries (a reproducer opens at most {MAX_TABLE})")
    unknown = {spec.kind.value for spec in scenario.fds} - SUPPORTED_FD_KINDS
    if unknown:
        raise Inexpressible(f"fd kinds the reproducers cannot open: {sorted(unknown)}")
    if any(s.kind.value.startswith("unix-") and s.nonblock != scenario.kind.nonblocking for s in scenario.fds):
        # the runtimes tell a blocked call by the pair's blocking mode
        raise Inexpressible("a socket of the fd table whose blocking mode is not the pair's")
    try:
        consts = linux(platform.arch)
        numbers = {
            "SOL_SOCKET": consts.sol["SOL_SOCKET"],
            "SCM_RIGHTS": consts.scm["SCM_RIGHTS"],
            "SCM_CREDENTIALS": consts.scm["SCM_CREDENTIALS"],
            "MSG_DONTWAIT": consts.msg["MSG_DONTWAIT"],
            "SO_RCVTIMEO_OLD": consts.so["SO_RCVTIMEO_OLD"],
            "SO_SNDTIMEO_OLD": consts.so["SO_SNDTIMEO_OLD"],
            "kcmp": consts.syscalls.get("kcmp", -1),
            "io_uring_setup": consts.syscalls.get("io_uring_setup", -1),
        }
        steps = tuple(
            _numbered(index, s, w, consts)
            for index, (s, w) in enumerate(zip(scenario.steps, expectation.steps, strict=True))
        )
    except UnknownName as exc:
        raise Inexpressible(str(exc)) from None
    kind = scenario.kind
    return Plan(
        consts=numbers,
        pair=(consts.sock[kind.sock_type.value], kind.nonblocking, kind.reversed, _origin(kind)),
        pair_words=(
            f"socketpair(AF_UNIX, {kind.sock_type.value}) as {kind.name}"
            if kind.by_socketpair
            else f"{kind.name}: AF_UNIX {kind.sock_type.value} sockets made by socket(), bind(), connect()"
            + (", listen() and accept()" if kind.accepted else "")
        ),
        fds=tuple((s.name, s.kind.value, s.cloexec, s.nonblock, s.append, s.tracked) for s in scenario.fds),
        steps=steps,
    )
