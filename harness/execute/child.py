"""Forked children: a Child step's steps run in another process, as another identity.

Everything that changes who the process is (setresuid, capabilities, user and pid namespaces,
rlimits) happens only in the child, which then runs its steps on the inherited descriptors,
sends its observations to the parent through a pipe (pickle: the same program on both ends) and
exits with ``os._exit``.  The parent waits with a deadline and kills a child that overstays.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import resource
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import cast

from harness.execute.asleep import Sleeper, wait_until_asleep
from harness.execute.errors import CannotExpress
from harness.execute.lifetime import InChild, die_with_parent, finish_in_child, kill_and_reap, start_in_child
from harness.model import UNPRIVILEGED_UID, Identity
from harness.observation import ProcessContext, StepObservation

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class ChildUnsupported(Exception):
    """The child could not become the identity asked for (no privilege, no namespaces here)."""


class ChildFailed(Exception):
    """The child broke (a harness bug in the child) or did not finish in time."""


@dataclass(frozen=True, slots=True)
class ChildReport:
    context: ProcessContext  # as the parent sees it
    steps: tuple[StepObservation, ...]
    died: str | None = None  # the signal that killed the child before it reported (a kernel oops, ...)


def _unshare(flags: int, what: str) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise ChildUnsupported(f"unshare({what}) failed: {os.strerror(err)}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def become(identity: Identity, outer_uid: int, outer_gid: int) -> None:
    """Turn this (child) process into ``identity``, apart from the pid namespace."""
    if identity.nofile is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (identity.nofile, identity.nofile))
    if identity.fd_headroom is not None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit_with_headroom(identity.fd_headroom), hard))
    if identity.userns:
        _unshare(CLONE_NEWUSER, "CLONE_NEWUSER")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {outer_uid} 1")
        _write("/proc/self/gid_map", f"0 {outer_gid} 1")
    if identity.netns:  # after the user namespace (which gives the capability), before any privilege drop
        _unshare(CLONE_NEWNET, "CLONE_NEWNET")
    if identity.user == "unprivileged":
        uid = unprivileged_uid()
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        except PermissionError as exc:
            raise ChildUnsupported(f"cannot switch to uid {uid}: {exc.strerror}") from None


def limit_with_headroom(headroom: int) -> int:
    """The RLIMIT_NOFILE under which exactly ``headroom`` more descriptors can be opened."""
    free = 0
    fd = 0
    while True:
        try:
            os.fstat(fd)
        except OSError:
            if free == headroom:
                return fd
            free += 1
        fd += 1


_harness_pid = os.getpid()


def become_harness_process() -> None:
    """Called first in a worker forked after import (``run -j``, a Hypothesis campaign worker): its
    unprivileged children get a uid of their own.  The kernel counts fds in flight per user
    (``user->unix_inflight``, GC-04's ETOOMANYREFS), so two workers sharing a uid disturb each
    other: seen as a GC-04 fail with ``run -j 8`` before this existed."""
    global _harness_pid
    _harness_pid = os.getpid()


def unprivileged_uid() -> int:
    """The uid and gid of an unprivileged child: distinct for each harness process."""
    return UNPRIVILEGED_UID + _harness_pid % 10000


def outer_view(identity: Identity, pid: int, outer_uid: int, outer_gid: int) -> ProcessContext:
    """The child's ids as the parent sees them."""
    if identity.user == "unprivileged":
        uid = unprivileged_uid()
        return ProcessContext(pid=pid, uid=uid, gid=uid)
    return ProcessContext(pid=pid, uid=outer_uid, gid=outer_gid)


# A Child step's process: harness.execute.lifetime's fork-and-wait helper, started before the step
# a background child races and finished after it.
Running = InChild[tuple[str, object]]


def start_child(
    identity: Identity,
    steps: Callable[[], tuple[StepObservation, ...]],
    after_fork: Callable[[], None],
    timeout: float,
    delay: float = 0.0,
    sleeper: Sleeper | None = None,
    calls: Collection[int] = (),
) -> Running:
    """Fork; the child waits until ``sleeper`` sleeps in one of ``calls`` (``delay`` seconds at
    most; harness.execute.asleep), becomes ``identity`` and runs ``steps()``."""
    outer_uid, outer_gid = os.geteuid(), os.getegid()
    parent = os.getpid()

    def body() -> tuple[str, object]:
        if delay:
            wait_until_asleep(sleeper, calls, delay)  # still root, in the parent's namespaces: /proc is readable
        return _child_body(identity, steps, after_fork, outer_uid, outer_gid, parent)

    return start_in_child(body, timeout + delay)


def finish_child(running: Running) -> ChildReport:
    """Wait for the child's report (or its death), reap it, and decode what it saw."""
    pid = running.pid
    ended = finish_in_child(running)
    if ended.hang:
        raise ChildFailed("the child did not finish in time")
    if ended.signal:
        return ChildReport(ProcessContext(pid=pid, uid=-1, gid=-1), (), died=ended.signal)
    if ended.value is None:
        raise ChildFailed("the child exited without a report")
    kind, value = ended.value
    if kind == "unsupported":
        raise ChildUnsupported(str(value))
    if kind == "error":
        raise ChildFailed(str(value))
    if kind == "died":
        return ChildReport(ProcessContext(pid=pid, uid=-1, gid=-1), (), died=str(value))
    context, observed = cast(tuple[ProcessContext, tuple[StepObservation, ...]], value)
    if context.pid == 0:
        context = ProcessContext(pid=pid, uid=context.uid, gid=context.gid)
    return ChildReport(context, observed)


def run_child(
    identity: Identity, steps: Callable[[], tuple[StepObservation, ...]], after_fork: Callable[[], None], timeout: float
) -> ChildReport:
    """Fork, become ``identity``, run ``steps()`` there, and bring the observations back."""
    return finish_child(start_child(identity, steps, after_fork, timeout))


def _reap(pid: int, deadline: float) -> int:
    """waitpid with a deadline (the child closed its pipe, so it is exiting); SIGKILL after it."""
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.001)
    kill_and_reap(pid)
    raise ChildFailed("the child did not exit in time")


def _child_body(
    identity: Identity,
    steps: Callable[[], tuple[StepObservation, ...]],
    after_fork: Callable[[], None],
    outer_uid: int,
    outer_gid: int,
    parent: int,
) -> tuple[str, object]:
    try:
        if identity.pidns:
            _unshare(CLONE_NEWPID, "CLONE_NEWPID")
            return _relay_grandchild(identity, steps, after_fork)
        after_fork()
        become(identity, outer_uid, outer_gid)
        die_with_parent(parent)  # a change of identity clears the parent-death signal: armed again
        return "ok", (outer_view(identity, 0, outer_uid, outer_gid), steps())
    except (ChildUnsupported, CannotExpress) as exc:
        return "unsupported", str(exc)
    except Exception as exc:
        return "error", f"in the child: {type(exc).__name__}: {exc}"


def _relay_grandchild(
    identity: Identity, steps: Callable[[], tuple[StepObservation, ...]], after_fork: Callable[[], None]
) -> tuple[str, object]:
    """After unshare(CLONE_NEWPID) only the next child is in the new namespace (as its pid 1).

    That grandchild is forked, reported and reaped like any child (start_child, finish_child);
    the pid forked here is its pid as the parent sees it, which finish_child puts in the context.
    The grandchild reads the uid and gid it maps from this process, which has not changed them.
    """
    inner = dataclasses.replace(identity, pidns=False)
    report = finish_child(start_child(inner, steps, after_fork, timeout=30))
    if report.died is not None:
        return "died", report.died
    return "ok", (report.context, report.steps)
