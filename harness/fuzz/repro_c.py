"""Render a reproducer plan as ``repro.c``: plain libc, ``cc -o repro repro.c && ./repro``.

The runtime is real C shipped as package data (``harness/fuzz/c/runtime.h`` and ``runtime.c``,
compiled alone with ``-Wall -Wextra -Werror`` by the tests); a reproducer is one standalone file:
:data:`RUNTIME` (the header, then the runtime without its ``#include "runtime.h"``) and a generated
``main()``.  Each step becomes a short block of builder calls (``send_begin``, ``iov_add``,
``cmsg_rights``, ``expect_*``) and one ``do_*`` call, after an ``announce`` that prints what the
step does.

Nothing from a scenario or an observation is pasted into the source as text: bytes and text are
C string literals written by :func:`c_string` (every byte outside a small safe set as a 3-digit
octal escape, so no quote, backslash, newline, ``*/`` or trigraph survives) and passed with their
length; every integer goes through :func:`c_int`, which refuses a value its C type cannot hold
(:class:`~harness.fuzz.repro_plan.Inexpressible` naming the field) instead of letting the
compiler truncate it.  Comments hold only fixed text.
"""

from __future__ import annotations

import errno
import re
from importlib import resources
from typing import Any

from harness.addresses import TargetKind
from harness.fuzz.repro_plan import (
    FAULTS,
    MAX_OUTCOMES,
    MAX_RIGHTS,
    MAX_TABLE,
    POINTERS,
    REOPEN_MODES,
    SIGNALS,
    Inexpressible,
    Plan,
    PlanStep,
    clip,
    fits,
)
from harness.model import C_INT, CMSG_LEN, GID_T, INT64_T, PID_T, RLIM_T, UID_T, UINT32_T, CType
from harness.untrusted import shorten

INCLUDE = '#include "runtime.h"\n'


def _runtime() -> str:
    """runtime.h and runtime.c as one text (the include dropped), after checking the limits agree with the plan's."""
    files = resources.files("harness.fuzz").joinpath("c")
    header, source = (files.joinpath(name).read_text(encoding="ascii") for name in ("runtime.h", "runtime.c"))
    limits = {"MAX_NAMES": MAX_TABLE + 2, "SCM_MAX_FD_PLUS": MAX_RIGHTS, "MAX_EXP": MAX_OUTCOMES}
    for name, value in limits.items():
        found = re.search(rf"^#define {name} (\d+)\b", header, re.MULTILINE)
        if found is None or int(found.group(1)) != value:
            raise RuntimeError(f"harness/fuzz/c/runtime.h: {name} must be {value} (harness.fuzz.repro_plan)")
    if source.count(INCLUDE) != 1:
        raise RuntimeError(f"harness/fuzz/c/runtime.c must hold {INCLUDE.strip()} once")
    return header + "\n" + source.replace(INCLUDE, "/* runtime.h: above */\n")


RUNTIME = _runtime()
RUN_LENGTH = 16
_POINTERS = dict(zip(POINTERS, ("PTR_BUFFER", "PTR_NULL", "PTR_BAD"), strict=True))
_FAULTS = dict(zip(FAULTS, ("FAULT_NONE", "FAULT_MSGHDR", "FAULT_IOV", "FAULT_IOV_BASE"), strict=True))
_SIGNALS = dict(zip(SIGNALS, ("SIGNAL_PIPE", "SIGNAL_URG"), strict=True))
_HOWS = {"accepted": "PAIR_ACCEPTED", "connected": "PAIR_CONNECTED", "unconnected": "PAIR_UNCONNECTED"}
_ADDRESSES = {"pathname": "ADDR_PATHNAME", "abstract": "ADDR_ABSTRACT", "autobind": "ADDR_AUTOBIND"}
_NAMES = {kind.value: f"NAME_{kind.name}" for kind in TargetKind}  # the runtime's NAME_UNCHANGED, ...
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:;!#%&()*+/<=>@[]^{|}~")
_SELF = ("self", "pid", "uid", "gid")  # ids resolved at run time: the process's own


def c_string(data: bytes) -> str:
    """A C string literal of ``data``: every byte outside a safe printable set as a 3-digit octal escape.

    A 3-digit octal escape never swallows the next character, and ``?`` (trigraphs), quotes,
    backslashes and every control or non-ASCII byte are escaped, so the literal is exactly ``data``.
    """
    return '"' + "".join(chr(b) if chr(b) in _SAFE else f"\\{b:03o}" for b in data) + '"'


def c_text(text: str) -> str:
    """Text as a C string literal of its UTF-8 bytes (a lone surrogate kept as its 3 bytes); used with its length."""
    return c_string(text.encode("utf-8", "surrogatepass"))


