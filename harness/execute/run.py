"""execute(scenario, backend) -> Observation: runs one scenario on fresh descriptors, closes them all."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.execute import signals
from harness.execute.backend import Backend, ExecConfig
from harness.execute.child import kill_and_reap
from harness.execute.errors import CannotExpress
from harness.execute.fdtable import FdTable, FdUnavailable
from harness.execute.inspect import describe, open_fds
from harness.execute.pysock import PySockBackend
from harness.execute.raw import RawBackend
from harness.host import host_constants
from harness.observation import Observation, ProcessContext, StepObservation

if TYPE_CHECKING:
    from harness.model import Scenario

BACKENDS: dict[str, type[Backend]] = {"raw": RawBackend, "pysock": PySockBackend}

__all__ = ["BACKENDS", "CannotExpress", "ExecConfig", "execute"]


DEFAULT_CONFIG = ExecConfig()


def execute(scenario: Scenario, backend: str, config: ExecConfig = DEFAULT_CONFIG) -> Observation:
    """Run ``scenario`` through ``backend``.  Kernel refusals are data; harness bugs propagate.

    Raises :class:`CannotExpress` when the back end cannot say what a step asks.
    """
    consts = host_constants()
    baseline = open_fds()
    observed: list[StepObservation] = []
    with signals.watched(), contextlib.ExitStack() as stack:
        table = FdTable(stack)
        impl = BACKENDS[backend](consts, table, config)
        if isinstance(impl, PySockBackend):
            stack.callback(impl.finish)
        impl.create_pair(scenario.kind)
        for spec in scenario.fds:
            try:
                table.open(spec)
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
