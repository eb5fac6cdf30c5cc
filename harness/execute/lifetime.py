"""Processes the harness starts die with the process that started them, even one killed with SIGKILL.

* A forked child (:func:`fork_dying_with_parent`) and a spawned program (:func:`dying_with_parent`:
  this file, run as ``python -I -S lifetime.py PARENT PROGRAM ARGS...``, arms the signal and execs
  the program) get ``PR_SET_PDEATHSIG(SIGKILL)``: the kernel kills them when the *thread* that
  forked them ends, so every fork of the harness is waited for by the thread that made it.  The
  signal is armed after fork, so the parent may already be gone: then ``getppid()`` is no longer
  the parent and the child leaves at once.  The setting survives execve (of a program that is not
  set-user-ID) but not a change of the effective uid or gid: a child that changes identity arms it
  again (:func:`die_with_parent`).
* A campaign worker is a process group of its own, and whatever it starts stays in that group:
  libFuzzer's ``-fork``/``-jobs`` children (through ``/bin/sh``, not children of the supervisor),
  reproducers, the C compiler.  The group holds a :class:`Lifeline`: a read end of a pipe whose
  only write end is the supervisor's, set to ``O_ASYNC`` with ``F_SETOWN_EX(F_OWNER_PGRP, group)``
  and ``F_SETSIG(SIGKILL)``.  When the supervisor dies its write end is closed and the kernel sends
  SIGKILL to the whole group (pipe_release -> kill_fasync; measured on Linux 6.18.44: the group's
  processes are gone within a millisecond).  No code of the worker has to run for that.

Only the standard library is imported: the file also runs as a script under ``python -I -S``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

PR_SET_PDEATHSIG = 1
F_SETSIG = 10
F_SETOWN_EX = 15
F_OWNER_PGRP = 2
ENV_LIFELINE = "SCM_HARNESS_LIFELINE"  # the descriptor number of a worker's lifeline read end
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def die_with_parent(parent: int) -> None:
    """In a child of ``parent``: be killed with SIGKILL when the thread that forked it ends.

    ``getppid()`` is 0 for the first process of a new pid namespace (its parent is outside);
    that child cannot tell whether its parent died before the signal was armed.
    """
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() not in (parent, 0):
        os._exit(137)  # the parent died before the signal was armed: as if it had been delivered


def fork_dying_with_parent() -> int:
    """``os.fork()``; the child dies with this process's forking thread (see :func:`die_with_parent`)."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        die_with_parent(parent)
    return pid


# The one fork-and-wait helper: a function run in a forked child with a deadline.  Used wherever one
# scenario must not affect the process that asked about it: the supervisor's triage (a scenario
# that hangs or kills its process), ``replay`` and fuzz evaluation, and a scenario's Child steps
# (harness.execute.child: started, then finished after the step a background child races).
# The result comes back pickled through a pipe; the child leaves with ``os._exit`` so no parent
# clean-up (atexit, buffered output) runs twice, and it dies with the thread that forked it.


@dataclass(frozen=True, slots=True)
class Ended(Generic[T]):
    value: T | None = None
    hang: bool = False
    signal: str = ""  # the child was killed by this signal
    exit_status: int = 0  # the child exited without a result

    @property
    def ok(self) -> bool:
        return not self.hang and not self.signal and not self.exit_status


@dataclass(frozen=True, slots=True)
class InChild(Generic[T]):
    """A forked child computing a value: what :func:`finish_in_child` waits on."""

    pid: int
    read_end: int  # the parent's end of the pipe the pickled value comes through
    deadline: float  # time.monotonic() by which the child must have reported and exited


