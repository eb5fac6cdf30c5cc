"""When a background party may act: once the scenario's thread sleeps in its waiting call.

A background Child (forked or a thread) exists to end a call the scenario's thread is about to
block in: a receive woken by a send, a poll woken by a shutdown, a receive interrupted by a
signal.  It must act after that call has gone to sleep, not before.  A fixed head start
(``Child.delay_ms``) is slow when the machine is idle and too short when it is loaded (a user-mode
Linux guest sharing two cores once needed more than half a second), so the party watches the
thread instead: ``/proc/PID/task/TID/stat`` says it is asleep (state ``S``) and
``/proc/PID/task/TID/syscall`` names a call a step can sleep in (recvmsg, poll, connect, ...;
harness.native.constants; not futex, where a thread waiting for Python's GIL sleeps).

``delay_ms`` stays the upper bound: where /proc cannot tell (no such files, as under gVisor, or
an architecture without a table) the party waits exactly ``delay_ms`` as before, so a platform
that lacks the files is judged as before, only slower.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

POLL_INTERVAL = 0.001  # seconds between two looks at the thread


@dataclass(frozen=True, slots=True)
class Sleeper:
    """The thread a background party waits for: the scenario's thread, as the kernel names it."""

    pid: int  # thread-group id
    tid: int  # threading.get_native_id() of the thread running the scenario's steps


def sleeping_call(sleeper: Sleeper, calls: Collection[int]) -> bytes | Literal[False] | None:
    """The thread's ``syscall`` line when it sleeps in one of ``calls``, False when it does not,
    None when /proc cannot tell."""
    base = f"/proc/{sleeper.pid}/task/{sleeper.tid}"
    try:
        with open(f"{base}/stat", "rb") as f:
            stat = f.read()
        with open(f"{base}/syscall", "rb") as f:
            line = f.read()
    except OSError:
        return None
    # the state is the first field after the command name, which is in parentheses and may hold any byte
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    number = line.split(maxsplit=1)[:1]
    if state != b"S" or not number or not number[0].lstrip(b"-").isdigit():
        return False  # running ("running"), or not in a call ("-1 ...")
    return line if int(number[0]) in calls else False


def asleep_in_call(sleeper: Sleeper, calls: Collection[int]) -> bool | None:
    """True when the thread sleeps in one of ``calls``; None when /proc cannot tell."""
    seen = sleeping_call(sleeper, calls)
    return seen if seen is None else bool(seen)


def wait_until_asleep(sleeper: Sleeper | None, calls: Collection[int], limit: float) -> None:
    """Return once ``sleeper`` sleeps in one of ``calls`` (seen twice, the same call with the same
    arguments, POLL_INTERVAL apart: a short sleep inside a call, such as a page fault under
    user-mode Linux, is not the wait), or after ``limit`` seconds at most."""
    deadline = time.monotonic() + limit
    if sleeper is not None and calls:
        last: bytes | None = None
        while (left := deadline - time.monotonic()) > 0:
            seen = sleeping_call(sleeper, calls)
            if seen is None:
                break
            if seen and seen == last:
                return
            last = seen or None
            time.sleep(min(POLL_INTERVAL, left))
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)
