"""``scm-harness bench``: how fast the harness turns scenarios into verdicts, against an honest C floor.

The canonical scenario of ARCHITECTURE.md ("Speed"): a fresh DGRAM pair, SO_PASSCRED, sendmsg with 3
iovecs, 2 fds and credentials; recvmsg; every inspection of the received fds; close everything.  It
is timed for both kinds of passed files, made as the raw back end makes them (``memfd``: memfds;
``regular``: regular files, O_TMPFILE on tmpfs, or named files in a fresh private directory where
no filesystem offers O_TMPFILE), each way:

- ``c-<files>``: harness/native/floor.c, the same syscalls *and the same observations* as the raw
  back end (the files made the same way, with their content and private duplicate; cmsg parse,
  F_GETFD/fstat/F_GETFL, kcmp, offset and status-flag probes, /proc/self/fd around the receive and
  around the scenario), compiled here with -O2 -Wall -Wextra -Werror: the floor;
- ``raw-<files>`` / ``pysock-<files>``: ``execute()`` through each back end;
- ``verdict-<files>``: oracle + execute + every checker, what a conformance case costs;
- ``atheris-loop`` / ``hypothesis-loop``: one fuzz engine iteration (decode or draw, then the
  evaluation and its signatures), as a campaign worker runs it, without the engine's coverage
  instrumentation.

Results are medians over ``--rounds`` rounds of ``--iterations`` iterations, with the ratios to
the floor of the same file kind and the peak RSS.  Each is given as wall time and as CPU time
(user + system, of this process and of the children it reaped: the C floor, a scenario's forked
children): on a machine shared with other work the wall times follow the load, the CPU times far
less, so ``cpu_ratio_to_c`` is the comparison that holds there.  Nothing here is a test: numbers
are reported, never asserted.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from harness.catalogue.build import FDS_SPACE, SPACE, passcred, recv, scenario, send
from harness.catalogue.case import Variant
from harness.execute.run import execute
from harness.host import probe
from harness.model import FdKind, FdSpec, PairKind, Scenario, SockType
from harness.platform import Platform
from harness.runner import RunConfig, run_variant


def canonical(files: FdKind) -> Scenario:
    """The canonical scenario with both passed files of one kind (memfds, or regular files)."""
    return scenario(
        PairKind(SockType.DGRAM, nonblocking=True),
        passcred(),
        send(iov=(b"abc", b"defgh", b"ij"), fds=["f", "g"], creds=True),
        recv(64, control=SPACE(12) + FDS_SPACE(2)),
        fds=(FdSpec(name="f", kind=files), FdSpec(name="g", kind=files)),
    )


CANONICAL = canonical(FdKind.REGULAR_FILE)
FILE_KINDS = {"memfd": FdKind.MEMFD, "regular": FdKind.REGULAR_FILE}
FLOOR_SOURCE = "floor.c"  # package data of harness.native
FLOOR_FLAGS = ("-O2", "-Wall", "-Wextra", "-Werror")


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    microseconds: float  # wall time per scenario, median of the rounds
    per_second: float
    cpu_microseconds: float  # CPU time (user + system, with reaped children) per scenario, median of the rounds

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "us_per_scenario": round(self.microseconds, 2),
            "per_second": round(self.per_second),
            "cpu_us_per_scenario": round(self.cpu_microseconds, 2),
        }


def _cpu_seconds() -> float:
    """User + system time of this process and of the children it has reaped."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _children_cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _time(fn: Callable[[], object], iterations: int, rounds: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per call, each the median of the rounds."""
    walls, cpus = [], []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), _cpu_seconds()
        for _ in range(iterations):
            fn()
        walls.append((time.perf_counter() - started) / iterations * 1e6)
        cpus.append((_cpu_seconds() - cpu) / iterations * 1e6)
    return statistics.median(walls), statistics.median(cpus)


def _measured(name: str, wall_and_cpu: tuple[float, float]) -> Measurement:
    wall, cpu = wall_and_cpu
    return Measurement(name, wall, 1e6 / wall, cpu)


def compile_floor(directory: Path) -> Path | None:
    """harness/native/floor.c built in ``directory``; None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    source = directory / FLOOR_SOURCE
    source.write_bytes(resources.files("harness.native").joinpath(FLOOR_SOURCE).read_bytes())
    binary = directory / "floor"
    subprocess.run([cc, *FLOOR_FLAGS, "-o", str(binary), str(source)], check=True, capture_output=True)
    return binary


def c_floor(iterations: int, rounds: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) microseconds per iteration of the C floor, per file kind (empty without a C compiler)."""
    with tempfile.TemporaryDirectory(prefix="scm-harness-bench-") as tmp:
        binary = compile_floor(Path(tmp))
        if binary is None:
            return {}
        env = {"TMPDIR": tmp, "PATH": "/usr/bin:/bin"}
        count = iterations * 10
        floors = {}
        for files in FILE_KINDS:
            walls, cpus = [], []
            for _ in range(rounds):
                cpu = _children_cpu_seconds()
                done = subprocess.run(
                    [str(binary), str(count), files], check=True, capture_output=True, text=True, env=env
                )
                walls.append(float(done.stdout))
                cpus.append((_children_cpu_seconds() - cpu) / count * 1e6)
            floors[files] = (statistics.median(walls), statistics.median(cpus))
        return floors


