"""The native layer against the build machine's C compiler, C headers and running kernel.

A small C program is generated from the harness's own tables, compiled with ``cc`` into the
test's temporary directory and run once per module.  It prints ``key=value`` lines:

* ``sizeof:<struct>`` and ``offsetof:<struct>.<field>`` for msghdr, cmsghdr, iovec and ucred;
* ``CMSG_LEN:<n>``, ``CMSG_SPACE:<n>``, ``CMSG_ALIGN:<n>`` for n in 0..80;
* ``const:<NAME>`` for every name of :func:`harness.native.constants.linux` that the headers
  define (each one behind ``#ifdef``), and a bare ``missing:<NAME>`` line for the others.

Names the headers of an older C library do not have yet (glibc 2.36 predates SO_PASSPIDFD and
friends) show up as skipped cases with the reason; they are checked against the running kernel
instead, in the ``kernel`` tests at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import shutil
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from harness.execute.backend import pack_ucred
from harness.native import constants, libc
from harness.native.cmsg import LP64, CmsgAbi

if TYPE_CHECKING:
    from collections.abc import Iterator

ARCH = platform.machine()
C = constants.linux(ARCH)
NATIVE = CmsgAbi(libc.WORD)
SIZES = range(81)

# The C structs, field by field in declaration order, next to the ctypes class that mirrors them.
STRUCTS: dict[str, tuple[str, ...]] = {
    "msghdr": ("msg_name", "msg_namelen", "msg_iov", "msg_iovlen", "msg_control", "msg_controllen", "msg_flags"),
    "cmsghdr": ("cmsg_len", "cmsg_level", "cmsg_type"),
    "iovec": ("iov_base", "iov_len"),
    "ucred": ("pid", "uid", "gid"),
}
CTYPES_STRUCTS: dict[str, type[ctypes.Structure]] = {
    "msghdr": libc.msghdr,
    "cmsghdr": libc.cmsghdr,
    "iovec": libc.iovec,
}

# Names newer than the C library this may be built on: their absence from the headers is
# expected, and they are probed on the running kernel below.
NEWER_THAN_HEADERS = frozenset({"SO_PASSPIDFD", "SO_PEERPIDFD", "SO_PASSRIGHTS", "SO_INQ", "SCM_PIDFD", "SCM_INQ"})
# Names of the kernel's internal include/linux/socket.h, which is not exported to userspace
# (glibc does not define them either): MSG_PROBE = 0x10, SCM_SECURITY = 3.
KERNEL_INTERNAL = frozenset({"MSG_PROBE", "SCM_SECURITY"})
# Spellings of the same number for headers that only know the unsuffixed name (64-bit time_t
# ABIs, where SO_RCVTIMEO is SO_RCVTIMEO_OLD only when time_t is as wide as the kernel's long).
FALLBACKS = {"SO_RCVTIMEO_OLD": "SO_RCVTIMEO", "SO_SNDTIMEO_OLD": "SO_SNDTIMEO"}


def _expected_constants() -> dict[str, int]:
    """Every name the harness resolves on this machine, with the number it resolves to."""
    out: dict[str, int] = {}
    for table in (C.msg, C.so, C.scm, C.sol, C.shut, C.sock):
        out.update(table)
    out.update({f"SYS_{name}": number for name, number in C.syscalls.items()})
    out["SOCK_NONBLOCK"] = C.sock_nonblock
    out["SOCK_CLOEXEC"] = C.sock_cloexec
    return out


EXPECTED = _expected_constants()


def _c_program() -> str:
    lines = [
        "#define _GNU_SOURCE",
        "#include <stddef.h>",
        "#include <stdio.h>",
        "#include <time.h>",
        "#include <sys/socket.h>",
        "#include <sys/uio.h>",
        "#include <sys/syscall.h>",
        "#include <netinet/in.h>",
        "#include <netinet/tcp.h>",
        "#include <netinet/udp.h>",
        "#include <linux/socket.h>",
        "#include <asm/socket.h>",
        "",
        '#define P(key, value) printf("%s=%lld\\n", key, (long long)(value))',
        "",
        "int main(void) {",
        '    P("sizeof:size_t", sizeof(size_t));',
    ]
    for struct_name, field_names in STRUCTS.items():
        lines.append(f'    P("sizeof:{struct_name}", sizeof(struct {struct_name}));')
        for name in field_names:
            lines.append(f'    P("offsetof:{struct_name}.{name}", offsetof(struct {struct_name}, {name}));')
            lines.append(f'    P("sizeof:{struct_name}.{name}", sizeof(((struct {struct_name} *)0)->{name}));')
    lines.append(f"    for (size_t n = 0; n <= {SIZES[-1]}; n++) {{")
    for macro in ("CMSG_LEN", "CMSG_SPACE", "CMSG_ALIGN"):
        lines.append(f'        printf("{macro}:%zu=%lld\\n", n, (long long){macro}(n));')
    lines.append("    }")
    for name in EXPECTED:
        lines += [f"#ifdef {name}", f'    P("const:{name}", {name});']
        fallback = FALLBACKS.get(name)
        if fallback is not None:
            lines += [
                f"#elif defined({fallback})",
                "    if (sizeof(time_t) == sizeof(long))",
                f'        P("const:{name}", {fallback});',
                "    else",
                f'        puts("missing:{name}");',
            ]
        lines += ["#else", f'    puts("missing:{name}");', "#endif"]
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class Headers:
    """What the compiled program printed."""

    values: dict[str, int]
    missing: frozenset[str]

    def __getitem__(self, key: str) -> int:
        return self.values[key]


def _compiler() -> str | None:
    for name in (os.environ.get("CC", ""), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


@pytest.fixture(scope="module")
def headers(tmp_path_factory: pytest.TempPathFactory) -> Headers:
    compiler = _compiler()
    if compiler is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH: cannot check the ABI against C headers")
    work = tmp_path_factory.mktemp("abi")
    source = work / "abi.c"
    source.write_text(_c_program())
    binary = work / "abi"
    build = subprocess.run(
        [compiler, "-std=c11", "-Wall", "-o", str(binary), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, f"{compiler} failed on {source}:\n{build.stderr}"
    run = subprocess.run([str(binary)], capture_output=True, text=True, check=True)
    values: dict[str, int] = {}
    missing: set[str] = set()
    for line in run.stdout.splitlines():
        if line.startswith("missing:"):
            missing.add(line.removeprefix("missing:"))
            continue
        key, _, value = line.partition("=")
        assert key not in values, f"duplicate line for {key}"
        values[key] = int(value)
    return Headers(values, frozenset(missing))


# ----------------------------------------------------------------------------------------------
# struct layout


def test_word_size_is_size_t(headers: Headers) -> None:
    assert headers["sizeof:size_t"] == libc.WORD
    assert ctypes.sizeof(ctypes.c_size_t) == headers["sizeof:size_t"]


@pytest.mark.parametrize("struct_name", sorted(CTYPES_STRUCTS))
def test_ctypes_struct_matches_c(headers: Headers, struct_name: str) -> None:
    cls = CTYPES_STRUCTS[struct_name]
    assert tuple(name for name, *_ in cls._fields_) == STRUCTS[struct_name], "ctypes fields differ from C"
    assert ctypes.sizeof(cls) == headers[f"sizeof:{struct_name}"], f"sizeof(struct {struct_name})"
    for name in STRUCTS[struct_name]:
        descriptor = getattr(cls, name)
        assert descriptor.offset == headers[f"offsetof:{struct_name}.{name}"], f"offsetof({struct_name}, {name})"
        assert descriptor.size == headers[f"sizeof:{struct_name}.{name}"], f"sizeof({struct_name}.{name})"


def test_ucred_matches_what_the_harness_packs(headers: Headers) -> None:
    """The executors pack struct ucred themselves (``backend.pack_ucred``): same size and order."""
    packed = pack_ucred(0x01020304, 0x05060708, 0x090A0B0C)
    assert len(packed) == headers["sizeof:ucred"]
    for name, value in (("pid", 0x01020304), ("uid", 0x05060708), ("gid", 0x090A0B0C)):
        assert headers["sizeof:ucred." + name] == 4
        offset = headers[f"offsetof:ucred.{name}"]
        assert int.from_bytes(packed[offset : offset + 4], sys.byteorder) == value


def test_cmsghdr_header_is_cmsgabi_header(headers: Headers) -> None:
    assert NATIVE.header == headers["CMSG_ALIGN:" + str(headers["sizeof:cmsghdr"])] == headers["CMSG_LEN:0"]
    assert ctypes.sizeof(libc.cmsghdr) == NATIVE.word + 8
    raw = NATIVE.pack_header(0x1234, -7, 42)
    parsed = libc.cmsghdr.from_buffer_copy(raw[: ctypes.sizeof(libc.cmsghdr)])
    assert (parsed.cmsg_len, parsed.cmsg_level, parsed.cmsg_type) == (0x1234, -7, 42)
    assert NATIVE.unpack_header(raw, 0) == (0x1234, -7, 42)


# ----------------------------------------------------------------------------------------------
# CMSG_* arithmetic


@pytest.mark.parametrize("macro", ["CMSG_LEN", "CMSG_SPACE", "CMSG_ALIGN"])
def test_cmsg_macros_match_cmsgabi(headers: Headers, macro: str) -> None:
    method = {"CMSG_LEN": NATIVE.length, "CMSG_SPACE": NATIVE.space, "CMSG_ALIGN": NATIVE.align}[macro]
    got = {n: method(n) for n in SIZES}
    want = {n: headers[f"{macro}:{n}"] for n in SIZES}
    assert got == want


def test_lp64_constant_is_the_native_abi_here(headers: Headers) -> None:
    if headers["sizeof:size_t"] != 8:
        pytest.skip("not an LP64 machine")
    assert LP64 == NATIVE
    assert (LP64.header, LP64.length(4), LP64.space(4), LP64.space(5)) == (16, 20, 24, 24)


def test_cmsgabi_matches_python_socket_module() -> None:
    for n in [*SIZES, 4093, 4096, 65535]:
        assert NATIVE.length(n) == socket.CMSG_LEN(n), n
        assert NATIVE.space(n) == socket.CMSG_SPACE(n), n


def test_cmsgabi_ilp32() -> None:
    abi = CmsgAbi(4)
    assert abi.header == 12
    assert abi.length(0) == 12
    assert abi.length(4) == 16
    assert abi.space(4) == 16
    assert abi.space(5) == 20
    assert abi.space(0) == 12
    assert [abi.align(n) for n in range(9)] == [0, 4, 4, 4, 4, 8, 8, 8, 8]
    header = abi.pack_header(16, 1, 1)
    assert header == struct.pack("<Iii", 16, 1, 1)
    assert abi.unpack_header(header, 0) == (16, 1, 1)


# ----------------------------------------------------------------------------------------------
# name -> number tables


def test_every_constant_the_headers_define_matches(headers: Headers) -> None:
    """Names newer than these headers (or kernel-internal) are checked on the running kernel instead;
    the test below pins which ones those may be."""
    checked = {name: headers[f"const:{name}"] for name in sorted(EXPECTED) if name not in headers.missing}
    wrong = {name: (hex(EXPECTED[name]), hex(value)) for name, value in checked.items() if EXPECTED[name] != value}
    assert wrong == {}, "table value vs header value"
    assert len(checked) >= 60


def test_headers_lack_only_the_newest_names(headers: Headers) -> None:
    """Guards the skips above: the headers may lack only names newer than themselves, or internal ones."""
    excused = NEWER_THAN_HEADERS | KERNEL_INTERNAL
    assert headers.missing <= excused, sorted(headers.missing - excused)
    checked = {key.removeprefix("const:") for key in headers.values if key.startswith("const:")}
    assert checked | headers.missing == set(EXPECTED)
    assert not checked & headers.missing
    assert len(checked) >= len(EXPECTED) - len(excused)


def test_syscall_numbers_known_for_this_arch() -> None:
    if ARCH not in ("x86_64", "aarch64", "riscv64"):
        pytest.skip(f"no syscall table for {ARCH}")
    assert set(C.syscalls) == {"kcmp", "pidfd_open", "pidfd_getfd", "io_uring_setup", "tgkill"}


def test_msg_flag_names() -> None:
    x86 = constants.linux("x86_64")
    assert x86.msg_flag_names(0x28) == {"MSG_TRUNC", "MSG_CTRUNC"}
    assert x86.msg_flag_names(0) == frozenset()
    assert x86.msg_flag_names(0x20 | 0x00800000) == {"MSG_TRUNC", "0x800000"}
    assert x86.msg_flag_names(0x80000000) == {"0x80000000"}
    # Unknown bits are reported together as one hex value, known ones by name.
    assert x86.msg_flag_names(0x2 | 0x00800000 | 0x01000000) == {"MSG_PEEK", "0x1800000"}
    every = x86.msg_flags(set(x86.msg))
    assert x86.msg_flag_names(every) == frozenset(x86.msg)
    with pytest.raises(constants.UnknownName, match="MSG_BOGUS"):
        x86.msg_flags({"MSG_BOGUS"})


@pytest.mark.parametrize("arch", ["mips", "mips64", "sparc64", "alpha", "parisc"])
def test_no_table_for_architectures_with_other_numbers(arch: str) -> None:
    with pytest.raises(constants.UnknownName, match=arch) as info:
        constants.linux(arch)
    assert isinstance(info.value, KeyError)


def test_powerpc_table_differs_where_the_kernel_does() -> None:
    ppc = constants.linux("ppc64le")
    assert (ppc.so["SO_PASSCRED"], ppc.so["SO_PEERCRED"], ppc.so["SO_RCVLOWAT"]) == (20, 21, 16)
    assert ppc.so["SO_PASSPIDFD"] == constants.linux("x86_64").so["SO_PASSPIDFD"]


# ----------------------------------------------------------------------------------------------
# names newer than the headers, on the running kernel


def _kernel_at_least(major: int, minor: int) -> bool:
    release = platform.release().split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (major, minor)
    except (IndexError, ValueError):
        return False


def _needs_kernel(major: int, minor: int) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        platform.system() != "Linux" or not _kernel_at_least(major, minor),
        reason=f"needs Linux >= {major}.{minor} (running {platform.release()})",
    )


@contextlib.contextmanager
def _pair(type_: int = socket.SOCK_STREAM) -> Iterator[tuple[socket.socket, socket.socket]]:
    first, second = socket.socketpair(socket.AF_UNIX, type_)
    with first, second:
        yield first, second


def _pidfd_pid(fd: int) -> int:
    with open(f"/proc/self/fdinfo/{fd}") as info:
        for line in info:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise AssertionError(f"fd {fd} is not a pidfd")


@pytest.mark.kernel
@_needs_kernel(6, 5)
def test_so_passpidfd_and_scm_pidfd_on_running_kernel() -> None:
    sol = C.sol["SOL_SOCKET"]
    with _pair() as (a, b), contextlib.ExitStack() as stack:
        b.setsockopt(sol, C.so["SO_PASSPIDFD"], 1)
        assert b.getsockopt(sol, C.so["SO_PASSPIDFD"]) == 1
        a.send(b"x")
        data, ancdata, _, _ = b.recvmsg(1, 64)
        assert data == b"x"
        assert [(level, type_, len(payload)) for level, type_, payload in ancdata] == [(sol, C.scm["SCM_PIDFD"], 4)]
        pidfd = struct.unpack("=i", ancdata[0][2])[0]
        stack.callback(os.close, pidfd)
        assert _pidfd_pid(pidfd) == os.getpid()


@pytest.mark.kernel
@_needs_kernel(6, 5)
def test_so_peerpidfd_on_running_kernel() -> None:
    with _pair() as (a, _b), contextlib.ExitStack() as stack:
        pidfd = a.getsockopt(C.sol["SOL_SOCKET"], C.so["SO_PEERPIDFD"])
        stack.callback(os.close, pidfd)
        assert _pidfd_pid(pidfd) == os.getpid()


@pytest.mark.kernel
@_needs_kernel(6, 16)
def test_so_passrights_on_running_kernel() -> None:
    sol = C.sol["SOL_SOCKET"]
    with _pair() as (a, b):
        assert b.getsockopt(sol, C.so["SO_PASSRIGHTS"]) == 1
        b.setsockopt(sol, C.so["SO_PASSRIGHTS"], 0)
        assert b.getsockopt(sol, C.so["SO_PASSRIGHTS"]) == 0
        rights = struct.pack("=i", a.fileno())
        with pytest.raises(PermissionError):
            a.sendmsg([b"x"], [(sol, C.scm["SCM_RIGHTS"], rights)])


@pytest.mark.kernel
@_needs_kernel(6, 17)
def test_so_inq_and_scm_inq_on_running_kernel() -> None:
    sol = C.sol["SOL_SOCKET"]
    with _pair() as (a, b):
        b.setsockopt(sol, C.so["SO_INQ"], 1)
        a.send(b"hello")
        data, ancdata, _, _ = b.recvmsg(2, 64)
        assert data == b"he"
        assert ancdata == [(sol, C.scm["SCM_INQ"], struct.pack("=i", 3))]
