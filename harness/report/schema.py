"""The canonical report (``report.json``, schema ``scm-harness/report/1``) and its frozen form.

Every other output (JUnit XML, Markdown, comparisons) is rendered from a :class:`Report`, so the
reader here is strict: a missing key, an unknown key, a wrong type, an unknown verdict or a
``summary`` that disagrees with the results is a :class:`ReportError` whose message is one line
naming the file and the place (``reports/x/report.json: results[3].verdict: 'maybe' is not a
verdict``).  A report that reads back cleanly renders the same everywhere.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from harness.finding import Finding
from harness.untrusted import MAX_REPORT_FILE, UntrustedInputError, one_line, parse_json, read_file, shorten

SCHEMA = "scm-harness/report/1"


class ReportError(ValueError):
    """A report that cannot be used; the message is one line naming the file and the place."""


class Verdict(enum.Enum):
    PASS = "pass"
    FAIL = "fail"  # the observation disagrees with the oracle, and no expectation lists it
    KNOWN = "known"  # a deviation listed in an expectations file, with a reason
    XPASS = "xpass"  # a listed deviation that no longer happens: news (pytest's strict XPASS)
    UNSUPPORTED = "unsupported"  # the platform lacks the feature: recorded, not a failure
    UNMODELLED = "unmodelled"  # the oracle does not model this scenario; it never guesses
    ERROR = "error"  # the harness itself broke: never counted as the kernel's fault

    @property
    def is_news(self) -> bool:
        """True for the verdicts a CI gate stops on: something changed or broke."""
        return self in (Verdict.FAIL, Verdict.XPASS, Verdict.ERROR)


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """The verdict for one case on one pair kind with one back end."""

    case: str
    area: str
    kind: str
    backend: str
    verdict: Verdict
    title: str = ""
    source: str = ""
    expected: str = ""
    observed: str = ""
    reason: str = ""  # why known / unsupported / unmodelled / error; for a fail, the change that explains it
    findings: tuple[Finding, ...] = ()
    duration_ms: float = 0.0
    # a fail that flipping one upstream change (harness.oracle.history id) would turn into a pass;
    # optional in report.json: written only when set
    explained_by: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a result across runs: ``(case, kind, backend)``."""
        return (self.case, self.kind, self.backend)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    run_info: dict[str, object]  # free-form facts about the run (kernel, libc, features, command)
    results: tuple[Result, ...]

    @property
    def summary(self) -> dict[str, int]:
        return summarise(self.results)


def summarise(results: Iterable[Result]) -> dict[str, int]:
    """The ``summary`` block: ``total``, ``cases`` (distinct case ids) and a count per verdict."""
    results = tuple(results)
    counts = Counter(r.verdict for r in results)
    out = {"total": len(results), "cases": len({r.case for r in results})}
    out.update({v.value: counts[v] for v in Verdict})
    return out


# ----------------------------------------------------------------------------------------------
# JSON -> Report

# JSON keys are the dataclass field names, so the reader and the writer cannot drift apart.
_FINDING_KEYS = tuple(f.name for f in fields(Finding))
_RESULT_KEYS = tuple(f.name for f in fields(Result))
_REPORT_KEYS = ("schema", "run_info", "results", "summary")
_RESULT_TEXT = ("case", "title", "area", "source", "kind", "backend", "expected", "observed", "reason")
_RESULT_OPTIONAL = ("explained_by",)  # added later: a report without them is as valid
_FINDING_TEXT = ("checker", "variant", "field", "expected", "observed")


def load_report(path: str | Path) -> Report:
    """Read and validate a ``report.json``; every problem is a one-line :class:`ReportError`.

    A report given to ``render`` or ``compare`` is untrusted input: it is read by
    :func:`harness.untrusted.read_file` (a regular file of at most MAX_REPORT_FILE bytes) and
    parsed by :func:`harness.untrusted.parse_json` (no NaN, nesting at most MAX_JSON_DEPTH deep).
    """
    where = one_line(str(path))
    try:
        value = parse_json(read_file(path, MAX_REPORT_FILE), where)
    except UntrustedInputError as exc:
        raise ReportError(str(exc)) from None
    return parse_report(value, where)


def parse_report(obj: object, where: str) -> Report:
    """Validate a decoded JSON value; ``where`` (usually the file name) starts every error message."""
    where = one_line(where)
    top = _object(obj, _REPORT_KEYS, where, "")
    if top["schema"] != SCHEMA:
        raise _error(where, "schema", f"{shorten(top['schema'])} is not {SCHEMA!r}")
    run_info = _object(top["run_info"], None, where, "run_info")
    raw_results = top["results"]
    if not isinstance(raw_results, list):
        raise _error(where, "results", f"expected an array, got {_json_type(raw_results)}")
    results = tuple(_result(item, where, f"results[{i}]") for i, item in enumerate(raw_results))
    _check_summary(top["summary"], summarise(results), where)
    return Report(run_info=dict(run_info), results=results)


