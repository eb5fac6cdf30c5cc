"""Render a reproducer plan as ``repro.c``: plain libc, ``cc -o repro repro.c && ./repro``.

Each step becomes a short block of builder calls of :mod:`harness.fuzz.repro_c_runtime`
(``send_begin``, ``iov_add``, ``cmsg_rights``, ``expect_*``) and one ``do_*`` call, with the
step described in a comment above it; numbers carry their names in comments.
"""

from __future__ import annotations

from typing import Any

from harness.fuzz.repro_c_runtime import RUNTIME
from harness.fuzz.repro_plan import Plan, PlanStep

RUN_LENGTH = 16
_POINTERS = {"buffer": "PTR_BUFFER", "null": "PTR_NULL", "bad": "PTR_BAD"}
_FAULTS = {None: "FAULT_NONE", "msghdr": "FAULT_MSGHDR", "iov": "FAULT_IOV", "iov_base": "FAULT_IOV_BASE"}


def c_string(data: bytes) -> str:
    """A C string literal; every byte that is not plainly printable as a 3-digit octal escape."""
    out = []
    for byte in data:
        char = chr(byte)
        if char.isascii() and (char.isalnum() or char in " _-.,:;!#%&()*+/<=>@[]^{|}~"):
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


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


def _long(value: int | None) -> str:
    return "-1" if value is None else f"{value}L"


def _cred(value: int | str) -> str:
    return "1, 0" if value in ("self", "pid", "uid", "gid") else f"0, {value}L"


def _outcomes(want: dict[str, Any]) -> list[str]:
    lines = []
    if want.get("range") is not None:
        lines.append(f"expect_range({want['range'][0]}L, {want['range'][1]}L);")
    if want.get("events") is not None:
        lines.append(f"expect_events({want['events']:#x}L);")
    if want.get("peercred") is not None:
        creds = want["peercred"]
        lines.append(f"expect_peercred({_cred(creds[0])}, {_cred(creds[1])}, {_cred(creds[2])});")
    for outcome in want["outcome"]:
        if outcome[0] == "returned":
            lines.append(f"expect_returned({outcome[1]}L);")
        elif outcome[0] == "failed":
            lines.append(f'expect_failed({outcome[1]}, "{outcome[1]}");')
        else:
            lines.append("expect_blocked();")
    lines += [f"expect_signal({sig});" for sig in want["signals"]]
    return lines


def _send(index: int, args: dict[str, Any], want: dict[str, Any]) -> list[str]:
    lines = ["send_begin();"]
    if args.get("address") is not None:
        lines.append(f"msg_name({segs(args['address'])});")
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
            refs = []
            for ref in c[2]:
                if ref[0] == "fd":
                    refs.append(f'REF_FD("{ref[1]}")')
                elif ref[0] == "raw":
                    refs.append(f"REF_RAW({ref[1]})")
                else:
                    refs.append("REF_CLOSED")
            lines.append(f"cmsg_rights({_long(c[1])}, {'REFS(' + ', '.join(refs) + ')' if refs else 'NOREFS'});")
        elif c[0] == "creds":
            lines.append(f"cmsg_creds({_cred(c[1])}, {_cred(c[2])}, {_cred(c[3])});")
        else:
            lines.append(f"cmsg_raw({c[1]}, {c[2]}, {segs(c[3])}, {_long(c[4])}, {_long(c[5])});")
    lines += ["expect_begin();", *_outcomes(want)]
    lines.append(
        f'do_send({index}, "{args["on"]}", {args["flags"]:#x}, {_long(args["controllen"])}, '
        f"{_POINTERS[args['control']]}, {_FAULTS[args['fault']]});"
    )
    return lines


def _recv(index: int, args: dict[str, Any], want: dict[str, Any]) -> list[str]:
    lines = ["expect_begin();", *_outcomes(want), f"expect_data({segs(want['data'])});"]
    if want["buffers"] is not None:
        lines.append("expect_buffers_known();")
        lines += [f"expect_buffer({segs(buf)});" for buf in want["buffers"]]
    if want["msg_flags"] is not None:
        lines.append(f"expect_msg_flags({want['msg_flags']:#x}L);")
    if want["controllen"] is not None:
        lines.append(f"expect_controllen({want['controllen']}L);")
    lines.append(f"expect_stray({want['stray']}L);")
    lines.append(f"expect_cloexec({int(want['cloexec'])});")
    for level, type_, length, fds, creds in want["cmsgs"]:
        lines.append(f"expect_cmsg({level}, {type_}, {length});")
        if creds is not None:
            lines.append(f"expect_creds({_cred(creds[0])}, {_cred(creds[1])}, {_cred(creds[2])});")
        for name, ftype, flags, _seekable in fds:
            lines.append(f'expect_fd("{name}", "{ftype}", "{" ".join(flags)}");')
    sizes = args["buffers"]
    sizes_text = "SIZES(" + ", ".join(map(str, sizes)) + ")" if sizes else "NOSIZES"
    lines.append(
        f'do_recv({index}, "{args["on"]}", {sizes_text}, {args["control"]}, {args["flags"]:#x}, '
        f"{_POINTERS[args['control_pointer']]}, {_FAULTS[args['fault']]});"
    )
    return lines


