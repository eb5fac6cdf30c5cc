"""execute(scenario, backend) -> Observation: runs one scenario on fresh descriptors, closes them all."""

from __future__ import annotations

import contextlib
import os
import pickle
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.execute import signals
from harness.execute.backend import Backend, ExecConfig
from harness.execute.child import kill_and_reap
from harness.execute.errors import CannotExpress
from harness.execute.fdtable import FdTable, FdUnavailable, ensure_descriptor_limit
from harness.execute.inspect import describe, open_fds
from harness.execute.lifetime import fork_dying_with_parent
from harness.execute.pysock import PySockBackend
from harness.execute.raw import RawBackend
from harness.host import host_constants
from harness.model import FdKind
from harness.observation import Observation, ProcessContext, StepObservation

if TYPE_CHECKING:
    from harness.model import Scenario

BACKENDS: dict[str, type[Backend]] = {"raw": RawBackend, "pysock": PySockBackend}

__all__ = ["BACKENDS", "CannotExpress", "ExecConfig", "execute"]


DEFAULT_CONFIG = ExecConfig()


def execute(scenario: Scenario, backend: str, config: ExecConfig = DEFAULT_CONFIG) -> Observation:
    """Run ``scenario`` through ``backend`` (see :func:`execute_here`).

    Measured on Linux 6.18.44: tearing down an io_uring leaves task work behind that interrupts a
    later sleeping syscall of the same task once (EINTR without a signal).  So a scenario with an
    io_uring fd runs in a forked child, and the harness process never owns a ring.
    """
    if any(spec.kind is FdKind.IO_URING for spec in scenario.fds):
        # checked here too: the child inherits a raised limit, and a refusal keeps its type
        ensure_descriptor_limit(scenario, len(open_fds()))
        return _in_child(scenario, backend, config)
    return execute_here(scenario, backend, config)


def _in_child(scenario: Scenario, backend: str, config: ExecConfig) -> Observation:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = fork_dying_with_parent()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            payload = pickle.dumps(("ok", execute_here(scenario, backend, config)))
        except CannotExpress as exc:
            payload = pickle.dumps(("cannot", str(exc)))
        except BaseException as exc:
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as incoming:
        data = incoming.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "cannot":
        raise CannotExpress(value)
    if kind == "error":
        raise RuntimeError(f"in the child that owned the io_uring: {value}")
    assert isinstance(value, Observation)
    return value


def execute_here(scenario: Scenario, backend: str, config: ExecConfig = DEFAULT_CONFIG) -> Observation:
    """Run ``scenario`` through ``backend``.  Kernel refusals are data; harness bugs propagate.

    Raises :class:`CannotExpress` when the back end cannot say what a step asks, or when
    RLIMIT_NOFILE cannot be raised to what the scenario needs (checked before anything is opened).
    """
    consts = host_constants()
    baseline = open_fds()
    closed_above = ensure_descriptor_limit(scenario, len(baseline))
    observed: list[StepObservation] = []
    with signals.watched(), contextlib.ExitStack() as stack:
        table = FdTable(stack, closed_above)
        impl = BACKENDS[backend](consts, table, config)
        stack.callback(impl.remove_bound_paths, scenario.steps)  # unlinking a socket file leaves the socket alone
        if isinstance(impl, PySockBackend):
            stack.callback(impl.finish)
        impl.create_pair(scenario.kind)
        for spec in scenario.fds:
            try:
                impl.open_table(spec)
            except FdUnavailable as exc:
                raise CannotExpress(str(exc)) from None
        try:
            for index, step in enumerate(scenario.steps):
                pending = impl.background
                step_observation = impl.run_step(index, step)
                observed.append(replace(step_observation, signals=signals.take()))
                if pending is not None:  # a background child races the step after its Child step
                    joined = impl.join_background()
                    if joined is not None:
                        observed[joined.index] = joined
            last = impl.join_background()
            if last is not None:
                observed[last.index] = last
        finally:
            if impl.background is not None:
                _, running = impl.background
                kill_and_reap(running.pid)
                os.close(running.read_end)
        children = tuple(impl.children)
    leaked = tuple(describe(fd) for fd in sorted(open_fds() - baseline))
    return Observation(
        backend=backend,
        kind=scenario.kind.name,
        steps=tuple(observed),
        leaked_fds=leaked,
        context=ProcessContext(pid=os.getpid(), uid=os.getuid(), gid=os.getgid()),
        children=children,
    )