def c_name(name: str) -> str:
    """An fd or pair-end name as a NUL-terminated C string (the runtime looks names up with strcmp)."""
    data = name.encode("utf-8", "surrogatepass")
    if b"\0" in data:
        raise Inexpressible(f"the name {shorten(name)} holds a NUL byte")
    return c_string(data)


def c_int(value: object, ctype: CType, field: str) -> str:
    """A C integer constant of ``value``, checked against ``ctype`` (see repro_plan.fits)."""
    number = fits(value, ctype, field)
    if C_INT.low <= ctype.low and ctype.high <= C_INT.high:
        return "INT32_MIN" if number == C_INT.low else str(number)
    if ctype.low >= 0 and ctype.high <= UINT32_T.high:
        return f"UINT32_C({number})"
    return "INT64_MIN" if number == INT64_T.low else f"INT64_C({number})"


def _optional(value: int | None, ctype: CType, field: str) -> str:
    """An optional non-negative value: ``-1`` stands for none (so a negative one is refused by its type)."""
    if value is not None and value < 0:
        raise Inexpressible(f"{field} is negative")
    return "-1" if value is None else c_int(value, ctype, field)


def _choice(table: dict[Any, str], value: object, field: str) -> str:
    if value not in table:
        raise Inexpressible(f"{field} = {shorten(value)} is none of {list(table)}")
    return table[value]


def segs(data: bytes) -> str:
    """``SEGS(LIT("ab"), REP(0xa5, 300))`` for the runtime's byte builder (``NOSEGS`` when empty)."""
    if not data:
        return "NOSEGS"
    parts: list[str] = []
    literal = bytearray()
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= RUN_LENGTH:
            if literal:
                parts.append(f"LIT({c_string(bytes(literal))})")
                literal.clear()
            parts.append(f"REP({data[i]:#04x}, {j - i})")
        else:
            literal += data[i:j]
        i = j
    if literal:
        parts.append(f"LIT({c_string(bytes(literal))})")
    return f"SEGS({', '.join(parts)})"


def _cred(value: object, ctype: CType, field: str) -> str:
    """``self, value`` for the runtime: (1, 0) = the process's own id, (0, n) = n."""
    if isinstance(value, str):
        if value not in _SELF:
            raise Inexpressible(f"{field} names {shorten(value)}")
        return "1, INT64_C(0)"
    return f"0, {c_int(value, ctype, field)}"


def _creds(values: list[Any], ctypes: tuple[CType, CType, CType], field: str) -> str:
    return ", ".join(_cred(v, t, field) for v, t in zip(values, ctypes, strict=True))


_UCRED = (PID_T, UID_T, GID_T)
_IDS = (INT64_T, INT64_T, INT64_T)


def _outcomes(want: dict[str, Any]) -> list[str]:
    lines = []
    if want.get("range") is not None:
        low, high = (c_int(v, INT64_T, "expected range") for v in want["range"])
        lines.append(f"expect_range({low}, {high});")
    if want.get("events") is not None:
        lines.append(f"expect_events({c_int(want['events'], INT64_T, 'expected revents')});")
    if want.get("peercred") is not None:
        lines.append(f"expect_peercred({_creds(want['peercred'], _IDS, 'expected SO_PEERCRED')});")
    for outcome in want["outcome"]:
        if outcome[0] == "returned":
            lines.append(f"expect_returned({c_int(outcome[1], INT64_T, 'expected return value')});")
        elif outcome[0] == "failed":
            name = outcome[1]
            number = next((n for n, known in errno.errorcode.items() if known == name), None)
            if number is None:
                raise Inexpressible(f"errno {shorten(name)} has no number on this platform")
            lines.append(f"expect_failed({c_int(number, C_INT, 'errno')}, {c_string(name.encode('ascii'))});")
        else:
            lines.append("expect_blocked();")
    lines += [f"expect_signal({_choice(_SIGNALS, sig, 'expected signal')});" for sig in want["signals"]]
    return lines


def _ref(ref: tuple[Any, ...]) -> str:
    if ref[0] == "fd":
        return f"REF_FD({c_name(ref[1])})"
    if ref[0] == "raw":
        return f"REF_RAW({c_int(ref[1], C_INT, 'SCM_RIGHTS raw fd')})"
    return "REF_CLOSED"


