"""Command line: wiring only.  Bad usage is one line on stderr and exit status 2.

scm-harness run      [--out DIR [--overwrite]] [--ids GLOBS] [--backend raw|pysock|both] [--kinds GLOB]
                     [--expectations FILE] [--platform-label NAME] [--step-timeout S]
                     [--as-linux RELEASE|latest|fingerprint]
                     [--on host|uml|uml:6.12|uml:PATH [--target-timeout S]] [--inject-fault FAULT ...]
scm-harness fingerprint [--out DIR] [--json] [--on TARGET]
scm-harness list     [--ids GLOBS] [--peers gvisor|kselftest|ltp|freebsd|cpython|all]
scm-harness render   REPORT.json [--out DIR]
scm-harness compare  REPORT.json REPORT.json ... [--labels A,B,...] [--by-backend] [--out DIR]
scm-harness compare-kernels --on TARGET [--on TARGET ...] [--out DIR] [--ids GLOBS] [--kinds GLOB] [--backend B]
scm-harness probe
scm-harness fuzz     --engine hypothesis|atheris [--time S | --runs N] [-j N] [--corpus DIR] [--out DIR] [--seed N]
                     [--on TARGET]
scm-harness replay   PATH... [--out DIR] [--backend raw|pysock|both] [--on TARGET]
scm-harness corpus   --sync | --check [--atheris]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import faulthandler
import fnmatch
import json
import os
import select
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from harness.options import (
    UsageError,
    number_option,
    open_bundle_option,
    overwrite_option,
    step_timeout_option,
    writable_directory,
)
from harness.version import commit_info

if TYPE_CHECKING:
    from harness.catalogue import Case
    from harness.fingerprint import Fingerprint
    from harness.platform import Platform
    from harness.report.schema import Report


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


JOBS_PER_CPU = 4
MAX_DEFAULT_JOBS = 8


def default_jobs() -> int:
    """``run``'s workers when ``-j`` is not given: the waits of blocking steps overlap, the CPU stays busy.

    One worker on a single CPU: there a background party that must be scheduled, fork and act
    competes with every other worker (a one-CPU UML 6.1 guest running four workers had forked
    parties arrive after a 2 s poll timeout, and 45 wake-up results failed)."""
    cpus = len(os.sched_getaffinity(0))
    return 1 if cpus == 1 else min(MAX_DEFAULT_JOBS, JOBS_PER_CPU * cpus)


class _VersionAction(argparse.Action):
    """``--version``: the version line is worked out only when asked for (it may run git)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from harness.version import version_line

        print(version_line())
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    from harness.targets.target import GuestOutput, add_target_option

    parser = _Parser(prog="scm-harness", description="Conformance and fuzzing harness for AF_UNIX socket pairs.")
    parser.add_argument("--version", action=_VersionAction, help="print the version (and the git commit from a clone)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the conformance catalogue and write reports")
    run.add_argument("--out", type=Path, help="report directory (default: a new reports/<UTC timestamp>-<suffix>/)")
    overwrite_option(run)
    run.add_argument("--ids", default="*", help="comma-separated globs of case ids (default: all), e.g. 'FD-*,TRN-05'")
    run.add_argument("--backend", choices=("raw", "pysock", "both"), default="both")
    run.add_argument(
        "--kinds", default="*", help="glob of pair kinds, e.g. 'seqpacket/*' or '*/pathname/*' (default: all)"
    )
    run.add_argument("--expectations", type=Path, help="JSON file of known deviations (see README)")
    run.add_argument("--platform-label", default="native", help="name of the platform in reports (e.g. gvisor)")
    step_timeout_option(run)
    run.add_argument(
        "--as-linux",
        metavar="MODEL",
        help="which Linux the oracle judges against: a release (e.g. 6.12.58), 'latest' (current upstream) or "
        "'fingerprint' (the upstream changes this kernel is measured to carry); default: the running release",
    )
    run.add_argument(
        "--fail-on-xpass",
        action="store_true",
        help="exit 1 also when a listed deviation no longer happens (strict gate)",
    )
    run.add_argument(
        "--annotations",
        choices=("github",),
        help="also print fails, errors and xpasses as GitHub Actions workflow commands (::error ...) on stdout",
    )
    run.add_argument(
        "--inject-fault",
        action="append",
        default=[],
        metavar="FAULT",
        help="TEST ONLY: plant this deviation (harness.execute.faults, e.g. drop-msg-trunc) in every observation, "
        "to exercise the reports; repeatable; recorded as run_info.injected_faults and shown in every report",
    )
    number_option(
        run,
        "-j",
        "--jobs",
        kind=int,
        low=1,
        high=256,
        metavar="N",
        help="worker processes sharing the results (the report is the same as with -j 1, timings aside; "
        f"default {JOBS_PER_CPU} per usable CPU, at most {MAX_DEFAULT_JOBS}, 1 on a single CPU: "
        "most of a run's time is spent waiting "
        "out calls that must block, which workers overlap)",
    )
    add_target_option(run)

    lst = sub.add_parser("list", help="list the catalogue cases")
    lst.add_argument("--ids", default="*")
    lst.add_argument(
        "--peers",
        choices=("gvisor", "kselftest", "ltp", "freebsd", "cpython", "all"),
        help="list a peer suite's AF_UNIX tests with the cases that cover them, or why none does",
    )

    render = sub.add_parser("render", help="render junit.xml and summary.md from a report.json")
    render.add_argument("report", type=Path)
    render.add_argument("--out", type=Path, help="a new bundle directory for the report (default: beside the report)")
    overwrite_option(render)

    compare = sub.add_parser("compare", help="compare reports of several kernels or platforms")
    compare.add_argument("reports", type=Path, nargs="+")
    compare.add_argument("--labels", help="comma-separated column names (default: each report's label/release)")
    compare.add_argument("--by-backend", action="store_true", help="match results by case, kind and back end")
    compare.add_argument("--out", type=Path, help="directory for comparison.json, comparison.md and comparison.html")

    from harness.compare_kernels import add_parser as add_compare_kernels
    from harness.expectations_cli import add_parser as add_expectations

    add_expectations(sub)

    add_compare_kernels(sub)

    sub.add_parser("probe", help="print what this platform is and supports (the run_info of a report)")

    from harness.schemas import NAMES

    schema = sub.add_parser("schema", help="print one of the published JSON Schemas")
    schema.add_argument("name", choices=NAMES)

    fp = sub.add_parser(
        "fingerprint", help="measure which upstream AF_UNIX changes this kernel carries, against what its release says"
    )
    fp.add_argument("--out", type=Path, help="also write fingerprint.json into this directory")
    fp.add_argument("--json", action="store_true", help="print the fingerprint as JSON instead of the table")
    add_target_option(fp, GuestOutput(default_prefix="fingerprint-", product="fingerprint.json"))

    bench = sub.add_parser("bench", help="measure scenarios per second (C loop, raw, pysock, full verdict)")
    number_option(bench, "--iterations", kind=int, low=1, high=10**7, default=300, help="scenarios per round")
    number_option(bench, "--rounds", kind=int, low=1, high=1000, default=5, help="rounds; the median is reported")
    bench.add_argument("--json", type=Path, help="also write the result as JSON to this file")

    from harness.fuzz.cli import add_parsers

    add_parsers(sub)  # fuzz, replay, corpus
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from harness.report.write import OutputError
    from harness.targets.target import TargetError

    # ``kill -USR1 PID`` prints where every thread of a run that seems stuck is, on its stderr (a
    # campaign worker's goes to its log.txt), and the run goes on.  (Not when stderr has no descriptor,
    # as under a test runner that captures it.)
    with contextlib.suppress(OSError, ValueError):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # a reader that went away shows up here at the latest
        return code
    except (UsageError, OutputError, TargetError) as exc:
        print(f"scm-harness: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scm-harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _reader_gone():
            raise  # EPIPE from something else is a harness bug
        # The standard recipe: no more output, and nothing left in the buffer for exit to flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + signal.SIGPIPE


def _reader_gone() -> bool:
    """True when stdout or stderr is a pipe or socket whose reader went away (POLLERR, POLLHUP; 6.18.44)."""
    poll = select.poll()
    for stream in (sys.stdout, sys.stderr):
        poll.register(stream.fileno(), 0)  # POLLERR and POLLHUP are always reported
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


def _dispatch(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(words)
    args.command_line = shlex.join(["scm-harness", *words])
    from harness.targets import run_on_target
    from harness.targets.target import guest_of, runs_elsewhere

    inside = guest_of(args)
    if inside is not None:  # this is the guest of --on: record the command as typed on the host
        args.command_line = inside.command_line
    if runs_elsewhere(args):
        return run_on_target(args, words)
    handler = {
        "run": cmd_run,
        "list": cmd_list,
        "render": cmd_render,
        "compare": cmd_compare,
        "compare-kernels": cmd_compare_kernels,
        "probe": cmd_probe,
        "bench": cmd_bench,
        "fingerprint": cmd_fingerprint,
        "expectations": cmd_expectations,
        "schema": cmd_schema,
    }
    from harness.fuzz.cli import HANDLERS

    handler.update(HANDLERS)
    return handler[args.command](args)


# ----------------------------------------------------------------------------------------------


def _select_cases(ids: str) -> list[Case]:
    from harness.catalogue import select

    patterns = [p.strip() for p in ids.split(",") if p.strip()]
    if not patterns:
        raise UsageError("--ids is empty")
    for pattern in patterns:
        if not select([pattern]):
            raise UsageError(f"--ids: {pattern!r} matches no catalogue case (see 'scm-harness list')")
    return select(patterns)


def cmd_run(args: argparse.Namespace) -> int:
    from harness.catalogue import select
    from harness.execute.backend import ExecConfig
    from harness.execute.faults import FAULTS
    from harness.expectations_file import ExpectationsError, KnownDeviations, load
    from harness.host import probe
    from harness.report.annotations import render_github_annotations
    from harness.report.markdown import render_terminal
    from harness.report.progress import Progress
    from harness.report.schema import Report, Verdict
    from harness.report.write import BUNDLE_FILES
    from harness.runner import RunConfig, run_plan_parallel
    from harness.targets.target import target_run_info

    cases = _select_cases(args.ids)
    unknown = [name for name in args.inject_fault if name not in FAULTS]
    if unknown:
        raise UsageError(f"--inject-fault: unknown fault {unknown[0]!r} (known: {', '.join(FAULTS)})")
    known = KnownDeviations()
    if args.expectations is not None:
        try:
            known = load(args.expectations, case_ids=[case.id for case in select(["*"])])
        except ExpectationsError as exc:
            raise UsageError(str(exc)) from None
    plan = [(case, kind) for case in cases for kind in case.kinds() if fnmatch.fnmatchcase(kind.name, args.kinds)]
    if not plan:
        raise UsageError(f"--kinds {args.kinds!r} matches no pair kind of the selected cases")
    started = datetime.datetime.now(datetime.UTC)
    bundle = open_bundle_option(args.out, args.overwrite)  # only once every argument is known to be good
    backends = ("raw", "pysock") if args.backend == "both" else (args.backend,)
    platform, measured = as_linux(probe(args.platform_label), args.as_linux)
    faults = tuple(args.inject_fault)
    config = RunConfig(exec=ExecConfig(step_timeout=args.step_timeout), known=known, faults=faults)
    print(
        f"scm-harness: {len(cases)} cases, {len(plan)} case/kind pairs, back ends {', '.join(backends)}, "
        f"on {platform.system} {platform.release} ({platform.arch}), judged as Linux {platform.model}",
        file=sys.stderr,
    )
    results = []
    interrupted = False
    progress = Progress(sys.stderr, ((case.id, len(backends)) for case, _ in plan))
    try:
        for result in run_plan_parallel(plan, backends, platform, config, args.jobs or default_jobs()):
            bundle.record(result)
            results.append(result)
            progress.update(result)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.finish()
    run_info: dict[str, object] = {
        **platform.as_json(),
        "fingerprint": measured.as_json(),
        **target_run_info(args),
        "command": args.command_line,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "backends": list(backends),
        "ids": args.ids,
        "kinds": args.kinds,
        "interrupted": interrupted,
        "planned": len(plan) * len(backends),  # results the run set out to produce (fewer when interrupted)
        **({"injected_faults": list(faults)} if faults else {}),  # test only: not a kernel's behaviour
        **commit_info(),
    }
    report = Report(run_info=run_info, results=tuple(results))
    bundle.finish(report)
    print(render_terminal(report))
    if args.annotations == "github":
        print(render_github_annotations(report), end="")
    print(f"scm-harness: report written to {bundle.out}/report.json (also {', '.join(BUNDLE_FILES[1:])})")
    if interrupted:
        return 130
    failing = {Verdict.FAIL, Verdict.ERROR} | ({Verdict.XPASS} if args.fail_on_xpass else set())
    return 1 if any(r.verdict in failing for r in results) else 0


def as_linux(platform: Platform, model: str | None) -> tuple[Platform, Fingerprint]:
    """The platform with the upstream changes of ``--as-linux MODEL`` (None: the running release's),
    and the fingerprint measured on the way (it goes into run_info)."""
    from harness.fingerprint import fingerprint
    from harness.oracle import history

    if model not in (None, "latest", "fingerprint") and history.parse(model) is None:
        raise UsageError(f"--as-linux: {model!r} is not a release (x.y or x.y.z), 'latest' or 'fingerprint'")
    measured = fingerprint(platform)
    if model is None:
        model = platform.release
    changes = measured.present(platform.changes) if model == "fingerprint" else history.changes_in(model)
    return dataclasses.replace(platform, changes=changes, model=model), measured


def cmd_list(args: argparse.Namespace) -> int:
    if args.peers is not None:
        from harness.catalogue.peers import choose, load, summary_lines

        tests = choose(load(), args.peers, args.ids)
        for line in [test.line() for test in tests] + summary_lines(tests):
            print(line)
        return 0
    for case in _select_cases(args.ids):
        types = "".join(
            t.short[0].upper() if t.short != "seqpacket" else "Q" for t in sorted(case.types, key=lambda t: t.value)
        )
        print(f"{case.id:8} {types:4} {case.area:15} {case.title}")
    return 0


def _load(path: Path) -> Report:
    from harness.report.schema import ReportError, load_report

    try:
        return load_report(path)
    except ReportError as exc:
        raise UsageError(str(exc)) from None


def cmd_render(args: argparse.Namespace) -> int:
    from harness.report.write import write_report_bundle, writing

    report = _load(args.report)
    beside = args.report.parent
    if args.out is None or (args.out.is_dir() and args.out.samefile(beside)):
        # Re-rendered in place, file by file: everything there comes from this same report.json.
        out = writable_directory(beside, "--out")
        with writing(out):
            write_report_bundle(out, report)
    else:  # elsewhere: a whole bundle, journal included, as a run writes it
        bundle = open_bundle_option(args.out, args.overwrite)
        for result in report.results:
            bundle.record(result)
        bundle.finish(report)
        out = bundle.out
    print(f"scm-harness: rendered {out}/junit.xml, {out}/summary.md, {out}/report.html and {out}/report.ktap")
    return 0


def cmd_expectations(args: argparse.Namespace) -> int:
    from harness.expectations_cli import cmd_expectations as run

    return run(args)


def cmd_compare(args: argparse.Namespace) -> int:
    """Exit 1 when a difference is unexplained (regression, fix, changed, harness error), else 0."""
    from harness.compare_kernels import write_comparison
    from harness.report.compare import compare, default_labels

    typed = [_load(p) for p in args.reports]
    if len(typed) < 2:
        raise UsageError("compare needs at least two reports")
    if args.labels:
        labels = [label.strip() for label in args.labels.split(",")]
        if len(labels) != len(typed):
            raise UsageError(f"--labels names {len(labels)} columns for {len(typed)} reports")
    else:
        labels = default_labels(typed)
    if args.out:
        writable_directory(args.out, "--out")  # before the comparison, not after it
    try:
        comparison = compare(typed, labels, by_backend=args.by_backend)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.out:
        write_comparison(args.out, comparison)
    print(comparison.render_markdown())
    return 1 if comparison.unexplained else 0


def cmd_compare_kernels(args: argparse.Namespace) -> int:
    from harness.compare_kernels import compare_kernels

    try:
        return compare_kernels(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_bench(args: argparse.Namespace) -> int:
    from harness.bench import render, run_bench, to_json
    from harness.report.write import write_atomically, writing

    if args.json is not None:
        writable_directory(args.json.parent, "--json")  # before the measurement, not after it
    result = run_bench(args.iterations, args.rounds)
    print(render(result))
    if args.json is not None:
        with writing(args.json):
            write_atomically(args.json, to_json(result))
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Exit 1 when a change the release says is there is measured absent (a kernel that lost a fix)."""
    from harness.fingerprint import Seen, fingerprint, render
    from harness.host import probe
    from harness.report.write import write_atomically, writing
    from harness.targets.target import target_run_info

    if args.out is not None:
        writable_directory(args.out, "--out")  # before the measurement, not after it
    result = fingerprint(probe())
    text = json.dumps({**result.as_json(), **target_run_info(args)}, indent=2, sort_keys=True) + "\n"
    print(text if args.json else render(result), end="" if args.json else "\n")
    if args.out is not None:
        with writing(args.out):
            write_atomically(args.out / "fingerprint.json", text)
    lost = [v for v in result.verdicts if v.release_says and v.seen is Seen.ABSENT]
    return 1 if lost else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from harness.schemas import schema_text

    print(schema_text(args.name), end="")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from harness.host import probe

    print(json.dumps(probe().as_json(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
