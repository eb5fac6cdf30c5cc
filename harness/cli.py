"""Command line: wiring only.  Bad usage is one line on stderr and exit status 2.

scm-harness run      [--out DIR] [--ids GLOBS] [--backend raw|pysock|both] [--kinds GLOB]
                     [--expectations FILE] [--platform-label NAME] [--step-timeout S]
scm-harness list     [--ids GLOBS]
scm-harness render   REPORT.json [--out DIR]
scm-harness compare  REPORT.json REPORT.json ... [--labels A,B,...] [--out DIR]
scm-harness probe
scm-harness fuzz     --engine hypothesis|atheris [--time S | --runs N] [-j N] [--corpus DIR] [--out DIR] [--seed N]
scm-harness replay   PATH... [--out DIR] [--backend raw|pysock|both]
scm-harness corpus   --sync | --check [--atheris]
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from harness import __version__

if TYPE_CHECKING:
    from harness.catalogue import Case
    from harness.report.schema import Report


class UsageError(Exception):
    """Bad usage: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scm-harness", description="Conformance and fuzzing harness for AF_UNIX socket pairs.")
    parser.add_argument("--version", action="version", version=f"scm-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the conformance catalogue and write reports")
    run.add_argument("--out", type=Path, help="report directory (default: reports/<UTC timestamp>/)")
    run.add_argument("--ids", default="*", help="comma-separated globs of case ids (default: all), e.g. 'FD-*,TRN-05'")
    run.add_argument("--backend", choices=("raw", "pysock", "both"), default="both")
    run.add_argument("--kinds", default="*", help="glob of pair kinds, e.g. 'seqpacket/*' (default: all 12)")
    run.add_argument("--expectations", type=Path, help="JSON file of known deviations (see README)")
    run.add_argument("--platform-label", default="native", help="name of the platform in reports (e.g. gvisor)")
    run.add_argument(
        "--step-timeout",
        type=float,
        default=0.5,
        help="seconds before a blocking step counts as blocked (at least 0.25; default 0.5)",
    )
    run.add_argument(
        "--fail-on-xpass",
        action="store_true",
        help="exit 1 also when a listed deviation no longer happens (strict gate)",
    )

    lst = sub.add_parser("list", help="list the catalogue cases")
    lst.add_argument("--ids", default="*")

    render = sub.add_parser("render", help="render junit.xml and summary.md from a report.json")
    render.add_argument("report", type=Path)
    render.add_argument("--out", type=Path, help="directory for the rendered files (default: beside the report)")

    compare = sub.add_parser("compare", help="compare reports of several kernels or platforms")
    compare.add_argument("reports", type=Path, nargs="+")
    compare.add_argument("--labels", help="comma-separated column names (default: each report's label/release)")
    compare.add_argument("--out", type=Path, help="directory for comparison.json and comparison.md")

    sub.add_parser("probe", help="print what this platform is and supports (the run_info of a report)")

    bench = sub.add_parser("bench", help="measure scenarios per second (C loop, raw, pysock, full verdict)")
    bench.add_argument("--iterations", type=int, default=300, help="scenarios per round (default 300)")
    bench.add_argument("--rounds", type=int, default=5, help="rounds; the median is reported (default 5)")
    bench.add_argument("--json", type=Path, help="also write the result as JSON to this file")

    from harness.fuzz.cli import add_parsers

    add_parsers(sub)  # fuzz, replay, corpus
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        args = _parser().parse_args(words)
        args.command_line = shlex.join(["scm-harness", *words])
        handler = {
            "run": cmd_run,
            "list": cmd_list,
            "render": cmd_render,
            "compare": cmd_compare,
            "probe": cmd_probe,
            "bench": cmd_bench,
        }
        from harness.fuzz.cli import HANDLERS

        handler.update(HANDLERS)
        return handler[args.command](args)
    except UsageError as exc:
        print(f"scm-harness: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scm-harness: interrupted", file=sys.stderr)
        return 130


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


