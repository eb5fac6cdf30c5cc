"""execute(scenario, backend) -> Observation: runs one scenario on fresh descriptors, closes them all."""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.execute import signals
from harness.execute.backend import Backend, ExecConfig
from harness.execute.errors import CannotExpress, CaseTimeout, ChildDied
from harness.execute.fdtable import FdTable, FdUnavailable, descriptor_limit, ensure_descriptor_limit
from harness.execute.inspect import describe, fd_listing, fd_numbers, hold_listing, open_fds
from harness.execute.lifetime import call_in_child
from harness.execute.pysock import PySockBackend
from harness.execute.raw import RawBackend
from harness.host import host_constants
from harness.model import FdKind, Interrupt, all_steps, step_count
from harness.observation import Observation, ProcessContext, StepObservation

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harness.model import Scenario
    from harness.native.constants import Constants

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
    # bounded like the scenario itself: every step at most its timeout, plus the set-up and the inspections
    timeout = config.step_timeout * (step_count(scenario.steps) + 2) + 10.0
    ended = call_in_child(lambda: _attempt(scenario, backend, config), timeout)
    if ended.hang:
        raise CaseTimeout(f"the child that owned the io_uring gave no result within {timeout:g} s")
    if ended.value is None:
        how = f"killed by {ended.signal}" if ended.signal else f"exit status {ended.exit_status}"
        raise ChildDied(f"the child that owned the io_uring died: {how}")
    kind, value = ended.value
    if kind == "cannot":
        raise CannotExpress(str(value))
    if kind == "error":
        raise RuntimeError(f"in the child that owned the io_uring: {value}")
    assert isinstance(value, Observation)
    return value


def _attempt(scenario: Scenario, backend: str, config: ExecConfig) -> tuple[str, Observation | str]:
    """What :func:`execute_here` ended with, as a value that crosses the pipe (in the child)."""
    try:
        return "ok", execute_here(scenario, backend, config)
    except CannotExpress as exc:
        return "cannot", str(exc)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def execute_here(scenario: Scenario, backend: str, config: ExecConfig = DEFAULT_CONFIG) -> Observation:
    """Run ``scenario`` through ``backend``.  Kernel refusals are data; harness bugs propagate.

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
    closed_above, soft_limit = descriptor_limit(scenario, len(baseline))
    observed: list[StepObservation] = []
    blocked = signals.block()
    try:
        with contextlib.ExitStack() as stack:
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
    finally:
        signals.unblock(blocked)
    leaked = tuple(describe(fd) for fd in fd_numbers(fd_listing() - baseline))
    return Observation(
        backend=backend,
        kind=scenario.kind.name,
        steps=tuple(observed),
        leaked_fds=leaked,
        context=ProcessContext(pid=impl.main_ids[0], uid=impl.main_ids[1], gid=impl.main_ids[2]),
        children=children,
    )
