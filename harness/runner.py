"""Run catalogue cases: every variant, on every pair kind it applies to, through each back end.

A case's result per (kind, back end) is the worst of its variants': error > fail > xpass > known >
unmodelled > unsupported > pass.  Kernel disagreements are ``fail``; a harness that breaks
(an exception, a step that hangs where the oracle says it returns) is ``error``, never the
kernel's fault.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import pickle
import select
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from harness.catalogue.case import Case, Variant
from harness.describe import expectation_words, observation_words
from harness.evaluate import EvaluationConfig, Status, agrees, evaluate
from harness.execute.backend import MIN_STEP_TIMEOUT, ExecConfig
from harness.execute.child import become_harness_process
from harness.execute.lifetime import fork_dying_with_parent
from harness.expectation import Expectation, Unmodelled
from harness.expectations_file import SKIP_REASON_PREFIX, KnownDeviations
from harness.finding import Finding
from harness.host import FEATURE_WHY
from harness.model import PairKind
from harness.observation import Observation
from harness.oracle import expect, history
from harness.platform import Platform
from harness.report.schema import Result, Verdict

SEVERITY = (
    Verdict.ERROR,
    Verdict.FAIL,
    Verdict.XPASS,
    Verdict.KNOWN,
    Verdict.UNMODELLED,
    Verdict.UNSUPPORTED,
    Verdict.PASS,
)


@dataclass(frozen=True, slots=True)
class RunConfig:
    exec: ExecConfig = field(default_factory=ExecConfig)
    scenario_timeout: float = 20.0  # watchdog for one scenario, beyond every step timeout
    # The step timeout of a variant about blocking (Variant.blocking_expected), when under exec's.  Its
    # waits are the ones the oracle predicts (any other wait is the variant's error), and a predicted
    # wait only has to be seen still waiting: on a correct kernel nothing ends it, however long the
    # bound.  Its other steps find their data queued or fail at once, and none waits for a party
    # (whose bound, ExecConfig.party_bound, stays) or sets a timeout of its own (whose EAGAIN must
    # come well before 90 % of the step timeout: MIN_STEP_TIMEOUT); tests/test_catalogue.py keeps that.
    # The five cases about blocking confirmed 130 waits a run at 0.5 s each.
    blocking_bound: float = MIN_STEP_TIMEOUT
    known: KnownDeviations = field(default_factory=KnownDeviations)
    # test-only (``run --inject-fault``): harness.execute.faults names applied to every observation, in order
    faults: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VariantResult:
    label: str
    verdict: Verdict
    expected: str = ""
    observed: str = ""
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    # RLIMIT_NOFILE was too low to run it: (the limit, the descriptors it needs); the caller says so
    # once per run (mention_descriptor_limit), also when the variant ran in a forked child (replay)
    descriptors_short: tuple[int, int] | None = None
    # every harness.oracle.history change whose flip turns this fail into a pass, the likeliest first
    explainers: tuple[str, ...] = ()

    @property
    def explained_by(self) -> str:
        """The likeliest change that explains this fail ('' when none does)."""
        return self.explainers[0] if self.explainers else ""


# The oracle's answers for the variants of one (case, kind), in order: filled by the first back end,
# read by the next (the oracle is pure and knows no back end; LM-08's answer alone costs 0.4 s of CPU)
OracleAnswers = list[Expectation | Unmodelled]


def run_variant(
    variant: Variant,
    backend: str,
    platform: Platform,
    config: RunConfig,
    expectation: Expectation | Unmodelled | None = None,
) -> VariantResult:
    """One variant through the evaluation pipeline (harness.evaluate), as a verdict; ``expectation``:
    the oracle's answer for it when the caller has it (see ``OracleAnswers``)."""
    label = variant.label
    exec_config = config.exec
    if variant.blocking_expected and config.blocking_bound < exec_config.step_timeout:
        exec_config = replace(exec_config, step_timeout=config.blocking_bound)
    settings = EvaluationConfig(
        backend=backend, exec=exec_config, scenario_timeout=config.scenario_timeout, faults=config.faults
    )
    evaluation = evaluate(
        variant.scenario, platform, settings, blocking_expected=variant.blocking_expected, expectation=expectation
    )
    status = evaluation.status
    if status is Status.UNMODELLED:
        return VariantResult(label, Verdict.UNMODELLED, reason=evaluation.reason)
    assert evaluation.expectation is not None  # the oracle modelled it
    expected = expectation_words(evaluation.expectation)
    if status is Status.UNSUPPORTED:
        short = evaluation.descriptors_short
        return VariantResult(
            label, Verdict.UNSUPPORTED, expected=expected, reason=evaluation.reason, descriptors_short=short
        )
    if status in (Status.TIMEOUT, Status.CRASH):
        return VariantResult(label, Verdict.ERROR, expected=expected, reason=f"{status.value}: {evaluation.reason}")
    if status is Status.HARNESS_ERROR:
        return VariantResult(label, Verdict.ERROR, expected=expected, reason=f"harness error: {evaluation.reason}")
    observation = evaluation.observation
    assert status is Status.CHECKED and observation is not None
    observed = observation_words(observation)
    if evaluation.blocked:
        return VariantResult(label, Verdict.ERROR, expected=expected, observed=observed, reason=evaluation.blocked)
    findings = tuple(replace(f, variant=label) for f in evaluation.findings)
    if not findings:
        return VariantResult(label, Verdict.PASS, expected=expected, observed=observed)
    explainers = explanations(variant, observation, platform)
    change = explainers[0] if explainers else ""
    reason = history.describe(change, platform.release, carried=change not in platform.changes) if change else ""
    return VariantResult(
        label,
        Verdict.FAIL,
        expected=expected,
        observed=observed,
        reason=reason,
        findings=findings,
        explainers=explainers,
    )