def _send(index: int, args: dict[str, Any], want: dict[str, Any]) -> list[str]:
    lines = ["send_begin();"]
    if args.get("address") is not None:  # [kind, data] of harness.addresses.address_target
        kind, data = args["address"]
        lines.append(f"msg_name({_choice(_NAMES, kind, 'Send.address')}, {segs(data)});")
    empty = 0
    for part in args["iov"]:
        if not part:
            empty += 1
            continue
        if empty:
            lines.append(f"iov_empty({empty});")
            empty = 0
        lines.append(f"iov_add({segs(part)});")
    if empty:
        lines.append(f"iov_empty({empty});")
    for c in args["cmsgs"]:
        if c[0] == "rights":
            refs = f"REFS({', '.join(map(_ref, c[2]))})" if c[2] else "NOREFS"
            lines.append(f"cmsg_rights({_optional(c[1], CMSG_LEN, 'ScmRights.length')}, {refs});")
        elif c[0] == "creds":
            lines.append(f"cmsg_creds({_creds(list(c[1:4]), _UCRED, 'ScmCredentials')});")
        else:
            level, type_ = c_int(c[1], C_INT, "RawCmsg.level"), c_int(c[2], C_INT, "RawCmsg.type")
            length, space = _optional(c[4], CMSG_LEN, "RawCmsg.length"), _optional(c[5], CMSG_LEN, "RawCmsg.space")
            lines.append(f"cmsg_raw({level}, {type_}, {segs(c[3])}, {length}, {space});")
    lines += ["expect_begin();", *_outcomes(want)]
    lines.append(
        f"do_send({index}, {c_name(args['on'])}, {c_int(args['flags'], C_INT, 'Send.flags')}, "
        f"{_optional(args['controllen'], UINT32_T, 'Send.controllen')}, "
        f"{_choice(_POINTERS, args['control'], 'Send.control')}, {_choice(_FAULTS, args['fault'], 'Send.fault')});"
    )
    return lines


def _recv(index: int, args: dict[str, Any], want: dict[str, Any]) -> list[str]:
    lines = ["expect_begin();", *_outcomes(want), f"expect_data({segs(want['data'])});"]
    if want["buffers"] is not None:
        lines.append("expect_buffers_known();")
        lines += [f"expect_buffer({segs(buf)});" for buf in want["buffers"]]
    if want["msg_flags"] is not None:
        lines.append(f"expect_msg_flags({c_int(want['msg_flags'], UINT32_T, 'expected msg_flags')});")
    if want["controllen"] is not None:
        lines.append(f"expect_controllen({c_int(want['controllen'], INT64_T, 'expected msg_controllen')});")
    lines.append(f"expect_stray({c_int(want['stray'], INT64_T, 'expected stray control bytes')});")
    lines.append(f"expect_cloexec({int(bool(want['cloexec']))});")
    if want.get("address") is not None:
        lines.append(f"expect_address({c_name(want['address'])});")
    for level, type_, length, fds, creds in want["cmsgs"]:
        numbers = (c_int(level, C_INT, "expected cmsg_level"), c_int(type_, C_INT, "expected cmsg_type"))
        lines.append(f"expect_cmsg({numbers[0]}, {numbers[1]}, {c_int(length, INT64_T, 'expected cmsg_len')});")
        if creds is not None:
            lines.append(f"expect_creds({_creds(creds, _IDS, 'expected credentials')});")
        for name, ftype, flags, _seekable in fds:
            text = " ".join(flags).encode("utf-8", "surrogatepass")
            lines.append(f"expect_fd({c_name(name)}, {c_name(ftype)}, {c_string(text)});")
    sizes = [c_int(size, UINT32_T, "Recv.buffers") for size in args["buffers"]]
    sizes_text = "SIZES(" + ", ".join(sizes) + ")" if sizes else "NOSIZES"
    lines.append(
        f"do_recv({index}, {c_name(args['on'])}, {sizes_text}, {c_int(args['control'], UINT32_T, 'Recv.control')}, "
        f"{c_int(args['flags'], C_INT, 'Recv.flags')}, "
        f"{_choice(_POINTERS, args['control_pointer'], 'Recv.control_pointer')}, "
        f"{_choice(_FAULTS, args['fault'], 'Recv.fault')});"
    )
    return lines


def _setsockopt(index: int, args: dict[str, Any]) -> str:
    on, option, value = c_name(args["on"]), c_int(args["option"], C_INT, "SetSockOpt.option"), args["value"]
    if isinstance(value, list):
        seconds, microseconds = (c_int(v, INT64_T, "SetSockOpt.value (timeval)") for v in value[1:3])
        return f"do_setsockopt_timeval({index}, {on}, {option}, {seconds}, {microseconds});"
    return f"do_setsockopt({index}, {on}, {option}, {c_int(value, C_INT, 'SetSockOpt.value')});"


