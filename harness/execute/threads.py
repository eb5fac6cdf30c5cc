"""Child(thread=True): a Child step's steps on another thread of the scenario's own process.

The thread shares the process's descriptors, identity and credentials: only its thread id
differs.  It inherits the scenario thread's signal mask (SIGPIPE and SIGURG blocked, see
harness.execute.signals), so the signals its calls raise stay pending on it and are taken there.
Every call it makes is bounded (SO_RCVTIMEO/SO_SNDTIMEO of the pair, Poll and ReadPartner
timeouts), so :func:`finish_thread` waits with a deadline; a thread still running then is a
harness error (:class:`ThreadFailed`), never a hang: a daemon thread that ends by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from harness.execute.asleep import Sleeper, wait_until_asleep
from harness.observation import StepObservation


class ThreadFailed(Exception):
    """The thread broke (a harness bug in its steps) or did not finish in time."""


@dataclass
class ThreadRun:
    """A started thread and what it reports: its id, then its observations or the exception it raised."""

    thread: threading.Thread
    deadline: float
    tid: int = 0
    steps: tuple[StepObservation, ...] | None = None
    error: BaseException | None = None
    started: threading.Event = field(default_factory=threading.Event)


def start_thread(
    steps: Callable[[], tuple[StepObservation, ...]],
    timeout: float,
    delay: float = 0.0,
    sleeper: Sleeper | None = None,
    calls: Collection[int] = (),
) -> ThreadRun:
    """Start a thread that waits until ``sleeper`` sleeps in one of ``calls`` (``delay`` seconds at
    most; harness.execute.asleep) and runs ``steps()``."""

    def body() -> None:
        run.tid = threading.get_native_id()
        run.started.set()
        try:
            if delay:
                wait_until_asleep(sleeper, calls, delay)
            run.steps = steps()
        except BaseException as exc:  # handed to the scenario's thread, which raises it
            run.error = exc

    thread = threading.Thread(target=body, name="scm-harness-step-thread", daemon=True)
    run = ThreadRun(thread, time.monotonic() + timeout + delay)
    thread.start()
    run.started.wait()
    return run


WAKE_GRACE = 1.0  # seconds a thread has to return after :func:`finish_thread` woke it


def finish_thread(run: ThreadRun, wake: Callable[[], None] | None = None) -> tuple[int, tuple[StepObservation, ...]]:
    """Join the thread within its deadline: (its thread id, its observations).

    A thread still running at the deadline is stuck in a call no bound ends (a scenario's own
    SO_RCVTIMEO of zero is an infinite one): ``wake()`` (shutdown of the pair ends) ends such a
    call, the thread gets WAKE_GRACE to return, and the step is a harness error either way.
    """
    run.thread.join(max(run.deadline - time.monotonic(), 0.0))
    if run.thread.is_alive() and wake is not None:
        wake()
        run.thread.join(WAKE_GRACE)
    if run.thread.is_alive() or (wake is not None and run.deadline < time.monotonic()):
        raise ThreadFailed("the thread did not finish in time")
    if run.error is not None:
        raise run.error
    assert run.steps is not None
    return run.tid, run.steps
