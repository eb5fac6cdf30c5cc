"""``scm-harness fuzz``: the supervisor of a fuzzing campaign.

It starts ``-j`` worker processes (forked Hypothesis workers, or atheris/libFuzzer processes
running :mod:`harness.fuzz.scenario_fuzzer`), and every half second it reads their statistics,
prints one progress line, and watches them: a worker that dies, or whose current input has run
far past the per-scenario timeout (its :mod:`~harness.fuzz.slot` says since when), is a finding
(the input it was running is minimised in forked children by :mod:`harness.fuzz.triage`) and is
restarted.  At the time limit or the end of the run budget no new input is tried, but what was
found is still minimised (within ``--minimise-seconds``); Ctrl-C and SIGTERM stop minimising too
(the best scenario so far is stored, ``"minimised": false``).  Then workers are asked to stop
(SIGTERM), given time to store what they found, and killed; the campaign summary
(``campaign.json`` and ``campaign.md``) is written atomically.  Exit status 1 when the campaign
has findings, 0 when not.

A file the campaign cannot write (a full disk), in the supervisor or in a worker (which exits with
``CANNOT_WRITE_EXIT``, the reason in its slot), ends it as an :class:`OutputError`: one line naming
the file, exit 2, after the workers are stopped as above; stored findings stay whole.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import math
import multiprocessing
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from harness import codec
from harness.execute.child import become_harness_process
from harness.execute.lifetime import ENV_LIFELINE, Lifeline, die_with_parent, dying_with_parent, hold_lifeline
from harness.fuzz import corpus, findings, triage
from harness.fuzz.evaluate import FuzzConfig
from harness.fuzz.slot import CANNOT_WRITE, CANNOT_WRITE_EXIT, ENV_SLOT, FUZZER_BYTES, PICKLED_SCENARIO, Slot
from harness.fuzz.target import ENV_WORKER, spec_to_environment
from harness.fuzz.worker import FIRST_SEEN_CHARS, FIRST_SEEN_LIMIT, WorkerSpec
from harness.generate.decode import decode, write_dictionary
from harness.host import probe
from harness.model import Scenario
from harness.platform import Platform
from harness.report.markdown import md_text
from harness.report.write import OutputError, write_atomically, writing
from harness.untrusted import MAX_SCENARIO_FILE, UntrustedInputError, load_json_file, read_file

FUZZER = Path(__file__).with_name("scenario_fuzzer.py")
POLL_SECONDS = 0.5
STOP_GRACE = 20.0  # seconds a stopping worker gets to store what it has
MAX_RESTARTS = 50
ARTIFACT_PREFIXES = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")
# libFuzzer's exit status after its -timeout fired (set explicitly on the command line).  The
# timeout-<sha1> artifact is written once per input, so a worker that hangs again on an input it
# already hung on exits with this status and leaves no new artifact: still a hang, not a crash.
LIBFUZZER_TIMEOUT_EXIT = 70
# Bounds of the files workers leave in OUT/workers/<n>/ (OUT may be shared: read through harness.untrusted).
STATS_FILE_LIMIT = 1 << 20  # stats.json: counters and the signatures the worker stored
SIGNATURES_FILE_LIMIT = 64 << 20  # signatures.txt: one outcome signature a line (a few KiB in a long campaign)
PENDING_FILE_LIMIT = 2 * MAX_SCENARIO_FILE  # pending/*.json: a scenario's JSON text inside JSON (escaped)


@dataclass(frozen=True, slots=True)
class CampaignOptions:
    engine: str  # "hypothesis" or "atheris"
    out: Path
    corpus: Path
    seconds: float | None = None
    runs: int | None = None
    jobs: int = 1
    seed: int = 0
    fault: str | None = None
    backend: str = "raw"
    scenario_timeout: float = 5.0
    seeds: tuple[Path, ...] = ()  # JSON scenario files/dirs every campaign starts with
    byte_seeds: tuple[Path, ...] = ()  # read-only libFuzzer corpora (corpora/atheris)
    minimise_seconds: float = 60.0
    max_len: int = 8192
    libfuzzer_flags: tuple[str, ...] = ()  # after ``--`` (atheris only), checked by libfuzzer_flags_problem
    command: str = ""
    progress: bool = True

    @property
    def hard_timeout(self) -> float:
        """How long one input may run before the supervisor kills the worker."""
        return max(3 * self.scenario_timeout, self.scenario_timeout + 10.0)


# ----------------------------------------------------------------------------------------------
# workers


class Handle(ABC):
    def __init__(self, spec: WorkerSpec, options: CampaignOptions, lifeline: Lifeline) -> None:
        self.spec = spec
        self.options = options
        self.lifeline = lifeline  # every worker leads a process group that dies with the supervisor
        with writing(spec.directory):
            spec.directory.mkdir(parents=True, exist_ok=True)
        self.slot = Slot.create()
        self.restarts = 0
        self.finished = False  # ended on its own (time or runs): not restarted
        self.carried: dict[str, int] = {"execs": 0, "ran": 0}  # from earlier incarnations
        self.cpu_seconds = 0.0
        self.cpu_carried = 0.0
        self.signatures_offset = 0
        self.killed_for_hang = False

    @property
    @abstractmethod
    def pid(self) -> int | None: ...

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def poll(self) -> int | None:
        """The exit status once the worker is gone (negative: killed by that signal)."""

    def alive(self) -> bool:
        return self.pid is not None and self.poll() is None

    def signal(self, sig: int) -> None:
        pid = self.pid
        if pid is not None and self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stats(self) -> dict[str, object]:
        try:
            data = load_json_file(self.spec.directory / "stats.json", STATS_FILE_LIMIT)
        except UntrustedInputError:  # not written yet, or being replaced
            return {}
        return data if isinstance(data, dict) else {}

    def sample_cpu(self) -> None:
        pid = self.pid
        if pid is None:
            return
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return
        ticks = os.sysconf("SC_CLK_TCK")
        self.cpu_seconds = self.cpu_carried + (int(fields[11]) + int(fields[12])) / ticks

    def new_incarnation(self, spec: WorkerSpec) -> None:
        stats = self.stats()
        for key in self.carried:
            value = stats.get(key)
            self.carried[key] += value if isinstance(value, int) else 0
        with contextlib.suppress(OSError):
            (self.spec.directory / "stats.json").unlink()
        self.cpu_carried = self.cpu_seconds
        self.spec = spec
        self.restarts += 1
        self.killed_for_hang = False


def _hypothesis_entry(
    spec: WorkerSpec,
    platform: Platform,
    initial: list[Scenario],
    supervisor: int,
    lifeline: Lifeline,
    group_end: int,
    slot: Slot,
) -> None:
    # The supervisor's SIGTERM handler (KeyboardInterrupt) is inherited: a SIGTERM while this worker still
    # imports the engine would print a traceback.  It waits, blocked, until worker_main has its own handler.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    die_with_parent(supervisor)
    become_harness_process()
    os.close(lifeline.write_end)  # only the supervisor may hold it open
    os.close(lifeline.read_end)
    os.setsid()  # a group of its own: what it starts (reproducers, a compiler) dies with it
    hold_lifeline(group_end)
    from harness.fuzz.hypothesis_engine import worker_main
    from harness.fuzz.worker import CannotWrite, leave_cannot_write

    try:
        log = os.open(spec.directory / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        leave_cannot_write(slot, CannotWrite(f"cannot write {spec.directory / 'log.txt'}: {exc.strerror or exc}"))
    os.dup2(log, 1)
    os.dup2(log, 2)
    worker_main(spec, platform, initial, slot)


class HypothesisHandle(Handle):
    def __init__(
        self,
        spec: WorkerSpec,
        options: CampaignOptions,
        lifeline: Lifeline,
        platform: Platform,
        initial: list[Scenario],
    ) -> None:
        super().__init__(spec, options, lifeline)
        self.platform = platform
        self.initial = initial
        self.process: multiprocessing.process.BaseProcess | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        context = multiprocessing.get_context("fork")  # the worker inherits the probed platform and seeds
        initial, self.initial = self.initial, []  # the seeds run once, not after every restart
        group_end = self.lifeline.end_for_group()
        args = (self.spec, self.platform, initial, os.getpid(), self.lifeline, group_end, self.slot)
        self.process = context.Process(target=_hypothesis_entry, args=args)
        try:
            self.process.start()
        finally:
            os.close(group_end)

    def poll(self) -> int | None:
        return None if self.process is None else self.process.exitcode


# libFuzzer flags the campaign relies on: where artifacts go (the supervisor collects them there), the
# timeout and its exit code (a hang is told from a finding by it), the seed (recorded in campaign.json),
# the budget (--time/--runs), the dictionary, and the process layout (-j and the lifeline)
HARNESS_LIBFUZZER_FLAGS = frozenset(
    {
        "artifact_prefix",
        "exact_artifact_path",
        "dict",
        "timeout",
        "timeout_exitcode",
        "error_exitcode",
        "seed",
        "runs",
        "max_total_time",
        "jobs",
        "workers",
        "fork",
        "merge",
        "minimize_crash",
        "close_fd_mask",
        "help",
    }
)


def _flag_name(flag: str) -> str:
    return flag.lstrip("-").partition("=")[0]


def libfuzzer_flags_problem(flags: Sequence[str]) -> str | None:
    """Why these flags after ``--`` cannot go to libFuzzer (None when they can).

    Each must be ``-name=value``; a flag the harness sets itself is refused, except ``-max_len``,
    ``-rss_limit_mb`` and ``-print_final_stats``, where the user's value replaces the harness's.
    """
    malformed = [f for f in flags if not f.startswith("-") or f.startswith("--") or "=" not in f]
    if malformed:
        return f"libFuzzer flags look like -name=value, not {malformed[0]!r}"
    owned = sorted({f"-{_flag_name(f)}" for f in flags if _flag_name(f) in HARNESS_LIBFUZZER_FLAGS})
    if owned:
        return f"the harness sets {', '.join(owned)} itself (see README: fuzz)"
    return None


TriageItem = tuple[str, Scenario, dict[str, object], bool, bytes | None]


def _handed_over_input(value: object, path: Path) -> bytes | None:
    """The base64 ``input`` of a handed-over finding (None when the worker had no bytes)."""
    if value is None:
        return None
    try:
        return base64.b64decode(value if isinstance(value, str) else b"?", validate=True)
    except ValueError:
        raise UntrustedInputError(f"{path}: input: not base64 text") from None


def _handed_over_first_seen(value: object, path: Path) -> list[str]:
    """The ``first_seen`` findings of a handed-over finding: at most FIRST_SEEN_LIMIT strings of at
    most FIRST_SEEN_CHARS characters each (an older worker wrote none)."""
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > FIRST_SEEN_LIMIT
        or not all(isinstance(v, str) and len(v) <= FIRST_SEEN_CHARS for v in value)
    ):
        raise UntrustedInputError(
            f"{path}: first_seen: not a list of at most {FIRST_SEEN_LIMIT} strings of {FIRST_SEEN_CHARS} characters"
        )
    return list(value)


class AtherisHandle(Handle):
    def __init__(
        self, spec: WorkerSpec, options: CampaignOptions, lifeline: Lifeline, byte_corpus: Path, initial: list[Scenario]
    ) -> None:
        super().__init__(spec, options, lifeline)
        self.byte_corpus = byte_corpus
        self.process: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None
        seeds = [codec.dumps(s) for s in initial]
        with writing(spec.directory / "seeds.json"):
            write_atomically(spec.directory / "seeds.json", json.dumps(seeds))
        self.known_artifacts: set[str] = set()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def command(self) -> list[str]:
        o = self.options
        argv = [sys.executable, str(FUZZER), str(self.byte_corpus), *(str(p) for p in o.byte_seeds if p.is_dir())]
        if self.spec.deadline is not None:
            argv.append(f"-max_total_time={max(1, int(self.spec.deadline - time.monotonic()))}")
        if self.spec.runs is not None:
            argv.append(f"-runs={self.spec.runs}")
        argv += [
            f"-timeout={max(1, math.ceil(o.scenario_timeout))}",
            f"-timeout_exitcode={LIBFUZZER_TIMEOUT_EXIT}",
            f"-dict={o.out / 'scm.dict'}",
            f"-artifact_prefix={self.spec.directory}/",
            f"-seed={self.spec.seed + 1}",  # libFuzzer treats -seed=0 as "pick one"
            f"-max_len={o.max_len}",
            "-rss_limit_mb=4096",
            "-print_final_stats=1",
        ]
        overridden = {_flag_name(flag) for flag in o.libfuzzer_flags}
        return [a for a in argv if not a.startswith("-") or _flag_name(a) not in overridden] + list(o.libfuzzer_flags)

    def start(self) -> None:
        env = dict(os.environ)
        env[ENV_WORKER] = spec_to_environment(self.spec)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        if self.log is not None:
            self.log.close()
        with writing(self.spec.directory / "log.txt"):
            self.log = open(self.spec.directory / "log.txt", "ab")  # noqa: SIM115 - lives as long as the worker
        self.known_artifacts |= set(self.artifacts())
        # a session of its own, which libFuzzer's -fork/-jobs children join: the lifeline kills them all
        group_end = self.lifeline.end_for_group()
        env[ENV_LIFELINE] = str(group_end)
        env[ENV_SLOT] = str(self.slot.fd)
        try:
            self.process = subprocess.Popen(
                dying_with_parent(self.command()),
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(group_end, self.slot.fd),
            )
        finally:
            os.close(group_end)

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def artifacts(self) -> list[str]:
        return sorted(p.name for p in self.spec.directory.iterdir() if p.name.startswith(ARTIFACT_PREFIXES))


# ----------------------------------------------------------------------------------------------
# the supervisor


@dataclass
class Totals:
    started: float = field(default_factory=time.monotonic)
    signatures: set[str] = field(default_factory=set)
    triaged: int = 0
    rate: float = 0.0
    last: tuple[float, int] = (0.0, 0)


class Campaign:
    def __init__(self, options: CampaignOptions, platform: Platform) -> None:
        self.o = options
        self.platform = platform
        self.totals = Totals()
        self.handles: list[Handle] = []
        self.lifeline = Lifeline()
        # (signature, scenario, meta, claimed, the atheris input's raw bytes when known)
        self.triage_queue: queue.Queue[TriageItem | None] = queue.Queue()
        self.triage_stop = False
        self.triage_thread = threading.Thread(target=self.triage_loop, name="triage", daemon=True)
        self.deadline = None if options.seconds is None else self.totals.started + options.seconds
        self.config = FuzzConfig(
            backend=options.backend, fault=options.fault, scenario_timeout=options.scenario_timeout
        )
        self.findings_root = options.out / "findings"
        self.errors: list[str] = []
        self.failure: OutputError | None = None  # a file the campaign could not write: it ends, exit 2
        self.started_at = datetime.datetime.now(datetime.UTC)
        self.stopped_by = ""
        self._last_line = 0.0

    # -- set-up -------------------------------------------------------------------------------

    def load_seeds(self) -> list[Scenario]:
        paths = [p for p in (*self.o.seeds, self.o.corpus) if p.exists()]
        if self.o.engine == "atheris":
            paths = [p for p in self.o.seeds if p.exists()]  # its corpus directory holds bytes
        loaded, errors = corpus.load(paths)
        for error in errors:
            print(f"scm-harness fuzz: {error}", file=sys.stderr)  # one line per file; the rest goes on
        self.errors += [str(e) for e in errors]
        return [item.scenario for item in loaded]

    def spec(self, index: int, restarts: int = 0) -> WorkerSpec:
        share = None if self.o.runs is None else max(1, math.ceil(self.o.runs / self.o.jobs))
        return WorkerSpec(
            index=index,
            engine=self.o.engine,
            out=self.o.out,
            corpus=self.o.corpus if self.o.engine == "hypothesis" else self.o.out / "scenarios",
            config=self.config,
            seed=self.o.seed * 7919 + index + 1000 * restarts,
            deadline=self.deadline,
            runs=share,
            minimise_seconds=self.o.minimise_seconds,
        )

    def start(self) -> None:
        for path in (self.o.out, self.o.corpus, self.findings_root):
            with writing(path):
                path.mkdir(parents=True, exist_ok=True)
        seeds = self.load_seeds()
        if self.o.engine == "atheris":
            with writing(self.o.out / "scm.dict"):
                write_dictionary(self.o.out / "scm.dict")
        for index in range(self.o.jobs):
            share = seeds[index :: self.o.jobs]
            handle: Handle
            if self.o.engine == "hypothesis":
                handle = HypothesisHandle(self.spec(index), self.o, self.lifeline, self.platform, share)
            else:
                handle = AtherisHandle(self.spec(index), self.o, self.lifeline, self.o.corpus, share)
            self.handles.append(handle)
        for handle in self.handles:
            handle.start()
        self.triage_thread.start()

    # -- watching -----------------------------------------------------------------------------

    def time_left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def watch(self, handle: Handle) -> None:
        handle.sample_cpu()
        self.collect_handed_over(handle)
        status = handle.poll()
        if status is None:
            reading = handle.slot.read()
            if reading.busy_since and time.monotonic() - reading.busy_since > self.o.hard_timeout:
                handle.killed_for_hang = True
                handle.signal(signal.SIGKILL)
                self.queue_dead_input(handle, triage.HANG, f"no completion within {self.o.hard_timeout:g} s")
            return
        if status == CANNOT_WRITE_EXIT:
            raise self.cannot_write(handle)
        if handle.finished:
            return
        if status == 0 and not handle.killed_for_hang:
            handle.finished = True  # its time or its runs are over
            return
        if not handle.killed_for_hang:
            self.report_death(handle, status)
        spec = self.spec(handle.spec.index, handle.restarts + 1)
        if spec.runs is not None:  # the run budget is the worker's, across its incarnations
            done = handle.carried["execs"] + _int(handle.stats().get("execs"))
            spec = replace(spec, runs=spec.runs - done)
        if self.time_left() > 1 and handle.restarts < MAX_RESTARTS and (spec.runs is None or spec.runs > 0):
            handle.new_incarnation(spec)
            handle.start()
        else:
            handle.finished = True

    def cannot_write(self, handle: Handle) -> OutputError:
        """The worker stopped because it could not write a file: the line it left in its slot."""
        handle.finished = True
        reading = handle.slot.read()
        if reading.kind == CANNOT_WRITE:
            return OutputError(reading.payload.decode("utf-8", "backslashreplace"))
        index = handle.spec.index
        return OutputError(f"cannot write in {handle.spec.directory}: worker {index} could not write its files")

    def report_death(self, handle: Handle, status: int) -> None:
        how = signal.Signals(-status).name if status < 0 else f"exit-{status}"
        if isinstance(handle, AtherisHandle):
            fresh = [a for a in handle.artifacts() if a not in handle.known_artifacts]
            handle.known_artifacts |= set(fresh)
            for name in fresh:
                try:
                    data = read_file(handle.spec.directory / name, MAX_SCENARIO_FILE, follow_symlinks=False)
                    scenario = decode(data)
                except UntrustedInputError as exc:
                    self.errors.append(str(exc))
                    continue
                if scenario is None:
                    continue
                signature = triage.HANG if name.startswith("timeout-") else triage.crash_signature(name.split("-")[0])
                self.triage_queue.put(
                    (signature, scenario, self.meta(handle, f"libFuzzer artifact {name}"), False, data)
                )
            if fresh:
                return
            if status == LIBFUZZER_TIMEOUT_EXIT:
                self.queue_dead_input(handle, triage.HANG, "libFuzzer's -timeout fired")
                return
        self.queue_dead_input(handle, triage.crash_signature(how), f"the worker died ({how})")

    def queue_dead_input(self, handle: Handle, signature: str, what: str) -> None:
        reading = handle.slot.read()
        scenario: Scenario | None = None
        data: bytes | None = None
        if reading.kind == PICKLED_SCENARIO:
            with contextlib.suppress(Exception):
                scenario = pickle.loads(reading.payload)  # our own worker wrote it
        elif reading.kind == FUZZER_BYTES:
            data = reading.payload
            scenario = decode(data)
        if isinstance(scenario, Scenario):
            self.triage_queue.put((signature, scenario, self.meta(handle, what), False, data))
        else:
            self.errors.append(f"worker {handle.spec.index}: {what}, and its input could not be recovered")

    def meta(self, handle: Handle, how: str) -> dict[str, object]:
        return {
            "engine": self.o.engine,
            "worker": handle.spec.index,
            "backend": self.o.backend,
            "fault": self.o.fault,
            "shrunk_by": "delta debugging in isolated children",
            "how_found": how,
        }

    def collect_handed_over(self, handle: Handle) -> None:
        """Findings an atheris worker claimed and left for the supervisor to minimise and store."""
        pending = handle.spec.directory / "pending"
        if not pending.is_dir():
            return
        for path in sorted(pending.glob("*.json")):
            try:
                item = load_json_file(path, PENDING_FILE_LIMIT)
                if not isinstance(item, dict) or not isinstance(item.get("signature"), str):
                    raise UntrustedInputError(f"{path}: not a handed-over finding (signature, scenario)")
                text = item.get("scenario")
                scenario = codec.loads(text if isinstance(text, str) else "", str(path))
                data = _handed_over_input(item.get("input"), path)
                seen = _handed_over_first_seen(item.get("first_seen"), path)
            except ValueError as exc:  # an UntrustedInputError or a CodecError: one line naming the file
                self.errors.append(str(exc))
                continue
            finally:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            meta = {**self.meta(handle, "oracle or invariant"), "first_seen": seen}
            self.triage_queue.put((item["signature"], scenario, meta, True, data))

    def triage_loop(self) -> None:
        isolated = replace(self.config, scenario_timeout=0.0)  # the child's deadline is the timeout
        while True:
            item = self.triage_queue.get()
            if item is None:
                return
            signature, scenario, meta, claimed, raw_input = item
            try:
                triage.store_triaged(
                    self.findings_root,
                    signature,
                    scenario,
                    self.platform,
                    isolated,
                    meta=meta,
                    timeout=min(self.o.scenario_timeout, 3.0),
                    max_seconds=self.o.minimise_seconds,
                    claimed=claimed,
                    stop=lambda: self.triage_stop,
                    raw_input=raw_input,
                )
            except OutputError as exc:  # a full disk: the campaign ends (what is stored stays whole)
                self.failure = self.failure or exc
                return
            except Exception as exc:  # the campaign goes on; the summary says what was lost
                self.errors.append(f"triage of {signature}: {type(exc).__name__}: {exc}")
            self.totals.triaged += 1

    # -- progress -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        execs = ran = 0
        for handle in self.handles:
            stats = handle.stats()
            execs += handle.carried["execs"] + _int(stats.get("execs"))
            ran += handle.carried["ran"] + _int(stats.get("ran"))
            with contextlib.suppress(UntrustedInputError):
                written = read_file(handle.spec.directory / "signatures.txt", SIGNATURES_FILE_LIMIT)
                chunk = written[handle.signatures_offset :]
                complete = chunk[: chunk.rfind(b"\n") + 1]
                handle.signatures_offset += len(complete)
                lines = complete.decode("utf-8", "backslashreplace").splitlines()
                self.totals.signatures.update(line for line in lines if line)
        return {
            "execs": execs,
            "ran": ran,
            "corpus": _files_in(self.o.corpus),
            "signatures": len(self.totals.signatures),
            "findings": len(findings.finding_dirs(self.findings_root)),
        }

    def progress(self, final: bool = False) -> None:
        if not self.o.progress:
            return
        now = time.monotonic()
        c = self.counts()
        elapsed = now - self.totals.started
        then, before = self.totals.last
        if now - then >= 2.0:
            self.totals.rate = (c["execs"] - before) / (now - then) if then else c["execs"] / max(elapsed, 1e-9)
            self.totals.last = (now, c["execs"])
        alive = sum(1 for h in self.handles if h.poll() is None)
        line = (
            f"fuzz {self.o.engine} {int(elapsed) // 60:02d}:{int(elapsed) % 60:02d} | {c['execs']} execs "
            f"({self.totals.rate:.0f}/s now, {c['execs'] / max(elapsed, 1e-9):.0f}/s avg) | corpus {c['corpus']} | "
            f"signatures {c['signatures']} | findings {c['findings']} | workers {alive}/{len(self.handles)}"
        )
        if sys.stderr.isatty():
            print("\r\033[K" + line, end="\n" if final else "", file=sys.stderr, flush=True)
        elif final or now - self._last_line >= 5.0:
            self._last_line = now
            print(line, file=sys.stderr, flush=True)

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> int:
        """The campaign; a file it cannot write (a full disk) stops it and is raised as one OutputError.

        Then the workers are stopped and gone, what was stored stays whole (a finding is renamed into
        place complete, or not at all), and the summary is written if it still fits.
        """
        try:
            self.start()
            while True:
                time.sleep(POLL_SECONDS)
                for handle in self.handles:
                    self.watch(handle)
                if self.failure is not None:
                    raise self.failure
                self.progress()
                if all(h.finished for h in self.handles):
                    self.stopped_by = "runs" if self.o.runs is not None and self.time_left() > 0 else "time"
                    break
                # past the time limit a worker only finishes minimising what it found
                if self.time_left() < -(STOP_GRACE + self.o.minimise_seconds):
                    self.stopped_by = "time"
                    break
        except KeyboardInterrupt:
            self.stopped_by = "interrupt"
        except OutputError as exc:
            self.failure = self.failure or exc
        self.stop()
        if self.failure is not None:
            self.stopped_by = "output error"
            self.errors.append(str(self.failure))
            self.progress(final=True)
            with contextlib.suppress(OutputError):  # the summary too, if it fits: no second line
                self.write_summary()
            raise self.failure
        return self.finish()

    def stop(self) -> None:
        # After Ctrl-C minimising stops now (the best scenario so far is stored, "minimised": false);
        # storing and the reproducers' one run still happen, within the grace time.  At the time
        # limit the findings handed over are still minimised, within --minimise-seconds in all.
        interrupted = self.stopped_by == "interrupt" or self.failure is not None
        self.triage_stop = interrupted
        for handle in self.handles:
            handle.signal(signal.SIGTERM)
        end = time.monotonic() + STOP_GRACE
        while time.monotonic() < end and any(h.alive() for h in self.handles):
            time.sleep(0.1)
        for handle in self.handles:
            handle.signal(signal.SIGKILL)
        for handle in self.handles:
            if isinstance(handle, HypothesisHandle) and handle.process is not None:
                handle.process.join(5)
            if isinstance(handle, AtherisHandle) and handle.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    handle.process.wait(5)
            if handle.poll() == CANNOT_WRITE_EXIT and self.failure is None:  # it ran out of room while stopping
                self.failure = self.cannot_write(handle)
            self.collect_handed_over(handle)
            handle.slot.close()
        self.lifeline.cut()  # whatever the workers left running (a -fork child, a reproducer) goes too
        self.triage_queue.put(None)
        if self.triage_thread.ident is None:  # start() failed before it
            return
        if not interrupted:
            self.triage_thread.join(self.o.minimise_seconds)
            self.triage_stop = True
        self.triage_thread.join(STOP_GRACE)

    def write_summary(self) -> dict[str, object]:
        summary = self.summary()
        with writing(self.o.out / "campaign.json"):
            write_atomically(self.o.out / "campaign.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
        with writing(self.o.out / "campaign.md"):
            write_atomically(self.o.out / "campaign.md", render_markdown(summary))
        return summary

    def finish(self) -> int:
        self.progress(final=True)
        summary = self.write_summary()
        if self.failure is not None:  # the triage thread, storing its last finding after the workers stopped
            raise self.failure
        stored = summary["findings"]
        assert isinstance(stored, list)
        print(
            f"scm-harness fuzz: {summary['execs']} execs in {summary['elapsed_s']} s "
            f"({summary['execs_per_s']}/s), {len(stored)} findings; summary in {self.o.out}/campaign.md",
            file=sys.stderr,
        )
        for item in stored:
            if isinstance(item, dict):
                print(f"  finding {item.get('signature')}: {item.get('dir')}", file=sys.stderr)
        return 1 if stored else 0

    def summary(self) -> dict[str, object]:
        c = self.counts()
        elapsed = time.monotonic() - self.totals.started
        stored = []
        for directory in findings.finding_dirs(self.findings_root):
            info = findings.read_finding(directory)
            stored.append(
                {
                    "signature": info.get("signature", directory.name),
                    "also": info.get("also", []),
                    "dir": str(directory),
                    "steps": info.get("steps"),
                    "steps_before_minimising": info.get("steps_before_minimising"),
                    "minimised": info.get("minimised"),
                    "findings": info.get("findings", []),
                    "reproducers": info.get("reproducers", {}),
                    "shrunk_by": info.get("shrunk_by"),
                    "worker": info.get("worker"),
                }
            )
        return {
            "schema": "scm-harness/campaign/1",
            "command": self.o.command,
            "engine": self.o.engine,
            "jobs": self.o.jobs,
            "seed": self.o.seed,
            "backend": self.o.backend,
            "fault": self.o.fault,
            "platform": {"system": self.platform.system, "release": self.platform.release, "arch": self.platform.arch},
            "started": self.started_at.isoformat(timespec="seconds"),
            "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "stopped_by": self.stopped_by,
            "elapsed_s": round(elapsed, 1),
            "execs": c["execs"],
            "checked": c["ran"],
            "execs_per_s": round(c["execs"] / max(elapsed, 1e-9), 1),
            "corpus": {"dir": str(self.o.corpus), "size": c["corpus"]},
            "signatures": c["signatures"],
            "workers": [
                {
                    "index": h.spec.index,
                    "restarts": h.restarts,
                    "cpu_s": round(h.cpu_seconds, 1),
                    "log": str(h.spec.directory / "log.txt"),
                }
                for h in self.handles
            ],
            "errors": self.errors,
            "findings": stored,
        }


def _files_in(directory: Path) -> int:
    """How many regular files ``directory`` holds (0 when it is not there): counted from the directory
    entries' types, without a stat per entry (asked every POLL_SECONDS, of a corpus of thousands)."""
    try:
        with os.scandir(directory) as entries:
            return sum(1 for entry in entries if entry.is_file())
    except OSError:
        return 0


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def render_markdown(summary: dict[str, object]) -> str:
    platform = summary.get("platform")
    release = platform.get("release") if isinstance(platform, dict) else "?"
    lines = [
        f"# scm-harness fuzz campaign ({summary['engine']})",
        "",
        f"- command: `{summary['command']}`",
        f"- platform: linux {release}; back end {summary['backend']}"
        + (f"; **injected fault {summary['fault']}** (test only)" if summary.get("fault") else ""),
        f"- {summary['started']} to {summary['finished']} ({summary['elapsed_s']} s), "
        f"stopped by {summary['stopped_by']}",
        f"- {summary['execs']} executions ({summary['execs_per_s']}/s), {summary['checked']} checked against the "
        f"oracle, {summary['signatures']} distinct kernel-outcome signatures",
        f"- corpus: {_corpus_words(summary.get('corpus'))}",
        "",
        "| worker | restarts | CPU s |",
        "|---:|---:|---:|",
    ]
    workers = summary.get("workers")
    for w in workers if isinstance(workers, list) else []:
        lines.append(f"| {w['index']} | {w['restarts']} | {w['cpu_s']} |")
    stored = summary.get("findings")
    stored = stored if isinstance(stored, list) else []
    lines += ["", f"## Findings ({len(stored)})", ""]
    if not stored:
        lines.append("None: every checked scenario agreed with the oracle and the invariants.")
    else:
        lines += [
            "| signature | also shows | steps | repro.py | repro.c | directory |",
            "|---|---|---:|---|---|---|",
        ]
        for item in stored:
            repro = item.get("reproducers") or {}
            py, cc = repro.get("repro.py"), repro.get("repro.c")
            also = ", ".join(f"`{s}`" for s in item.get("also") or []) or "-"
            lines.append(
                f"| `{item['signature']}` | {also} | {item.get('steps')} (from {item.get('steps_before_minimising')}"
                + ("" if item.get("minimised") else "; minimising cut short")
                + ") "
                f"| {_repro_word(py)} | {_repro_word(cc)} | `{item['dir']}` |"
            )
    errors = summary.get("errors")
    if isinstance(errors, list) and errors:
        lines += ["", "## Problems", "", *(f"- {e}" for e in errors)]
    return "\n".join(lines) + "\n"


def _corpus_words(corpus: object) -> str:
    if isinstance(corpus, dict):
        return f"{corpus.get('size')} scenarios in `{corpus.get('dir')}`"
    return str(corpus)


BROKEN_REASON_CHARS = 60  # of a broken reproducer's reason in campaign.md (finding.json has it whole)


def _repro_word(entry: object) -> str:
    """A reproducer's result (its entry in finding.json, findings.ReproResult.as_json) for a table cell."""
    result = entry if isinstance(entry, dict) else {}
    broken = result.get("broken")
    if broken is not None:  # it never counts as reproduced; why, escaped for the table
        return f"broken ({md_text(str(broken), BROKEN_REASON_CHARS)})"
    reproduced = result.get("reproduced")
    if reproduced is True:
        return "reproduces"
    return "conforms" if reproduced is False else "cannot tell"


def run_campaign(options: CampaignOptions) -> int:
    platform = probe()

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM ends the campaign the way Ctrl-C does

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        return Campaign(options, platform).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
