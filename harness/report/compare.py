"""Comparing runs of the same suite on several kernels or platforms (host 6.18 vs UML 6.1, Linux vs gVisor).

Every report is compared with the first one, the baseline.  Results are matched by ``(case, kind)``;
the back ends of a case/kind are lined up where both reports have them (raw with raw, pysock with
pysock) and, where the two reports share no back end (a raw-only run against a pysock-only run),
each report's results of the case/kind are merged into one (the worst verdict, all findings).
With ``by_backend`` the back end is part of the key instead.  A key only some reports have is
listed apart ("only in"), never counted as a difference.

Two results differ when their verdicts differ, or when both fail with different findings (each
finding's ``field`` and ``observed``).  Every difference gets one class (:class:`Class`), tried
in this order:

* ``harness error``: either side is ``error``;
* ``explained by change``: a result's ``explained_by`` names the change, or a change of
  :mod:`harness.oracle.history` that affects the case is present on one platform and absent on
  the other (in the model it was judged against, ``run_info.changes``, or as measured,
  ``run_info.fingerprint``);
* ``feature presence``: a probed feature (or capability) differs between the two run_infos and
  an ``unsupported`` reason names it; or one side is ``unsupported`` for a reason of the platform
  (not of the back end: "sock_diag: ... (is unix_diag available?)"); or the fd identity method
  differs (kcmp vs probes) and the case passes descriptors;
* ``unmodelled``: the oracle does not model the case on one side;
* ``regression`` / ``fix`` / ``changed``: unexplained; the verdict got worse / better from the
  baseline to the other report (pass and xpass < unsupported by the back end < known and fail), or
  stayed as bad with other findings.

Regressions, fixes, changed failures and harness errors are the unexplained differences
(:attr:`Comparison.unexplained`): ``scm-harness compare`` exits 1 when there is one, else 0.
The comparison is frozen data, rendered as canonical JSON (:data:`COMPARE_SCHEMA`), Markdown
and HTML; Markdown and HTML are rendered from the JSON form.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from harness.oracle import history
from harness.report.html import FILTER_CSS, SCRIPT, filter_form
from harness.report.markdown import describe_platform, md_code, md_text, visible
from harness.report.schema import Report, Result, Verdict
from harness.runner import SEVERITY

COMPARE_SCHEMA = "scm-harness/compare/2"
MERGED = "+"  # joins the back ends a merged cell stands for ("pysock+raw")
FD_PASSING_AREA = "fd-passing"
_LEADING_NAME = re.compile(
    r"([\w.-]+): "
)  # "sock_diag: ..." names what the platform lacks  # the catalogue area whose cases check a received fd's identity


class Class(enum.Enum):
    """What a difference between the baseline and another report is put down to."""

    HARNESS_ERROR = "harness error"
    EXPLAINED = "explained by change"
    FEATURE = "feature presence"
    UNMODELLED = "unmodelled"
    REGRESSION = "regression"
    FIX = "fix"
    CHANGED = "changed"  # as bad on both sides, with other findings

    @property
    def unexplained(self) -> bool:
        """True for the classes `compare` exits 1 on."""
        return self in (Class.HARNESS_ERROR, Class.REGRESSION, Class.FIX, Class.CHANGED)


# Most telling first: the class a case/kind gets when its back ends differ in several ways.
_SEVERITY = (
    Class.HARNESS_ERROR,
    Class.REGRESSION,
    Class.FIX,
    Class.CHANGED,
    Class.UNMODELLED,
    Class.FEATURE,
    Class.EXPLAINED,
)

# How bad a verdict is, for regression / fix (error and unmodelled are classified before).
_BADNESS = {
    Verdict.PASS: 0,
    Verdict.XPASS: 0,  # a listed deviation that no longer happens: the kernel behaves as modelled
    Verdict.UNSUPPORTED: 1,  # not run: coverage lost, nothing wrong seen
    Verdict.KNOWN: 2,
    Verdict.FAIL: 2,
    Verdict.UNMODELLED: 1,
    Verdict.ERROR: 3,
}


@dataclass(frozen=True, slots=True)
class Cell:
    """What one report says about one key (its results of the key merged when there are several)."""

    verdict: Verdict
    backends: tuple[str, ...]
    findings: tuple[tuple[str, str], ...] = ()  # sorted distinct (field, observed)
    explained_by: tuple[str, ...] = ()  # sorted distinct change ids
    reason: str = ""
    area: str = ""

    @classmethod
    def of(cls, results: Sequence[Result]) -> Cell:
        # The worst verdict, as a case's variants combine into its result (harness.runner).
        verdict = next(v for v in SEVERITY if any(r.verdict is v for r in results))
        worst = [r for r in results if r.verdict is verdict]
        return cls(
            verdict=verdict,
            backends=tuple(sorted({r.backend for r in results})),
            findings=tuple(sorted({(f.field, f.observed) for r in worst for f in r.findings})),
            explained_by=tuple(sorted({r.explained_by for r in worst if r.explained_by})),
            reason="; ".join(dict.fromkeys(r.reason for r in worst if r.reason)),
            area=results[0].area,
        )

    def same_as(self, other: Cell) -> bool:
        if self.verdict is not other.verdict:
            return False
        return self.verdict is not Verdict.FAIL or self.findings == other.findings

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "backend": MERGED.join(self.backends),
            "findings": [{"field": f, "observed": o} for f, o in self.findings],
            "explained_by": list(self.explained_by),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Facts:
    """What the classification needs of one report's run_info."""

    label: str
    platform: str  # describe_platform(run_info)
    model: str
    changes: frozenset[str]  # the model judged against (run_info.changes; else the release's)
    measured: frozenset[str]  # the changes as measured (the model corrected by run_info.fingerprint)
    features: frozenset[str]  # probed features and capabilities
    fd_identity: str

    @classmethod
    def of(cls, report: Report, label: str) -> Facts:
        info = report.run_info
        release = str(info.get("release", ""))
        listed = info.get("changes")
        changes = frozenset(str(c) for c in listed) if isinstance(listed, list) else history.changes_in(release)
        features = {str(f) for key in ("features", "capabilities") for f in _list(info.get(key))}
        return cls(
            label=label,
            platform=describe_platform(info),
            model=str(info.get("model", release)),
            changes=changes,
            measured=_measured(changes, info.get("fingerprint")),
            features=frozenset(features),
            fd_identity=str(info.get("fd_identity", "")),
        )


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _measured(changes: frozenset[str], fingerprint: object) -> frozenset[str]:
    """``changes`` corrected by a run_info fingerprint (``{"changes": {id: {"seen": ...}}}``)."""
    measured = set(changes)
    per_change = fingerprint.get("changes") if isinstance(fingerprint, dict) else None
    if isinstance(per_change, dict):
        for change, verdict in per_change.items():
            seen = verdict.get("seen") if isinstance(verdict, dict) else None
            if seen == "present":
                measured.add(str(change))
            elif seen == "absent":
                measured.discard(str(change))
    return frozenset(measured)


