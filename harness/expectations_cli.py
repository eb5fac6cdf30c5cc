"""``scm-harness expectations --from report.json``: an expectations file that makes that run green.

One entry per failing (or known) result with its findings, grouped per case or kind when they fail
the same way, each with ``"reason": "TODO: why"`` to fill in (like ``wpt update-expectations``).
Errors cannot be listed (a harness error is never the kernel's deviation); xpasses need no entry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("expectations", help="write an expectations file that lists a report's failures")
    p.add_argument("--from", dest="source", type=Path, required=True, metavar="REPORT", help="a report.json")
    p.add_argument("--out", type=Path, help="write the file here (default: standard output)")


def cmd_expectations(args: argparse.Namespace) -> int:
    from harness.expectations_file import TODO_REASON, deviations_from, to_json
    from harness.options import UsageError, writable_directory
    from harness.report.schema import ReportError, Verdict, load_report
    from harness.report.write import write_atomically, writing

    try:
        report = load_report(args.source)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    if args.out is not None:
        writable_directory(args.out.parent, "--out")
    known = deviations_from(report.results)
    text = json.dumps(to_json(known), indent=2, ensure_ascii=True) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        with writing(args.out):
            write_atomically(args.out, text)
    todo = sum(1 for d in known.entries if d.reason == TODO_REASON)
    errors = sum(1 for r in report.results if r.verdict is Verdict.ERROR)
    where = "" if args.out is None else f" to {args.out}"
    print(
        f"scm-harness: wrote {len(known.entries)} entries{where} ({todo} with reason {TODO_REASON!r} to fill in)"
        + (f"; {errors} error results cannot be listed (harness errors, not deviations)" if errors else ""),
        file=sys.stderr,
    )
    return 0
