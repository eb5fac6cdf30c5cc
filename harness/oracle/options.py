"""Socket options: setsockopt() and getsockopt() at SOL_SOCKET (sock_setsockopt, sk_getsockopt and
unix_setsockopt's own), their refusals, and what each option changes in the model's state.

Functions over the model's state (:class:`harness.oracle.state.Model`)."""

from __future__ import annotations

from harness.expectation import StepExpectation
from harness.model import GetSockOpt, SetSockOpt, SockType
from harness.observation import Failed, Returned
from harness.oracle import listener
from harness.oracle.processes import as_seen_by
from harness.oracle.state import (
    ERRNO_VALUES,
    PROBED_OPTIONS,
    SHORT_TIMEOUT_US,
    Model,
    SocketTimeout,
    Unknown,
)

# The highest SOL_SOCKET option number the oracle assumes no kernel defines (6.18 ends near 85):
# an unnamed option ``SO_<n>`` at or above it is refused with ENOPROTOOPT by sk_setsockopt() and
# sk_getsockopt(); a lower unnamed one may be a newer kernel's option, and is not modelled.
UNKNOWN_OPTION_FLOOR = 1000
INT_MAX = 0x7FFFFFFF
# Read-only SOL_SOCKET options: sk_setsockopt() has no case for them (default: ENOPROTOOPT).
READ_ONLY = frozenset({"SO_ACCEPTCONN", "SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL", "SO_PEERCRED", "SO_ERROR"})


def setsockopt(m: Model, step: SetSockOpt) -> StepExpectation:
    x = m.ends[step.on]
    if not x.open:
        return m.simple("setsockopt", Failed("EBADF"), "closed descriptor")
    option, value = step.option, step.value
    if option in PROBED_OPTIONS and option not in m.platform.features:
        return m.simple("setsockopt", Failed("ENOPROTOOPT"), f"this kernel has no {option}")
    refused = option_error(m, option, value)
    if refused is not None:
        return m.simple("setsockopt", *refused)
    if option in ("SO_RCVTIMEO_OLD", "SO_SNDTIMEO_OLD"):
        if not isinstance(value, tuple):
            # sock_copy_user_timeval(): an optlen under sizeof(struct __kernel_old_timeval) is EINVAL.
            # Measured on 6.18.44, 6.12.118 and 6.1.176 (UML): 4 bytes, both options, the timeout unchanged
            return m.simple("setsockopt", Failed("EINVAL"), f"{option} needs a whole struct timeval")
        seconds, micros = value
        if micros < 0 or micros >= 1_000_000:
            return m.simple("setsockopt", Failed("EDOM"), "tv_usec outside 0..999999 (sock_set_timeout)")
        if seconds < 0:
            # sock_set_timeout(): a negative tv_sec sets the timeout to 0 (and logs once): a blocking
            # call then gives up at once.  Measured on 6.18.44: reads back {0, 0}, recv EAGAIN at once.
            if option == "SO_RCVTIMEO_OLD":
                x.rcvtimeo = SocketTimeout.ZERO
            else:
                x.sndtimeo = SocketTimeout.ZERO
            return m.simple("setsockopt", Returned(0), f"{option} with a negative tv_sec: no wait")
        if (seconds, micros) == (0, 0) or seconds > 1:
            raise Unknown("a negative, zero or long socket timeout")
        timeout = SocketTimeout.SHORT if seconds * 1_000_000 + micros <= SHORT_TIMEOUT_US else SocketTimeout.RACING
        if option == "SO_RCVTIMEO_OLD":
            x.rcvtimeo = timeout
        else:
            x.sndtimeo = timeout
        return m.simple("setsockopt", Returned(0), f"{option} set")
    if option == "SO_LINGER":
        x.linger = linger_onoff(m, value)
        return m.simple("setsockopt", Returned(0), "SO_LINGER set")
    if isinstance(value, tuple):
        raise Unknown(f"{option} with a timeval")
    if option == "SO_PASSCRED":
        x.passcred = value != 0
    elif option == "SO_PASSPIDFD":
        x.passpidfd = value != 0
    elif option == "SO_PASSRIGHTS":
        x.passrights = value != 0
    elif option == "SO_INQ":
        if m.sock_type is not SockType.STREAM:
            return m.simple("setsockopt", Failed("ENOPROTOOPT"), "SO_INQ is for SOCK_STREAM only")
        if value not in (0, 1):
            return m.simple("setsockopt", Failed("EINVAL"), "SO_INQ takes 0 or 1 (unix_setsockopt)")
        x.inq = value != 0
    elif option == "SO_OOBINLINE":
        x.oobinline = value != 0
    elif option == "SO_KEEPALIVE":
        x.keepalive = value != 0  # SOCK_KEEPOPEN; AF_UNIX has no ->keepalive to call
    elif option == "SO_PRIORITY":
        # sk_setsockopt(): 0..6 for anyone, any other value with CAP_NET_RAW or CAP_NET_ADMIN in the user
        # namespace of the socket's network namespace (the initial one: a dropped uid and the root of a
        # new user namespace get EPERM).  Measured on 6.18.44, 6.12.118 and 6.1.176 (UML).
        if not 0 <= value <= 6 and not sockopt_capable(m, "CAP_NET_RAW", "CAP_NET_ADMIN"):
            return m.simple(
                "setsockopt", Failed("EPERM"), "SO_PRIORITY outside 0..6 needs CAP_NET_RAW or CAP_NET_ADMIN"
            )
        x.priority = value
    elif option == "SO_RCVLOWAT":
        # sk_setsockopt(): a negative value is INT_MAX, 0 is 1 (AF_UNIX has no ->set_rcvlowat)
        x.rcvlowat = INT_MAX if value < 0 else value or 1
    elif option == "SO_PEEK_OFF":
        # unix_set_peek_off() stores any value; a negative one reads back as set and, like -1, peeks
        # from the start (__skb_try_recv_from_queue() walks only for *off >= 0; a stream read takes
        # max(off, 0)).  Measured on 6.18.44, 6.12.118 and 6.1.176 (UML): -2, -100 and INT_MIN on
        # every socket type
        x.peek_off = value
    elif option in ("SO_SNDBUF", "SO_SNDBUFFORCE", "SO_RCVBUF", "SO_RCVBUFFORCE"):
        size = buffer_size(m, option, value)
        if isinstance(size, Failed):
            return m.simple("setsockopt", size, f"{option} needs CAP_NET_ADMIN")
        if option.startswith("SO_SNDBUF"):
            x.sndbuf = size
        else:
            x.rcvbuf = size
    else:
        raise Unknown(f"setsockopt {option}")
    return m.simple("setsockopt", Returned(0), f"{option} set")