def start_in_child(fn: Callable[[], T], timeout: float) -> InChild[T]:
    """Fork; the child runs ``fn()``, writes its value and leaves (exit status 3 if ``fn`` raised)."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = fork_dying_with_parent()
    if pid == 0:  # the child: never returns
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
    return InChild(pid, read_end, time.monotonic() + timeout)


# A child that closed its pipe is exiting: it is a zombie some microseconds later (exit_files() comes
# before exit_notify()), so the reaping loop looks again after 50 us, then twice as long each time up
# to 1 ms (a fixed 1 ms pause cost each Child step of a fuzz campaign ~1 ms: 1.7 % of a worker's time).
REAP_FIRST_PAUSE = 0.00005
REAP_LONGEST_PAUSE = 0.001


def finish_in_child(started: InChild[T]) -> Ended[T]:
    """Wait for the child's value and its exit, both by its deadline (past it: SIGKILLed, a hang)."""
    chunks: list[bytes] = []
    try:
        while True:
            left = started.deadline - time.monotonic()
            if left <= 0:
                kill_and_reap(started.pid)
                return Ended(hang=True)
            ready, _, _ = select.select([started.read_end], [], [], min(left, 0.1))
            if ready:
                chunk = os.read(started.read_end, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(started.read_end)
    pause = REAP_FIRST_PAUSE
    while True:  # the pipe is closed, so the child is leaving; still bounded (a stopped child)
        done, status = os.waitpid(started.pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() >= started.deadline:
            kill_and_reap(started.pid)
            return Ended(hang=True)
        time.sleep(pause)
        pause = min(2 * pause, REAP_LONGEST_PAUSE)
    if os.WIFSIGNALED(status):
        return Ended(signal=signal.Signals(os.WTERMSIG(status)).name)
    if os.WEXITSTATUS(status) != 0 or not chunks:
        return Ended(exit_status=os.WEXITSTATUS(status) or 1)
    return Ended(value=pickle.loads(b"".join(chunks)))  # our own child wrote it


def call_in_child(fn: Callable[[], T], timeout: float) -> Ended[T]:
    """``fn()`` in a forked child: its value, or how the child ended (hung past ``timeout`` s: SIGKILLed)."""
    return finish_in_child(start_in_child(fn, timeout))


def kill_and_reap(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def dying_with_parent(argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` as a program that dies with this process's current thread."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), *argv]


class Lifeline:
    """The supervisor's end: a pipe whose write end only this process holds (close-on-exec)."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe2(os.O_CLOEXEC)

    def end_for_group(self) -> int:
        """A read end of its own for one worker's group (each group owns the signal of its file).

        The caller passes it to the worker and closes its copy once the worker started.
        """
        return os.open(f"/proc/self/fd/{self.read_end}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)

    def cut(self) -> None:
        """Close the write end: every group holding the lifeline is killed.  Idempotent."""
        for fd in (self.write_end, self.read_end):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.write_end = self.read_end = -1


def hold_lifeline(fd: int) -> None:
    """In a worker that leads its own process group: the group dies when the lifeline is cut.

    The descriptor stays open and inheritable, so the registration lives as long as any process of
    the group holds it.  When the write end is already closed (the supervisor died before this
    ran), the group kills itself now.
    """
    os.set_inheritable(fd, True)
    fcntl.fcntl(fd, F_SETSIG, signal.SIGKILL)
    fcntl.fcntl(fd, F_SETOWN_EX, struct.pack("ii", F_OWNER_PGRP, os.getpgrp()))
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if any(events & select.POLLHUP for _, events in poller.poll(0)):
        os.killpg(0, signal.SIGKILL)


def hold_lifeline_from_environment() -> None:
    """:func:`hold_lifeline` for the descriptor named by ``SCM_HARNESS_LIFELINE``, when it is set."""
    value = os.environ.get(ENV_LIFELINE, "")
    if value.isdigit():
        hold_lifeline(int(value))


def _exec_dying_with_parent(args: list[str]) -> None:
    """``lifetime.py PARENT PROGRAM ARGS...``: arm the parent-death signal, then become PROGRAM."""
    die_with_parent(int(args[0]))
    os.execvp(args[1], args[1:])


if __name__ == "__main__":
    _exec_dying_with_parent(sys.argv[1:])
