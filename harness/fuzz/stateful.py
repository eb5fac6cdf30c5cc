"""A Hypothesis state machine that drives one socket pair through send / recv / peek / setsockopt /
shutdown / close, checking the kernel against the oracle and against invariants of its own.

Each rule proposes one step; the machine appends it only when the oracle models the scenario
so far and expects no blocking step (otherwise the step is dropped and counted as an event), so
the run never waits out a timeout.  The executor runs whole scenarios, so every accepted step
re-runs the prefix on a fresh pair: short sequences (a dozen steps) keep that cheap, and each
check sees one complete, replayable scenario.

Invariants (one ``@invariant`` each, checked after every rule): the scenario so far agrees
with the oracle; no fd leaks (the ``fd-leaks`` checker); and the observation-only invariants of
:mod:`harness.fuzz.invariants` (every received fd is a file that was sent, in order; stream
bytes in order; message boundaries for DGRAM and SEQPACKET).

Findings go to :meth:`PairMachine.observe`, which raises AssertionError (the
test suite); the campaign overrides it to raise one exception class per signature, so that
Hypothesis shrinks each finding on its own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import hypothesis.strategies as st
from hypothesis import event
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from harness.evaluate import Evaluation
from harness.expectation import Expectation
from harness.finding import Finding
from harness.fuzz.evaluate import FuzzConfig, evaluate
from harness.host import probe
from harness.model import (
    API_KINDS,
    Close,
    FdKind,
    FdSpec,
    InvalidScenario,
    Named,
    PairKind,
    Recv,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetSockOpt,
    Shutdown,
    SockType,
    Step,
)
from harness.observation import Failed
from harness.oracle import expect
from harness.platform import Platform

TABLE_KINDS = (FdKind.REGULAR_FILE, FdKind.MEMFD, FdKind.PIPE_READ, FdKind.PIPE_WRITE, FdKind.EVENTFD, FdKind.SOCKET)
SIDES = st.sampled_from(("a", "b"))
# control sizes around CMSG_SPACE(4k) and one ucred, so that truncation and its absence both happen
CONTROL_SIZES = (0, 16, 20, 24, 28, 32, 40, 48, 56, 64, 72, 128, 256)
SEND_FLAGS = st.frozensets(st.sampled_from(("MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR")), max_size=2)
RECV_SIDES = st.sampled_from(("follow", "follow", "follow", "a", "b"))  # "follow": where the last send went
RECV_SIZES = st.lists(st.integers(0, 40), min_size=1, max_size=3)
RECV_FLAGS = st.frozensets(st.sampled_from(("MSG_TRUNC", "MSG_WAITALL", "MSG_CMSG_CLOEXEC", "MSG_DONTWAIT")))


class PairMachine(RuleBasedStateMachine):
    """One pair, a small fd table, and steps proposed by rules; see the module docstring."""

    config: ClassVar[FuzzConfig] = FuzzConfig()
    files = Bundle("files")

    def __init__(self) -> None:
        super().__init__()
        self.platform: Platform = probe()
        self.kind = PairKind(SockType.STREAM)
        self.fds: tuple[FdSpec, ...] = ()
        self.steps: list[Step] = []
        self.last: Evaluation | None = None

    # -- plumbing -----------------------------------------------------------------------------

    def scenario(self, extra: Step | None = None) -> Scenario:
        steps = (*self.steps, extra) if extra is not None else tuple(self.steps)
        return Scenario(kind=self.kind, fds=self.fds, steps=steps)

    def attempt(self, step: Step) -> None:
        """Append ``step`` if the oracle models the result and nothing blocks; else drop it."""
        if len(self.steps) >= 24:
            return
        try:
            evaluation = self.evaluate(self.scenario(step))
            if evaluation.skipped.startswith("blocking") and isinstance(step, Recv):
                step = replace(step, flags=step.flags | {"MSG_DONTWAIT"})
                evaluation = self.evaluate(self.scenario(step))
        except InvalidScenario:
            return
        if evaluation.skipped:
            event(f"dropped step: {evaluation.skipped.split(':', 1)[0]}")
            return
        self.steps.append(step)
        self.last = evaluation
        for signature in evaluation.outcomes[-1:]:
            event(signature)

    def evaluate(self, scenario: Scenario) -> Evaluation:
        """Evaluate a scenario (the campaign overrides this to count and record it)."""
        return evaluate(scenario, self.platform, self.config)

    def observe(self, evaluation: Evaluation, findings: list[Finding]) -> None:
        """The test suite's verdict: any finding or broken invariant fails the test."""
        assert not findings, "\n".join(f.describe() for f in findings)

    def _check(self, *, checkers: tuple[str, ...] = (), invariants: tuple[str, ...] = ()) -> None:
        if self.last is not None:
            chosen = [
                f
                for f in self.last.findings
                if f.checker in checkers or (f.checker == "invariant" and f.field in invariants)
            ]
            self.observe(self.last, chosen)

    # -- rules --------------------------------------------------------------------------------

    @initialize(
        target=files,
        kind=st.one_of(
            st.builds(PairKind, st.sampled_from(tuple(SockType)), st.booleans(), st.booleans()),
            st.sampled_from(API_KINDS),  # the kinds the socket API makes (harness.model.PairOrigin)
        ),
        table=st.lists(st.sampled_from(TABLE_KINDS), min_size=1, max_size=3),
    )
    def open_pair(self, kind: PairKind, table: list[FdKind]) -> object:
        self.kind = kind
        self.fds = tuple(FdSpec(name=f"f{i}", kind=k) for i, k in enumerate(table))
        return multiple(*(spec.name for spec in self.fds))

    def _send(self, on: str, data: bytes, split: int, names: list[str], creds: bool, flags: frozenset[str]) -> None:
        cmsgs: list[ScmRights | ScmCredentials] = [ScmCredentials()] if creds else []
        if names:
            cmsgs.append(ScmRights(tuple(Named(n) for n in names)))
        iov = (data[:split], data[split:]) if 0 < split < len(data) else (data,)
        self.attempt(Send(on="a" if on == "a" else "b", iov=iov, cmsgs=tuple(cmsgs), flags=flags))

    # Hypothesis picks among the enabled rules evenly, so sends and receives get two rules each.
    @rule(
        on=SIDES,
        data=st.binary(max_size=24),
        split=st.integers(0, 24),
        names=st.lists(files, max_size=3),
        creds=st.booleans(),
        flags=SEND_FLAGS,
    )
    def send(self, on: str, data: bytes, split: int, names: list[str], creds: bool, flags: frozenset[str]) -> None:
        self._send(on, data, split, names, creds, flags)

    @rule(
        on=SIDES,
        data=st.binary(max_size=24),
        split=st.integers(0, 24),
        names=st.lists(files, max_size=3),
        creds=st.booleans(),
        flags=SEND_FLAGS,
    )
    def send_again(
        self, on: str, data: bytes, split: int, names: list[str], creds: bool, flags: frozenset[str]
    ) -> None:
        self._send(on, data, split, names, creds, flags)

    def _recv(self, on: str, sizes: list[int], control: int, flags: frozenset[str]) -> None:
        if on == "follow":
            last = next((s.on for s in reversed(self.steps) if isinstance(s, Send)), "a")
            on = "b" if last == "a" else "a"
        # A receive on an empty queue teaches little (EAGAIN, again): try the other end, and drop
        # the step when both are empty.  The oracle is pure and cheap enough to ask first.
        for side in (on, "b" if on == "a" else "a"):
            step = Recv(on="a" if side == "a" else "b", buffers=tuple(sizes), control=control, flags=flags)
            if not self._empty(step):
                self.attempt(step)
                return
        event("dropped step: both queues empty")

    def _empty(self, step: Recv) -> bool:
        expectation = expect(self.scenario(replace(step, flags=step.flags | {"MSG_DONTWAIT"})), self.platform)
        return isinstance(expectation, Expectation) and expectation.steps[-1].outcome == Failed("EAGAIN")

    @rule(on=RECV_SIDES, sizes=RECV_SIZES, control=st.sampled_from(CONTROL_SIZES), flags=RECV_FLAGS)
    def recv(self, on: str, sizes: list[int], control: int, flags: frozenset[str]) -> None:
        self._recv(on, sizes, control, flags)

    @rule(on=RECV_SIDES, sizes=RECV_SIZES, control=st.sampled_from(CONTROL_SIZES), flags=RECV_FLAGS)
    def recv_again(self, on: str, sizes: list[int], control: int, flags: frozenset[str]) -> None:
        self._recv(on, sizes, control, flags)

    @rule(
        on=st.sampled_from(("follow", "a", "b")),
        sizes=st.lists(st.integers(0, 40), min_size=1, max_size=2),
        control=st.sampled_from(CONTROL_SIZES),
    )
    def peek(self, on: str, sizes: list[int], control: int) -> None:
        self._recv(on, sizes, control, frozenset({"MSG_PEEK", "MSG_DONTWAIT"}))

    @rule(
        on=SIDES,
        option=st.sampled_from(("SO_PASSCRED", "SO_PEEK_OFF")),
        value=st.sampled_from((-1, 0, 1, 2, 5)),
    )
    def setsockopt(self, on: str, option: str, value: int) -> None:
        self.attempt(SetSockOpt(on="a" if on == "a" else "b", option=option, value=value))

    @precondition(lambda self: len(self.steps) >= 3 and not any(isinstance(s, Shutdown) for s in self.steps))
    @rule(on=SIDES, how=st.sampled_from(("SHUT_RD", "SHUT_WR", "SHUT_RDWR")))
    def shutdown(self, on: str, how: str) -> None:
        self.attempt(Shutdown(on="a" if on == "a" else "b", how=how))

    @precondition(lambda self: len(self.steps) >= 2)
    @rule(name=consumes(files))
    def close(self, name: str) -> None:
        self.attempt(Close(target=name))

    @precondition(
        lambda self: len(self.steps) >= 4 and not any(isinstance(s, Close) and s.target in "ab" for s in self.steps)
    )
    @rule(on=SIDES)
    def close_end(self, on: str) -> None:
        # once, late: after a pair end is closed most steps only fail
        self.attempt(Close(target=on))

    # -- invariants (checked after every rule, on the scenario so far) ------------------------

    @invariant()
    def agrees_with_oracle(self) -> None:
        if self.last is not None:
            self._check(checkers=tuple({f.checker for f in self.last.findings} - {"invariant", "fd-leaks"}))

    @invariant()
    def no_fd_leak(self) -> None:
        self._check(checkers=("fd-leaks",))

    @invariant()
    def received_fds_are_the_sent_files(self) -> None:
        self._check(invariants=("fd-is-sent-file", "fd-order"))

    @invariant()
    def stream_bytes_in_order(self) -> None:
        self._check(invariants=("stream-order",))

    @invariant()
    def message_boundaries(self) -> None:
        self._check(invariants=("boundaries",))