@dataclass(frozen=True, slots=True)
class Verdicted:
    """One report's difference from the baseline on one key."""

    cls: Class
    cause: str = ""  # the change id (explained) or the feature (feature presence)
    why: str = ""  # one line for a reader

    def to_json(self) -> dict[str, object]:
        return {"class": self.cls.value, "cause": self.cause, "why": self.why}


@dataclass(frozen=True, slots=True)
class Difference:
    case: str
    kind: str
    backend: str  # the back end with by_backend, else "" (each cell names its back ends)
    cells: tuple[Cell | None, ...]  # per report; None: the report lacks the key
    classes: tuple[Verdicted | None, ...]  # per report; None: the baseline, same as it, or absent


@dataclass(frozen=True, slots=True)
class OnlyIn:
    case: str
    kind: str
    backend: str
    labels: tuple[str, ...]  # the reports that have the key


@dataclass(frozen=True, slots=True)
class Missing:
    """A run that was asked for but gave no report (compare-kernels: the target failed)."""

    label: str
    error: str


@dataclass(frozen=True, slots=True)
class Comparison:
    runs: tuple[Facts, ...]  # the baseline first
    by_backend: bool
    keys: int  # keys the baseline and at least one other report both have
    differences: tuple[Difference, ...]
    only_in: tuple[OnlyIn, ...]
    missing: tuple[Missing, ...] = ()
    backend_limited: int = 0  # compared keys left out: one report's back end cannot express the case

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(run.label for run in self.runs)

    def counts(self) -> dict[str, int]:
        found = [v.cls for d in self.differences for v in d.classes if v is not None]
        return {c.value: found.count(c) for c in Class}

    @property
    def unexplained(self) -> int:
        """Differences of a class `compare` exits 1 on (regression, fix, changed, harness error)."""
        return sum(1 for d in self.differences for v in d.classes if v is not None and v.cls.unexplained)

    def to_json(self) -> dict[str, object]:
        return {
            "schema": COMPARE_SCHEMA,
            "baseline": self.runs[0].label,
            "by_backend": self.by_backend,
            "runs": [_run_json(run) for run in self.runs],
            "missing": [{"label": m.label, "error": m.error} for m in self.missing],
            "keys": self.keys,
            "backend_limited": self.backend_limited,
            "counts": self.counts(),
            "unexplained": self.unexplained,
            "differences": [
                {
                    "case": d.case,
                    "kind": d.kind,
                    "backend": d.backend,
                    "cells": {
                        label: None if cell is None else cell.to_json()
                        for label, cell in zip(self.labels, d.cells, strict=True)
                    },
                    "classes": {
                        label: v.to_json() for label, v in zip(self.labels, d.classes, strict=True) if v is not None
                    },
                }
                for d in self.differences
            ],
            "only_in": [
                {"case": o.case, "kind": o.kind, "backend": o.backend, "in": list(o.labels)} for o in self.only_in
            ],
        }

    def canonical_json(self) -> str:
        """The one text form: sorted keys, two-space indent, ASCII only, final newline (as report.json)."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    def render_markdown(self) -> str:
        return render_markdown(self.to_json())

    def render_html(self) -> str:
        return render_html(self.to_json())


def _run_json(run: Facts) -> dict[str, object]:
    return {
        "label": run.label,
        "platform": run.platform,
        "model": run.model,
        "changes_absent": sorted(history.ALL - run.measured),
        "features": sorted(run.features),
        "fd_identity": run.fd_identity,
    }


# ----------------------------------------------------------------------------------------------


Key = tuple[str, str, str]  # (case, kind, backend or "")
Index = dict[Key, dict[str, Result]]  # key -> back end -> result


def compare(
    reports: Sequence[Report], labels: Sequence[str], *, by_backend: bool = False, missing: Sequence[Missing] = ()
) -> Comparison:
    """Compare each report with the first (one label each); ValueError on unusable input."""
    if len(reports) != len(labels):
        raise ValueError(f"{len(reports)} reports but {len(labels)} labels")
    if len(reports) < 2 and not missing:
        raise ValueError("comparing needs at least two reports")
    if not reports:
        raise ValueError("comparing needs a baseline report")
    if len(set(labels)) != len(labels) or not all(labels):
        raise ValueError(f"labels must be distinct and non-empty: {list(labels)!r}")
    runs = tuple(Facts.of(report, label) for report, label in zip(reports, labels, strict=True))
    indexed = [_index(report, label, by_backend) for report, label in zip(reports, labels, strict=True)]
    all_keys = list(dict.fromkeys(key for index in indexed for key in index))  # first-seen order
    differences, only_in = [], []
    compared = limited = 0
    for key in all_keys:
        present = [index.get(key) for index in indexed]
        if any(p is None for p in present):
            only_in.append(OnlyIn(*key, labels=tuple(lb for lb, p in zip(labels, present, strict=True) if p)))
        base = present[0]
        if base is None or all(p is None for p in present[1:]):
            continue
        compared += 1
        others = zip(present[1:], runs[1:], strict=True)
        found = [_classify_key(key[0], base, other, runs[0], run) for other, run in others]
        limited += sum(1 for v in found if v is BACKEND_LIMITED)
        classes = (None, *(v if isinstance(v, Verdicted) else None for v in found))
        if any(classes):
            cells = tuple(None if p is None else Cell.of(list(p.values())) for p in present)
            differences.append(Difference(*key, cells=cells, classes=classes))
    return Comparison(runs, by_backend, compared, tuple(differences), tuple(only_in), tuple(missing), limited)


def _index(report: Report, label: str, by_backend: bool) -> Index:
    index: Index = {}
    for result in report.results:
        per_backend = index.setdefault((result.case, result.kind, result.backend if by_backend else ""), {})
        if result.backend in per_backend:
            # Two results under one key cannot be lined up with another run's one result.
            raise ValueError(f"{label}: {result.case} [{result.kind}] {result.backend} appears twice")
        per_backend[result.backend] = result
    return index


class _BackendLimited:
    """The sentinel :func:`_classify_key` gives for a key one report's back end cannot express."""


