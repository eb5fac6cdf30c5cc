"""Reading files that come from elsewhere: one safe reader and one bounded JSON loader.

Scenario files, corpus directories, findings, expectations files and reports given to ``render`` or
``compare`` are shared between people and CI, and the harness runs as root: every one of them is
read here, never with ``Path.read_text`` or a bare ``json.loads``.

* :func:`read_file` opens with ``O_NONBLOCK`` (a FIFO never blocks the open), refuses anything but
  a regular file (checked with ``stat`` before opening, so no device is ever opened, and with
  ``fstat`` after), and reads at most ``limit + 1`` bytes (a file that grows, or lies about its
  size, is still refused without being read whole).
* :func:`parse_json` turns every way a document can be bad (not UTF-8, not JSON, an integer of
  more digits than Python converts, NaN, nesting deeper than :data:`MAX_JSON_DEPTH`, a
  ``RecursionError`` of the parser) into one :class:`UntrustedInputError` line naming the file.

The bounds below are documented in README.md ("Untrusted input"); the bounds of a scenario's own
values are in :mod:`harness.model`.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

# A scenario file (JSON, or atheris bytes) and a finding's scenario.json.  The largest file of
# corpora/ is the seed of LM-02 (a 1 MiB send: 1.0 MiB); the scenario's own bounds (harness.model:
# MAX_BUFFER, MAX_SCENARIO_BYTES...) apply to what the file says.
MAX_SCENARIO_FILE = 1 << 22
# An expectations file (``run --expectations``): a reviewed list, a few KiB.
MAX_EXPECTATIONS_FILE = 1 << 20
# A report.json given to ``render`` or ``compare``: a full run of every case, kind and back end is
# a few MiB.
MAX_REPORT_FILE = 64 << 20
# JSON nesting: a scenario is at most 8 levels deep (scenario, steps, child, steps, send, cmsgs,
# cmsg, fds, fd), a report 5.
MAX_JSON_DEPTH = 64
# Directories below a corpus root that are walked (deeper ones are skipped with a note).
MAX_DIRECTORY_DEPTH = 16


class UntrustedInputError(ValueError):
    """A file that cannot be read as what it should be; the message is one line naming the file."""


def shorten(value: object, limit: int = 60) -> str:
    """``repr`` (so control characters and newlines stay escaped: one line), cut to ``limit``."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than sys.get_int_max_str_digits() digits
        assert isinstance(value, int)
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(where: str) -> str:
    """A file name (or a place) as it can stand in a one-line message."""
    return where if where.isprintable() else repr(where)


def kind_of(mode: int) -> str:
    """What a file is, in words, from its ``st_mode``."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return f"a file of mode {mode:o}"


def _cannot(where: str, exc: OSError) -> UntrustedInputError:
    return UntrustedInputError(f"{where}: cannot read: {exc.strerror or exc}")


def read_file(path: str | Path, limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, or an UntrustedInputError.

    ``follow_symlinks=False`` refuses a symlink in the last component (O_NOFOLLOW): for entries a
    directory walk found to be regular files, so that swapping one for a link is noticed.
    """
    where = one_line(str(path))
    try:
        before = os.stat(path, follow_symlinks=follow_symlinks)
    except OSError as exc:
        raise _cannot(where, exc) from None
    if not stat.S_ISREG(before.st_mode):
        raise UntrustedInputError(f"{where}: {kind_of(before.st_mode)}, not a regular file: not read")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _cannot(where, exc) from None
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode):  # replaced between the stat and the open
            raise UntrustedInputError(f"{where}: {kind_of(after.st_mode)}, not a regular file: not read")
        _check_size(where, after.st_size, limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _cannot(where, exc) from None
    finally:
        os.close(fd)
    _check_size(where, size, limit)
    return b"".join(chunks)


def _check_size(where: str, size: int, limit: int) -> None:
    if size > limit:
        raise UntrustedInputError(f"{where}: file size: {size} bytes, over the limit of {limit} bytes: not read")


def parse_json(data: bytes | str, where: str) -> object:
    """A JSON document, parsed within :data:`MAX_JSON_DEPTH`; every problem is one line naming ``where``."""
    where = one_line(where)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UntrustedInputError(
                f"{where}: not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start})"
            ) from None
    else:
        text = data

    def no_constant(name: str) -> object:
        # Python's json accepts NaN/Infinity, but they are not JSON and other readers reject them.
        raise UntrustedInputError(f"{where}: not JSON: {name} is not a JSON number")

    try:
        value = json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise UntrustedInputError(f"{where}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise UntrustedInputError(f"{where}: not JSON: nested deeper than MAX_JSON_DEPTH={MAX_JSON_DEPTH}") from None
    except UntrustedInputError:
        raise
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        problem = " ".join(str(exc).split(":")[0].split())  # "Exceeds the limit (4300 digits) for integer ..."
        raise UntrustedInputError(f"{where}: not JSON: {problem[:120]}") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise UntrustedInputError(f"{where}: not JSON: nested deeper than MAX_JSON_DEPTH={MAX_JSON_DEPTH}")
    return value


def json_depth(value: object) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0).

    Depth first with a stack of iterators: memory grows with the depth, not with the size, and
    the walk stops as soon as MAX_JSON_DEPTH is passed.
    """
    deepest = 0
    stack: list[Iterator[object]] = [iter((value,))]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            continue
        if isinstance(item, dict):
            stack.append(iter(item.values()))
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            continue
        deepest = max(deepest, len(stack) - 1)
        if deepest > MAX_JSON_DEPTH:
            break
    return deepest


_END = object()


def load_json_file(path: str | Path, limit: int) -> object:
    """:func:`read_file` then :func:`parse_json`."""
    return parse_json(read_file(path, limit), str(path))
