"""The atheris byte decoder: total, deterministic, strict about truncation, and ending in the
same model constructors; plus the libFuzzer dictionary it ships."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.codec import dumps, loads
from harness.generate.decode import (
    DICTIONARY,
    NAMED_TOKENS,
    TIMEVALS,
    ByteReader,
    Exhausted,
    decode,
    write_dictionary,
)
from harness.model import (
    MAX_STEPS,
    UIO_MAXIOV,
    Child,
    Close,
    FdKind,
    FdSpec,
    Fill,
    GetSockOpt,
    Identity,
    Ioctl,
    Listen,
    Named,
    PairKind,
    Poll,
    RawCmsg,
    RawFd,
    ReadPartner,
    Recv,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetOwner,
    SetSockOpt,
    Shutdown,
    SockType,
    flags,
)

# A scenario spelled byte by byte (see the grammar in harness/generate/decode.py).
HAND_BUILT: list[tuple[bytes, str]] = [
    (b"\x04", "kind: ALL_KINDS[4] = dgram/blocking/as-created"),
    (b"\x01", "one fd"),
    (b"\x01\x09", "  FdKind[1] = memfd; bits 0b1001 = cloexec + append; named memfd0"),
    (b"\x01\x00", "step: more; STEP_TABLE[0] = send"),
    (b"\x00", "  on a"),
    (b"\x07", "  iov count: _IOV_COUNTS[7] = 2"),
    (b"\x00\x02hi", "    short payload of 2 bytes"),
    (b"\x04", "    empty payload"),
    (b"\x03\x00", "  one cmsg: rights"),
    (b"\x04\x02\x03", "    _RIGHTS_COUNTS[4] = 2 refs: refs[2] = memfd0, refs[3] = RawFd(-1)"),
    (b"\x00", "    no cmsg_len override"),
    (b"\x01\x01\x00", "  flags: one common, SEND_FLAGS[1] = MSG_NOSIGNAL; no rare one"),
    (b"\x00\x00\x00\x00", "  controllen None, control buffer, no fault, no msg_name"),
    (b"\x01\x0a", "step: more; STEP_TABLE[10] = recv"),
    (b"\x01", "  on b"),
    (b"\x00\x1b", "  one buffer of ('msg', +1) = last send length 2 + 1"),
    (b"\x11", "  control: _RECV_CONTROL_CODES[17] = 20"),
    (b"\x02\x00\x04", "  flags: two common, MSG_PEEK and MSG_CMSG_CLOEXEC"),
    (b"\x07\x00", "    one rare: MSG_OOB (so it cannot block: no keep-blocking byte)"),
    (b"\x00\x00", "  control_pointer buffer, no fault"),
    (b"\x01\x18\x02", "step: more; STEP_TABLE[24] = close, names[2] = memfd0"),
    (b"\x01\x14\x00\x03", "step: more; STEP_TABLE[20] = setsockopt on a, SO_PEEK_OFF"),
    (b"\x09\x05\x00\x00\x00", "  a raw value: int32 5"),
    (b"\x01\x17\x01\x07", "step: more; STEP_TABLE[23] = shutdown b how=SHUTDOWN_RAW[1] = 3"),
    (b"\x00", "stop"),
]
HAND_BUILT_INPUT = b"".join(part for part, _ in HAND_BUILT)
HAND_BUILT_SCENARIO = Scenario(
    kind=PairKind(SockType.DGRAM),
    fds=(FdSpec(name="memfd0", kind=FdKind.MEMFD, cloexec=True, append=True),),
    steps=(
        Send(on="a", iov=(b"hi", b""), cmsgs=(ScmRights((Named("memfd0"), RawFd(-1))),), flags=flags("MSG_NOSIGNAL")),
        Recv(on="b", buffers=(3,), control=20, flags=flags("MSG_PEEK", "MSG_CMSG_CLOEXEC", "MSG_OOB")),
        Close(target="memfd0"),
        SetSockOpt(on="a", option="SO_PEEK_OFF", value=5),
        Shutdown(on="b", how=3),
    ),
)

MANY_IOVECS: list[tuple[bytes, str]] = [
    (b"\x00\x00", "stream/blocking/as-created, no fds"),
    (b"\x01\x01\x01", "step: more; send on b"),
    (b"\x10", "  iov count: _IOV_COUNTS[16] = UIO_MAXIOV + 1"),
    (b"\x00\x00\x04", "    one piece, in slot 1024 (two bytes, little-endian)"),
    (b"\x00\x01z", "    short payload b'z'"),
    (b"\x03\x06", "  one cmsg: raw"),
    (b"\x00\x03", "    level SOL_SOCKET, type SCM_PIDFD"),
    (b"\x04\x01\x00\x00\x00", "    4 data bytes"),
    (b"\x10\xff\xff\xff\xff", "    length ('u', 32) = 0xffffffff"),
    (b"\x0a", "    space ('space', -1) = CMSG_SPACE(4) - 1 = 23"),
    (b"\x00\x00", "  no flags"),
    (b"\x10\x0f\x1f\x00", "  controllen natural + 1 = 24, control bad, fault iov_base, no msg_name"),
    (b"\x00", "stop"),
]
MANY_IOVECS_INPUT = b"".join(part for part, _ in MANY_IOVECS)
MANY_IOVECS_SCENARIO = Scenario(
    kind=PairKind(SockType.STREAM),
    steps=(
        Send(
            on="b",
            iov=(b"",) * UIO_MAXIOV + (b"z",),
            cmsgs=(RawCmsg(level="SOL_SOCKET", type="SCM_PIDFD", data=b"\x01\0\0\0", length=0xFFFFFFFF, space=23),),
            controllen=24,
            control="bad",
            fault="iov_base",
        ),
    ),
)


# -- the byte reader ---------------------------------------------------------------------------


def test_byte_reader_takes_whole_little_endian_bytes_modulo_the_range() -> None:
    r = ByteReader(b"\x07\x34\x12\xff\xff\xff\xff\x01\x02")
    assert r.int_in_range(0, 4) == 2  # 7 % 5
    assert r.int_in_range(0, 0xFFFF) == 0x1234
    assert r.int32() == -1
    assert r.int_in_range(5, 5) == 5  # a one-value range reads nothing
    assert r.pick("xyz") == "y"
    assert r.consumed == 8
    assert not r.bool()  # 0x02: low bit clear
    assert r.remaining == 0
    with pytest.raises(Exhausted):
        r.bool()


def test_byte_reader_never_invents_data() -> None:
    r = ByteReader(b"ab")
    with pytest.raises(Exhausted):
        r.bytes(3)
    assert r.bytes(2) == b"ab"
    assert r.bytes(0) == b""


# -- decoding ----------------------------------------------------------------------------------


def test_a_hand_built_input_decodes_to_the_expected_scenario() -> None:
    assert decode(HAND_BUILT_INPUT) == HAND_BUILT_SCENARIO


def test_a_send_with_too_many_iovecs_and_a_raw_cmsg_decodes_exactly() -> None:
    assert decode(MANY_IOVECS_INPUT) == MANY_IOVECS_SCENARIO


@pytest.mark.parametrize("data", [HAND_BUILT_INPUT, MANY_IOVECS_INPUT])
def test_every_truncation_decodes_to_none(data: bytes) -> None:
    for end in range(len(data)):
        assert decode(data[:end]) is None, end


def test_trailing_bytes_are_ignored() -> None:
    assert decode(HAND_BUILT_INPUT + b"\xff" * 7) == HAND_BUILT_SCENARIO


def test_max_steps_stops_reading() -> None:
    decoded = decode(HAND_BUILT_INPUT, max_steps=2)
    assert decoded is not None
    assert decoded.steps == HAND_BUILT_SCENARIO.steps[:2]


@pytest.mark.parametrize(("keep", "expected"), [(b"\x00", flags("MSG_DONTWAIT")), (b"\x09", frozenset())])
def test_a_receive_that_would_block_reads_one_more_byte(keep: bytes, expected: frozenset[str]) -> None:
    # dgram/blocking, no fds; recv on a with one buffer of 0 bytes, nothing queued
    data = b"\x04\x00" + b"\x01\x0a\x00\x00\x00\x00\x00\x00\x00\x00" + keep + b"\x00"
    assert decode(data) == Scenario(kind=PairKind(SockType.DGRAM), steps=(Recv(on="a", buffers=(0,), flags=expected),))


@pytest.mark.parametrize(
    ("tag", "body", "step"),
    [
        (0x16, b"\x01\x05", GetSockOpt(on="b", option="SO_PEERPIDFD")),
        (0x19, b"\x00\x04", Listen(on="a", backlog=-1)),
        (0x1A, b"\x01\x01", Reopen(on="b", mode="O_RDONLY")),
        (0x18, b"\x01", Close(target="b")),
        (0x17, b"\x00\x02", Shutdown(on="a", how="SHUT_RDWR")),
        (0x14, b"\x00\x06\x00\x01", SetSockOpt(on="a", option="SO_RCVTIMEO_OLD", value=(0, 1000))),
        (0x1B, b"\x00\x00", Poll(on="a")),
        (0x1B, b"\x01\x03\x05", Poll(on="b", events=frozenset({"POLLIN", "POLLOUT"}))),
        (0x1C, b"\x01\x02", Ioctl(on="b", request="SIOCATMARK")),
        (0x1D, b"\x00", SetOwner(on="a")),
        (0x1E, b"\x01\x01\x02", Fill(on="b", chunk=1, limit=2)),
        (0x1F, b"\x05\x00\x1b\x01\x00", Child(steps=(Poll(on="b"),), identity=Identity(user="unprivileged"))),
    ],
)
def test_small_steps_decode_exactly(tag: int, body: bytes, step: object) -> None:
    data = b"\x01\x00" + b"\x01" + bytes([tag]) + body + b"\x00"
    decoded = decode(data)
    assert decoded is not None
    assert decoded.steps == (step,)
    assert decoded.kind == PairKind(SockType.STREAM, reversed=True)  # ALL_KINDS[1]


def test_credentials_decode_exactly() -> None:
    # stream/blocking/reversed; send on a, one empty iov entry, one creds cmsg: pid forged 0, uid self,
    # gid 65534; no flags, controllen, pointer, fault or msg_name
    data = b"\x01\x00\x01\x00\x00\x00\x04\x03\x04\x04\x00\x06" + b"\x00" * 6 + b"\x00"
    decoded = decode(data)
    assert decoded is not None
    assert decoded.steps == (Send(on="a", iov=(b"",), cmsgs=(ScmCredentials(pid=0, gid=65534),)),)


def test_read_partner_is_offered_only_with_a_partnered_fd() -> None:
    # stream/blocking/as-created, one fd: pipe-write (FdKind[3]), no bits; STEP_TABLE[32] = read_partner,
    # its only target (no byte), wait _WAIT_CODES[5] = 20 ms
    data = b"\x00\x01\x03\x00" + b"\x01\x20\x05" + b"\x00"
    decoded = decode(data)
    assert decoded is not None
    assert decoded.steps == (ReadPartner(target="pipe_write0", wait_ms=20),)
    # the same bytes with a memfd: slot 32 wraps to slot 0, a send, and the input runs out
    assert decode(b"\x00\x01\x01\x00" + b"\x01\x20\x05" + b"\x00") is None


def test_scm_rights_length_override_decodes_exactly() -> None:
    # stream/blocking/as-created, no fds; send on a, one empty iov entry, one SCM_RIGHTS with one
    # ref (b), then a cmsg_len override: rights_length_boundaries(1)[0] = 0
    data = b"\x00\x00\x01\x00\x00\x00\x04\x03\x00\x00\x01\x0b\x00" + b"\x00" * 6 + b"\x00"
    decoded = decode(data)
    assert decoded is not None
    assert decoded.steps == (Send(on="a", iov=(b"",), cmsgs=(ScmRights((Named("b"),), length=0),)),)


def all_steps(scenario: Scenario) -> list[object]:
    out: list[object] = []
    for step in scenario.steps:
        out.append(step)
        if isinstance(step, Child):
            out.extend(step.steps)
    return out


@given(st.binary(max_size=1024))
@settings(max_examples=300)
def test_decode_never_raises_and_results_revalidate(data: bytes) -> None:
    decoded = decode(data)
    assert decode(data) == decoded  # deterministic
    if decoded is not None:
        assert isinstance(decoded, Scenario)
        assert len(decoded.steps) <= MAX_STEPS
        assert loads(dumps(decoded)) == decoded
        for step in all_steps(decoded):
            if isinstance(step, SetSockOpt) and isinstance(step.value, tuple):
                assert step.value in TIMEVALS  # never (0, 0) or whole seconds


@given(st.binary(max_size=256), st.integers(0, MAX_STEPS))
@settings(max_examples=100)
def test_max_steps_is_respected(data: bytes, max_steps: int) -> None:
    decoded = decode(data, max_steps=max_steps)
    assert decoded is None or len(decoded.steps) <= max_steps


def test_random_bytes_mostly_decode_and_reach_every_shape() -> None:
    rng = random.Random(20260801)
    seen: set[str] = set()
    decoded_count = 0
    for _ in range(600):
        scenario = decode(rng.randbytes(rng.choice((64, 256, 1024))))
        if scenario is None:
            continue
        decoded_count += 1
        for step in all_steps(scenario):
            seen.add(type(step).__name__)
            if isinstance(step, Send):
                seen.update(type(c).__name__ for c in step.cmsgs)
    assert decoded_count > 300
    assert seen >= {
        "Send",
        "Recv",
        "SetSockOpt",
        "GetSockOpt",
        "Shutdown",
        "Close",
        "Listen",
        "Reopen",
        "Poll",
        "Ioctl",
        "SetOwner",
        "Fill",
        "Child",
        "ScmRights",
        "ScmCredentials",
        "RawCmsg",
    }


# -- the dictionary ----------------------------------------------------------------------------


def parse_libfuzzer_entry(line: str) -> bytes:
    """libFuzzer's ParseOneDictionaryEntry (FuzzerUtil.cpp), for one non-comment line."""
    text = line.strip()
    assert len(text) >= 3 and text.endswith('"'), line
    body = text[text.index('"') + 1 : -1]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        assert char.isprintable(), line
        if char != "\\":
            out.append(ord(char))
            i += 1
        elif body[i + 1] in '\\"':
            out.append(ord(body[i + 1]))
            i += 2
        else:
            assert body[i + 1] == "x", line
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
    return bytes(out)