def explanations(variant: Variant, observation: Observation, platform: Platform) -> tuple[str, ...]:
    """The known upstream changes whose flip alone makes this failing observation pass, likeliest first.

    The oracle is asked again with that one change present/absent; the observation is the same
    (nothing runs again).  Probed features are not flipped (the probe already decided them); a flip
    takes along what the change builds on (adding it) or what builds on it (removing it): a kernel
    without the June 2024 MSG_OOB series has no fix written on top of it either.  The flips that move
    fewest changes come first, then changes the running release is not said to carry (with
    ``--as-linux latest`` they are the likely reason).
    """
    said = history.changes_in(platform.release)
    flips: list[tuple[int, bool, int, str, frozenset[str]]] = []
    for order, change in enumerate(history.CHANGES):
        if change.probed:
            continue
        if change.id in platform.changes:
            flipped = history.without_change(platform.changes, change.id)
        else:
            flipped = history.with_change(platform.changes, change.id)
        flips.append((len(flipped ^ platform.changes), change.id in said, order, change.id, flipped))
    found = []
    for *_, change_id, changes in sorted(flips):
        expectation = expect(variant.scenario, dataclasses.replace(platform, changes=changes))
        if not isinstance(expectation, Unmodelled) and agrees(
            variant.scenario, observation, expectation, variant.blocking_expected
        ):
            found.append(change_id)
    return tuple(found)


_LIMITS_MENTIONED: set[int] = set()


def mention_descriptor_limit(result: VariantResult) -> None:
    """Once per run and limit, a line that says why cases are unsupported (each result says it too).

    A ``run -j`` worker does not print it: it hands it to the parent with the result
    (:data:`_FORWARDED`), which says it once for all workers."""
    if result.descriptors_short is None:
        return
    if _FORWARDED is not None:
        _FORWARDED.append(result.descriptors_short)
        return
    say_descriptor_limit(*result.descriptors_short)


def say_descriptor_limit(limit: int, required: int) -> None:
    if limit not in _LIMITS_MENTIONED:
        _LIMITS_MENTIONED.add(limit)
        print(
            f"scm-harness: RLIMIT_NOFILE {limit} (the hard limit) is too low for some cases, which are "
            f"unsupported (the first needs {required} descriptors); raise it with ulimit -n to run them",
            file=sys.stderr,
        )


# In a run -j worker: the descriptor-limit notes of the result in hand, sent to the parent with it.
_FORWARDED: list[tuple[int, int]] | None = None


def _reasons(parts: list[VariantResult]) -> str:
    """One entry per distinct reason, naming the variants it applies to."""
    labels: dict[str, list[str]] = {}
    for p in parts:
        labels.setdefault(p.reason, []).append(p.label)
    return "; ".join(reason if names == ["*"] else f"{reason} [{', '.join(names)}]" for reason, names in labels.items())


