"""Run a function in a forked child with a deadline: its result, or how the child ended.

Used wherever one scenario must not affect the process that asked about it: the supervisor's
triage (a scenario that hangs or kills its process), and ``replay`` (a scenario's leftovers,
such as an io_uring instance whose teardown interrupts a later blocking call with EINTR, must
not change the next scenario's verdict).  The result comes back pickled through a pipe; the
child leaves with ``os._exit`` so no parent clean-up (atexit, buffered output) runs twice, and
it dies with the thread that forked it (:mod:`harness.execute.lifetime`).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from harness.execute.lifetime import fork_dying_with_parent

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ended(Generic[T]):
    value: T | None = None
    hang: bool = False
    signal: str = ""  # the child was killed by this signal
    exit_status: int = 0  # the child exited without a result

    @property
    def ok(self) -> bool:
        return not self.hang and not self.signal and not self.exit_status


def call_in_child(fn: Callable[[], T], timeout: float) -> Ended[T]:
    read_end, write_end = os.pipe()
    pid = fork_dying_with_parent()
    if pid == 0:
        status = 3
        try:
            os.close(read_end)
            view = memoryview(pickle.dumps(fn()))
            while view:
                view = view[os.write(write_end, view) :]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Ended(hang=True)
            ready, _, _ = select.select([read_end], [], [], min(left, 0.1))
            if ready:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return Ended(signal=signal.Signals(os.WTERMSIG(status)).name)
    if os.WEXITSTATUS(status) != 0 or not chunks:
        return Ended(exit_status=os.WEXITSTATUS(status) or 1)
    return Ended(value=pickle.loads(b"".join(chunks)))  # our own child wrote it
