"""Comparing runs of the same suite on several kernels or platforms (6.1 vs 6.18, Linux vs gVisor).

Results are keyed by ``(case, kind, backend)``.  A key is a difference when the reports give it
different verdicts, when all of them say ``fail`` but with different findings (compared by each
finding's ``field`` and ``observed``: the same failure seen differently is news too), or when
only some reports have it.  Identical reports give no differences.  The comparison is frozen
data, rendered as a Markdown matrix or as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.report.markdown import describe_platform, md_code, md_text
from harness.report.schema import Report, Result, Verdict

COMPARE_SCHEMA = "scm-harness/compare/1"
ABSENT = "absent"  # the report has no result for the key
NO_FINDING = "-"  # the result has no finding on this field
VERDICT_FIELD = "(verdict)"  # pseudo-field of the per-case summary; finding fields are plain names

Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Cell:
    """What one report says about one key; ``verdict`` is None when the report lacks the key."""

    verdict: Verdict | None
    findings: tuple[tuple[str, str], ...] = ()  # sorted distinct (field, observed)

    @classmethod
    def of(cls, result: Result | None) -> Cell:
        if result is None:
            return cls(None)
        return cls(result.verdict, tuple(sorted({(f.field, f.observed) for f in result.findings})))

    def observed(self, field: str) -> str:
        if self.verdict is None:
            return ABSENT
        seen = [observed for name, observed in self.findings if name == field]
        return " | ".join(seen) if seen else NO_FINDING


@dataclass(frozen=True, slots=True)
class Difference:
    case: str
    kind: str
    backend: str
    cells: tuple[Cell, ...]  # one per report, in label order


@dataclass(frozen=True, slots=True)
class FieldDifference:
    field: str  # VERDICT_FIELD or a finding's field
    values: tuple[tuple[str, ...], ...]  # per report: the distinct values over the case's rows


@dataclass(frozen=True, slots=True)
class CaseDifferences:
    case: str
    rows: int
    fields: tuple[FieldDifference, ...]


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    platform: str  # describe_platform(run_info): release, arch, run label, libc, python


@dataclass(frozen=True, slots=True)
class Comparison:
    runs: tuple[Run, ...]
    keys: int  # distinct (case, kind, backend) over all reports
    differences: tuple[Difference, ...]
    cases: tuple[CaseDifferences, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(run.label for run in self.runs)

    def render_markdown(self) -> str:
        return _render_markdown(self)

    def to_json(self) -> dict[str, object]:
        def cell(c: Cell) -> dict[str, object]:
            return {
                "verdict": None if c.verdict is None else c.verdict.value,
                "findings": [{"field": f, "observed": o} for f, o in c.findings],
            }

        return {
            "schema": COMPARE_SCHEMA,
            "runs": [{"label": run.label, "platform": run.platform} for run in self.runs],
            "keys": self.keys,
            "differences": [
                {"case": d.case, "kind": d.kind, "backend": d.backend, "cells": [cell(c) for c in d.cells]}
                for d in self.differences
            ],
            "cases": [
                {"case": c.case, "rows": c.rows, "fields": [self._field_json(f) for f in c.fields]} for c in self.cases
            ],
        }

    def _field_json(self, f: FieldDifference) -> dict[str, object]:
        return {"field": f.field, "values": {run.label: list(v) for run, v in zip(self.runs, f.values, strict=True)}}


def compare(reports: Sequence[Report], labels: Sequence[str]) -> Comparison:
    """Compare reports (one label each, e.g. ``["6.1", "6.18"]``); ValueError on unusable input."""
    if len(reports) != len(labels):
        raise ValueError(f"{len(reports)} reports but {len(labels)} labels")
    if len(reports) < 2:
        raise ValueError("comparing needs at least two reports")
    if len(set(labels)) != len(labels) or not all(labels):
        raise ValueError(f"labels must be distinct and non-empty: {list(labels)!r}")
    indexed = [_index(report, label) for report, label in zip(reports, labels, strict=True)]
    keys = list(dict.fromkeys(key for index in indexed for key in index))  # first-seen order
    differences = []
    for key in keys:
        cells = tuple(Cell.of(index.get(key)) for index in indexed)
        if _differs(cells):
            differences.append(Difference(*key, cells=cells))
    return Comparison(
        runs=tuple(Run(label, describe_platform(r.run_info)) for r, label in zip(reports, labels, strict=True)),
        keys=len(keys),
        differences=tuple(differences),
        cases=_by_case(differences),
    )


def _index(report: Report, label: str) -> dict[Key, Result]:
    index: dict[Key, Result] = {}
    for result in report.results:
        if result.key in index:
            # Two results under one key cannot be lined up with another run's one result.
            raise ValueError(f"{label}: {result.case} [{result.kind}] {result.backend} appears twice")
        index[result.key] = result
    return index


def _differs(cells: tuple[Cell, ...]) -> bool:
    verdicts = {c.verdict for c in cells}
    if len(verdicts) > 1:
        return True  # includes a key absent from some reports (verdict None)
    return verdicts == {Verdict.FAIL} and len({c.findings for c in cells}) > 1


def _by_case(differences: list[Difference]) -> tuple[CaseDifferences, ...]:
    """For each case: which fields differ between the reports, and the values each report saw."""
    rows: dict[str, list[Difference]] = {}
    for d in differences:
        rows.setdefault(d.case, []).append(d)
    out = []
    for case, case_rows in rows.items():
        # field -> per report -> distinct values, over the rows where that field differs
        seen: dict[str, list[dict[str, None]]] = {}
        for d in case_rows:
            names = dict.fromkeys(f for c in d.cells for f, _ in c.findings)
            per_field = {VERDICT_FIELD: [ABSENT if c.verdict is None else c.verdict.value for c in d.cells]}
            per_field.update({name: [c.observed(name) for c in d.cells] for name in names})
            for name, values in per_field.items():
                if len(set(values)) > 1:
                    slots = seen.setdefault(name, [{} for _ in d.cells])
                    for slot, value in zip(slots, values, strict=True):
                        slot[value] = None
        fields = tuple(FieldDifference(name, tuple(tuple(s) for s in slots)) for name, slots in seen.items())
        out.append(CaseDifferences(case, len(case_rows), fields))
    return tuple(out)


def _render_markdown(c: Comparison) -> str:
    lines = ["# scm-harness comparison", ""]
    lines += [f"- **{md_text(run.label)}**: {md_text(run.platform)}" for run in c.runs]
    lines.append("")
    if not c.differences:
        lines += [f"No differences across {c.keys} results (case × kind × backend).", ""]
        return "\n".join(lines)
    lines += [f"{len(c.differences)} of {c.keys} results (case × kind × backend) differ.", ""]
    lines.append("| case | kind | backend | " + " | ".join(md_text(label) for label in c.labels) + " |")
    lines.append("|" + "---|" * (3 + len(c.runs)))
    for d in c.differences:
        cells = " | ".join(_matrix_cell(cell) for cell in d.cells)
        lines.append(f"| {md_text(d.case)} | {md_code(d.kind)} | {md_text(d.backend)} | {cells} |")
    lines.append("")
    for case in c.cases:
        lines += [f"## {md_text(case.case)} ({case.rows} {'row' if case.rows == 1 else 'rows'})", ""]
        for f in case.fields:
            per_run = "; ".join(
                f"{md_text(run.label)}: " + ", ".join(md_code(v) for v in values)
                for run, values in zip(c.runs, f.values, strict=True)
            )
            lines.append(f"- {md_code(f.field)}: {per_run}")
        lines.append("")
    return "\n".join(lines)


def _matrix_cell(cell: Cell) -> str:
    if cell.verdict is None:
        return f"*{ABSENT}*"
    text = cell.verdict.value
    if cell.verdict is Verdict.FAIL and cell.findings:
        shown = ", ".join(f"{f}={o}" for f, o in cell.findings[:2])
        more = f" +{len(cell.findings) - 2}" if len(cell.findings) > 2 else ""
        return f"**fail** {md_code(shown, limit=60)}{more}"
    return f"**{text}**" if cell.verdict.is_news else text
