"""What a generated ``repro.py`` runs: the harness itself, on the scenario and expectation it carries.

``repro.py`` (:mod:`harness.fuzz.repro_py`) carries the harness modules this one needs (found by
:mod:`harness.fuzz.bundle` from its imports) and three JSON texts as data: what the finding is, the
scenario (decoded by :func:`harness.codec.loads`, so every bound of harness.model applies) and the
oracle's expectation (:mod:`harness.expectation_codec`).  :func:`main` runs the scenario with the
raw back end (:func:`harness.execute.run.execute`) and compares with the checkers
(:func:`harness.check.check`), as ``scm-harness run`` does.

Exit status: 1 when anything deviates (the finding reproduces), 0 when this platform conforms, 2
when the reproducer cannot run here; the last line printed says the same (``RESULT_LINE`` + a word
of ``RESULTS``), so that a reproducer that crashed (a traceback also exits 1) is not taken for one
that reproduced.
"""

from __future__ import annotations

import json
import os
import sys

from harness.check import check
from harness.codec import CodecError, loads
from harness.describe import step_words
from harness.evaluate import unexpected_block, watchdog
from harness.execute.errors import CannotExpress, CaseTimeout, ChildDied
from harness.execute.run import execute
from harness.expectation import Expectation, StepExpectation
from harness.expectation_codec import ExpectationCodecError
from harness.expectation_codec import loads as load_expectation
from harness.model import woken_steps
from harness.observation import Observation, StepObservation

RESULT_LINE = "SCM-HARNESS-REPRO-RESULT: "  # + the word of RESULTS for the exit status: the last line printed
RESULTS = {0: "conforms", 1: "reproduced", 2: "unsupported"}
SCENARIO_TIMEOUT = 20.0  # as scm-harness run's watchdog (EvaluationConfig.scenario_timeout)
TEXT_LIMIT = 2000  # a printed value is cut here


def printable(text: str) -> str:
    """``text`` with every character outside printable ASCII escaped: data never prints as a new line."""
    return "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)


def brief(text: str) -> str:
    """Text cut at TEXT_LIMIT characters and escaped (findings already cut bytes as the checkers do)."""
    return printable(text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "...")


def result(code: int) -> int:
    print(RESULT_LINE + RESULTS[code], flush=True)
    return code


def _step_lines(seen: tuple[StepObservation, ...], want: tuple[StepExpectation, ...], prefix: str) -> list[str]:
    lines = []
    for index, (observed, expected) in enumerate(zip(seen, want, strict=False)):
        lines.append(
            f"    step {prefix}{index} {observed.op}: expected {step_words(expected)}; observed {step_words(observed)}"
        )
        lines += _step_lines(observed.nested, expected.nested, f"{prefix}{index}.")
    return lines


def _run(scenario_text: str, expectation_text: str) -> int:
    uname = os.uname()
    print(printable(f"kernel: {uname.sysname} {uname.release} ({uname.machine})"))
    if not sys.platform.startswith("linux"):
        print("cannot run: this reproducer drives Linux system calls")
        return 2
    try:
        scenario = loads(scenario_text, "the reproducer's scenario")
        expectation: Expectation = load_expectation(expectation_text)
    except (CodecError, ExpectationCodecError) as exc:
        print("cannot run: " + brief(str(exc)))
        return 2
    try:
        with watchdog(SCENARIO_TIMEOUT):
            observation: Observation = execute(scenario, "raw")
    except CannotExpress as exc:
        print("cannot run: " + brief(str(exc)))
        return 2
    except (CaseTimeout, ChildDied) as exc:
        print("DEVIATION " + brief(f"{type(exc).__name__}: {exc}"))
        print("REPRODUCED: the scenario did not complete")
        return 1
    for line in _step_lines(observation.steps, expectation.steps, ""):
        print(brief(line))
    deviations = [f.describe() for f in check(scenario, observation, expectation)]
    # a step that blocks where the oracle expects it to conforms (as the reproducer always had it);
    # only one that blocks out of turn deviates
    blocked = unexpected_block(observation, expectation, True, woken_steps(scenario))
    if blocked:
        deviations.append(blocked)
    for text in deviations:
        print("DEVIATION " + brief(text))
    if deviations:
        print(f"REPRODUCED: {len(deviations)} deviation(s) from the expected behaviour")
        return 1
    print("CONFORMS: every step behaved as expected")
    return 0


def main(about_text: str, scenario_text: str, expectation_text: str) -> int:
    """Say what the finding is, run it; the exit status, also printed as the last line."""
    about = json.loads(about_text)
    print(brief(str(about["title"])))
    for line in about["details"]:
        print("  " + brief(str(line)))
    if about.get("unsupported") is not None:
        print("cannot reproduce here: " + brief(str(about["unsupported"])))
        return result(2)
    return result(_run(scenario_text, expectation_text))
