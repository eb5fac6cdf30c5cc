"""A Hypothesis state machine that drives one socket pair with steps of the scenario grammar,
checking the kernel against the oracle and against invariants of its own.

Each rule asks the grammar (:mod:`harness.generate.grammar`, drawn through ``st.data()``) for
one step: a send, a receive, a listener sequence (bind, listen, connect, accept), or any step.
The machine appends it only when the oracle models the scenario so far and expects no blocking
step (otherwise the step is dropped and counted as an event), so the run never waits out a
timeout; the grammar's context (the queue sketch, the accepted entries filled) follows only the
steps kept.  The executor runs whole scenarios, so every accepted step re-runs the prefix on a
fresh pair: short sequences (a dozen steps) keep that cheap, and each check sees one complete,
replayable scenario.

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
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from harness.evaluate import Evaluation
from harness.expectation import Expectation
from harness.finding import Finding
from harness.fuzz.evaluate import FuzzConfig, evaluate
from harness.generate import grammar
from harness.generate.grammar import Context
from harness.generate.strategies import DrawChoices
from harness.host import probe
from harness.model import SIDES, FdSpec, InvalidScenario, PairKind, Recv, Scenario, SockType, Step
from harness.observation import Failed
from harness.oracle import expect
from harness.platform import Platform

MAX_MACHINE_STEPS = 24
LISTENER_SEQUENCE = ("bind", "listen_socket", "connect", "accept")


class PairMachine(RuleBasedStateMachine):
    """One pair, a small fd table, and steps proposed by rules; see the module docstring."""

    config: ClassVar[FuzzConfig] = FuzzConfig()

    def __init__(self) -> None:
        super().__init__()
        self.platform: Platform = probe()
        self.kind = PairKind(SockType.STREAM)
        self.fds: tuple[FdSpec, ...] = ()
        self.steps: list[Step] = []
        self.last: Evaluation | None = None
        self.context = Context.of(self.kind, self.fds)

    # -- plumbing -----------------------------------------------------------------------------

    def scenario(self, extra: Step | None = None) -> Scenario:
        steps = (*self.steps, extra) if extra is not None else tuple(self.steps)
        return Scenario(kind=self.kind, fds=self.fds, steps=steps)

    def attempt(self, step: Step) -> bool:
        """Append ``step`` if the oracle models the result and nothing blocks; else drop it."""
        if len(self.steps) >= MAX_MACHINE_STEPS:
            return False
        try:
            evaluation = self.evaluate(self.scenario(step))
            if evaluation.skipped.startswith("blocking") and isinstance(step, Recv):
                step = replace(step, flags=step.flags | {"MSG_DONTWAIT"})
                evaluation = self.evaluate(self.scenario(step))
        except InvalidScenario:
            return False
        if evaluation.skipped:
            event(f"dropped step: {evaluation.skipped.split(':', 1)[0]}")
            return False
        self.steps.append(step)
        self.last = evaluation
        for signature in evaluation.outcomes[-1:]:
            event(signature)
        return True

    def propose(self, data: st.DataObject, only: tuple[str, ...] | None = None) -> None:
        """One step of the grammar (of the kinds ``only`` names), kept if :meth:`attempt` keeps it."""
        context = self.context.copy()
        made = grammar.step(DrawChoices(data.draw), context, only=only, record=False)
        self.keep(context, made)

    def keep(self, context: Context, made: Step) -> None:
        if self.attempt(made):
            if context.sketch is not None:
                context.sketch.record(self.steps[-1])
            self.context = context

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

    @initialize(data=st.data())
    def open_pair(self, data: st.DataObject) -> None:
        choices = DrawChoices(data.draw)
        self.kind = grammar.pair_kind(choices)
        self.fds = grammar.fd_table(choices, 1, 3, kind=self.kind)
        self.context = Context.of(self.kind, self.fds)

    # Hypothesis picks among the enabled rules evenly, so sends and receives get two rules each.
    @rule(data=st.data())
    def send(self, data: st.DataObject) -> None:
        self.propose(data, ("message",))

    @rule(data=st.data())
    def send_again(self, data: st.DataObject) -> None:
        self.propose(data, ("message",))

    def _recv(self, data: st.DataObject) -> None:
        context = self.context.copy()
        made = grammar.step(DrawChoices(data.draw), context, only=("small_recv",), record=False)
        assert isinstance(made, Recv)
        # A receive on an empty queue teaches little (EAGAIN, again): try the other end, and drop
        # the step when both are empty.  The oracle is pure and cheap enough to ask first.
        candidates = [made]
        if made.on in SIDES:
            candidates.append(replace(made, on="b" if made.on == "a" else "a"))
        for candidate in candidates:
            if not self._empty(candidate):
                self.keep(context, candidate)
                return
        event("dropped step: both queues empty")

    def _empty(self, step: Recv) -> bool:
        expectation = expect(self.scenario(replace(step, flags=step.flags | {"MSG_DONTWAIT"})), self.platform)
        return isinstance(expectation, Expectation) and expectation.steps[-1].outcome == Failed("EAGAIN")

    @rule(data=st.data())
    def recv(self, data: st.DataObject) -> None:
        self._recv(data)

    @rule(data=st.data())
    def recv_again(self, data: st.DataObject) -> None:
        self._recv(data)

    @rule(data=st.data())
    def pass_option(self, data: st.DataObject) -> None:
        self.propose(data, ("pass_option",))

    @rule(data=st.data())
    def any_step(self, data: st.DataObject) -> None:
        self.propose(data)

    # issue 10: bind and listen a socket of the table, connect another to it, accept
    @precondition(lambda self: bool(self.context.sockets))
    @rule(data=st.data())
    def listener_sequence(self, data: st.DataObject) -> None:
        for kind in LISTENER_SEQUENCE:
            if kind != "accept" or any(name not in self.context.filled for name in self.context.accepted):
                self.propose(data, (kind,))

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
