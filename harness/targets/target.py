"""The target vocabulary of ``--on``: parsing, the option, what a guest records, packages."""

from __future__ import annotations

import argparse
import enum
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GUEST_OPTION = "--guest-of"  # internal: the command runs inside a target; the value says which (JSON)
DEFAULT_TARGET_TIMEOUT = 3600.0  # seconds for the whole guest run: boot, command, power-off


class TargetError(Exception):
    """A target that cannot be used, or a guest that did not finish: one line, exit status 2."""


class TargetKind(enum.Enum):
    HOST = "host"
    UML = "uml"
    QEMU = "qemu"


_VERSION = re.compile(r"\d+\.\d+")


@dataclass(frozen=True)
class Target:
    """A parsed ``--on`` value.  ``argument`` is what follows ``KIND:`` (a path, a version, a package)."""

    kind: TargetKind
    argument: str = ""

    def __str__(self) -> str:
        return self.kind.value + (f":{self.argument}" if self.argument else "")

    @property
    def is_host(self) -> bool:
        return self.kind is TargetKind.HOST

    @property
    def version(self) -> str | None:
        """``6.12`` of ``uml:6.12``: a kernel the harness builds; None for the package or a path."""
        return self.argument if self.kind is TargetKind.UML and _VERSION.fullmatch(self.argument) else None

    @property
    def binary(self) -> Path | None:
        """The kernel binary of ``uml:PATH``; None for ``uml`` and ``uml:VERSION``."""
        if self.kind is not TargetKind.UML or not self.argument or self.version is not None:
            return None
        return Path(self.argument)


HOST = Target(TargetKind.HOST)


def parse_target(text: str) -> Target:
    """``host``, ``uml``, ``uml:6.12``, ``uml:PATH`` or ``qemu:PACKAGE``; else a ValueError saying what is known."""
    kind_text, colon, argument = text.partition(":")
    known = "host, uml, uml:VERSION (e.g. uml:6.12), uml:PATH or qemu:PACKAGE"
    try:
        kind = TargetKind(kind_text)
    except ValueError:
        raise ValueError(f"unknown target {text!r}: give {known}") from None
    if kind is TargetKind.HOST and colon:
        raise ValueError(f"unknown target {text!r}: 'host' takes no argument")
    if colon and not argument:
        raise ValueError(f"target {text!r} names nothing after the colon: give {known}")
    if kind is TargetKind.QEMU and not argument:
        raise ValueError(f"target {text!r}: say which kernel package, e.g. qemu:linux-image-6.12-amd64")
    if "\0" in argument:
        raise ValueError("the target holds a NUL character")
    return Target(kind, argument)


def _target_type(text: str) -> Target:
    try:
        return parse_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(frozen=True)
class GuestOutput:
    """Where a command writes: the option naming its directory, the default's name prefix, the file it
    always writes there when it finishes (checked by the host after the guest ran)."""

    option: str = "--out"
    default_prefix: str = ""
    product: str = "report.json"


def add_target_option(parser: argparse.ArgumentParser, output: GuestOutput | None = GuestOutput()) -> None:
    """``--on TARGET`` and ``--target-timeout S`` for a command; ``output`` None for a command without ``--out``."""
    from harness.options import number_option

    parser.add_argument(
        "--on",
        type=_target_type,
        default=HOST,
        metavar="TARGET",
        help="where to run: host (default), uml (Debian's user-mode-linux, 6.1), uml:6.12 (built from Debian's "
        "linux-source-6.12), uml:PATH (a UML kernel binary)",
    )
    number_option(
        parser,
        "--target-timeout",
        kind=float,
        low=1,
        high=7 * 86400,
        metavar="S",
        help=f"with --on other than host: seconds for the whole guest run (boot, command, power-off); "
        f"default {DEFAULT_TARGET_TIMEOUT:g}, plus fuzz --time",
    )
    parser.add_argument(GUEST_OPTION, dest="guest_of", help=argparse.SUPPRESS)
    parser.set_defaults(target_output=output)


@dataclass(frozen=True)
class GuestOf:
    """What the host tells the guest: the target, its kernel binary and the command line as typed."""

    target: str
    binary: str
    command_line: str

    def to_argument(self) -> str:
        return json.dumps({"target": self.target, "target_binary": self.binary, "command": self.command_line})

    @staticmethod
    def from_argument(text: str) -> GuestOf:
        try:
            value = json.loads(text)
            return GuestOf(str(value["target"]), str(value["target_binary"]), str(value["command"]))
        except (ValueError, KeyError, TypeError):
            raise TargetError(f"{GUEST_OPTION}: not what the harness passes to a guest: {text[:80]!r}") from None


def guest_of(args: argparse.Namespace) -> GuestOf | None:
    """The target this command runs inside (it is a guest), else None."""
    text = getattr(args, "guest_of", None)
    return None if text is None else GuestOf.from_argument(text)


def target_run_info(args: argparse.Namespace) -> dict[str, object]:
    """``target`` (and ``target_binary`` in a guest) for a report's ``run_info``."""
    inside = guest_of(args)
    if inside is None:
        return {"target": "host"}
    return {"target": inside.target, "target_binary": inside.binary}


def target_timeout(args: argparse.Namespace) -> float:
    """``--target-timeout``, else the default plus the command's own time budget (``fuzz --time``)."""
    given: float | None = getattr(args, "target_timeout", None)
    if given is not None:
        return given
    budget: float | None = getattr(args, "time", None)
    return DEFAULT_TARGET_TIMEOUT + (budget or 0.0)


def runs_elsewhere(args: argparse.Namespace) -> bool:
    """True when the command takes ``--on`` and it names something other than this host."""
    target: Any = getattr(args, "on", HOST)
    return isinstance(target, Target) and not target.is_host


def can_install_packages() -> bool:
    """True when this process may install Debian packages itself: root, with apt-get."""
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_get_install(packages: Sequence[str], purpose: str) -> None:
    """Install ``packages`` with apt-get (the caller checked :func:`can_install_packages`), saying so on stderr;
    a failure is a TargetError naming its last line."""
    print(f"scm-harness: installing {' '.join(packages)} with apt-get ({purpose})", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise TargetError(f"{purpose}: {shlex.join(argv)} failed with status {done.returncode}: {last}")


def guest_words(words: list[str]) -> list[str]:
    """``words`` without ``--on TARGET`` / ``--on=TARGET`` and ``--target-timeout S`` (the guest runs where it is)."""
    kept: list[str] = []
    skip = False
    for index, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word == "--":
            kept.extend(words[index:])
            break
        if word in ("--on", "--target-timeout"):
            skip = True
            continue
        if word.startswith(("--on=", "--target-timeout=")):
            continue
        kept.append(word)
    return kept
