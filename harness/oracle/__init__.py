"""expect(scenario, platform) -> Expectation | Unmodelled: one pure oracle per system, chosen here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from harness.expectation import Expectation, Unmodelled
from harness.model import Scenario
from harness.oracle import linux

if TYPE_CHECKING:  # host.py imports harness.oracle.history: no import of harness.host at run time here
    from harness.platform import Platform

Oracle = Callable[[Scenario, "Platform"], Expectation | Unmodelled]
ORACLES: Mapping[str, Oracle] = {"linux": linux.expect}


def expect(scenario: Scenario, platform: Platform) -> Expectation | Unmodelled:
    """No I/O, no look at the host: the platform comes in as data."""
    oracle = ORACLES.get(platform.system)
    if oracle is None:
        return Unmodelled(f"no oracle for system {platform.system!r}")
    return oracle(scenario, platform)
