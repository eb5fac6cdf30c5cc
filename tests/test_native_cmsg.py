"""Control buffers: ``build_control`` / ``parse_control`` on their own, and against the kernel."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import socket
import stat
import struct
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.native import constants, libc
from harness.native.cmsg import CmsgAbi, EncodedCmsg, ParsedCmsg, build_control, encode, parse_control

if TYPE_CHECKING:
    from collections.abc import Callable

NATIVE = CmsgAbi(libc.WORD)
ABIS = [CmsgAbi(8), CmsgAbi(4), CmsgAbi(8, ">"), CmsgAbi(4, ">")]
ABI_IDS = ["lp64-le", "ilp32-le", "lp64-be", "ilp32-be"]
C = constants.linux(platform.machine())
SOL_SOCKET = C.sol["SOL_SOCKET"]
SCM_RIGHTS = C.scm["SCM_RIGHTS"]

int32 = st.integers(-(2**31), 2**31 - 1)
messages = st.lists(st.tuples(int32, int32, st.binary(max_size=40)), max_size=8)


def _default(abi: CmsgAbi, level: int, type_: int, data: bytes) -> EncodedCmsg:
    return encode(abi, level, type_, data, None, None)


# ----------------------------------------------------------------------------------------------
# round trips


@given(abi=st.sampled_from(ABIS), items=messages)
def test_round_trip_with_default_lengths(abi: CmsgAbi, items: list[tuple[int, int, bytes]]) -> None:
    buffer = build_control(abi, [_default(abi, *item) for item in items])
    assert len(buffer) == sum(abi.space(len(data)) for _, _, data in items)
    parsed = parse_control(abi, buffer, len(buffer))
    assert [(p.level, p.type, p.data, p.length) for p in parsed.cmsgs] == [
        (level, type_, data, abi.length(len(data))) for level, type_, data in items
    ]
    assert not any(p.truncated for p in parsed.cmsgs)
    assert parsed.trailing == 0
    assert not parsed.malformed
    offsets = [sum(abi.space(len(data)) for _, _, data in items[:i]) for i in range(len(items))]
    assert [p.offset for p in parsed.cmsgs] == offsets


@given(abi=st.sampled_from(ABIS), items=messages.filter(bool), extra=st.integers(0, 64))
def test_controllen_beyond_the_buffer_is_clipped(abi: CmsgAbi, items: list[tuple[int, int, bytes]], extra: int) -> None:
    buffer = build_control(abi, [_default(abi, *item) for item in items])
    assert parse_control(abi, buffer, len(buffer) + extra) == parse_control(abi, buffer, len(buffer))


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
def test_padding_is_zero_and_header_layout(abi: CmsgAbi) -> None:
    buffer = build_control(abi, [_default(abi, 1, 2, b"abc"), _default(abi, -3, 4, b"")])
    word_format = abi.byte_order + ("Q" if abi.word == 8 else "I")
    assert len(buffer) == abi.space(3) + abi.space(0)
    assert struct.unpack_from(word_format + "ii", buffer, 0) == (abi.length(3), 1, 2)
    assert buffer[abi.header : abi.header + 3] == b"abc"
    assert buffer[abi.header + 3 : abi.space(3)] == bytes(abi.align(3) - 3)
    assert struct.unpack_from(word_format + "ii", buffer, abi.space(3)) == (abi.header, -3, 4)


# ----------------------------------------------------------------------------------------------
# truncation, malformed headers, trailing bytes


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
@pytest.mark.parametrize("keep", [0, 1, 5, 9])
def test_truncated_trailing_cmsg(abi: CmsgAbi, keep: int) -> None:
    """controllen ends inside the last message's data: only the bytes inside controllen come back."""
    last = bytes(range(1, 11))
    buffer = build_control(abi, [_default(abi, 1, 1, b"\x07" * 4), _default(abi, 1, 2, last)])
    start = abi.space(4)
    controllen = start + abi.header + keep
    parsed = parse_control(abi, buffer, controllen)
    assert parsed.cmsgs[0] == ParsedCmsg(0, 1, 1, abi.length(4), b"\x07" * 4, False)
    assert parsed.cmsgs[1] == ParsedCmsg(start, 1, 2, abi.length(10), last[:keep], True)
    assert len(parsed.cmsgs) == 2
    assert not parsed.malformed
    assert parsed.trailing == 0


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
def test_controllen_inside_the_padding_is_not_truncation(abi: CmsgAbi) -> None:
    buffer = build_control(abi, [_default(abi, 1, 1, b"abcde")])  # data 5, padded to align(5)
    parsed = parse_control(abi, buffer, abi.length(5))
    assert parsed.cmsgs == (ParsedCmsg(0, 1, 1, abi.length(5), b"abcde", False),)
    assert parsed.trailing == 0