def _atheris_loop(platform: Platform) -> Callable[[], object]:
    """One atheris iteration: decode the next input of corpora/atheris, evaluate it, sign it."""
    from harness.fuzz.evaluate import FuzzConfig, evaluate
    from harness.fuzz.signature import finding_signature
    from harness.generate.decode import decode
    from harness.scenario_files import corpora_directory

    datas = [path.read_bytes() for path in sorted((corpora_directory() / "atheris").iterdir()) if path.is_file()]
    config = FuzzConfig(scenario_timeout=0.0)
    position = 0

    def one() -> object:
        nonlocal position
        data = datas[position % len(datas)]
        position += 1
        found = decode(data)
        if found is None:
            return None
        evaluation = evaluate(found, platform, config)
        return [finding_signature(f, evaluation.observation) for f in evaluation.findings], evaluation.outcomes

    return one


def _hypothesis_loop(platform: Platform, examples: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per example of a Hypothesis run drawing from the campaign's strategy."""
    from hypothesis import HealthCheck, Phase, given, settings

    from harness.fuzz.evaluate import FuzzConfig, evaluate
    from harness.fuzz.signature import finding_signature
    from harness.generate.strategies import scenarios

    config = FuzzConfig(scenario_timeout=0.0)
    ran = 0

    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(scenarios())
    def one(drawn: Scenario) -> None:
        nonlocal ran
        ran += 1
        evaluation = evaluate(drawn, platform, config)
        [finding_signature(f, evaluation.observation) for f in evaluation.findings]

    started, cpu = time.perf_counter(), _cpu_seconds()
    one()
    return (time.perf_counter() - started) / max(ran, 1) * 1e6, (_cpu_seconds() - cpu) / max(ran, 1) * 1e6


def run_bench(iterations: int, rounds: int) -> dict[str, object]:
    platform = probe()
    config = RunConfig()
    floors = c_floor(iterations, rounds)
    measurements = [_measured(f"c-{files}", times) for files, times in floors.items()]
    for files, kind in FILE_KINDS.items():
        scenario_ = canonical(kind)
        for backend in ("raw", "pysock"):
            times = _time(lambda b=backend, s=scenario_: execute(s, b), iterations, rounds)  # type: ignore[misc]
            measurements.append(_measured(f"{backend}-{files}", times))
        variant = Variant("canonical", scenario_)
        times = _time(lambda v=variant: run_variant(v, "raw", platform, config), iterations, rounds)  # type: ignore[misc]
        measurements.append(_measured(f"verdict-{files}", times))
    measurements.append(_measured("atheris-loop", _time(_atheris_loop(platform), iterations, rounds)))
    loops = [_hypothesis_loop(platform, iterations) for _ in range(rounds)]
    hypothesis = (statistics.median(w for w, _ in loops), statistics.median(c for _, c in loops))
    measurements.append(_measured("hypothesis-loop", hypothesis))
    compared = [m for m in measurements if not m.name.startswith("c-") and m.name.rsplit("-", 1)[1] in floors]
    return {
        "platform": f"{platform.system} {platform.release} {platform.arch}",
        "iterations": iterations,
        "rounds": rounds,
        "measurements": [m.as_json() for m in measurements],
        # each back end / verdict over the C floor with the same file kind, in wall and in CPU time
        "ratio_to_c": {m.name: round(m.microseconds / floors[m.name.rsplit("-", 1)[1]][0], 1) for m in compared},
        "cpu_ratio_to_c": {
            m.name: round(m.cpu_microseconds / floors[m.name.rsplit("-", 1)[1]][1], 1) for m in compared
        },
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def render(result: dict[str, object]) -> str:
    lines = [f"scm-harness bench on {result['platform']} ({result['rounds']} rounds x {result['iterations']})"]
    ratios = result.get("ratio_to_c") or {}
    cpu_ratios = result.get("cpu_ratio_to_c") or {}
    assert isinstance(ratios, dict) and isinstance(cpu_ratios, dict)
    lines.append(f"  {'':16} {'wall us':>10} {'/s':>10} {'x C':>6}   {'CPU us':>10} {'x C':>6}")
    for m in result["measurements"]:  # type: ignore[attr-defined]
        name = m["name"]
        ratio = f"{ratios[name]:6}" if name in ratios else " " * 6
        cpu_ratio = f"{cpu_ratios[name]:6}" if name in cpu_ratios else ""
        lines.append(
            f"  {name:16} {m['us_per_scenario']:10.2f} {m['per_second']:10} {ratio}   "
            f"{m['cpu_us_per_scenario']:10.2f} {cpu_ratio}".rstrip()
        )
    lines.append("  (wall and CPU time in us/scenario; x C: over the C floor with the same file kind)")
    lines.append(f"  peak RSS {result['peak_rss_kib']} KiB")
    return "\n".join(lines)


def to_json(result: dict[str, object]) -> str:
    return json.dumps(result, indent=2, sort_keys=True) + "\n"