def _writable_directory(path: Path, option: str) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise UsageError(f"{option}: cannot write to {path}: {exc.strerror or exc}") from None
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from harness.execute.backend import MIN_STEP_TIMEOUT, ExecConfig
    from harness.expectations_file import ExpectationsError, KnownDeviations, load
    from harness.host import probe
    from harness.report.markdown import render_terminal
    from harness.report.schema import Report, Verdict
    from harness.report.write import write_report_bundle
    from harness.runner import RunConfig, run_case

    cases = _select_cases(args.ids)
    if args.step_timeout < MIN_STEP_TIMEOUT:
        raise UsageError(f"--step-timeout must be at least {MIN_STEP_TIMEOUT} s")
    known = KnownDeviations()
    if args.expectations is not None:
        try:
            known = load(args.expectations)
        except ExpectationsError as exc:
            raise UsageError(str(exc)) from None
    plan = [(case, kind) for case in cases for kind in case.kinds() if fnmatch.fnmatchcase(kind.name, args.kinds)]
    if not plan:
        raise UsageError(f"--kinds {args.kinds!r} matches no pair kind of the selected cases")
    started = datetime.datetime.now(datetime.UTC)
    out = args.out or Path("reports") / started.strftime("%Y%m%d-%H%M%S")
    out = _writable_directory(out, "--out")  # only once every argument is known to be good
    backends = ("raw", "pysock") if args.backend == "both" else (args.backend,)
    platform = probe(args.platform_label)
    config = RunConfig(exec=ExecConfig(step_timeout=args.step_timeout), known=known)
    print(
        f"scm-harness: {len(cases)} cases, {len(plan)} case/kind pairs, back ends {', '.join(backends)}, "
        f"on {platform.system} {platform.release} ({platform.arch})",
        file=sys.stderr,
    )
    results = []
    interrupted = False
    try:
        for case, kind in plan:
            for backend in backends:
                results.append(run_case(case, kind, backend, platform, config))
    except KeyboardInterrupt:
        interrupted = True
    run_info: dict[str, object] = {
        **platform.as_json(),
        "command": args.command_line,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "backends": list(backends),
        "ids": args.ids,
        "kinds": args.kinds,
        "interrupted": interrupted,
    }
    report = Report(run_info=run_info, results=tuple(results))
    write_report_bundle(out, report)
    print(render_terminal(report))
    print(f"scm-harness: report written to {out}/report.json (also junit.xml, summary.md, report.html)")
    if interrupted:
        return 130
    failing = {Verdict.FAIL, Verdict.ERROR} | ({Verdict.XPASS} if args.fail_on_xpass else set())
    return 1 if any(r.verdict in failing for r in results) else 0


def cmd_list(args: argparse.Namespace) -> int:
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
    from harness.report.write import write_report_bundle

    report = _load(args.report)
    out = _writable_directory(args.out or args.report.parent, "--out")
    write_report_bundle(out, report)
    print(f"scm-harness: rendered {out}/junit.xml and {out}/summary.md")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.report.compare import compare
    from harness.report.write import write_atomically

    typed = [_load(p) for p in args.reports]
    if len(typed) < 2:
        raise UsageError("compare needs at least two reports")
    if args.labels:
        labels = [label.strip() for label in args.labels.split(",")]
        if len(labels) != len(typed):
            raise UsageError(f"--labels names {len(labels)} columns for {len(typed)} reports")
    else:
        labels = [f"{r.run_info.get('label', '?')} {r.run_info.get('release', '?')}" for r in typed]
        if len(set(labels)) != len(labels):
            labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    comparison = compare(typed, labels)
    markdown = comparison.render_markdown()
    if args.out:
        out = _writable_directory(args.out, "--out")
        write_atomically(out / "comparison.json", json.dumps(comparison.to_json(), indent=2, sort_keys=True) + "\n")
        write_atomically(out / "comparison.md", markdown)
    print(markdown)
    return 1 if comparison.differences else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from harness.bench import render, run_bench, to_json
    from harness.report.write import write_atomically

    if args.iterations < 1 or args.rounds < 1:
        raise UsageError("--iterations and --rounds must be positive")
    result = run_bench(args.iterations, args.rounds)
    print(render(result))
    if args.json is not None:
        _writable_directory(args.json.parent, "--json")
        write_atomically(args.json, to_json(result))
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from harness.host import probe

    print(json.dumps(probe().as_json(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
