"""Hypothesis settings profiles: ``ci`` (bounded, derandomised; the test suite) and ``campaign``.

Syscall timing is noisy, so no profile has a deadline.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def register_profiles() -> None:
    settings.register_profile(
        "ci",
        derandomize=True,
        deadline=None,
        database=None,
        max_examples=60,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.register_profile(
        "campaign",
        deadline=None,
        max_examples=1_000_000,
        suppress_health_check=list(HealthCheck),
    )
