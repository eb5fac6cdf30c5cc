"""``scm-harness replay PATH...``: scenario files, corpus directories and findings, as a conformance run.

Each scenario becomes the case ``REPLAY:<file stem>`` (a finding's directory name for
``findings/<sig>/scenario.json``), run on its own pair kind through each back end with exactly
the evaluation ``scm-harness run`` uses (:func:`harness.runner.run_variant`, in a forked child per
scenario and back end so that no scenario's leftovers reach the next), and the results are
streamed into the journal and written with the same report bundle as ``run``'s.  A file that
is not a scenario gives one line on stderr naming it, an ``error`` result, and the rest goes on;
except atheris inputs that decode to no scenario (libFuzzer keeps inputs that only add coverage
of the decoder in a campaign's corpus): those are counted in one line and skipped.
"""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.catalogue.case import Variant
from harness.execute.lifetime import call_in_child
from harness.finding import Finding
from harness.fuzz import corpus
from harness.fuzz.corpus import LoadError
from harness.platform import Platform
from harness.report.schema import Report, Result, Verdict
from harness.runner import RunConfig, VariantResult, mention_descriptor_limit, run_variant
from harness.version import commit_info


def _unique(label: str, used: set[str]) -> str:
    name, n = label, 1
    while name in used:
        n += 1
        name = f"{label}~{n}"
    used.add(name)
    return name


def _isolated(variant: Variant, backend: str, platform: Platform, config: RunConfig) -> VariantResult:
    """run_variant in a forked child: one file's leftovers cannot change the next one's verdict."""
    ended = call_in_child(lambda: run_variant(variant, backend, platform, config), config.scenario_timeout + 10)
    if isinstance(ended.value, VariantResult):
        mention_descriptor_limit(ended.value)  # here, not in the child: once per run, not once per file
        return ended.value
    how = "hung" if ended.hang else f"was killed by {ended.signal}" if ended.signal else "exited early"
    return VariantResult(variant.label, Verdict.ERROR, reason=f"the scenario's process {how}")


def replay(
    paths: Sequence[Path],
    backends: Sequence[str],
    platform: Platform,
    config: RunConfig,
    record: Callable[[Result], None] | None = None,
) -> tuple[list[Result], list[LoadError]]:
    """Every scenario under ``paths`` on every back end; ``record`` sees each result as it is finished."""
    loaded, errors = corpus.load(paths)
    undecodable = sum(error.no_scenario for error in errors)
    if undecodable:
        print(f"scm-harness replay: {undecodable} inputs decode to no scenario (skipped)", file=sys.stderr)
    errors = [error for error in errors if not error.no_scenario]
    results: list[Result] = []

    def add(result: Result) -> None:
        results.append(result)
        if record is not None:
            record(result)

    used: set[str] = set()
    for error in errors:
        print(f"scm-harness replay: {error}", file=sys.stderr)
        add(
            Result(
                case=f"REPLAY:{_unique(error.path.stem, used)}",
                area="replay",
                kind="unknown",
                backend="none",
                verdict=Verdict.ERROR,
                source=str(error.path),
                reason=error.message,
            )
        )
    for item in loaded:
        case = f"REPLAY:{_unique(item.label, used)}"
        # A replayed file says nothing about intent: where the oracle itself expects a step to
        # block, blocking is conformance, not a harness timeout (the runner still checks it).
        variant = Variant(item.label, item.scenario, blocking_expected=True)
        for backend in backends:
            started = time.monotonic()
            outcome = _isolated(variant, backend, platform, config)
            add(
                Result(
                    case=case,
                    title=item.scenario.note or item.label,
                    area="replay",
                    source=str(item.path),
                    kind=item.scenario.kind.name,
                    backend=backend,
                    verdict=outcome.verdict,
                    expected=outcome.expected,
                    observed=outcome.observed,
                    reason=outcome.reason,
                    findings=tuple(
                        Finding(
                            checker=f.checker,
                            variant=f.variant,
                            step=f.step,
                            field=f.field,
                            expected=f.expected,
                            observed=f.observed,
                        )
                        for f in outcome.findings
                    ),
                    duration_ms=round((time.monotonic() - started) * 1000, 3),
                )
            )
    return results, errors


def replay_report(results: list[Result], platform: Platform, *, command: str, started: datetime.datetime) -> Report:
    """The report of a replay (the caller writes it: :meth:`harness.report.write.PendingBundle.finish`)."""
    run_info: dict[str, object] = {
        **platform.as_json(),
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "backends": sorted({r.backend for r in results if r.backend != "none"}),
        "ids": "REPLAY:*",
        "kinds": "*",
        "interrupted": False,
        **commit_info(),
    }
    return Report(run_info=run_info, results=tuple(results))
