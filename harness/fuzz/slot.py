"""A worker's mailbox: a heartbeat and the input it is executing, in a shared memory mapping.

A worker that hangs in the kernel, is killed, or crashes cannot report what it was doing, so it
writes each input here *before* executing it (a memcpy: no system call per input) and the
supervisor reads it back after the worker is gone: the input becomes a hang or crash finding.
``busy_since`` is the monotonic time the current input started (0 when idle); CLOCK_MONOTONIC
is system-wide on Linux, so the supervisor can compare it with its own clock.

The mapping is a memfd (:meth:`Slot.create`), not a file in the campaign directory: a store into a
file mapping whose page the file system cannot allocate (a full disk) is SIGBUS, which would kill
the worker and pass for a crash; and a file there could be changed by anyone who can write in the
campaign directory.  A forked worker inherits the mapping; a spawned one (atheris) inherits the
descriptor (:data:`ENV_SLOT`; libFuzzer's ``-fork`` children too) and maps it.

A worker that cannot write its files (a full disk) says so here before it exits with
:data:`CANNOT_WRITE_EXIT`: the kind :data:`CANNOT_WRITE` and the one-line message as the payload.

Layout: ``seq u64 | heartbeat f64 | busy_since f64 | kind u32 | length u32 | payload``.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from dataclasses import dataclass

SIZE = 1 << 23  # 8 MiB (pages are allocated when written): a scenario with megabyte payloads still fits
_HEADER = struct.Struct("=QddII")
_PAYLOAD = SIZE - _HEADER.size
ENV_SLOT = "SCM_HARNESS_SLOT"  # the descriptor of a spawned worker's slot

EMPTY = 0
PICKLED_SCENARIO = 1  # the Hypothesis engine: pickle of a Scenario
FUZZER_BYTES = 2  # the atheris engine: the raw input bytes (decode them again)
CANNOT_WRITE = 3  # the worker could not write a file: the payload is the message (UTF-8, one line)
# The exit status of a worker that could not write its files: not a finding, the campaign ends (exit 2).
CANNOT_WRITE_EXIT = 75  # EX_TEMPFAIL


@dataclass(frozen=True, slots=True)
class Reading:
    heartbeat: float
    busy_since: float
    kind: int
    payload: bytes


class Slot:
    def __init__(self, fd: int) -> None:
        """Map ``fd`` (a memfd of :data:`SIZE` bytes); the descriptor stays open as :attr:`fd`."""
        self.fd = fd
        self._map = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._seq = 0

    @classmethod
    def create(cls) -> Slot:
        fd = os.memfd_create("scm-harness-slot", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, SIZE)
            slot = cls(fd)
        except BaseException:
            os.close(fd)
            raise
        slot._map[: _HEADER.size] = _HEADER.pack(0, time.monotonic(), 0.0, EMPTY, 0)
        return slot

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

    def cannot_write(self, message: str) -> None:
        """The worker is about to exit with CANNOT_WRITE_EXIT: why (idle: no input is lost)."""
        self.begin(CANNOT_WRITE, message.encode("utf-8", "backslashreplace"))
        self.end()

    def read(self) -> Reading:
        _, heartbeat, busy_since, kind, length = _HEADER.unpack_from(self._map, 0)
        length = min(length, _PAYLOAD)
        return Reading(heartbeat, busy_since, kind, bytes(self._map[_HEADER.size : _HEADER.size + length]))

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)