def _result(value: object, where: str, place: str) -> Result:
    obj = _object(value, _RESULT_KEYS, where, place, optional=_RESULT_OPTIONAL)
    text = {key: _text(obj[key], where, f"{place}.{key}") for key in _RESULT_TEXT}
    text.update({key: _text(obj[key], where, f"{place}.{key}") for key in _RESULT_OPTIONAL if key in obj})
    verdict_value = obj["verdict"]
    try:
        verdict = Verdict(verdict_value)
    except ValueError:
        raise _error(where, f"{place}.verdict", f"{shorten(verdict_value)} is not a verdict") from None
    raw_findings = obj["findings"]
    if not isinstance(raw_findings, list):
        raise _error(where, f"{place}.findings", f"expected an array, got {_json_type(raw_findings)}")
    findings = tuple(_finding(f, where, f"{place}.findings[{i}]") for i, f in enumerate(raw_findings))
    duration = obj["duration_ms"]
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise _error(where, f"{place}.duration_ms", f"expected a number, got {_json_type(duration)}")
    if not math.isfinite(duration) or duration < 0:
        raise _error(where, f"{place}.duration_ms", f"{duration!r} is not a duration")
    return Result(verdict=verdict, findings=findings, duration_ms=float(duration), **text)


def parse_result(value: object, where: str) -> Result:
    """Validate one ``results[]`` entry on its own (a line of the results journal)."""
    return _result(value, one_line(where), "result")


def _finding(value: object, where: str, place: str) -> Finding:
    obj = _object(value, _FINDING_KEYS, where, place)
    text = {key: _text(obj[key], where, f"{place}.{key}") for key in _FINDING_TEXT}
    step = obj["step"]
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise _error(where, f"{place}.step", f"expected null or a step index, got {shorten(step)}")
    return Finding(step=step, **text)


def _check_summary(value: object, computed: dict[str, int], where: str) -> None:
    # The summary is derived data; one that disagrees with the results means the file was
    # edited or truncated, and renderers would show two different truths.
    obj = _object(value, tuple(computed), where, "summary")
    for key, want in computed.items():
        got = obj[key]
        if isinstance(got, bool) or not isinstance(got, int):
            raise _error(where, f"summary.{key}", f"expected an integer, got {_json_type(got)}")
        if got != want:
            raise _error(where, f"summary.{key}", f"{got} but the results give {want}")


def _object(
    value: object, keys: tuple[str, ...] | None, where: str, place: str, optional: tuple[str, ...] = ()
) -> dict[str, object]:
    """Check that ``value`` is an object with exactly ``keys``, ``optional`` ones may be missing (any keys
    when ``keys`` is None)."""
    if not isinstance(value, dict):
        raise _error(where, place, f"expected an object, got {_json_type(value)}")
    if keys is not None:
        for key in keys:
            if key not in value and key not in optional:
                raise _error(where, f"{place}.{key}" if place else key, "missing")
        for key in value:
            if key not in keys:
                raise _error(where, place, f"unknown key {shorten(key)}")
    return value


def _text(value: object, where: str, place: str) -> str:
    if not isinstance(value, str):
        raise _error(where, place, f"expected a string, got {_json_type(value)}")
    return value


def _error(where: str, place: str, problem: str) -> ReportError:
    return ReportError(f"{where}: {place}: {problem}" if place else f"{where}: {problem}")


def _json_type(value: object) -> str:
    names: tuple[tuple[type, str], ...] = (
        (bool, "boolean"), (int, "number"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"),
    )  # fmt: skip
    if value is None:
        return "null"
    return next((name for kind, name in names if isinstance(value, kind)), type(value).__name__)


# ----------------------------------------------------------------------------------------------
# Report -> JSON


def report_to_json(report: Report) -> dict[str, object]:
    """The inverse of :func:`parse_report`: ``parse_report(report_to_json(r), w) == r``."""
    return {
        "schema": SCHEMA,
        "run_info": dict(report.run_info),
        "results": [result_to_json(r) for r in report.results],
        "summary": report.summary,
    }


def result_to_json(result: Result) -> dict[str, object]:
    """One ``results[]`` entry of ``report.json`` (and one line of the results journal)."""
    out: dict[str, object] = {key: getattr(result, key) for key in _RESULT_KEYS}
    out["verdict"] = result.verdict.value
    out["findings"] = [{key: getattr(f, key) for key in _FINDING_KEYS} for f in result.findings]
    for key in _RESULT_OPTIONAL:
        if not out[key]:
            del out[key]
    return out
