"""Checkers: small pure functions in a registry; each compares one family of observables.

``check(scenario, observation, expectation)`` runs every registered checker and returns all
findings.  A checker never looks at the kernel and never imports pytest.
"""

from __future__ import annotations

# importing the modules registers their checkers
from harness.check import control, data, fds, flags, outcome, signals, state  # noqa: F401
from harness.check.registry import CHECKERS, Checker, check, checker
from harness.finding import Finding

__all__ = ["CHECKERS", "Checker", "Finding", "check", "checker"]
