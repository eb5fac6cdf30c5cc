"""CMSG_* arithmetic and the byte layout of control buffers, for any word size (pure).

Linux (and glibc) define, with ``W = sizeof(size_t)``::

    struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; };   /* W + 8 bytes */
    CMSG_ALIGN(n) = (n + W - 1) & ~(W - 1)
    CMSG_LEN(n)   = CMSG_ALIGN(sizeof(struct cmsghdr)) + n
    CMSG_SPACE(n) = CMSG_ALIGN(sizeof(struct cmsghdr)) + CMSG_ALIGN(n)

On x86-64 and aarch64 that is a 16-byte header, CMSG_LEN(4) = 20 and CMSG_SPACE(4) = 24.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CmsgAbi:
    """Sizes of the control-message ABI for one word size (8 on LP64, 4 on ILP32)."""

    word: int = 8
    byte_order: str = "<"
    # derived once (the oracle and the parser ask for them per control message)
    header: int = field(init=False, repr=False, compare=False)
    _header_format: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", self.align(self.word + 8))
        object.__setattr__(self, "_header_format", self.byte_order + ("Q" if self.word == 8 else "I") + "ii")

    def align(self, n: int) -> int:
        return (n + self.word - 1) & ~(self.word - 1)

    def length(self, n: int) -> int:
        return self.header + n

    def space(self, n: int) -> int:
        return self.header + self.align(n)

    def pack_header(self, length: int, level: int, type_: int) -> bytes:
        return struct.pack(self._header_format, length, level, type_).ljust(self.header, b"\0")

    def unpack_header(self, data: bytes, offset: int) -> tuple[int, int, int]:
        length, level, type_ = struct.unpack_from(self._header_format, data, offset)
        return int(length), int(level), int(type_)


LP64 = CmsgAbi(8)


@functools.cache
def abi_of(word: int) -> CmsgAbi:
    """The CmsgAbi of a word size, made once (it is immutable; the oracle asks per scenario)."""
    return CmsgAbi(word)


@dataclass(frozen=True, slots=True)
class EncodedCmsg:
    """One control message as numbers: what goes into the header and how far the next one is."""

    level: int
    type: int
    data: bytes
    length: int  # the cmsg_len field
    space: int  # distance from this header to the next one


def encode(abi: CmsgAbi, level: int, type_: int, data: bytes, length: int | None, space: int | None) -> EncodedCmsg:
    return EncodedCmsg(
        level,
        type_,
        data,
        abi.length(len(data)) if length is None else length,
        abi.space(len(data)) if space is None else space,
    )


def build_control(abi: CmsgAbi, cmsgs: list[EncodedCmsg]) -> bytes:
    """The control buffer holding ``cmsgs`` one after the other; padding bytes are zero.

    A message whose ``space`` is smaller than its header and data is cut to ``space`` bytes,
    so a malformed buffer is exactly what the scenario asked for.
    """
    out = bytearray()
    for c in cmsgs:
        body = abi.pack_header(c.length & ((1 << (8 * abi.word)) - 1), c.level, c.type) + c.data
        out += body[: c.space].ljust(c.space, b"\0")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class ParsedCmsg:
    """A control message found in a received control buffer.

    ``data`` holds the bytes from the end of the header to ``cmsg_len`` or to the end of the
    valid control area, whichever comes first; ``truncated`` says that ``cmsg_len`` pointed past
    that end.
    """

    offset: int
    level: int
    type: int
    length: int
    data: bytes
    truncated: bool


@dataclass(frozen=True, slots=True)
class ParsedControl:
    cmsgs: tuple[ParsedCmsg, ...]
    trailing: int  # bytes left after the last whole header (fewer than a header, or a bad cmsg_len)
    malformed: bool  # a header with cmsg_len < sizeof(struct cmsghdr) stopped the walk


def parse_control(abi: CmsgAbi, buffer: bytes, controllen: int) -> ParsedControl:
    """Walk ``buffer[:controllen]`` the way CMSG_FIRSTHDR / CMSG_NXTHDR do."""
    valid = min(controllen, len(buffer))
    offset = 0
    found: list[ParsedCmsg] = []
    while offset + abi.header <= valid:
        length, level, type_ = abi.unpack_header(buffer, offset)
        if length < abi.header:
            return ParsedControl(tuple(found), valid - offset, True)
        end = offset + length
        found.append(
            ParsedCmsg(offset, level, type_, length, bytes(buffer[offset + abi.header : min(end, valid)]), end > valid)
        )
        offset += abi.align(length)
    return ParsedControl(tuple(found), max(0, valid - offset), False)