def _other(index: int, op: str, args: dict[str, Any], want: dict[str, Any]) -> list[str]:
    value = args.get("value")
    setsockopt = (
        f'do_setsockopt_timeval({index}, "{args.get("on")}", {args.get("option")}, {value[1]}L, {value[2]}L);'
        if isinstance(value, list)
        else f'do_setsockopt({index}, "{args.get("on")}", {args.get("option")}, {value});'
    )
    peercred = int(bool(args.get("peercred")))
    call = {
        "setsockopt": setsockopt,
        "getsockopt": f'do_getsockopt({index}, "{args.get("on")}", {args.get("option")}, {peercred});',
        "poll": f'do_poll({index}, "{args.get("on")}", {args.get("events")});',
        "ioctl": f'do_ioctl({index}, "{args.get("on")}", {args.get("request")}UL);',
        "set_owner": f'do_set_owner({index}, "{args.get("on")}");',
        "fill": f'do_fill({index}, "{args.get("on")}", {args.get("chunk")}, {args.get("limit")}L);',
        "shutdown": f'do_shutdown({index}, "{args.get("on")}", {args.get("how")});',
        "listen": f'do_listen({index}, "{args.get("on")}", {args.get("backlog")});',
        "close": f'do_close({index}, "{args.get("target")}");',
        "reopen": f'do_reopen({index}, "{args.get("on")}", {args.get("mode")});',
    }[op]
    return ["expect_begin();", *_outcomes(want), call]


def _steps(steps: tuple[PlanStep, ...], indent: str, label: str) -> list[str]:
    """One block per step; a child's steps run inside ``if (child_begin(...)) { ... child_end(); }``."""
    out = []
    for index, step in enumerate(steps):
        out.append(f"{indent}{_comment(f'step {label}{index}: {step.words}')}")
        if step.op == "child":
            args = step.args
            out.append(
                f"{indent}if (child_begin({index}, {_long(args['uid_base'])}, {_long(args['nofile'])}, "
                f"{_long(args['headroom'])})) {{"
            )
            out += _steps(step.nested, indent + "    ", f"{label}{index}.")
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


def _comment(text: str) -> str:
    return "/* " + text.replace("*/", "* /") + " */"


def _header(title: str, details: list[str]) -> str:
    lines = [
        "/*",
        f" * {title}",
        " *",
        *(f" * {line}".rstrip() for line in details),
        " *",
        " * Generated by scm-harness.  Plain libc: cc -o repro repro.c && ./repro",
        " * Exit status: 1 = the deviation reproduces, 0 = this platform conforms, 2 = cannot run here.",
        " */",
    ]
    return "\n".join(
        line.replace("*/", "* /") if i not in (0, len(lines) - 1) else line for i, line in enumerate(lines)
    )


def render(plan: Plan, title: str, details: list[str]) -> str:
    body = [
        "int main(void) {",
        "    start();",
        f"    pair({plan.pair[0]}, {int(plan.pair[1])}, {int(plan.pair[2])});  {_comment(plan.pair_words)}",
    ]
    for name, kind, cloexec, nonblock, append, tracked in plan.fds:
        body.append(f'    open_fd("{name}", "{kind}", {int(cloexec)}, {int(nonblock)}, {int(append)}, {int(tracked)});')
    body.append("    take_signals(NULL, NULL); /* nothing from the set-up may count */")
    body += _steps(plan.steps, "    ", "")
    body += ["    return finish();", "}", ""]
    return "\n".join([_header(title, details), RUNTIME, *body])


def render_unsupported(title: str, details: list[str], reason: str) -> str:
    """A reproducer that cannot be written: it says why and exits 2 (never wrong code)."""
    text = ("cannot reproduce here: " + reason).replace("\\", "\\\\").replace('"', '\\"')
    return "\n".join(
        [
            _header(title, details),
            "#include <stdio.h>",
            "",
            _comment(f"UNSUPPORTED: {reason}"),
            f'int main(void) {{ puts("{text}"); return 2; }}',
            "",
        ]
    )