NO_SCENARIO_REASON = "the case has no scenario for this pair kind"


def lacking(missing: list[str]) -> str:
    """The reason of a case whose needs the platform lacks, with why a feature is missing when known."""
    named = [f"{name} ({FEATURE_WHY[name]})" if name in FEATURE_WHY else name for name in missing]
    return f"the platform lacks {', '.join(named)}"


def run_case(
    case: Case,
    kind: PairKind,
    backend: str,
    platform: Platform,
    config: RunConfig,
    variants: tuple[Variant, ...] | None = None,
    answers: OracleAnswers | None = None,
) -> Result:
    """The case's result on ``kind`` through ``backend``; ``variants``: ``case.variants(kind)`` when the
    caller built them already (for the other back end: scenarios are frozen, building is pure), and
    ``answers`` the oracle's answers for them, shared the same way."""
    started = time.monotonic()
    parts: list[VariantResult] = []
    missing = sorted(case.needs - platform.features)
    skip = config.known.skipped(case.id, kind.name, backend, platform)
    if skip is not None:
        parts.append(VariantResult("*", Verdict.UNSUPPORTED, reason=f"{SKIP_REASON_PREFIX}{skip.reason}"))
    elif missing:
        parts.append(VariantResult("*", Verdict.UNSUPPORTED, reason=lacking(missing)))
    else:
        try:
            shared = answers if variants is not None and answers is not None else []
            for number, variant in enumerate(case.variants(kind) if variants is None else variants):
                if number == len(shared):
                    shared.append(expect(variant.scenario, platform))
                parts.append(run_variant(variant, backend, platform, config, shared[number]))
                mention_descriptor_limit(parts[-1])
            if not parts:  # nothing was run: never a pass (REG-SO_PEEK_OFF-SLEEP needs a receive that sleeps)
                parts.append(VariantResult("*", Verdict.UNSUPPORTED, reason=NO_SCENARIO_REASON))
        except Exception as exc:  # a harness bug: recorded as this case's error, the run goes on
            where = traceback.extract_tb(exc.__traceback__)[-1]
            reason = f"harness error: {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})"
            parts.append(VariantResult("*", Verdict.ERROR, reason=reason))
    verdict = min((p.verdict for p in parts), key=SEVERITY.index, default=Verdict.PASS)
    findings = tuple(f for p in parts for f in p.findings)
    known = config.known.find(case.id, kind.name, backend, platform, findings)
    reason = _reasons([p for p in parts if p.reason and p.verdict is verdict])
    failed = [p for p in parts if p.verdict is Verdict.FAIL]
    # one change explains the case only when it explains every failing variant (the likeliest such)
    common = [c for c in failed[0].explainers if all(c in p.explainers for p in failed)] if failed else []
    explained_by = common[0] if verdict is Verdict.FAIL and common else ""
    if known is not None and verdict in (Verdict.FAIL, Verdict.PASS):
        verdict = Verdict.KNOWN if verdict is Verdict.FAIL else Verdict.XPASS
        explained_by = ""
        reason = (
            known.reason if verdict is Verdict.KNOWN else f"listed as a known deviation ({known.reason}) but it passed"
        )
    return Result(
        case=case.id,
        title=case.title,
        area=case.area,
        source=case.source,
        kind=kind.name,
        backend=backend,
        verdict=verdict,
        expected=" | ".join(f"{p.label}: {p.expected}" for p in parts if p.expected),
        observed=" | ".join(f"{p.label}: {p.observed}" for p in parts if p.observed),
        reason=reason,
        findings=findings,
        explained_by=explained_by,
        duration_ms=round((time.monotonic() - started) * 1000, 3),
    )


def run_plan(
    plan: Iterable[tuple[Case, PairKind]], backends: Sequence[str], platform: Platform, config: RunConfig
) -> Iterator[Result]:
    """Every (case, kind) of ``plan`` through every back end, each result as soon as it is finished.

    A generator, so that the caller can stream each result to disk (the journal) before the next
    case starts: a full disk or a kill then loses at most the case in flight.
    """
    for case, kind in plan:
        yield from run_entry(case, kind, backends, platform, config)


