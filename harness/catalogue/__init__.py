"""The conformance catalogue: one case per behaviour id of shared/spec/behaviours.md.

Importing this package registers every case in ``CASES``.
"""

from harness.catalogue import (  # noqa: F401
    boundaries,
    credentials,
    errors,
    fd_passing,
    gc,
    limits_flags,
    misc,
    oob,
    peek,
    processes,
    programs,
    regressions,
    regressions_without_oob,
    shutdown_close,
    truncation,
    wakeups,
)
from harness.catalogue.case import CASES, Case, Variant, select

__all__ = ["CASES", "Case", "Variant", "select"]
