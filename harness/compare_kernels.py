"""``scm-harness compare-kernels``: run the catalogue on several targets and compare them with the first.

Each target's run is its own process, ``python -m harness run [--on TARGET] --out DIR/<label>``
(``host`` runs without ``--on``: the host is ``run``'s default target), with ``--ids``, ``--kinds``,
``--backend``, ``--step-timeout`` and ``--as-linux`` passed through; its output goes to
``DIR/<label>.log``.  A target whose run leaves no report (a usage error, a boot failure, a
crash) is one line on stderr and a "no report" line in the comparison; the other targets go on.
The host is the baseline: it is run first, added in front when the targets do not name it.
Then ``DIR/comparison.json``, ``comparison.md`` and ``comparison.html`` are written (see
:mod:`harness.report.compare`).

Exit status: 0 every target gave a report and no difference is unexplained; 1 an unexplained
difference (regression, fix, changed, harness error) or a target without a report; 2 bad usage,
or no target gave a report.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness.report.compare import Comparison, Missing, compare, verdict_line
from harness.report.schema import Report, ReportError, load_report
from harness.report.write import claim_new_directory, write_atomically, writing

HOST = "host"
COMPARISON_FILES = ("comparison.json", "comparison.md", "comparison.html")
_RUN_OK = (0, 1)  # run's exit status when it wrote a report (1: fail, error or xpass in it)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class TargetError(Exception):
    """A target's run gave no report; the message is one line."""


@dataclass(frozen=True, slots=True)
class Target:
    label: str  # unique among the targets ("host", "uml", "uml:6.12", "host#2")
    spec: str  # what --on is given

    @property
    def directory_name(self) -> str:
        return _UNSAFE.sub("_", self.label)


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "compare-kernels", help="run the catalogue on several targets (host, uml, uml:6.12, uml:PATH) and compare"
    )
    p.add_argument(
        "--on",
        action="append",
        default=[],
        metavar="TARGET",
        help="a target to run on, repeatable (host, uml, uml:6.12, uml:PATH); the host is the baseline",
    )
    p.add_argument("--out", type=Path, help="a new or empty directory (default: a new reports/compare-<UTC>-<suffix>/)")
    p.add_argument("--ids", help="passed to each run")
    p.add_argument("--kinds", help="passed to each run")
    p.add_argument("--backend", choices=("raw", "pysock", "both"), help="passed to each run")
    p.add_argument("--step-timeout", metavar="S", help="passed to each run")
    p.add_argument("--as-linux", metavar="MODEL", help="passed to each run")
    p.add_argument("--by-backend", action="store_true", help="match results by case, kind and back end")


def targets_of(specs: list[str]) -> list[Target]:
    """The targets in run order, the host first; repeated ones numbered (``host``, ``host#2``)."""
    if not specs:
        raise ValueError("compare-kernels: say which targets with --on (e.g. --on uml --on uml:6.12)")
    if any(not spec.strip() or not spec.isprintable() for spec in specs):
        raise ValueError(f"--on: {next(s for s in specs if not s.strip() or not s.isprintable())!r} is not a target")
    rest = list(specs)
    if HOST in rest:
        rest.remove(HOST)  # the first one: it becomes the baseline
    ordered = [HOST, *rest]
    seen: dict[str, int] = {}
    targets = []
    for spec in ordered:
        seen[spec] = seen.get(spec, 0) + 1
        targets.append(Target(spec if seen[spec] == 1 else f"{spec}#{seen[spec]}", spec))
    return targets


def run_command(target: Target, out: Path, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "harness", "run"]
    if target.spec != HOST:
        command += ["--on", target.spec]
    command += ["--out", str(out)]
    for option, value in (
        ("--ids", args.ids),
        ("--kinds", args.kinds),
        ("--backend", args.backend),
        ("--step-timeout", args.step_timeout),
        ("--as-linux", args.as_linux),
    ):
        if value is not None:
            command += [option, value]
    return command


def run_target(target: Target, directory: Path, args: argparse.Namespace) -> Report:
    """Run the catalogue on ``target`` into ``directory/<name>``: its report, or TargetError."""
    out = directory / target.directory_name
    log = directory / f"{target.directory_name}.log"
    env = dict(os.environ)
    package_root = str(Path(harness.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    with writing(log), log.open("wb") as output:
        status = subprocess.run(
            run_command(target, out, args), stdout=output, stderr=subprocess.STDOUT, env=env, check=False
        ).returncode
    if status not in _RUN_OK or not (out / "report.json").is_file():
        raise TargetError(f"{target.label}: run gave no report (exit {status}): {_last_line(log)} (log: {log})")
    try:
        return load_report(out / "report.json")
    except ReportError as exc:
        raise TargetError(f"{target.label}: {exc}") from None


def _last_line(log: Path) -> str:
    """The last non-empty line of a run's output (its one-line error), shortened."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"no output ({exc.strerror})"
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    text = lines[-1] if lines else "no output"
    text = text if text.isprintable() else repr(text)
    return text if len(text) <= 200 else text[:197] + "..."


def output_directory(out: Path | None) -> Path:
    if out is None:
        return claim_new_directory(Path("reports"), "compare-")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out: {out} is not an empty directory: give a new one")
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
    return out


def write_comparison(directory: Path, comparison: Comparison) -> None:
    texts = (comparison.canonical_json(), comparison.render_markdown(), comparison.render_html())
    for name, text in zip(COMPARISON_FILES, texts, strict=True):
        with writing(directory / name):
            write_atomically(directory / name, text)


def compare_kernels(args: argparse.Namespace) -> int:
    """The command; ValueError for bad usage (the caller makes it one line and exit 2)."""
    targets = targets_of(args.on)
    directory = output_directory(args.out)
    reports: list[Report] = []
    labels: list[str] = []
    missing: list[Missing] = []
    for target in targets:
        print(f"scm-harness: compare-kernels: running on {target.label} ...", flush=True)
        try:
            reports.append(run_target(target, directory, args))
            labels.append(target.label)
        except TargetError as exc:
            print(f"scm-harness: {exc}", file=sys.stderr, flush=True)
            missing.append(Missing(target.label, str(exc)))
    if not reports:
        print(f"scm-harness: compare-kernels: no target gave a report (logs in {directory})", file=sys.stderr)
        return 2
    comparison = compare(reports, labels, by_backend=args.by_backend, missing=missing)
    write_comparison(directory, comparison)
    print(f"scm-harness: {verdict_line(comparison.to_json())}")
    print(f"scm-harness: comparison written to {directory}/comparison.json (also comparison.md, comparison.html)")
    return 1 if comparison.unexplained or missing else 0