def run_entry(
    case: Case, kind: PairKind, backends: Sequence[str], platform: Platform, config: RunConfig
) -> Iterator[Result]:
    """One (case, kind) through every back end: its variants built and the oracle asked once."""
    variants, answers = built(case, kind), OracleAnswers()
    for backend in backends:
        yield run_case(case, kind, backend, platform, config, variants, answers)


def built(case: Case, kind: PairKind) -> tuple[Variant, ...] | None:
    """``case.variants(kind)``, built once for every back end; None when building raises (run_case
    builds them again and records the exception as the case's error)."""
    try:
        return case.variants(kind)
    except Exception:
        return None


def run_plan_parallel(
    plan: Sequence[tuple[Case, PairKind]], backends: Sequence[str], platform: Platform, config: RunConfig, jobs: int
) -> Iterator[Result]:
    """:func:`run_plan` across ``jobs`` forked workers; the results in the order of ``run_plan``.

    The (case, kind) entries of the plan are handed out as the workers finish, not split up front:
    a worker that drew short ones takes more, so no worker is left with a tail of waits while the
    others are idle (a static split of the whole catalogue's results ended 5 s after the mean
    worker at -j 8).  They are handed out in :func:`handout_order`, which mixes the kinds of
    neighbouring cases, so that the workers do not all wait out the blocking calls of one case at
    once while the CPUs idle.  A worker runs an entry through every back end (its variants built once).
    Each worker has a socketpair of its own: the parent sends it the index of its next entry
    (``_AHEAD`` more than it runs, so it never waits for the parent), and it sends back each
    result, pickled and length-prefixed.  The parent yields a result once every earlier one is
    in, so the caller's journal stays in plan order.  Workers ignore SIGINT (the parent ends
    them) and die with the parent (fork_dying_with_parent).
    """
    jobs = max(1, min(jobs, len(plan)))
    if jobs == 1 or not backends:
        yield from run_plan(plan, backends, platform, config)
        return
    workers: dict[int, _Worker] = {}
    try:
        for _ in range(jobs):
            worker = _start_worker(plan, backends, platform, config, inherited=tuple(workers))
            workers[worker.end] = worker
        yield from _merge(workers, handout_order(plan), len(backends))
    finally:
        for worker in workers.values():
            worker.stop()


# Plan entries a worker holds beyond the one it runs: the next one is there when it finishes one.
_AHEAD = 1
# Consecutive cases whose entries handout_order takes in turn.  A case's kinds are alike: FL-30's
# 22 entries each wait ~0.7 s for signals, GC-03's 14 ~0.8 s for the collector, PK-10's 22 ~0.55 s,
# and in plan order -j 8 ran eight of one such case at once, the CPUs idle (on this 2-CPU machine
# a whole run at -j 8 took ~27 s for 41-45 s of CPU: ~10 CPU-seconds idle).  Replaying the -j 1
# timings of every entry (CPU and wall) through 8 simulated workers on 2 CPUs put windows of 32
# cases 1-2 s ahead of plan order (16: 1 s, 64: no better than 16).  The results are still yielded
# in plan order: the parent holds those that came early, at most a window's (~1/5 of a whole run).
_MIXED_CASES = 32


def handout_order(plan: Sequence[tuple[Case, PairKind]], window: int = _MIXED_CASES) -> list[int]:
    """The plan's indexes in the order the workers are given them: the cases split into windows
    of ``window`` consecutive cases, and in each window one entry of every case in turn (the
    first kind of each, then the second of each, ...).  Every index once."""
    cases: list[list[int]] = []  # the plan indexes of each case, in plan order
    for index, (case, _) in enumerate(plan):
        if cases and plan[cases[-1][0]][0].id == case.id:
            cases[-1].append(index)
        else:
            cases.append([index])
    order: list[int] = []
    for start in range(0, len(cases), window):
        for turn in itertools.zip_longest(*cases[start : start + window]):
            order.extend(index for index in turn if index is not None)
    return order


