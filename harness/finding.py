"""The Finding: one observable that differs from the oracle, in plain words (checkers, invariants,
fuzz triage and the report all use this one value)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    checker: str  # the checker of harness/check that found it, or "invariant", "hang", "crash", "harness-error"
    variant: str = ""  # the case variant's label, once the runner knows which variant it is
    step: int | None  # None: about the whole scenario (leaks, a hang)
    field: str  # "outcome", "data", "buffers[1]", "msg_flags", "cmsgs[0].fds[1]", ...
    expected: str
    observed: str

    def describe(self) -> str:
        """One line: ``[msg-flags controllen=20 step 1] msg_flags: expected {...}, observed {}``."""
        where = " ".join(
            part for part in (self.checker, self.variant, "" if self.step is None else f"step {self.step}") if part
        )
        return f"[{where}] {self.field}: expected {self.expected}, observed {self.observed}"