@given(
    abi=st.sampled_from(ABIS),
    items=messages.filter(lambda xs: bool(xs) and bool(xs[-1][2])),
    data=st.data(),
)
def test_truncated_trailing_cmsg_any(abi: CmsgAbi, items: list[tuple[int, int, bytes]], data: st.DataObject) -> None:
    buffer = build_control(abi, [_default(abi, *item) for item in items])
    last_level, last_type, last_data = items[-1]
    start = len(buffer) - abi.space(len(last_data))
    keep = data.draw(st.integers(0, len(last_data) - 1), label="keep")
    parsed = parse_control(abi, buffer, start + abi.header + keep)
    assert len(parsed.cmsgs) == len(items)
    assert parsed.cmsgs[-1] == ParsedCmsg(
        start, last_level, last_type, abi.length(len(last_data)), last_data[:keep], True
    )
    assert not any(p.truncated for p in parsed.cmsgs[:-1])


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
@pytest.mark.parametrize("bad_length", [0, 1, "header-1"])
def test_cmsg_len_below_header_stops_the_walk(abi: CmsgAbi, bad_length: int | str) -> None:
    length = abi.header - 1 if bad_length == "header-1" else int(bad_length)
    good = _default(abi, 1, 1, b"ok")
    bad = encode(abi, 1, 2, b"\xff" * 8, length, None)
    buffer = build_control(abi, [good, bad, good])  # the third one must not be reported
    parsed = parse_control(abi, buffer, len(buffer))
    assert parsed.malformed
    assert [p.data for p in parsed.cmsgs] == [b"ok"]
    assert parsed.trailing == len(buffer) - abi.space(2)


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
def test_fewer_bytes_than_a_header_are_trailing(abi: CmsgAbi) -> None:
    one = build_control(abi, [_default(abi, 1, 1, b"data")])
    for extra in range(abi.header):
        buffer = one + b"\xee" * extra
        parsed = parse_control(abi, buffer, len(buffer))
        assert [p.data for p in parsed.cmsgs] == [b"data"], extra
        assert parsed.trailing == extra
        assert not parsed.malformed
    # a whole header's worth is parsed as a header, not counted as trailing
    buffer = one + build_control(abi, [_default(abi, 1, 3, b"")])
    assert parse_control(abi, buffer, len(buffer)).trailing == 0


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
def test_controllen_shorter_than_a_header(abi: CmsgAbi) -> None:
    buffer = build_control(abi, [_default(abi, 1, 1, b"data")])
    parsed = parse_control(abi, buffer, abi.header - 1)
    assert parsed.cmsgs == ()
    assert parsed.trailing == abi.header - 1
    assert parse_control(abi, buffer, 0).trailing == 0


# ----------------------------------------------------------------------------------------------
# overrides


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
@pytest.mark.parametrize(
    "space",
    [lambda _: 0, lambda _: 1, lambda _: 5, lambda a: a.header - 1, lambda a: a.header, lambda a: a.header + 2],
    ids=["0", "1", "5", "header-1", "header", "header+2"],
)
def test_space_override_cuts_exactly(abi: CmsgAbi, space: Callable[[CmsgAbi], int]) -> None:
    size = space(abi)
    whole = abi.pack_header(abi.length(4), 1, 1) + b"WXYZ"
    cut = build_control(abi, [encode(abi, 1, 1, b"WXYZ", None, size)])
    assert cut == whole[:size]
    follower = _default(abi, 9, 9, b"")
    both = build_control(abi, [encode(abi, 1, 1, b"WXYZ", None, size), follower])
    assert both == whole[:size] + build_control(abi, [follower])


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
def test_space_override_larger_pads_with_zeros(abi: CmsgAbi) -> None:
    buffer = build_control(abi, [encode(abi, 1, 1, b"WXYZ", None, abi.space(4) + 11)])
    assert buffer == abi.pack_header(abi.length(4), 1, 1) + b"WXYZ" + bytes(abi.space(4) + 11 - abi.header - 4)


@pytest.mark.parametrize("abi", ABIS, ids=ABI_IDS)
@pytest.mark.parametrize("length", [0, 3, 17, 1000, 2**32 - 1])
def test_length_override_is_written_as_is(abi: CmsgAbi, length: int) -> None:
    buffer = build_control(abi, [encode(abi, 1, 2, b"abcd", length, None)])
    assert len(buffer) == abi.space(4)  # the distance to the next header is unchanged
    assert abi.unpack_header(buffer, 0) == (length, 1, 2)
    word = buffer[: abi.word]
    assert int.from_bytes(word, "little" if abi.byte_order == "<" else "big") == length
    assert buffer[abi.header : abi.header + 4] == b"abcd"


# ----------------------------------------------------------------------------------------------
# against the kernel


def _is_dev_null(fd: int) -> bool:
    mine, null = os.fstat(fd), os.stat(os.devnull)
    return stat.S_ISCHR(mine.st_mode) and mine.st_rdev == null.st_rdev


