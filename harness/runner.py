"""Run catalogue cases: every variant, on every pair kind it applies to, through each back end.

A case's result per (kind, back end) is the worst of its variants': error > fail > xpass > known >
unmodelled > unsupported > pass.  Kernel disagreements are ``fail``; a harness that breaks
(an exception, a step that hangs where the oracle says it returns) is ``error``, never the
kernel's fault.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from harness.catalogue.case import Case, Variant
from harness.check import check
from harness.describe import expectation_words, observation_words
from harness.execute.backend import ExecConfig
from harness.execute.errors import CannotExpress
from harness.execute.faults import inject
from harness.execute.fdtable import DescriptorLimitTooLow
from harness.execute.lifetime import fork_dying_with_parent
from harness.execute.run import execute
from harness.expectation import Expectation, Unmodelled
from harness.expectations_file import SKIP_REASON_PREFIX, KnownDeviations
from harness.host import FEATURE_WHY, Platform
from harness.model import PairKind, Scenario
from harness.native.constants import UnknownName
from harness.observation import Blocked, Observation
from harness.oracle import expect, history
from harness.report.schema import Finding, Result, Verdict

SEVERITY = (
    Verdict.ERROR,
    Verdict.FAIL,
    Verdict.XPASS,
    Verdict.KNOWN,
    Verdict.UNMODELLED,
    Verdict.UNSUPPORTED,
    Verdict.PASS,
)


class CaseTimeout(Exception):
    """The whole scenario took longer than the watchdog allows."""


@dataclass(frozen=True, slots=True)
class RunConfig:
    exec: ExecConfig = field(default_factory=ExecConfig)
    scenario_timeout: float = 20.0  # watchdog for one scenario, beyond every step timeout
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


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """SIGALRM after ``seconds``: a syscall that no step timeout ends is interrupted (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CaseTimeout(f"no result within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_variant(variant: Variant, backend: str, platform: Platform, config: RunConfig) -> VariantResult:
    label = variant.label
    expectation = expect(variant.scenario, platform)
    if isinstance(expectation, Unmodelled):
        return VariantResult(label, Verdict.UNMODELLED, reason=expectation.reason)
    expected = expectation_words(expectation)
    try:
        with watchdog(config.scenario_timeout):
            observation = execute(variant.scenario, backend, config.exec)
            for fault in config.faults:
                observation = inject(fault, variant.scenario, observation)
    except DescriptorLimitTooLow as exc:
        short = (exc.limit, exc.required)
        return VariantResult(label, Verdict.UNSUPPORTED, expected=expected, reason=str(exc), descriptors_short=short)
    except CannotExpress as exc:
        return VariantResult(label, Verdict.UNSUPPORTED, expected=expected, reason=str(exc))
    except UnknownName as exc:
        return VariantResult(label, Verdict.UNSUPPORTED, expected=expected, reason=f"this platform has no {exc}")
    except CaseTimeout as exc:
        return VariantResult(label, Verdict.ERROR, expected=expected, reason=f"timeout: {exc}")
    observed = observation_words(observation)
    timeout = unexpected_block(observation, expectation, variant.blocking_expected)
    if timeout:
        return VariantResult(label, Verdict.ERROR, expected=expected, observed=observed, reason=timeout)
    findings = tuple(
        Finding(checker=f.checker, variant=label, step=f.step, field=f.field, expected=f.expected, observed=f.observed)
        for f in check(variant.scenario, observation, expectation)
    )
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


def unexpected_block(observation: Observation, expectation: Expectation, blocking_expected: bool) -> str:
    """Why a step that blocked is the harness's timeout ('' when none did out of turn)."""
    for seen, want in zip(observation.steps, expectation.steps, strict=False):
        if isinstance(seen.outcome, Blocked) and not (want.blocks and blocking_expected):
            oracle = "the oracle expects it to block too" if want.blocks else f"expected {want.outcome.describe()}"
            return f"timeout: step {seen.index} ({seen.op}) {seen.outcome.describe()}; {oracle}"
    return ""


def agrees(scenario: Scenario, observation: Observation, expectation: Expectation, blocking_expected: bool) -> bool:
    """The observation is what ``expectation`` says: no checker finds anything, nothing blocked out of turn."""
    if unexpected_block(observation, expectation, blocking_expected):
        return False
    return not check(scenario, observation, expectation)


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
    """Once per process and limit, a line that says why cases are unsupported (each result says it too)."""
    if result.descriptors_short is None:
        return
    limit, required = result.descriptors_short
    if limit not in _LIMITS_MENTIONED:
        _LIMITS_MENTIONED.add(limit)
        print(
            f"scm-harness: RLIMIT_NOFILE {limit} (the hard limit) is too low for some cases, which are "
            f"unsupported (the first needs {required} descriptors); raise it with ulimit -n to run them",
            file=sys.stderr,
        )


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


def run_case(case: Case, kind: PairKind, backend: str, platform: Platform, config: RunConfig) -> Result:
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
            for variant in case.variants(kind):
                parts.append(run_variant(variant, backend, platform, config))
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
        for backend in backends:
            yield run_case(case, kind, backend, platform, config)


def run_plan_parallel(
    plan: Sequence[tuple[Case, PairKind]], backends: Sequence[str], platform: Platform, config: RunConfig, jobs: int
) -> Iterator[Result]:
    """:func:`run_plan` across ``jobs`` forked workers; the results in the order of ``run_plan``.

    Worker ``w`` runs the results ``w, w + jobs, w + 2*jobs, ...`` of the flat (case, kind, back
    end) list and sends each one, pickled and length-prefixed, on a pipe of its own.  The parent
    yields a result once every earlier one is in, so the caller's journal stays in plan order.
    Workers ignore SIGINT (the parent ends them) and die with the parent (fork_dying_with_parent).
    """
    work = [(case, kind, backend) for case, kind in plan for backend in backends]
    jobs = max(1, min(jobs, len(work)))
    if jobs == 1:
        yield from run_plan(plan, backends, platform, config)
        return
    workers: dict[int, _Worker] = {}
    try:
        for index in range(jobs):
            worker = _start_worker(work[index::jobs], platform, config)
            workers[worker.read_end] = worker
        yield from _merge(workers, jobs, len(work))
    finally:
        for worker in workers.values():
            worker.stop()


@dataclass(slots=True)
class _Worker:
    pid: int
    read_end: int
    buffer: bytearray = field(default_factory=bytearray)
    received: int = 0

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.read_end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


_LENGTH = struct.Struct("!I")


def _start_worker(share: list[tuple[Case, PairKind, str]], platform: Platform, config: RunConfig) -> _Worker:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = fork_dying_with_parent()
    if pid == 0:  # the worker: never returns
        code = 0
        try:
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for case, kind, backend in share:
                data = pickle.dumps(run_case(case, kind, backend, platform, config))
                _write_all(write_end, _LENGTH.pack(len(data)) + data)
        except BaseException:  # the parent sees the missing results and says so
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return _Worker(pid, read_end)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _merge(workers: dict[int, _Worker], jobs: int, total: int) -> Iterator[Result]:
    """Read every worker's results; yield them in flat-list order (result i came from worker i % jobs)."""
    done: dict[int, Result] = {}
    following = 0
    open_ends = dict(workers)
    order = {worker.read_end: number for number, worker in enumerate(workers.values())}
    while following < total:
        if not open_ends:
            raise RuntimeError(f"a run worker ended after {following} of {total} results (see its traceback above)")
        ready, _, _ = select.select(list(open_ends), [], [])
        for fd in ready:
            worker = open_ends[fd]
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                del open_ends[fd]
                continue
            worker.buffer += chunk
            while len(worker.buffer) >= _LENGTH.size:
                (length,) = _LENGTH.unpack_from(worker.buffer)
                if len(worker.buffer) < _LENGTH.size + length:
                    break
                result = pickle.loads(bytes(worker.buffer[_LENGTH.size : _LENGTH.size + length]))
                del worker.buffer[: _LENGTH.size + length]
                done[order[fd] + worker.received * jobs] = result
                worker.received += 1
        while following in done:
            yield done.pop(following)
            following += 1
