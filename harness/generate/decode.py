"""The atheris engine's decoder: ``decode(data) -> Scenario | None``.

libFuzzer's bytes drive the scenario grammar (:mod:`harness.generate.grammar`) through
:class:`~harness.generate.choices.ByteReader`, the same grammar the Hypothesis strategies draw
from.  Bytes that run out before the scenario ends give ``None`` (so any strict prefix of a
scenario's bytes decodes to ``None``); trailing bytes after the last step's "no more steps"
choice are ignored.  Nothing else is caught, so a bug in the grammar is a crash, as it should be
under atheris.

The module is stdlib-only (with the grammar, :mod:`harness.model` and :mod:`harness.native`),
so it imports without atheris or Hypothesis and decodes the same bytes the same way everywhere.

The libFuzzer dictionary (:func:`write_dictionary`) holds the values worth splicing into an
input: int32 and uint32 boundaries, cmsg header sizes of both ABIs, and the numbers behind the
flag, option and cmsg names on this machine (looked up by name in :mod:`harness.native.constants`).
"""

from __future__ import annotations

import platform
import struct
from pathlib import Path

from harness.generate.choices import ByteReader, Exhausted
from harness.generate.grammar import scenario
from harness.generate.vocabulary import ILP32, INT32_MAX, UINT32_MAX
from harness.model import MAX_BUFFER, MAX_CONTROL, MAX_STEPS, SCM_MAX_FD, UIO_MAXIOV, InvalidScenario, Scenario
from harness.native.cmsg import LP64
from harness.native.constants import UnknownName, linux

__all__ = ["DICTIONARY", "NAMED_TOKENS", "decode", "write_dictionary"]


def decode(data: bytes, *, max_steps: int = MAX_STEPS) -> Scenario | None:
    """The scenario ``data`` spells through the grammar, or ``None`` if the bytes run out first."""
    try:
        return scenario(ByteReader(data), max_steps=max_steps)
    except (Exhausted, InvalidScenario):
        return None


# ----------------------------------------------------------------------------------------------
# libFuzzer dictionary


def _le32(value: int) -> bytes:
    return (value & UINT32_MAX).to_bytes(4, "little")


def _named_tokens() -> tuple[tuple[str, bytes], ...]:
    try:
        consts = linux(platform.machine())
    except UnknownName:  # no table for this architecture: the names' numbers are left out
        consts = None
    labelled: list[tuple[str, bytes]] = []
    if consts is not None:
        sol, rights, creds = consts.level("SOL_SOCKET"), consts.scm["SCM_RIGHTS"], consts.scm["SCM_CREDENTIALS"]
        labelled += [("SOL_SOCKET", _le32(sol))]
        labelled += [(name, _le32(consts.scm[name])) for name in ("SCM_RIGHTS", "SCM_CREDENTIALS", "SCM_PIDFD")]
        labelled += [
            ("cmsghdr_rights_1", LP64.pack_header(LP64.length(4), sol, rights)),
            ("cmsghdr_creds", LP64.pack_header(LP64.length(12), sol, creds)),
        ]
        options = ("SO_PASSCRED", "SO_PEERCRED", "SO_PEEK_OFF", "SO_PASSPIDFD", "SO_PEERPIDFD", "SO_PASSRIGHTS")
        labelled += [(name, _le32(consts.sockopt(name))) for name in options]
    labelled += [
        ("ILP32_CMSG_HDR", _le32(ILP32.header)),
        ("CMSG_HDR", _le32(LP64.header)),
        ("CMSG_LEN_4", _le32(LP64.length(4))),
        ("CMSG_SPACE_4", _le32(LP64.space(4))),
        ("CMSG_LEN_12", _le32(LP64.length(12))),
        ("CMSG_SPACE_12", _le32(LP64.space(12))),
        ("CMSG_SPACE_MAX_FDS", _le32(LP64.space(4 * SCM_MAX_FD))),
        ("CMSG_LEN_4_u64", struct.pack("<Q", LP64.length(4))),
        ("CMSG_HDR_u64", struct.pack("<Q", LP64.header)),
        ("SCM_MAX_FD", _le32(SCM_MAX_FD)),
        ("SCM_MAX_FD_plus_1", _le32(SCM_MAX_FD + 1)),
        ("UIO_MAXIOV", _le32(UIO_MAXIOV)),
        ("UIO_MAXIOV_plus_1", _le32(UIO_MAXIOV + 1)),
        ("minus_1", _le32(-1)),
        ("UINT32_MAX", _le32(UINT32_MAX)),
        ("INT32_MAX", _le32(INT32_MAX)),
        ("INT32_MIN", _le32(-(1 << 31))),
        ("u16_max", _le32(0xFFFF)),
        ("MAX_CONTROL", _le32(MAX_CONTROL)),
        ("MAX_BUFFER", _le32(MAX_BUFFER)),
    ]
    merged: dict[bytes, list[str]] = {}
    for label, token in labelled:
        merged.setdefault(token, []).append(label)
    return tuple(("_".join(labels), token) for token, labels in merged.items())


NAMED_TOKENS: tuple[tuple[str, bytes], ...] = _named_tokens()
DICTIONARY: tuple[bytes, ...] = tuple(token for _, token in NAMED_TOKENS)


def _escape(token: bytes) -> str:
    return "".join(f"\\x{byte:02x}" for byte in token)


def write_dictionary(path: str | Path) -> Path:
    """Write :data:`DICTIONARY` as a libFuzzer ``-dict=`` file (``name="\\x01\\x00\\x00\\x00"`` lines)."""
    lines = ["# scm-harness tokens for harness.generate.decode (little-endian unless named _u64)"]
    lines += [f'{name}="{_escape(token)}"' for name, token in NAMED_TOKENS]
    out = Path(path)
    out.write_text("\n".join(lines) + "\n", encoding="ascii")
    return out
