"""Known deviations: a reviewed list of (case, kind, backend) results that are expected to differ.

The file is JSON::

    {"schema": "scm-harness/expectations/1",
     "deviations": [{"case": "TRN-08", "kind": "*", "backend": "*", "label": "gvisor",
                     "release": "*", "reason": "gvisor.dev/issue/207: NULL msg_control"}]}

``case``, ``kind``, ``backend``, ``label`` and ``release`` are globs (default ``*``).  A failing
result that an entry matches becomes ``known``; a passing one becomes ``xpass`` (news: the
deviation is gone), like WPT's expectation metadata and pytest's strict xfail.

The file is read as untrusted input (:mod:`harness.untrusted`): a regular file of at most
MAX_EXPECTATIONS_FILE bytes, JSON nested at most MAX_JSON_DEPTH deep.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from harness.host import Platform
from harness.untrusted import MAX_EXPECTATIONS_FILE, UntrustedInputError, load_json_file, one_line, shorten

SCHEMA = "scm-harness/expectations/1"


class ExpectationsError(ValueError):
    """A malformed expectations file; the message is one line naming the file and the place."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Deviation:
    case: str
    kind: str = "*"
    backend: str = "*"
    label: str = "*"
    release: str = "*"
    reason: str

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


@dataclass(frozen=True, slots=True)
class KnownDeviations:
    entries: tuple[Deviation, ...] = ()

    def find(self, case: str, kind: str, backend: str, platform: Platform) -> Deviation | None:
        return next((d for d in self.entries if d.matches(case, kind, backend, platform)), None)


def load(path: Path) -> KnownDeviations:
    try:
        data = load_json_file(path, MAX_EXPECTATIONS_FILE)
    except UntrustedInputError as exc:
        raise ExpectationsError(str(exc)) from None
    name = one_line(str(path))
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ExpectationsError(f"{name}: 'schema' must be {SCHEMA!r}")
    entries = data.get("deviations")
    if not isinstance(entries, list):
        raise ExpectationsError(f"{name}: 'deviations' must be a list")
    out = []
    for i, entry in enumerate(entries):
        where = f"{name}: deviations[{i}]"
        if not isinstance(entry, dict):
            raise ExpectationsError(f"{where}: must be an object")
        unknown = set(entry) - {"case", "kind", "backend", "label", "release", "reason"}
        if unknown:
            raise ExpectationsError(f"{where}: unknown key(s) {', '.join(shorten(k, 30) for k in sorted(unknown)[:5])}")
        if not all(isinstance(v, str) for v in entry.values()):
            raise ExpectationsError(f"{where}: every value must be a string")
        if "case" not in entry or not entry.get("reason"):
            raise ExpectationsError(f"{where}: 'case' and a non-empty 'reason' are required")
        out.append(Deviation(**entry))
    return KnownDeviations(tuple(out))
