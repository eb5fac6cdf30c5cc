"""``run``'s progress on stderr: a live line on a terminal, plain periodic lines otherwise.

On a terminal the line (cases done/total, results done/total, failures so far, elapsed) is
redrawn in place at most :data:`REDRAW_INTERVAL` apart and cleared at the end, so the final
summary starts on a clean line.  Anywhere else (a CI log, a file) a plain line is printed every
:data:`PLAIN_INTERVAL` seconds or every tenth of the results, whichever comes first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from harness.report.schema import Result, Verdict

REDRAW_INTERVAL = 0.25  # seconds between two redraws of the live line
PLAIN_INTERVAL = 10.0  # seconds between two plain lines
_FAILING = (Verdict.FAIL, Verdict.ERROR)


class Progress:
    def __init__(
        self, stream: TextIO, results_per_case: Iterable[tuple[str, int]], *, live: bool | None = None
    ) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.remaining: Counter[str] = Counter()
        for case, count in results_per_case:
            self.remaining[case] += count
        self.cases_total = len(self.remaining)
        self.results_total = sum(self.remaining.values())
        self.cases_done = self.results_done = self.failures = 0
        self.started = self._shown = time.monotonic()
        self._shown_results = 0
        self._drawn = False

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        return (
            f"scm-harness: cases {self.cases_done}/{self.cases_total}, results {self.results_done}/"
            f"{self.results_total}, {self.failures} failing, {elapsed:.0f} s"
        )

    def update(self, result: Result) -> None:
        self.results_done += 1
        self.failures += result.verdict in _FAILING
        self.remaining[result.case] -= 1
        if self.remaining[result.case] == 0:
            self.cases_done += 1
        now = time.monotonic()
        if self.live:
            if now - self._shown >= REDRAW_INTERVAL or self.results_done == self.results_total:
                self.stream.write(f"\r\x1b[K{self.line()}")
                self.stream.flush()
                self._shown, self._drawn = now, True
        elif (
            now - self._shown >= PLAIN_INTERVAL
            or (self.results_done - self._shown_results) * 10 >= self.results_total
            or self.results_done == self.results_total  # the last line says the run is done
        ):
            print(self.line(), file=self.stream, flush=True)
            self._shown, self._shown_results = now, self.results_done

    def finish(self) -> None:
        """Clear the live line (a plain stream keeps its lines)."""
        if self.live and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
