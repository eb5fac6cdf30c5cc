"""Seeing SIGPIPE and SIGURG without being killed by them.

Python ignores SIGPIPE, and an ignored signal is discarded when raised, unless it is blocked:
"Blocked signals are never ignored, since the signal handler may change by the time it is
unblocked" (kernel/signal.c, sig_ignored()).  So the scenario runs with both signals blocked in
this thread, and each step takes what became pending with sigtimedwait(timeout 0).
"""

from __future__ import annotations

import importlib
import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

WATCHED = (signal.SIGPIPE, signal.SIGURG)
# the C function behind signal.sigpending(), which gives numbers: the wrapper makes an enum of each (every step asks)
_sigpending = importlib.import_module("_signal").sigpending


@contextmanager
def watched() -> Iterator[None]:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    try:
        take()  # nothing from before the scenario may count
        yield
    finally:
        take()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


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
