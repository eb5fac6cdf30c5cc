"""execute(scenario, backend) -> Observation: runs one scenario on fresh descriptors, closes them all."""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.execute import signals
from harness.execute.backend import Backend, ExecConfig
from harness.execute.errors import CannotExpress
from harness.execute.fdtable import FdTable, FdUnavailable, ensure_descriptor_limit
from harness.execute.inspect import describe, fd_listing, fd_numbers, hold_listing
from harness.execute.pysock import PySockBackend
from harness.execute.raw import RawBackend
from harness.host import host_constants
from harness.model import Interrupt, all_steps
from harness.observation import Observation, ProcessContext, StepObservation

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harness.model import Scenario
    from harness.native.constants import Constants

BACKENDS: dict[str, type[Backend]] = {"raw": RawBackend, "pysock": PySockBackend}

__all__ = ["BACKENDS", "CannotExpress", "ExecConfig", "execute"]


DEFAULT_CONFIG = ExecConfig()


def execute(scenario: Scenario, backend: str, config: ExecConfig = DEFAULT_CONFIG) -> Observation:
    """Run ``scenario`` through ``backend``.  Kernel refusals are data; harness bugs propagate.

    A scenario with an io_uring fd runs here too: the ring is set up by a thread that has ended
    (harness.execute.fdtable.io_uring_fd), so its teardown interrupts no later system call.

    Raises :class:`CannotExpress` when the back end cannot say what a step asks, or when
    RLIMIT_NOFILE cannot be raised to what the scenario needs (checked before anything is opened).
    """
    consts = host_constants()
    interrupts = {step.restart for step in all_steps(scenario.steps) if isinstance(step, Interrupt)}
    if interrupts:
        if backend != "raw":
            raise CannotExpress(f"{backend}: Python's socket calls retry after a signal (PEP 475): no Interrupt")
        with sigusr2_handler(restart=interrupts.pop()):
            return _execute_steps(scenario, backend, config, consts)
    return _execute_steps(scenario, backend, config, consts)


@contextlib.contextmanager
def sigusr2_handler(*, restart: bool) -> Iterator[None]:
    """A SIGUSR2 handler that does nothing, with SA_RESTART or not, for Interrupt steps.

    Python installs its C handler without SA_RESTART; signal.siginterrupt(sig, False) adds it.
    A blocking call of the raw back end (ctypes) then fails with EINTR or is restarted by the
    kernel, and the Python-level handler runs afterwards.  Only the main thread may do this.
    """
    if threading.current_thread() is not threading.main_thread():
        raise CannotExpress("a signal handler can be installed from the main thread only")
    previous = signal.signal(signal.SIGUSR2, _ignore)
    try:
        signal.siginterrupt(signal.SIGUSR2, not restart)
        yield
    finally:
        signal.signal(signal.SIGUSR2, previous)


def _ignore(signum: int, frame: object) -> None:
    """The handler Interrupt steps interrupt with (its effect is the interruption)."""


def _execute_steps(scenario: Scenario, backend: str, config: ExecConfig, consts: Constants) -> Observation:
    hold_listing()
    baseline = fd_listing()
    closed_above, soft_limit = ensure_descriptor_limit(scenario, len(baseline))
    observed: list[StepObservation] = []
    with contextlib.ExitStack() as stack:
        stack.callback(signals.unblock, signals.block())  # the last to run: after every descriptor is closed
        table = FdTable(stack, closed_above, soft_limit)
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
                raised = signals.take()
                observed.append(replace(step_observation, signals=raised) if raised else step_observation)
                if pending is not None:  # a background child races the step after its Child step
                    joined = impl.join_background()
                    if joined is not None:
                        observed[joined.index] = joined
            last = impl.join_background()
            if last is not None:
                observed[last.index] = last
        finally:
            impl.abandon_background()
        children = tuple(impl.children)
    leaked = tuple(describe(fd) for fd in fd_numbers(fd_listing() - baseline))
    return Observation(
        backend=backend,
        kind=scenario.kind.name,
        steps=tuple(observed),
        leaked_fds=leaked,
        context=ProcessContext(pid=impl.main_ids[0], uid=impl.main_ids[1], gid=impl.main_ids[2]),
        children=children,
    )
