"""The ``fuzz``, ``replay`` and ``corpus`` subcommands: their parsers and handlers (wiring only).

:mod:`harness.cli` registers them with :func:`add_parsers` and dispatches through
:data:`HANDLERS`; bad usage raises :class:`harness.options.UsageError`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.scenario_files import corpora_directory


def _has_files(directories: tuple[Path, ...]) -> bool:
    return any(directory.is_dir() and any(directory.iterdir()) for directory in directories)


def _usage(message: str) -> Exception:
    from harness.options import UsageError

    return UsageError(message)


def add_parsers(sub: Any) -> None:
    from harness.options import number_option, overwrite_option, step_timeout_option
    from harness.targets.target import GuestOutput, add_target_option

    fuzz = sub.add_parser("fuzz", help="run a fuzzing campaign (Hypothesis or atheris) against the oracle")
    fuzz.add_argument("--engine", choices=("hypothesis", "atheris"), default="hypothesis")
    budget = fuzz.add_mutually_exclusive_group()
    budget_help = "stop after S seconds, 60 without --runs"
    number_option(budget, "--time", kind=float, low=1, high=7 * 86400, metavar="S", help=budget_help)
    number_option(budget, "--runs", kind=int, low=1, high=10**9, metavar="N", help="stop after N executions in total")
    number_option(fuzz, "-j", "--jobs", kind=int, low=1, high=256, default=1, metavar="N", help="worker processes")
    fuzz.add_argument("--corpus", type=Path, metavar="DIR", help="corpus directory (default: OUT/corpus)")
    fuzz.add_argument(
        "--out", type=Path, metavar="DIR", help="campaign directory (default: a new reports/fuzz-<UTC time>-<suffix>/)"
    )
    seed_help = "seed for the workers, random unless given and recorded in the summary"
    number_option(fuzz, "--seed", kind=int, low=0, high=2**31 - 1, help=seed_help)
    fuzz.add_argument("--backend", choices=("raw", "pysock"), default="raw")
    timeout_help = "per-scenario timeout"
    number_option(
        fuzz, "--scenario-timeout", kind=float, low=0.25, high=3600, default=5.0, metavar="S", help=timeout_help
    )
    minimise_help = "budget per finding"
    number_option(
        fuzz, "--minimise-seconds", kind=float, low=0, high=86400, default=60.0, metavar="S", help=minimise_help
    )
    fuzz.add_argument("--no-seeds", action="store_true", help="do not start from corpora/seeds and regressions")
    fuzz.add_argument("--inject-fault", help=argparse.SUPPRESS)  # test only: harness.execute.faults
    fuzz.add_argument(
        "libfuzzer_flags",
        nargs="*",
        metavar="-- -FLAG=VALUE",
        help="after --, libFuzzer flags for the atheris workers (e.g. -max_len=64 -only_ascii=1)",
    )
    add_target_option(fuzz, GuestOutput(default_prefix="fuzz-", product="campaign.json"))

    replay = sub.add_parser("replay", help="re-run scenario files, corpus directories or findings and report")
    replay.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    replay.add_argument(
        "--out", type=Path, help="report directory (default: a new reports/replay-<UTC time>-<suffix>/)"
    )
    overwrite_option(replay)
    replay.add_argument("--backend", choices=("raw", "pysock", "both"), default="both")
    step_timeout_option(replay)
    add_target_option(replay, GuestOutput(default_prefix="replay-"))

    corpus = sub.add_parser("corpus", help="keep corpora/ in sync with the catalogue")
    corpus.add_argument("--sync", action="store_true", help="write corpora/seeds from the catalogue")
    corpus.add_argument("--check", action="store_true", help="exit 1 when corpora/seeds is out of sync")
    corpus.add_argument("--atheris", action="store_true", help="also regenerate corpora/atheris byte seeds")
    search_help = "random inputs to search (with --atheris)"
    number_option(corpus, "--atheris-budget", kind=int, low=1, high=10**8, default=20_000, help=search_help)
    grow_help = "libFuzzer time on top of them (with --atheris)"
    number_option(corpus, "--atheris-seconds", kind=int, low=1, high=86400, default=60, help=grow_help)
    corpus.add_argument("--corpora", type=Path, help="the corpora directory (default: the project's corpora/)")


def _campaign_directories(out: Path | None, corpus: Path | None, engine: str) -> tuple[Path, Path]:
    """``--out`` and ``--corpus`` as directories this process can write in, checked before the campaign starts."""
    from harness.options import writable_directory
    from harness.report.write import OutputError, claim_new_directory

    if corpus is not None:
        writable_directory(corpus, "--corpus")  # first: a bad --corpus must not leave a new campaign directory
        if engine == "atheris":
            from harness.fuzz.corpus import byte_corpus_problem

            problem = byte_corpus_problem(corpus)
            if problem is not None:
                raise _usage(f"--corpus: {problem}")
    if out is None:
        try:
            out = claim_new_directory(Path("reports"), "fuzz-")
        except OutputError as exc:
            raise _usage(f"--out: {exc}") from None
    else:
        writable_directory(out, "--out")
    return out, corpus or out / "corpus"


def cmd_fuzz(args: argparse.Namespace) -> int:
    from harness.execute.faults import FAULTS
    from harness.fuzz.campaign import CampaignOptions, libfuzzer_flags_problem, run_campaign

    if args.inject_fault is not None and args.inject_fault not in FAULTS:
        raise _usage(f"--inject-fault: unknown fault {args.inject_fault!r} (known: {', '.join(FAULTS)})")
    if args.libfuzzer_flags and args.engine != "atheris":
        raise _usage(f"fuzz: libFuzzer flags after -- ({args.libfuzzer_flags[0]}) need --engine atheris")
    problem = libfuzzer_flags_problem(args.libfuzzer_flags)
    if problem is not None:
        raise _usage(f"fuzz: {problem}")
    out, corpus_directory = _campaign_directories(args.out, args.corpus, args.engine)
    corpora = corpora_directory()
    seeds = () if args.no_seeds else (corpora / "seeds", corpora / "regressions")
    options = CampaignOptions(
        engine=args.engine,
        out=out,
        corpus=corpus_directory,
        seconds=60.0 if args.time is None and args.runs is None else args.time,
        runs=args.runs,
        jobs=args.jobs,
        seed=random.randrange(1 << 31) if args.seed is None else args.seed,
        fault=args.inject_fault,
        backend=args.backend,
        scenario_timeout=args.scenario_timeout,
        seeds=seeds,
        byte_seeds=() if args.no_seeds else (corpora / "atheris",),
        minimise_seconds=args.minimise_seconds,
        libfuzzer_flags=tuple(args.libfuzzer_flags),
        command=args.command_line,
    )
    if not args.no_seeds and not _has_files(seeds if args.engine == "hypothesis" else (*seeds, *options.byte_seeds)):
        print(f"scm-harness fuzz: no seeds found in {corpora}: the campaign starts from nothing", file=sys.stderr)
    print(
        f"scm-harness fuzz: {options.engine}, {options.jobs} worker(s), "
        + (f"{options.seconds:g} s" if options.seconds is not None else f"{options.runs} runs")
        + f", seed {options.seed}, out {out}"
        + (f", injected fault {options.fault} (test only)" if options.fault else ""),
        file=sys.stderr,
    )
    return run_campaign(options)


def cmd_replay(args: argparse.Namespace) -> int:
    from harness.execute.backend import ExecConfig
    from harness.fuzz.replay import replay, replay_report
    from harness.host import probe
    from harness.options import open_bundle_option
    from harness.report.markdown import render_terminal
    from harness.report.schema import Verdict
    from harness.report.write import BUNDLE_FILES
    from harness.runner import RunConfig
    from harness.targets.target import target_run_info

    started = datetime.datetime.now(datetime.UTC)
    bundle = open_bundle_option(args.out, args.overwrite, "replay-")
    backends = ("raw", "pysock") if args.backend == "both" else (args.backend,)
    platform = probe()
    config = RunConfig(exec=ExecConfig(step_timeout=args.step_timeout))
    results, _ = replay(args.paths, backends, platform, config, record=bundle.record)
    report = replay_report(results, platform, command=args.command_line, started=started)
    report = dataclasses.replace(report, run_info={**report.run_info, **target_run_info(args)})
    bundle.finish(report)
    print(render_terminal(report))
    print(f"scm-harness replay: report written to {bundle.out}/report.json (also {', '.join(BUNDLE_FILES[1:])})")
    return 1 if any(r.verdict in (Verdict.FAIL, Verdict.ERROR) for r in results) else 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from harness.fuzz import corpus

    corpora = args.corpora or corpora_directory()
    if args.sync == args.check:
        raise _usage(
            "corpus: say either --sync (write) or --check (compare), not both"
            if args.sync
            else "corpus: say --sync (write) or --check (compare)"
        )
    changes = corpus.sync_seeds(corpora, check=args.check)
    for change in changes:
        print(f"scm-harness corpus: {change}")
    if args.atheris and args.sync:
        _sync_atheris(corpora / corpus.ATHERIS, args.atheris_budget, args.atheris_seconds)
    if args.check:
        return 1 if changes else 0
    print(f"scm-harness corpus: {corpora / corpus.SEEDS} in sync with the catalogue ({len(changes)} changes)")
    return 0


def _sync_atheris(directory: Path, budget: int, seconds: int) -> None:
    """Byte seeds: a random search for distinct kernel behaviour, grown by libFuzzer, then merged.

    The search needs no knowledge of the decoder's tables; libFuzzer (with the outcome-signature
    counters) then reaches what random bytes rarely do; ``-merge=1`` keeps the inputs that cover
    every feature either found, and of those the ones that add a kernel-outcome signature are kept.
    """
    import os
    import subprocess
    import tempfile

    from harness.fuzz.campaign import FUZZER
    from harness.fuzz.corpus import select_atheris_seeds
    from harness.fuzz.evaluate import FuzzConfig, evaluate
    from harness.fuzz.target import ENV_WORKER, spec_to_environment
    from harness.fuzz.worker import WorkerSpec
    from harness.generate.decode import decode, write_dictionary
    from harness.host import probe

    platform, config = probe(), FuzzConfig()
    seeds = select_atheris_seeds(lambda s: evaluate(s, platform, config), budget=budget, seed=4)
    with tempfile.TemporaryDirectory(prefix="scm-harness-seeds-") as work:
        root = Path(work)
        searched, grown = root / "searched", root / "grown"
        searched.mkdir()
        grown.mkdir()
        for name, data in seeds.items():
            (searched / name).write_bytes(data)
        # campaign mode, so that findings on the way are handed over (and dropped), not crashes
        spec = WorkerSpec(index=0, engine="atheris", out=root / "campaign", corpus=root / "scenarios")
        spec.directory.mkdir(parents=True)
        env = {**os.environ, ENV_WORKER: spec_to_environment(spec)}
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        dictionary = write_dictionary(root / "scm.dict")
        fuzzer = [sys.executable, str(FUZZER)]
        common = [f"-dict={dictionary}", f"-artifact_prefix={spec.directory}/", "-seed=4"]
        subprocess.run(
            [*fuzzer, str(grown), str(searched), f"-max_total_time={seconds}", *common],
            env=env,
            capture_output=True,
            check=False,
        )
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            if old.is_file() and not old.name.upper().startswith("README"):
                old.unlink()
        merged = root / "merged"
        merged.mkdir()
        subprocess.run(
            [*fuzzer, "-merge=1", str(merged), str(searched), str(grown), *common],
            env=env,
            capture_output=True,
            check=False,
        )
        # The checked-in set: the merged inputs that each add a kernel-outcome signature (smallest
        # first), so that the corpus stays small enough to replay on every test run.
        kept: set[str] = set()
        for path in sorted(merged.iterdir(), key=lambda p: (p.stat().st_size, p.name)):
            scenario = decode(path.read_bytes())
            if scenario is None:
                continue
            evaluation = evaluate(scenario, platform, config)
            fresh = set(evaluation.outcomes) - kept
            if fresh and not evaluation.findings and not evaluation.skipped:
                kept |= fresh
                (directory / path.name).write_bytes(path.read_bytes())
    count = sum(1 for p in directory.iterdir() if p.is_file())
    print(f"scm-harness corpus: {count} atheris seeds in {directory} ({len(seeds)} from the search, then libFuzzer)")


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "fuzz": cmd_fuzz,
    "replay": cmd_replay,
    "corpus": cmd_corpus,
}