def _send_rights(stack: contextlib.ExitStack, sock: socket.socket, fds: list[int]) -> None:
    """sendmsg() through libc with a control buffer from build_control and a msghdr filled here."""
    data = struct.pack(f"={len(fds)}i", *fds)
    control = build_control(NATIVE, [encode(NATIVE, SOL_SOCKET, SCM_RIGHTS, data, None, None)])
    assert len(control) == socket.CMSG_SPACE(len(data))
    payload = ctypes.create_string_buffer(b"x", 1)
    ctl = ctypes.create_string_buffer(control, len(control))
    iov = (libc.iovec * 1)()
    iov[0].iov_base = ctypes.addressof(payload)
    iov[0].iov_len = 1
    msg = libc.msghdr()
    msg.msg_iov = ctypes.addressof(iov)
    msg.msg_iovlen = 1
    msg.msg_control = ctypes.addressof(ctl)
    msg.msg_controllen = len(control)
    result = libc.sendmsg(sock.fileno(), msg, 0)
    assert result == libc.Result(1, 0), os.strerror(result.errno)


def _dev_nulls(stack: contextlib.ExitStack, count: int) -> list[int]:
    fds = []
    for _ in range(count):
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        stack.callback(os.close, fd)
        fds.append(fd)
    return fds


@pytest.mark.kernel
@pytest.mark.parametrize("sock_type", [socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET])
def test_scm_rights_built_here_is_accepted_by_the_kernel(sock_type: int) -> None:
    with contextlib.ExitStack() as stack:
        a, b = socket.socketpair(socket.AF_UNIX, sock_type)
        stack.enter_context(a)
        stack.enter_context(b)
        originals = _dev_nulls(stack, 2)
        _send_rights(stack, a, originals)
        data, ancdata, flags, _ = b.recvmsg(1, 64)
        received: list[int] = []
        for level, type_, payload in ancdata:
            if level == SOL_SOCKET and type_ == SCM_RIGHTS:
                received += struct.unpack(f"={len(payload) // 4}i", payload[: len(payload) // 4 * 4])
        for fd in received:
            stack.callback(os.close, fd)
        assert data == b"x"
        assert flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC) == 0
        assert [(level, type_, len(payload)) for level, type_, payload in ancdata] == [(SOL_SOCKET, SCM_RIGHTS, 8)]
        assert len(received) == 2
        assert not set(received) & set(originals)
        assert all(_is_dev_null(fd) for fd in received)


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("size", "want_fds"),
    [
        pytest.param(64, 2, id="64"),
        pytest.param(NATIVE.space(8), 2, id="CMSG_SPACE(8)"),
        pytest.param(NATIVE.length(8), 2, id="CMSG_LEN(8)"),
        pytest.param(NATIVE.length(8) - 1, 1, id="CMSG_LEN(8)-1"),
        pytest.param(NATIVE.length(4), 1, id="CMSG_LEN(4)"),
        pytest.param(NATIVE.header + 3, 0, id="header+3"),
        pytest.param(NATIVE.header, 0, id="header"),
    ],
)
def test_parse_control_reads_what_the_kernel_writes(size: int, want_fds: int) -> None:
    """recvmsg() through libc into a raw buffer: parse_control walks the kernel's own layout.

    The kernel installs as many fds as fit (``(controllen - header) / 4``), writes one
    SCM_RIGHTS header with ``cmsg_len = CMSG_LEN(4 * installed)``, and sets MSG_CTRUNC when
    any fd was left out.
    """
    with contextlib.ExitStack() as stack:
        a, b = socket.socketpair()
        stack.enter_context(a)
        stack.enter_context(b)
        _send_rights(stack, a, _dev_nulls(stack, 2))
        payload = ctypes.create_string_buffer(1)
        ctl = ctypes.create_string_buffer(b"\xa5" * size, size)
        iov = (libc.iovec * 1)()
        iov[0].iov_base = ctypes.addressof(payload)
        iov[0].iov_len = 1
        msg = libc.msghdr()
        msg.msg_iov = ctypes.addressof(iov)
        msg.msg_iovlen = 1
        msg.msg_control = ctypes.addressof(ctl)
        msg.msg_controllen = size
        result = libc.recvmsg(b.fileno(), ctypes.addressof(msg), 0)
        parsed = parse_control(NATIVE, ctl.raw, msg.msg_controllen)
        fds = [fd for p in parsed.cmsgs for fd in struct.unpack(f"={len(p.data) // 4}i", p.data)]
        for fd in fds:
            stack.callback(os.close, fd)
        assert result == libc.Result(1, 0)
        assert bool(msg.msg_flags & C.msg["MSG_CTRUNC"]) == (want_fds < 2)
        assert [(p.level, p.type, p.length, p.truncated) for p in parsed.cmsgs] == [
            (SOL_SOCKET, SCM_RIGHTS, NATIVE.length(4 * want_fds), False)
        ][: 1 if want_fds else 0]
        assert msg.msg_controllen == (min(size, NATIVE.space(4 * want_fds)) if want_fds else 0)
        assert len(fds) == want_fds
        assert all(_is_dev_null(fd) for fd in fds)
        assert not parsed.malformed
        assert parsed.trailing == 0