@dataclass(slots=True)
class _Worker:
    pid: int
    end: int  # the parent's end of the worker's socketpair: plan indexes out, results in
    buffer: bytearray = field(default_factory=bytearray)
    given: list[int] = field(default_factory=list)  # plan indexes sent and not yet answered in full, in order
    answered: int = 0  # results in of the first of them (one per back end)

    def give(self, index: int) -> None:
        _write_all(self.end, _LENGTH.pack(index))
        self.given.append(index)

    def no_more(self) -> None:
        """The end of file after the indexes sent: the worker ends once it has answered them."""
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self.end)) as end:
            end.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


_LENGTH = struct.Struct("!I")


def _start_worker(
    plan: Sequence[tuple[Case, PairKind]],
    backends: Sequence[str],
    platform: Platform,
    config: RunConfig,
    inherited: tuple[int, ...] = (),
) -> _Worker:
    """Fork a worker that runs the plan entries whose indexes it is sent, until its socket's end of
    file.  It closes ``inherited`` (the earlier workers' ends): a worker holds one descriptor of its
    own, as before, so the cases a low RLIMIT_NOFILE leaves out are the same (a scenario's budget
    is counted from the descriptors open when it starts)."""
    parent_end, worker_end = (s.detach() for s in socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
    pid = fork_dying_with_parent()
    if pid == 0:  # the worker: never returns
        code = 0
        try:
            os.close(parent_end)
            for fd in inherited:
                os.close(fd)
            become_harness_process()
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            global _FORWARDED
            _FORWARDED = []
            while (index := _read_index(worker_end)) is not None:
                case, kind = plan[index]
                for result in run_entry(case, kind, backends, platform, config):
                    data = pickle.dumps((result, _FORWARDED))
                    _FORWARDED.clear()
                    _write_all(worker_end, _LENGTH.pack(len(data)) + data)
        except (BrokenPipeError, ConnectionResetError):  # the parent stopped reading: it ends the run and says why
            code = 1
        except BaseException:  # the parent sees the missing results and says so
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(worker_end)
    return _Worker(pid, parent_end)


def _read_index(fd: int) -> int | None:
    """The next plan index the parent sent, None at the end of file (no more work)."""
    data = b""
    while len(data) < _LENGTH.size:
        chunk = os.read(fd, _LENGTH.size - len(data))
        if not chunk:
            return None
        data += chunk
    (index,) = _LENGTH.unpack(data)
    return int(index)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _merge(workers: dict[int, _Worker], order: Sequence[int], per_entry: int) -> Iterator[Result]:
    """Hand out the plan indexes ``order`` (each of ``0 .. len(order) - 1`` once) as the workers
    finish them; yield the results (``per_entry`` of each, one per back end) in plan order."""
    total = len(order) * per_entry
    done: dict[int, Result] = {}
    following = 0
    pending = iter(order)
    more = True

    def give(worker: _Worker) -> None:
        nonlocal more
        index = next(pending, None) if more else None
        if index is None:
            if more:  # the last index is out: every worker ends once it has answered what it holds
                more = False
                for each in workers.values():
                    each.no_more()
            return
        worker.give(index)

    for _ in range(1 + _AHEAD):  # one entry to each worker first: a short plan keeps every worker busy
        for worker in workers.values():
            give(worker)
    open_ends = dict(workers)
    while following < total:
        if not open_ends:
            raise RuntimeError(f"a run worker ended after {following} of {total} results (see its traceback above)")
        ready, _, _ = select.select(list(open_ends), [], [])
        for fd in ready:
            worker = open_ends[fd]
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                del open_ends[fd]
                if worker.given:
                    raise RuntimeError(
                        f"a run worker ended after {following} of {total} results (see its traceback above)"
                    )
                continue
            worker.buffer += chunk
            while len(worker.buffer) >= _LENGTH.size:
                (length,) = _LENGTH.unpack_from(worker.buffer)
                if len(worker.buffer) < _LENGTH.size + length:
                    break
                result, notes = pickle.loads(bytes(worker.buffer[_LENGTH.size : _LENGTH.size + length]))
                del worker.buffer[: _LENGTH.size + length]
                for limit, required in notes:
                    say_descriptor_limit(limit, required)
                done[worker.given[0] * per_entry + worker.answered] = result
                worker.answered += 1
                if worker.answered == per_entry:
                    worker.given.pop(0)
                    worker.answered = 0
                    give(worker)
        while following in done:
            yield done.pop(following)
            following += 1
