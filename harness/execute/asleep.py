"""When a background party may act: once the scenario's thread sleeps in its waiting call.

A background Child (forked or a thread) exists to end a call the scenario's thread is about to
block in: a receive woken by a send, a poll woken by a shutdown, a receive interrupted by a
signal.  It must act after that call has gone to sleep, not before.  A fixed head start
(``Child.delay_ms``) is slow when the machine is idle and too short when it is loaded (a user-mode
Linux guest sharing two cores once needed more than half a second), so the party watches the
thread instead: ``/proc/PID/task/TID/stat`` says it is asleep (state ``S``) and
``/proc/PID/task/TID/syscall`` names a call a step can sleep in (recvmsg, poll, connect, ...;
harness.native.constants; not futex, where a thread waiting for Python's GIL sleeps).

Where /proc cannot tell (no such files, as under gVisor, or an architecture without a table) the
party waits exactly ``delay_ms`` as before, so a platform that lacks the files is judged as before,
only slower.  Where it can tell, the party watches for :data:`WATCH_LIMIT` at least, however short
``delay_ms`` is: a loaded machine can keep the scenario's thread off the CPU for longer than a
100 ms delay (a whole-catalogue run at -j 8 under a load average of 10 had an FL-30 party signal
a receive that was not asleep yet: the receive then took the late data and the next one timed out).
A thread that does fall asleep is acted on at once, so this costs nothing; only a waiting call that
never sleeps (the kernel returned at once) makes the party wait it out.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

POLL_INTERVAL = 0.001  # seconds between two looks at the thread
# seconds a party watches at least where /proc tells; under the bound of the waiting call while a party
# runs (ExecConfig.party_timeout, 2.5 s), which a call that went to sleep before the party saw it outlasts
WATCH_LIMIT = 2.0


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
    user-mode Linux, is not the wait), or after ``limit`` seconds at most where /proc cannot tell,
    ``max(limit, WATCH_LIMIT)`` where it can."""
    started = time.monotonic()
    deadline = started + limit
    if sleeper is not None and calls:
        last: bytes | None = None
        while (left := deadline - time.monotonic()) > 0:
            seen = sleeping_call(sleeper, calls)
            if seen is None:  # the files are not there (or the thread is gone): the delay, as before
                deadline = started + limit
                break
            deadline = max(deadline, started + WATCH_LIMIT)  # /proc tells: watch on, however loaded the machine
            if seen and seen == last:
                return
            last = seen or None
            time.sleep(min(POLL_INTERVAL, left))
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)
