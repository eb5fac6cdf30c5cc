"""Command-line pieces every subcommand shares: bounded numbers, --step-timeout, --overwrite, --out.

Bad usage raises :class:`UsageError`, which :mod:`harness.cli` prints as one line (exit 2).
Apart from the command line itself so that the subcommands' own modules (harness.fuzz.cli,
harness.expectations_cli, harness.targets) can use them without importing it.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from harness.report.write import PendingBundle


class UsageError(Exception):
    """Bad usage: printed as one line, exit status 2."""


Number = TypeVar("Number", int, float)

MAX_STEP_TIMEOUT = 60.0  # seconds; MIN_STEP_TIMEOUT (harness.execute.backend) is the lower bound


def number_in(kind: type[Number], low: Number, high: Number) -> Callable[[str], Number]:
    """An argparse ``type``: a finite ``kind`` from ``low`` to ``high``, else a one-line usage error.

    Every numeric option goes through here, so that ``nan``, ``inf``, ``1e308`` or a negative
    count is refused while parsing, before anything runs.
    """
    noun = "an integer" if kind is int else "a number"
    bounds = _bounds(kind, low, high)

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun} from {bounds}")
        return value

    return parse


def _bounds(kind: type[Number], low: Number, high: Number) -> str:
    return f"{low} to {high}" if kind is int else f"{low:g} to {high:g}"


def number_option(
    parser: argparse._ActionsContainer,
    *flags: str,
    kind: type[Number],
    low: Number,
    high: Number,
    help: str,
    default: Number | None = None,
    metavar: str | None = None,
) -> None:
    """A numeric option parsed by :func:`number_in`; its help ends with the bounds and the default."""
    limits = _bounds(kind, low, high) + ("" if default is None else f"; default {default:g}")
    parser.add_argument(
        *flags, type=number_in(kind, low, high), default=default, metavar=metavar, help=f"{help} ({limits})"
    )


def step_timeout_option(parser: argparse.ArgumentParser) -> None:
    """``--step-timeout S`` of ``run`` and ``replay``."""
    from harness.execute.backend import MIN_STEP_TIMEOUT

    meaning = "seconds before a blocking step counts as blocked"
    number_option(
        parser,
        "--step-timeout",
        kind=float,
        low=MIN_STEP_TIMEOUT,
        high=MAX_STEP_TIMEOUT,
        default=0.5,
        metavar="S",
        help=meaning,
    )


def overwrite_option(parser: argparse.ArgumentParser) -> None:
    """``--overwrite`` of the commands that write a report bundle into ``--out``."""
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the report bundle already in --out (refused otherwise)"
    )


def writable_directory(path: Path, option: str) -> Path:
    """``path`` as a directory this process can write in (created if missing), else a UsageError naming ``option``."""
    from harness.report.write import OutputError, writing

    try:
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path} is not a directory")
        with writing(path):
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
                pass
    except OutputError as exc:
        raise UsageError(f"{option}: {exc}") from None
    return path


def open_bundle_option(out: Path | None, overwrite: bool, default_prefix: str = "") -> PendingBundle:
    """The report bundle of ``--out``/``--overwrite``, checked and staged before any work starts."""
    from harness.report.write import OutputError, open_bundle

    try:
        return open_bundle(out, default_prefix=default_prefix, overwrite=overwrite)
    except OutputError as exc:
        raise UsageError(f"--out: {exc}") from None
