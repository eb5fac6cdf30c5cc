"""Where a command runs: ``--on TARGET`` of ``run``, ``replay``, ``fuzz`` and ``fingerprint``.

``host`` (the default) runs the command here, as always.  ``uml`` boots Debian's user-mode Linux
(package ``user-mode-linux``, ``/usr/bin/linux.uml``), ``uml:PATH`` any UML kernel binary, and runs
the same command line inside it over the host filesystem (:mod:`harness.targets.uml`); the report
comes back into the output directory and the exit status passes through.  ``uml:6.12`` is a UML
kernel built from Debian's ``linux-source-6.12`` (:mod:`harness.targets.build`).  ``qemu:PACKAGE``
is recognised but not implemented: a one-line error.

A command takes the option with :func:`harness.targets.target.add_target_option`;
:func:`harness.cli.main` hands every command whose ``--on`` is not ``host`` to
:func:`run_on_target` before its handler runs, and the guest records where it ran with
:func:`harness.targets.target.target_run_info`.
"""

from __future__ import annotations

import argparse

from harness.targets.target import Target, TargetError, TargetKind


def run_on_target(args: argparse.Namespace, words: list[str]) -> int:
    """Run the command ``words`` (as typed, without the program name) on ``args.on``; its exit status."""
    from harness.targets.uml import run_on_uml

    target: Target = args.on
    if target.kind is TargetKind.UML:
        return run_on_uml(target, words, args)
    raise TargetError(f"--on {target}: qemu targets are not implemented yet (use uml or uml:PATH)")
