"""Known deviations: a reviewed list of (case, kind, backend) results that are expected to differ.

The file is JSON::

    {"schema": "scm-harness/expectations/2",
     "deviations": [{"case": "TRN-08", "kind": "*", "backend": "*", "label": "gvisor",
                     "release": "*", "reason": "gvisor.dev/issue/207: NULL msg_control",
                     "findings": [{"checker": "msg-flags", "field": "msg_flags", "step": 1}]},
                    {"case": "OOB-*", "skip": true, "reason": "hangs on this sandbox"}]}

``case``, ``kind``, ``backend``, ``label`` and ``release`` are globs (default ``*``).  A failing
result that an entry matches becomes ``known``; a passing one becomes ``xpass`` (news: the
deviation is gone), like WPT's expectation metadata and pytest's strict xfail.

``findings`` (optional) makes an entry precise: each pattern names any subset of a finding's
``checker``, ``variant``, ``field``, ``expected``, ``observed`` (globs) and ``step`` (an integer,
or null for a finding of no step).  A failing result is ``known`` only when *every* one of its
findings matches some pattern, so a different deviation of a known-failing case stays ``fail``.
Without ``findings`` any failure of the matched results is ``known``.

``"skip": true`` keeps the matched results from running: each is recorded as ``unsupported``
with the reason ``skipped by expectations: <reason>`` (for a case that hangs or crashes a
platform).  ``case`` must match at least one catalogue case (:func:`check_cases`).

Schema ``scm-harness/expectations/1`` files (no ``findings``, no ``skip``) are still read.
The file is read as untrusted input (:mod:`harness.untrusted`): a regular file of at most
MAX_EXPECTATIONS_FILE bytes, JSON nested at most MAX_JSON_DEPTH deep.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.finding import Finding
from harness.platform import Platform
from harness.report.schema import Result, Verdict
from harness.untrusted import MAX_EXPECTATIONS_FILE, UntrustedInputError, load_json_file, one_line, shorten

SCHEMA = "scm-harness/expectations/2"
SCHEMA_V1 = "scm-harness/expectations/1"  # still read: the same entries without findings and skip
SKIP_REASON_PREFIX = "skipped by expectations: "
_GLOB_KEYS = ("case", "kind", "backend", "label", "release")
_FINDING_TEXT_KEYS = ("checker", "variant", "field", "expected", "observed")
_ENTRY_KEYS_V1 = frozenset((*_GLOB_KEYS, "reason"))
_ENTRY_KEYS = _ENTRY_KEYS_V1 | {"findings", "skip"}


class ExpectationsError(ValueError):
    """A malformed expectations file; the message is one line naming the file and the place."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingPattern:
    """Which finding an entry expects: every given key must match (globs for text, exact step)."""

    checker: str = "*"
    variant: str = "*"
    field: str = "*"
    expected: str = "*"
    observed: str = "*"
    any_step: bool = True
    step: int | None = None

    def matches(self, finding: Finding) -> bool:
        if not self.any_step and finding.step != self.step:
            return False
        return all(fnmatch.fnmatchcase(getattr(finding, key), getattr(self, key)) for key in _FINDING_TEXT_KEYS)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {key: getattr(self, key) for key in _FINDING_TEXT_KEYS if getattr(self, key) != "*"}
        if not self.any_step:
            out["step"] = self.step
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Deviation:
    case: str
    kind: str = "*"
    backend: str = "*"
    label: str = "*"
    release: str = "*"
    reason: str
    findings: tuple[FindingPattern, ...] = ()  # empty: any failure of the matched results
    skip: bool = False

    def matches(self, case: str, kind: str, backend: str, platform: Platform) -> bool:
        return all(
            fnmatch.fnmatchcase(value, pattern)
            for value, pattern in (
                (case, self.case),
                (kind, self.kind),
                (backend, self.backend),
                (platform.label, self.label),
                (platform.release, self.release),
            )
        )

    def covers(self, findings: Iterable[Finding]) -> bool:
        """True when every finding is one this entry expects (always, for an entry without patterns)."""
        return not self.findings or all(any(p.matches(f) for p in self.findings) for f in findings)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"case": self.case}
        out.update({key: getattr(self, key) for key in _GLOB_KEYS[1:] if getattr(self, key) != "*"})
        if self.skip:
            out["skip"] = True
        if self.findings:
            out["findings"] = [p.as_json() for p in self.findings]
        out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True)