def option_error(m: Model, option: str, value: int | tuple[int, int] | None) -> tuple[Failed, str] | None:
    """The errno of a set (``value``) or get (None) that no option's own code decides."""
    if option not in m.consts.so:
        number = m.consts.sockopt(option)
        if number >= UNKNOWN_OPTION_FLOOR:
            return Failed("ENOPROTOOPT"), f"no SOL_SOCKET option {number} (sk_setsockopt/sk_getsockopt default)"
        raise Unknown(f"an option number without a name ({number})")
    if value is not None and option in READ_ONLY:
        return Failed("ENOPROTOOPT"), f"{option} cannot be set"
    if value is not None and option == "SO_LINGER" and isinstance(value, int):
        return Failed("EINVAL"), "SO_LINGER needs optlen >= sizeof(struct linger)"
    return None


def linger_onoff(m: Model, value: int | tuple[int, int]) -> bool:
    """struct linger {int l_onoff; int l_linger} read from the timeval the scenario passes."""
    assert isinstance(value, tuple)
    if m.platform.word == 4:
        return value[0] != 0  # two 4-byte longs: l_onoff is tv_sec
    if m.platform.arch in ("x86_64", "aarch64", "riscv64"):
        return value[0] & 0xFFFFFFFF != 0  # little-endian LP64: l_onoff is tv_sec's low half
    raise Unknown("SO_LINGER from a timeval on this architecture")


def sockopt_capable(m: Model, *capabilities: str) -> bool:
    """sockopt_capable() / ns_capable() for the socket's network namespace, the initial one: the
    harness holds one of ``capabilities``, and the step's process is neither a dropped uid nor in a
    user namespace of its own."""
    return not m.proc.unprivileged and not m.proc.userns and bool(set(capabilities) & m.platform.capabilities)