def test_dictionary_holds_the_useful_tokens() -> None:
    for token in (
        b"\x01\x00\x00\x00",  # SOL_SOCKET, SCM_RIGHTS
        b"\x02\x00\x00\x00",  # SCM_CREDENTIALS
        b"\x04\x00\x00\x00",  # SCM_PIDFD
        b"\x10\x00\x00\x00",  # sizeof(struct cmsghdr) on LP64
        b"\x14\x00\x00\x00",  # CMSG_LEN(4)
        b"\x18\x00\x00\x00",  # CMSG_SPACE(4)
        b"\xff\xff\xff\xff",  # -1 as int32, 0xffffffff
    ):
        assert token in DICTIONARY
    assert len(set(DICTIONARY)) == len(DICTIONARY)
    assert all(DICTIONARY)


def test_dictionary_file_is_libfuzzer_syntax(tmp_path: Path) -> None:
    path = write_dictionary(tmp_path / "unix.dict")
    lines = [line for line in path.read_text(encoding="ascii").splitlines() if line and not line.startswith("#")]
    assert lines[0] == 'SOL_SOCKET_SCM_RIGHTS="\\x01\\x00\\x00\\x00"'
    assert tuple(parse_libfuzzer_entry(line) for line in lines) == DICTIONARY
    assert [line.split("=", 1)[0] for line in lines] == [name for name, _ in NAMED_TOKENS]
    assert all(name.replace("_", "").isalnum() for name, _ in NAMED_TOKENS)