class KnownDeviations:
    entries: tuple[Deviation, ...] = ()

    def find(
        self, case: str, kind: str, backend: str, platform: Platform, findings: Sequence[Finding] = ()
    ) -> Deviation | None:
        """The first (non-skip) entry that matches the result and expects all of its ``findings``."""
        return next(
            (d for d in self.entries if not d.skip and d.matches(case, kind, backend, platform) and d.covers(findings)),
            None,
        )

    def skipped(self, case: str, kind: str, backend: str, platform: Platform) -> Deviation | None:
        """The first ``skip`` entry that matches: the result is not run."""
        return next((d for d in self.entries if d.skip and d.matches(case, kind, backend, platform)), None)


def glob_escape(text: str) -> str:
    """``text`` as a glob that matches exactly ``text`` (``*``, ``?`` and ``[`` bracketed)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def to_json(known: KnownDeviations) -> dict[str, object]:
    return {"schema": SCHEMA, "deviations": [d.as_json() for d in known.entries]}


def load(path: Path, case_ids: Collection[str] | None = None) -> KnownDeviations:
    """Read an expectations file; with ``case_ids``, an entry whose ``case`` matches none is an error."""
    try:
        data = load_json_file(path, MAX_EXPECTATIONS_FILE)
    except UntrustedInputError as exc:
        raise ExpectationsError(str(exc)) from None
    name = one_line(str(path))
    if not isinstance(data, dict) or data.get("schema") not in (SCHEMA, SCHEMA_V1):
        raise ExpectationsError(f"{name}: 'schema' must be {SCHEMA!r} (or {SCHEMA_V1!r})")
    entries = data.get("deviations")
    if not isinstance(entries, list):
        raise ExpectationsError(f"{name}: 'deviations' must be a list")
    allowed = _ENTRY_KEYS if data["schema"] == SCHEMA else _ENTRY_KEYS_V1
    known = KnownDeviations(tuple(_entry(e, f"{name}: deviations[{i}]", allowed) for i, e in enumerate(entries)))
    if case_ids is not None:
        check_cases(known, case_ids, name)
    return known


def check_cases(known: KnownDeviations, case_ids: Collection[str], name: str) -> None:
    """An entry whose ``case`` glob matches no catalogue case is a typo or a removed case: an error."""
    for i, entry in enumerate(known.entries):
        if not any(fnmatch.fnmatchcase(case, entry.case) for case in case_ids):
            raise ExpectationsError(
                f"{name}: deviations[{i}]: case {shorten(entry.case, 40)} matches no catalogue case"
            )


def _entry(entry: object, where: str, allowed: frozenset[str]) -> Deviation:
    if not isinstance(entry, dict):
        raise ExpectationsError(f"{where}: must be an object")
    unknown = set(entry) - allowed
    if unknown:
        raise ExpectationsError(f"{where}: unknown key(s) {', '.join(shorten(k, 30) for k in sorted(unknown)[:5])}")
    text = {key: value for key, value in entry.items() if key not in ("findings", "skip")}
    if not all(isinstance(v, str) for v in text.values()):
        raise ExpectationsError(f"{where}: every value must be a string")
    if "case" not in entry or not entry.get("reason"):
        raise ExpectationsError(f"{where}: 'case' and a non-empty 'reason' are required")
    skip = entry.get("skip", False)
    if not isinstance(skip, bool):
        raise ExpectationsError(f"{where}.skip: must be true or false")
    raw_findings = entry.get("findings", [])
    if not isinstance(raw_findings, list):
        raise ExpectationsError(f"{where}.findings: must be a list")
    if skip and raw_findings:
        raise ExpectationsError(f"{where}: a skip entry names no findings (its results do not run)")
    findings = tuple(_pattern(p, f"{where}.findings[{j}]") for j, p in enumerate(raw_findings))
    return Deviation(**text, findings=findings, skip=skip)


def _pattern(value: object, where: str) -> FindingPattern:
    if not isinstance(value, dict) or not value:
        raise ExpectationsError(f"{where}: must be a non-empty object")
    unknown = set(value) - {*_FINDING_TEXT_KEYS, "step"}
    if unknown:
        raise ExpectationsError(f"{where}: unknown key(s) {', '.join(shorten(k, 30) for k in sorted(unknown)[:5])}")
    text = {key: v for key, v in value.items() if key != "step"}
    if not all(isinstance(v, str) for v in text.values()):
        raise ExpectationsError(f"{where}: {', '.join(_FINDING_TEXT_KEYS)} must be strings")
    if "step" not in value:
        return FindingPattern(**text)
    step = value["step"]
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise ExpectationsError(f"{where}.step: must be a step index or null")
    return FindingPattern(**text, any_step=False, step=step)


# ----------------------------------------------------------------------------------------------
# Writing a file from a report (``scm-harness expectations --from report.json``)

TODO_REASON = "TODO: why"


def pattern_of(finding: Finding) -> FindingPattern:
    """The exact pattern of one finding: where it is and what was observed (not the expected value,
    which follows the model the oracle judged against)."""
    return FindingPattern(
        checker=glob_escape(finding.checker),
        variant=glob_escape(finding.variant),
        field=glob_escape(finding.field),
        observed=glob_escape(finding.observed),
        any_step=False,
        step=finding.step,
    )


def deviations_from(results: Sequence[Result]) -> KnownDeviations:
    """Entries that make these results green: one per failing (or known) result, with its findings.

    A case whose every result fails the same way gets one entry (kind and back end ``*``); a kind
    whose results fail the same way on every back end gets one entry for that kind.  Known results
    keep their reason; new ones get ``TODO: why`` to fill in.  Errors and xpasses get no entry.
    """
    listed = (Verdict.FAIL, Verdict.KNOWN)
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case, []).append(r)
    entries: list[Deviation] = []
    for case, group in by_case.items():
        if not any(r.verdict in listed for r in group):
            continue
        if all(r.verdict in listed for r in group) and len({_signature(r) for r in group}) == 1:
            entries.append(_entry_for(group[0], case))
            continue
        by_kind: dict[str, list[Result]] = {}
        for r in group:
            by_kind.setdefault(r.kind, []).append(r)
        for kind, kind_group in by_kind.items():
            failing = [r for r in kind_group if r.verdict in listed]
            if len(failing) == len(kind_group) and len({_signature(r) for r in failing}) == 1:
                entries.append(_entry_for(failing[0], case, kind=kind))
            else:
                entries += [_entry_for(r, case, kind=kind, backend=r.backend) for r in failing]
    return KnownDeviations(tuple(entries))


def _signature(result: Result) -> tuple[object, ...]:
    return (_reason_of(result), tuple(dict.fromkeys(pattern_of(f) for f in result.findings)))


def _reason_of(result: Result) -> str:
    return result.reason if result.verdict is Verdict.KNOWN and result.reason else TODO_REASON


def _entry_for(result: Result, case: str, *, kind: str = "*", backend: str = "*") -> Deviation:
    return Deviation(
        case=glob_escape(case),
        kind=glob_escape(kind) if kind != "*" else "*",
        backend=glob_escape(backend) if backend != "*" else "*",
        reason=_reason_of(result),
        findings=tuple(dict.fromkeys(pattern_of(f) for f in result.findings)),
    )
