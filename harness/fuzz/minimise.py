"""Delta debugging on the scenario model: the smallest scenario that still shows one signature.

Hypothesis shrinks its own findings, but its shrinker works on the choice sequence, and a
generator that reacts to earlier steps (``QueueSketch``) can hide a removable step from it;
atheris does not shrink at all.  So every finding, from either engine, ends here (fuzzing.md
c.3, step 2): greedy passes that drop steps, control messages, fd references, fd-table
entries, iovec entries and bytes, receive buffers, flags and overrides, until no single
reduction keeps the signature.  A candidate is accepted only when it is strictly cheaper by
:func:`cost` and the predicate still holds, so the loop always ends; the result is 1-minimal:
no step, control message or fd can be removed without losing the finding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

from harness.model import (
    Close,
    Cmsg,
    FdSpec,
    InvalidScenario,
    Named,
    PairKind,
    RawCmsg,
    Recv,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    Step,
)

Predicate = Callable[[Scenario], bool]


def cost(s: Scenario) -> tuple[int, ...]:
    """What minimisation drives down, most important first (compared lexicographically)."""
    sends = [st for st in s.steps if isinstance(st, Send)]
    recvs = [st for st in s.steps if isinstance(st, Recv)]
    cmsgs = [c for st in sends for c in st.cmsgs]
    refs = sum(len(c.fds) for c in cmsgs if isinstance(c, ScmRights))
    payload = [part for st in sends for part in st.iov]
    raw_data = sum(len(c.data) for c in cmsgs if isinstance(c, RawCmsg))
    overrides = sum(
        (st.controllen is not None) + (st.control != "buffer") + (st.fault is not None) for st in sends
    ) + sum((st.control_pointer != "buffer") + (st.fault is not None) for st in recvs)
    overrides += sum(
        (c.length is not None) + (getattr(c, "space", None) is not None)
        for c in cmsgs
        if not isinstance(c, ScmCredentials)
    )
    flags = sum(len(st.flags) for st in sends) + sum(len(st.flags) for st in recvs)
    fd_flags = sum(int(spec.cloexec) + int(spec.nonblock) + int(spec.append) for spec in s.fds)
    plain = sum(1 for part in payload for byte in part if byte != 0x78)  # b"x" is the plainest byte
    return (
        len(s.steps),
        len(cmsgs),
        refs,
        len(s.fds),
        len(payload),
        sum(map(len, payload)) + raw_data,
        sum(len(st.buffers) for st in recvs),
        sum(st.capacity for st in recvs),
        sum(st.control for st in recvs),
        flags,
        overrides,
        fd_flags + int(s.kind.nonblocking) + int(s.kind.reversed) + int(not s.kind.by_socketpair),
        plain,
    )


def _rebuild(
    s: Scenario, steps: tuple[Step, ...] | None = None, fds: tuple[FdSpec, ...] | None = None
) -> Scenario | None:
    try:
        return replace(s, steps=s.steps if steps is None else steps, fds=s.fds if fds is None else fds)
    except InvalidScenario:
        return None


def _with_step(s: Scenario, index: int, step: Step | None) -> Scenario | None:
    try:
        return replace(s, steps=s.steps[:index] + (() if step is None else (step,)) + s.steps[index + 1 :])
    except InvalidScenario:
        return None


def _drop_steps(s: Scenario) -> Iterator[Scenario | None]:
    n = len(s.steps)
    size = max(1, n // 2)
    while size >= 1:  # big chunks first: one success can remove half the scenario
        for start in range(0, n - size + 1, size):
            yield _rebuild(s, steps=s.steps[:start] + s.steps[start + size :])
        size //= 2


def _shorter(data: bytes) -> Iterator[bytes]:
    if data:
        yield b""
    if len(data) > 1:
        yield data[: len(data) // 2]
        yield data[:-1]
    plain = b"x" * len(data)
    if data != plain:
        yield plain


def _smaller(value: int) -> Iterator[int]:
    for smaller in (0, 1, value // 2, value - 8, value - 1):
        if 0 <= smaller < value:
            yield smaller


T = TypeVar("T", Send, Recv, ScmRights, RawCmsg)


def _changed(value: T, **changes: object) -> T | None:
    """``replace(value, **changes)``, or None when the constructor refuses the smaller value."""
    try:
        return replace(value, **changes)  # type: ignore[arg-type]
    except InvalidScenario:
        return None


def _cmsg_variants(c: Cmsg) -> Iterator[Cmsg | None]:
    if isinstance(c, ScmRights):
        for i in range(len(c.fds)):
            yield _changed(c, fds=c.fds[:i] + c.fds[i + 1 :])
        if c.length is not None:
            yield _changed(c, length=None)
    elif isinstance(c, RawCmsg):
        if c.length is not None:
            yield _changed(c, length=None)
        if c.space is not None:
            yield _changed(c, space=None)
        for data in _shorter(c.data):
            yield _changed(c, data=data)


def _send_variants(st: Send) -> Iterator[Send | None]:
    for i in range(len(st.cmsgs)):
        yield _changed(st, cmsgs=st.cmsgs[:i] + st.cmsgs[i + 1 :])
    for i, c in enumerate(st.cmsgs):
        for variant in _cmsg_variants(c):
            if variant is not None:
                yield _changed(st, cmsgs=(*st.cmsgs[:i], variant, *st.cmsgs[i + 1 :]))
    for i in range(len(st.iov)):
        yield _changed(st, iov=st.iov[:i] + st.iov[i + 1 :])
    for i, part in enumerate(st.iov):
        for data in _shorter(part):
            yield _changed(st, iov=(*st.iov[:i], data, *st.iov[i + 1 :]))
    for flag in sorted(st.flags):
        yield _changed(st, flags=st.flags - {flag})
    if st.controllen is not None:
        yield _changed(st, controllen=None)
    if st.control != "buffer":
        yield _changed(st, control="buffer")
    if st.fault is not None:
        yield _changed(st, fault=None)


def _recv_variants(st: Recv) -> Iterator[Recv | None]:
    for i in range(len(st.buffers)):
        yield _changed(st, buffers=st.buffers[:i] + st.buffers[i + 1 :])
    for i, size in enumerate(st.buffers):
        for smaller in _smaller(size):
            yield _changed(st, buffers=(*st.buffers[:i], smaller, *st.buffers[i + 1 :]))
    for smaller in _smaller(st.control):
        yield _changed(st, control=smaller)
    for flag in sorted(st.flags):
        yield _changed(st, flags=st.flags - {flag})
    if st.control_pointer != "buffer":
        yield _changed(st, control_pointer="buffer")
    if st.fault is not None:
        yield _changed(st, fault=None)


def _step_variants(s: Scenario) -> Iterator[Scenario | None]:
    for index, st in enumerate(s.steps):
        variants: Iterator[Send | None] | Iterator[Recv | None] = iter(())
        if isinstance(st, Send):
            variants = _send_variants(st)
        elif isinstance(st, Recv):
            variants = _recv_variants(st)
        for variant in variants:
            yield None if variant is None else _with_step(s, index, variant)


def _used_names(s: Scenario) -> set[str]:
    used = set()
    for st in s.steps:
        if isinstance(st, Close):
            used.add(st.target)
        elif isinstance(st, Send):
            used |= {ref.name for c in st.cmsgs if isinstance(c, ScmRights) for ref in c.fds if isinstance(ref, Named)}
    return used


def _table_variants(s: Scenario) -> Iterator[Scenario | None]:
    used = _used_names(s)
    for i, spec in enumerate(s.fds):
        if spec.name not in used:
            yield _rebuild(s, fds=s.fds[:i] + s.fds[i + 1 :])
    for i, spec in enumerate(s.fds):
        plainer = (
            replace(spec, cloexec=False) if spec.cloexec else None,
            replace(spec, nonblock=False) if spec.nonblock else None,
            replace(spec, append=False) if spec.append else None,
        )
        for simpler in plainer:
            if simpler is not None:
                yield _rebuild(s, fds=(*s.fds[:i], simpler, *s.fds[i + 1 :]))
    if s.kind.nonblocking:
        yield replace(s, kind=replace(s.kind, nonblocking=False))
    if s.kind.reversed:
        yield replace(s, kind=replace(s.kind, reversed=False))
    if not s.kind.by_socketpair:  # the same type from socketpair(): no names, no listener
        yield replace(s, kind=PairKind(s.kind.sock_type))


PASSES: tuple[Callable[[Scenario], Iterator[Scenario | None]], ...] = (_drop_steps, _step_variants, _table_variants)


@dataclass(frozen=True, slots=True)
class Minimised:
    scenario: Scenario
    complete: bool  # False: a budget or ``stop()`` cut the search short (maybe not 1-minimal)


def minimise(
    scenario: Scenario,
    predicate: Predicate,
    *,
    max_checks: int = 3000,
    max_seconds: float = 60.0,
    on_check: Callable[[], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> Minimised:
    """The cheapest scenario found from ``scenario`` for which ``predicate`` still holds.

    ``predicate(scenario)`` is assumed true.  ``on_check`` runs before every predicate call
    (the campaign uses it as a heartbeat); ``stop()`` returning True ends the search early with
    the best scenario so far (the campaign is shutting down).
    """
    current = scenario
    checks = 0
    deadline = time.monotonic() + max_seconds
    progress = True
    while progress:
        progress = False
        for make in PASSES:
            restart = True
            while restart:
                restart = False
                here = cost(current)
                for candidate in make(current):
                    if candidate is None or cost(candidate) >= here:
                        continue
                    if checks >= max_checks or time.monotonic() > deadline or (stop is not None and stop()):
                        return Minimised(current, complete=False)
                    checks += 1
                    if on_check is not None:
                        on_check()
                    if predicate(candidate):
                        current = candidate
                        progress = restart = True
                        break
    return Minimised(current, complete=True)