BACKEND_LIMITED = _BackendLimited()


def _classify_key(
    case: str, base: Mapping[str, Result], other: Mapping[str, Result] | None, a: Facts, b: Facts
) -> Verdicted | _BackendLimited | None:
    """The most telling difference over the back ends both have (or of the merged results when none)."""
    if other is None:
        return None
    common = sorted(set(base) & set(other))
    if common:
        pairs = [(Cell.of([base[name]]), Cell.of([other[name]])) for name in common]
    else:
        pairs = [(Cell.of(list(base.values())), Cell.of(list(other.values())))]
        if any(_backend_cannot_express(cell) for cell in pairs[0]):
            return BACKEND_LIMITED  # raw against pysock: a limit of pysock says nothing about the kernel
    found = [v for left, right in pairs if (v := classify(case, left, right, a, b)) is not None]
    return min(found, key=lambda v: _SEVERITY.index(v.cls), default=None)


def _backend_cannot_express(cell: Cell) -> bool:
    """An ``unsupported`` whose reason is the back end's ("pysock: socket.sendmsg derives cmsg_len ...")."""
    return cell.verdict is Verdict.UNSUPPORTED and cell.reason.startswith(tuple(f"{b}: " for b in cell.backends))


def classify(case: str, a: Cell, b: Cell, base: Facts, other: Facts) -> Verdicted | None:
    """Why ``b`` (of ``other``) differs from ``a`` (of the baseline); None when they do not differ."""
    if a.same_as(b):
        return None
    for cell, facts in ((a, base), (b, other)):
        if cell.verdict is Verdict.ERROR:
            return Verdicted(Class.HARNESS_ERROR, why=f"{facts.label}: {cell.reason or 'error'}")
    change = _explaining_change(case, a, b, base, other)
    if change:
        return Verdicted(Class.EXPLAINED, change, _change_words(change, base, other))
    feature = _feature(a, b, base, other)
    if feature:
        return feature
    for cell, facts in ((a, base), (b, other)):
        if cell.verdict is Verdict.UNMODELLED:
            return Verdicted(Class.UNMODELLED, why=f"{facts.label}: {cell.reason or 'not modelled'}")
    worse, better = _BADNESS[b.verdict] > _BADNESS[a.verdict], _BADNESS[b.verdict] < _BADNESS[a.verdict]
    cls = Class.REGRESSION if worse else Class.FIX if better else Class.CHANGED
    return Verdicted(cls, why=f"{a.verdict.value} on {base.label}, {b.verdict.value} on {other.label}")


