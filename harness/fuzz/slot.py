"""A worker's mailbox: a heartbeat and the input it is executing, in a file-backed shared mapping.

A worker that hangs in the kernel, is killed, or crashes cannot report what it was doing, so it
writes each input here *before* executing it (a memcpy: no system call per input) and the
supervisor reads it back after the worker is gone: the input becomes a hang or crash finding.
``busy_since`` is the monotonic time the current input started (0 when idle); CLOCK_MONOTONIC
is system-wide on Linux, so the supervisor can compare it with its own clock.

Layout: ``seq u64 | heartbeat f64 | busy_since f64 | kind u32 | length u32 | payload``.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

SIZE = 1 << 23  # 8 MiB (sparse): a scenario with megabyte payloads still fits
_HEADER = struct.Struct("=QddII")
_PAYLOAD = SIZE - _HEADER.size

EMPTY = 0
PICKLED_SCENARIO = 1  # the Hypothesis engine: pickle of a Scenario
FUZZER_BYTES = 2  # the atheris engine: the raw input bytes (decode them again)


@dataclass(frozen=True, slots=True)
class Reading:
    heartbeat: float
    busy_since: float
    kind: int
    payload: bytes


class Slot:
    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
        try:
            if create:
                os.ftruncate(fd, SIZE)
            self._map = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self._seq = 0
        if create:
            self._map[: _HEADER.size] = _HEADER.pack(0, time.monotonic(), 0.0, EMPTY, 0)

    def begin(self, kind: int, payload: bytes) -> None:
        """About to execute ``payload``: record it (truncated to the slot if it must be)."""
        n = min(len(payload), _PAYLOAD)
        self._map[_HEADER.size : _HEADER.size + n] = payload[:n]
        self._seq += 1
        now = time.monotonic()
        self._map[: _HEADER.size] = _HEADER.pack(self._seq, now, now, kind, n)

    def end(self) -> None:
        """The input completed: idle again (the payload stays readable)."""
        struct.pack_into("=dd", self._map, 8, time.monotonic(), 0.0)

    def beat(self) -> None:
        """Alive and busy with something long (minimisation): refresh both times."""
        now = time.monotonic()
        struct.pack_into("=dd", self._map, 8, now, now)

    def read(self) -> Reading:
        _, heartbeat, busy_since, kind, length = _HEADER.unpack_from(self._map, 0)
        return Reading(heartbeat, busy_since, kind, bytes(self._map[_HEADER.size : _HEADER.size + length]))

    def close(self) -> None:
        self._map.close()
