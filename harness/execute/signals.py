"""Seeing SIGPIPE and SIGURG without being killed by them.

Python ignores SIGPIPE, and an ignored signal is discarded when raised, unless it is blocked:
"Blocked signals are never ignored, since the signal handler may change by the time it is
unblocked" (kernel/signal.c, sig_ignored()).  So the scenario runs with both signals blocked in
this thread, and each step takes what became pending with sigtimedwait(timeout 0).
"""

from __future__ import annotations

import importlib
import signal

WATCHED = (signal.SIGPIPE, signal.SIGURG)
# the C functions behind signal.sigpending() and signal.pthread_sigmask(), which give numbers: the
# wrappers make an enum of each (every step asks)
_signal = importlib.import_module("_signal")
_sigpending = _signal.sigpending
_pthread_sigmask = _signal.pthread_sigmask


def block() -> set[int]:
    """Block the watched signals in this thread (nothing from before counts); the mask to restore."""
    old: set[int] = _pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    take()  # nothing from before the scenario may count
    return old


def unblock(old: set[int]) -> None:
    """Consume what is pending (it belongs to no step) and restore the mask :func:`block` returned."""
    take()
    _pthread_sigmask(signal.SIG_SETMASK, old)


def take() -> tuple[str, ...]:
    """The watched signals that are pending now, consumed."""
    pending: set[int] = _sigpending()
    if not pending:
        return ()
    seen = []
    for sig in WATCHED:
        if sig in pending:
            while signal.sigtimedwait([sig], 0) is not None:
                pass
            seen.append(sig.name)
    return tuple(seen)