def _explaining_change(case: str, a: Cell, b: Cell, base: Facts, other: Facts) -> str:
    named = [c for c in (*a.explained_by, *b.explained_by) if c]
    if named:
        return named[0]
    differing = (base.changes ^ other.changes) | (base.measured ^ other.measured)
    return next((c.id for c in history.CHANGES if c.id in differing and case in c.cases), "")


def _change_words(change: str, base: Facts, other: Facts) -> str:
    if change not in history.BY_ID:
        return f"explained by {change}"
    having = [f.label for f in (base, other) if change in f.measured]
    where = f"present on {', '.join(having)} only" if len(having) == 1 else "explained_by of a result"
    return f"{history.describe(change, carried=True).removeprefix('behaves as with ')}: {where}"


def _feature(a: Cell, b: Cell, base: Facts, other: Facts) -> Verdicted | None:
    differing = sorted(base.features ^ other.features)
    for cell in (a, b):
        if cell.verdict is Verdict.UNSUPPORTED:
            named = next((f for f in differing if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", cell.reason)), "")
            if named:
                having = base.label if named in base.features else other.label
                return Verdicted(Class.FEATURE, named, f"only on {having}: {cell.reason}")
    for cell, facts in ((a, base), (b, other)):
        if cell.verdict is Verdict.UNSUPPORTED and not _backend_cannot_express(cell):
            # Not a probed feature, but the platform's own refusal (Debian's UML 6.1.176 has no unix_diag:
            # "sock_diag: No such file or directory (is unix_diag available?)").
            leading = _LEADING_NAME.match(cell.reason)
            return Verdicted(Class.FEATURE, leading[1] if leading else "", f"missing on {facts.label}: {cell.reason}")
    if base.fd_identity != other.fd_identity and FD_PASSING_AREA in (a.area, b.area):
        return Verdicted(
            Class.FEATURE,
            "fd_identity",
            f"fd identity decided by {base.fd_identity!r} on {base.label}, {other.fd_identity!r} on {other.label}",
        )
    return None


# ----------------------------------------------------------------------------------------------
# Rendering (from the JSON form, so every format shows exactly what comparison.json holds)


def _cell_text(cell: Any) -> str:
    if cell is None:
        return "absent"
    text = f"{cell['verdict']} ({cell['backend']})"
    if cell["findings"]:
        shown = ", ".join(f"{f['field']}={f['observed']}" for f in cell["findings"][:2])
        more = f" +{len(cell['findings']) - 2}" if len(cell["findings"]) > 2 else ""
        text += f": {shown}{more}"
    if cell["explained_by"]:
        text += f" [explained by {', '.join(cell['explained_by'])}]"
    return text


def _class_text(v: Any) -> str:
    cls = str(v["class"])
    return f"{cls} {v['cause']}: {v['why']}" if v["cause"] else f"{cls}: {v['why']}"


def verdict_line(data: Mapping[str, Any]) -> str:
    """One line: the outcome (what `compare` exits on) and what was left out of the comparison."""
    unexplained = int(data["unexplained"])
    counted = ", ".join(f"{n} {name}" for name, n in data["counts"].items() if n)
    if len(data["runs"]) < 2:
        line = f"Nothing compared: only {data['baseline']} gave a report"
    elif not data["differences"]:
        line = f"No differences in {data['keys']} compared results"
    else:
        head = "UNEXPLAINED differences" if unexplained else "All differences explained"
        line = f"{head}: {counted} ({unexplained} unexplained) in {data['keys']} compared results"
    notes = [f"{len(data['only_in'])} only in some reports"] if data["only_in"] else []
    if data["backend_limited"]:
        notes.append(f"{data['backend_limited']} a back end cannot express")
    if data["missing"]:
        notes.append(f"no report from {', '.join(m['label'] for m in data['missing'])}")
    return line + (f" (left out: {'; '.join(notes)})" if notes else "") + "."


def render_markdown(data: Mapping[str, Any]) -> str:
    key_words = "case × kind × back end" if data["by_backend"] else "case × kind"
    lines = ["# scm-harness comparison", ""]
    lines += [f"Baseline: **{md_text(data['baseline'])}**; results matched by {key_words}.", ""]
    lines += [f"- **{md_text(run['label'])}**: {md_text(run['platform'])}, judged as Linux {md_text(run['model'])}"
              for run in data["runs"]]  # fmt: skip
    lines += [f"- **{md_text(m['label'])}**: no report: {md_text(m['error'])}" for m in data["missing"]]
    lines += ["", verdict_line(data), ""]
    labels = [run["label"] for run in data["runs"]]
    if data["differences"]:
        lines.append("| case | kind | " + " | ".join(md_text(label) for label in labels) + " | classified |")
        lines.append("|" + "---|" * (3 + len(labels)))
        for d in data["differences"]:
            cells = " | ".join(md_text(_cell_text(d["cells"][label]), limit=100) for label in labels)
            classes = "; ".join(
                f"{md_text(lb)}: {md_text(_class_text(v), limit=200)}" for lb, v in d["classes"].items()
            )
            kind = d["kind"] + (f" {d['backend']}" if d["backend"] else "")
            lines.append(f"| {md_text(d['case'])} | {md_code(kind)} | {cells} | {classes} |")
        lines.append("")
    if data["only_in"]:
        lines += [f"## Only in some reports ({len(data['only_in'])}, not counted as differences)", ""]
        lines += [f"- {md_text(o['case'])} {md_code(o['kind'])}{' ' + md_text(o['backend']) if o['backend'] else ''}: "
                  f"only in {md_text(', '.join(o['in']))}" for o in data["only_in"]]  # fmt: skip
        lines.append("")
    return "\n".join(lines)


_CLASS_COLOURS = {
    Class.HARNESS_ERROR.value: "#f6c",
    Class.REGRESSION.value: "#f99",
    Class.FIX.value: "#9cf",
    Class.CHANGED.value: "#fc6",
    Class.UNMODELLED.value: "#eef",
    Class.FEATURE.value: "#ddd",
    Class.EXPLAINED.value: "#cfc",
}


def _h(value: object) -> str:
    return escape(visible(str(value)))


def render_html(data: Mapping[str, Any]) -> str:
    labels = [run["label"] for run in data["runs"]]
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>scm-harness comparison</title>",
        "<style>body{font-family:sans-serif;font-size:13px;max-width:100%}table{border-collapse:collapse;"
        "table-layout:fixed;width:100%}td,th{border:1px solid #bbb;padding:2px 5px;vertical-align:top;"
        "overflow-wrap:anywhere;word-break:break-word}code{white-space:pre-wrap}" + FILTER_CSS + "</style>",
        "</head><body><h1>scm-harness comparison</h1>",
        f"<p>Baseline: <b>{_h(data['baseline'])}</b>; results matched by "
        f"{'case × kind × back end' if data['by_backend'] else 'case × kind'}.</p><ul>",
        *(
            f"<li><b>{_h(r['label'])}</b>: {_h(r['platform'])}, judged as Linux {_h(r['model'])}</li>"
            for r in data["runs"]
        ),
        *(f"<li><b>{_h(m['label'])}</b>: no report: {_h(m['error'])}</li>" for m in data["missing"]),
        f"</ul><p><b>{_h(verdict_line(data))}</b></p>",
    ]
    if data["differences"]:
        out.extend(_difference_filters(data["differences"]))
        out.append("<table><tr><th>case</th><th>kind</th>")
        out.append("".join(f"<th>{_h(label)}</th>" for label in labels) + "<th>classified</th></tr>")
        for d in data["differences"]:
            classes = [v["class"] for v in d["classes"].values()]
            colour = next((_CLASS_COLOURS[c.value] for c in _SEVERITY if c.value in classes), "#fff")
            kind = d["kind"] + (f" {d['backend']}" if d["backend"] else "")
            out.append(
                f"<tr class='f'{_difference_data(d, classes)} style='background:{colour}'>"
                f"<td>{_h(d['case'])}</td><td><code>{_h(kind)}</code></td>"
            )
            out.append("".join(f"<td>{_h(_cell_text(d['cells'][label]))}</td>" for label in labels))
            out.append("<td>" + "<br>".join(f"{_h(lb)}: {_h(_class_text(v))}" for lb, v in d["classes"].items()))
            out.append("</td></tr>")
        out.append("</table>")
    if data["only_in"]:
        out.append(f"<h2>Only in some reports ({len(data['only_in'])}, not counted as differences)</h2><ul>")
        out.extend(
            f"<li>{_h(o['case'])} <code>{_h(o['kind'])}</code> {_h(o['backend'])}: "
            f"only in {_h(', '.join(o['in']))}</li>"
            for o in data["only_in"]
        )
        out.append("</ul>")
    out.append(SCRIPT + "</body></html>\n")
    return "\n".join(out)


def _difference_keys(d: Mapping[str, Any], classes: Iterable[str]) -> dict[str, list[str]]:
    """What the filters of the comparison page select a difference by: its classes, area (the case id's
    prefix: FD, OB, REG ...) and kind."""
    return {
        "class": list(dict.fromkeys(classes)),
        "area": [str(d["case"]).split("-", 1)[0]],
        "kind": [re.sub(r"\s+", "_", str(d["kind"]))],
    }


def _difference_data(d: Mapping[str, Any], classes: Iterable[str]) -> str:
    keys = _difference_keys(d, classes)
    return "".join(f" data-{name}='{_h(' '.join(values))}'" for name, values in keys.items())


def _difference_filters(differences: Sequence[Mapping[str, Any]]) -> list[str]:
    choices: dict[str, dict[str, None]] = {"class": {}, "area": {}, "kind": {}}
    for d in differences:
        for name, keys in _difference_keys(d, (v["class"] for v in d["classes"].values())).items():
            choices[name].update(dict.fromkeys(keys))
    return filter_form(choices)


def default_labels(reports: Iterable[Report]) -> list[str]:
    """Column names from run_info: ``label release`` (numbered when two reports would share one)."""
    labels = [f"{r.run_info.get('label', '?')} {r.run_info.get('release', '?')}" for r in reports]
    if len(set(labels)) != len(labels):
        labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    return labels