def _other(index: int, op: str, args: dict[str, Any], want: dict[str, Any]) -> list[str]:
    if op == "setsockopt":
        call = _setsockopt(index, args)
    elif op == "close":
        call = f"do_close({index}, {c_name(args['target'])});"
    else:
        on = c_name(args["on"])
        call = {
            "getsockopt": lambda: (
                f"do_getsockopt({index}, {on}, {c_int(args['option'], C_INT, 'GetSockOpt.option')}, "
                f"{int(bool(args['peercred']))});"
            ),
            "poll": lambda: (
                f"do_poll({index}, {on}, {c_int(args['events'], C_INT, 'Poll.events')}, "
                f"{c_int(args['timeout'], C_INT, 'Poll.timeout_ms')});"
            ),
            "ioctl": lambda: f"do_ioctl({index}, {on}, {c_int(args['request'], UINT32_T, 'Ioctl.request')});",
            "set_owner": lambda: f"do_set_owner({index}, {on});",
            "fill": lambda: (
                f"do_fill({index}, {on}, {c_int(args['chunk'], UINT32_T, 'Fill.chunk')}, "
                f"{c_int(args['limit'], INT64_T, 'Fill.limit')});"
            ),
            "shutdown": lambda: f"do_shutdown({index}, {on}, {c_int(args['how'], C_INT, 'Shutdown.how')});",
            "listen": lambda: f"do_listen({index}, {on}, {c_int(args['backlog'], C_INT, 'Listen.backlog')});",
            "reopen": lambda: f"do_reopen({index}, {on}, {_choice(_REOPEN, args['mode'], 'Reopen.mode')});",
        }[op]()
    return ["expect_begin();", *_outcomes(want), call]


_REOPEN = {mode: mode for mode in REOPEN_MODES}  # O_RDONLY / O_RDWR: the names are the C macros


def _steps(steps: tuple[PlanStep, ...], indent: str) -> list[str]:
    """One block per step; a child's steps run inside ``if (child_begin(...)) { ... child_end(); }``."""
    out = []
    for index, step in enumerate(steps):
        out.append(f"{indent}announce({index}, TEXT({c_text(step.words)}));")
        if step.op == "child":
            args = step.args
            out.append(
                f"{indent}if (child_begin({index}, {_optional(args['uid_base'], RLIM_T, 'Identity.user')}, "
                f"{_optional(args['nofile'], RLIM_T, 'Identity.nofile')}, "
                f"{_optional(args['headroom'], UINT32_T, 'Identity.fd_headroom')})) {{"
            )
            out += _steps(step.nested, indent + "    ")
            out += [f"{indent}    child_end();", f"{indent}}}"]
            lines = ["expect_begin();", *_outcomes(step.want), f"do_child({index});"]
        elif step.op == "send":
            lines = _send(index, step.args, step.want)
        elif step.op == "recv":
            lines = _recv(index, step.args, step.want)
        else:
            lines = _other(index, step.op, step.args, step.want)
        out += [f"{indent}{{", *(f"{indent}    {line}" for line in lines), f"{indent}}}"]
    return out


_HEADER = """/*
 * An scm-harness reproducer: the scenario and what the oracle expects are the data in main() below.
 *
 * Generated by scm-harness.  Plain libc: cc -o repro repro.c && ./repro
 * It prints what the finding is, then every step with what was expected and what was observed.
 * Exit status: 1 = the deviation reproduces, 0 = this platform conforms, 2 = cannot run here; the last
 * line printed says the same: SCM-HARNESS-REPRO-RESULT: reproduced | conforms | unsupported.
 */"""


def _about(title: str, details: list[str]) -> str:
    lines = [f"T({c_text(clip(line))})" for line in (title, *details)]
    return f"    about((const struct text[]){{{', '.join(lines)}}}, {len(lines)});"


def render(plan: Plan, title: str, details: list[str]) -> str:
    type_, nonblocking, reversed_, origin = plan.pair
    if origin is None:
        make = f"pair({c_int(type_, C_INT, 'socket type')}, {int(bool(nonblocking))}, {int(bool(reversed_))});"
    else:
        how = _choice(_HOWS, origin[0], "the pair's origin")
        address = _choice(_ADDRESSES, origin[1], "the pair's addresses")
        make = f"api_pair({c_int(type_, C_INT, 'socket type')}, {how}, {address});"
    body = ["int main(void) {", "    start();", _about(title, details), f"    {make}"]
    for name, kind, cloexec, nonblock, append, tracked in plan.fds:
        flags = ", ".join(str(int(bool(flag))) for flag in (cloexec, nonblock, append, tracked))
        body.append(f"    open_fd({c_name(name)}, {c_name(kind)}, {flags});")
    body.append("    take_signals(NULL, NULL); /* nothing from the set-up may count */")
    body += _steps(plan.steps, "    ")
    body += ["    return finish();", "}", ""]
    return "\n".join([_HEADER, RUNTIME, *body])


def render_unsupported(title: str, details: list[str], reason: str) -> str:
    """A reproducer that cannot be written: it says why and exits 2 (never wrong code)."""
    body = [
        "int main(void) {",
        _about(title, details),
        '    printf("cannot reproduce here: ");',
        f"    print_text(TEXT({c_text(clip(reason))}));",
        '    printf("\\n");',
        "    cannot_run_exit();",
        "    return 2;",
        "}",
        "",
    ]
    return "\n".join([_HEADER, RUNTIME, *body])