def buffer_size(m: Model, option: str, value: int) -> int | Failed:
    """sock_setsockopt(): SO_SNDBUF/SO_RCVBUF cap at net.core.[wr]mem_max (as u32), the FORCE
    variants need CAP_NET_ADMIN and take any value >= 0 up to INT_MAX / 2; then the size is doubled
    and raised to SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF."""
    send = option.startswith("SO_SNDBUF")
    cap = m.platform.limits.get("wmem_max" if send else "rmem_max")
    minimum = m.platform.limits.get("sndbuf_min" if send else "rcvbuf_min")
    if cap is None or minimum is None:
        raise Unknown(f"net.core limits for {option} are unknown")
    if option.endswith("FORCE"):
        # sockopt_capable(CAP_NET_ADMIN) asks the initial user namespace: a dropped uid and the
        # root of a new user namespace both get EPERM (measured 6.18.44, SO_SNDBUFFORCE and
        # SO_RCVBUFFORCE alike; atheris finding in corpora/regressions)
        if not sockopt_capable(m, "CAP_NET_ADMIN"):
            return Failed("EPERM")
        val = max(value, 0)
    else:
        val = min(value & 0xFFFFFFFF, cap)
    val = min(val, INT_MAX // 2)  # val * 2 must not overflow
    return max(val * 2, minimum)


def getsockopt(m: Model, step: GetSockOpt) -> StepExpectation:
    x = m.ends[step.on]
    if not x.open:
        return m.simple("getsockopt", Failed("EBADF"), "closed descriptor")
    option = step.option
    if option in PROBED_OPTIONS and option not in m.platform.features:
        return m.simple("getsockopt", Failed("ENOPROTOOPT"), f"this kernel has no {option}")
    refused = option_error(m, option, None)
    if refused is not None:
        return m.simple("getsockopt", *refused)
    if option == "SO_PEERCRED" and m.sock_type is SockType.DGRAM and not m.scenario.kind.by_socketpair:
        # measured on 6.18.44: connect() of a datagram socket sets no sk_peer_cred, so
        # cred_to_ucred() reports pid 0 and uid = gid = -1
        return StepExpectation(
            op="getsockopt", outcome=Returned(0), peercred=(0, 0xFFFFFFFF, 0xFFFFFFFF), why="no peer credentials"
        )
    if option == "SO_PEERCRED":
        if x.table:
            return listener.peercred(m, x)
        # the socketpair() caller, translated into the reader's namespaces (sk_peer_pid/cred)
        creds = as_seen_by(m.proc, m.main.symbols, m.main)
        return StepExpectation(op="getsockopt", outcome=Returned(0), peercred=creds, why="the pair's creator")
    if option == "SO_PEERPIDFD" and m.sock_type is SockType.DGRAM and not m.scenario.kind.by_socketpair:
        # measured on 6.18.44 (a fuzz finding): connect() of a datagram socket sets no sk_peer_pid
        return m.simple("getsockopt", Failed("ENODATA"), "no peer pid (sk_peer_pid is NULL)")
    if option == "SO_PEERPIDFD":
        if m.proc.nofile_lowered:
            raise Unknown("a pidfd at a lowered RLIMIT_NOFILE (EMFILE)")
        if m.proc.pidns:
            raise Unknown("SO_PEERPIDFD read from another pid namespace")
        return StepExpectation(op="getsockopt", outcome=Returned(0), peer_pid="pid", why="a pidfd of the creator")
    if option == "SO_ERROR":
        err, x.error = x.error, None
        return m.simple("getsockopt", Returned(ERRNO_VALUES.get(err or "", 0)), "sk_err, then cleared")
    values = {
        "SO_PASSCRED": int(x.passcred),
        "SO_PASSPIDFD": int(x.passpidfd),
        "SO_PASSRIGHTS": int(x.passrights),
        "SO_TYPE": m.consts.sock[(x.sock_type or m.sock_type).value],
        "SO_DOMAIN": 1,
        "SO_PROTOCOL": 0,
        "SO_PEEK_OFF": x.peek_off,
        "SO_RCVLOWAT": x.rcvlowat,
        "SO_SNDBUF": x.sndbuf,
        "SO_RCVBUF": x.rcvbuf,
        "SO_ACCEPTCONN": int(x.state == "listening"),
        "SO_OOBINLINE": int(x.oobinline),
        "SO_KEEPALIVE": int(x.keepalive),
        "SO_PRIORITY": x.priority,  # sk_priority, a u32 read into an int: -1 reads back as -1
        "SO_LINGER": int(x.linger),  # an int-sized read gets l_onoff (sock_flag(SOCK_LINGER): 0 or 1)
    }
    if option not in values:
        raise Unknown(f"getsockopt {option}")
    return m.simple("getsockopt", Returned(values[option]), f"{option} value")
