"""The map to the peer suites: each AF_UNIX test of gVisor, the kselftests, LTP, FreeBSD and CPython,
and the catalogue cases that cover it, or the reason none does (``peers.json`` beside this file).

The map was written by reading the peers' stored public sources (test names and what each checks);
``scm-harness list --peers SUITE`` prints it, ``tests/test_peers.py`` keeps it, the registry and the
README's Coverage table in agreement.  Parsing is pure: ``parse`` takes the known case ids as data.

The file holds one test per line.  When a case lands for a ``no-case`` test, edit that line (status
``covered`` or ``partly``, the case ids, no reason or the reason for what is still missing); the test
then prints the README table to paste (``scm-harness list --peers all | grep no-case`` lists them).
"""

from __future__ import annotations

import enum
import fnmatch
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

SUITES: tuple[str, ...] = ("gvisor", "kselftest", "ltp", "freebsd", "cpython")

SUITE_NAMES: Mapping[str, str] = {
    "gvisor": "gVisor syscall tests",
    "kselftest": "Linux kselftests (net/af_unix)",
    "ltp": "LTP",
    "freebsd": "FreeBSD tests/sys/kern",
    "cpython": "CPython test_socket",
}


class Status(enum.Enum):
    COVERED = "covered"
    PARTLY = "partly"
    NOT_COVERED = "not covered"


# The fixed vocabulary of reasons.  The ``pending:<topic>`` reasons of issue 10 (listener, threads,
# SO_PEEK_OFF, recvmmsg, zero-length, option errors) are gone: that work landed and every test that had
# one was re-read against the cases (covered, partly, or ``no-case`` for what no case checks yet).
REASONS: Mapping[str, str] = {
    "no-case": "no case checks it yet: today's steps, pair kinds and fd-table sockets express it, "
    "or a small extension of a step would",
    "needs-lsm": "needs an LSM that denies file receipt (a BPF LSM program)",
    "race": "a race: needs repeated concurrent runs, not one deterministic scenario",
    "not-af-unix": "a generic socket option or ioctl, not AF_UNIX behaviour",
    "wrapper": "tests a libc or Python wrapper, not the kernel",
    "freebsd-only": "FreeBSD semantics or interfaces (kqueue, ktrace, record EOR, its own limits)",
    "gvisor-only": "skipped on Linux by the peer itself: it tests gVisor's behaviour",
    "gvisor-internal": "exercises gVisor's own memory layout; on Linux a plain transfer",
    "old-kernel": "the peer skips it on current Linux (behaviour of an old kernel)",
    "stress": "a bulk-transfer loop; its distinct results are the cases listed",
    "not-applicable": "the peer skips it for this socket type",
    "no-select": "needs select(), which the harness does not call (its Poll step is poll())",
    "confined-names": "address confinement (harness/addresses.py) writes every path as one file of the private "
    "directory and every abstract name in one tagged form of fixed length: a missing directory, a name below a "
    "regular file or a full-length name cannot be spelled",
    "measured-kernel": "measured on the host kernel (6.18.44) to differ from what the peer expects; recorded, and "
    "replayed once the upstream change that settles it is known",
}

_KEYS = {"test", "file", "repository", "status", "cases", "reason", "detail"}


class PeerMapError(ValueError):
    """The peer map is malformed or names case ids the catalogue does not have."""


@dataclass(frozen=True)
class PeerTest:
    suite: str
    test: str  # the peer's own name: Fixture.Test, fixture.variant.test, ATF case, Class.method
    file: str  # path inside the repository
    repository: str  # owner/name on GitHub
    status: Status
    cases: tuple[str, ...]
    reason: str | None  # a key of REASONS; None when covered
    detail: str  # what the test checks or what is missing, in a few words

    def line(self) -> str:
        """One line of ``scm-harness list --peers``: suite, test, status, cases or reason."""
        parts = [", ".join(self.cases)] if self.cases else []
        if self.reason is not None:
            parts.append(self.reason + (f": {self.detail}" if self.detail else ""))
        return f"{self.suite:10} {self.test:60} {self.status.value:12} {'; '.join(parts)}"


def _text(entry: Mapping[str, object], key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise PeerMapError(f"{where}: {key!r} must be a non-empty string")
    return value


def parse(data: object, known_ids: Collection[str]) -> tuple[PeerTest, ...]:
    """Validate the decoded ``peers.json``; every case id must be in ``known_ids``."""
    if not isinstance(data, dict) or not isinstance(data.get("suites"), dict):
        raise PeerMapError("the peer map must be an object with a 'suites' object")
    suites = data["suites"]
    if tuple(suites) != SUITES:
        raise PeerMapError(f"the suites must be {', '.join(SUITES)} in that order, not {', '.join(map(str, suites))}")
    tests: list[PeerTest] = []
    unknown: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for suite in SUITES:
        entries = suites[suite]
        if not isinstance(entries, list):
            raise PeerMapError(f"{suite}: the tests must be a list")
        for index, entry in enumerate(entries):
            where = f"{suite}[{index}]"
            if not isinstance(entry, dict):
                raise PeerMapError(f"{where}: each test must be an object")
            extra = set(entry) - _KEYS
            if extra:
                raise PeerMapError(f"{where}: unknown keys {', '.join(sorted(extra))}")
            test = _text(entry, "test", where)
            where = f"{suite} {test}"
            try:
                status = Status(entry.get("status"))
            except ValueError:
                raise PeerMapError(f"{where}: status must be covered, partly or not covered") from None
            cases = entry.get("cases")
            if not isinstance(cases, list) or not all(isinstance(c, str) for c in cases):
                raise PeerMapError(f"{where}: cases must be a list of case ids")
            reason = entry.get("reason")
            if reason is not None and reason not in REASONS:
                raise PeerMapError(f"{where}: reason {reason!r} is not one of {', '.join(REASONS)}")
            if status is Status.COVERED and (not cases or reason is not None):
                raise PeerMapError(f"{where}: a covered test has cases and no reason")
            if status is Status.PARTLY and (not cases or reason is None):
                raise PeerMapError(f"{where}: a partly covered test has cases and a reason for what is missing")
            if status is Status.NOT_COVERED and (cases or reason is None):
                raise PeerMapError(f"{where}: a test that is not covered has a reason and no cases")
            if (suite, test) in seen:
                raise PeerMapError(f"{where}: listed twice")
            seen.add((suite, test))
            unknown.update(c for c in cases if c not in known_ids)
            tests.append(
                PeerTest(
                    suite=suite,
                    test=test,
                    file=_text(entry, "file", where),
                    repository=_text(entry, "repository", where),
                    status=status,
                    cases=tuple(cases),
                    reason=reason,
                    detail=_text(entry, "detail", where, required=False),
                )
            )
    if unknown:
        raise PeerMapError(f"the peer map names case ids the catalogue does not have: {', '.join(sorted(unknown))}")
    return tuple(tests)


def map_text() -> str:
    return resources.files(__package__).joinpath("peers.json").read_text(encoding="utf-8")


def load() -> tuple[PeerTest, ...]:
    """The shipped map, checked against the registered cases."""
    from harness.catalogue import CASES

    return parse(json.loads(map_text()), set(CASES))


def choose(tests: Iterable[PeerTest], suite: str, case_globs: str = "*") -> list[PeerTest]:
    """The tests of one suite (or ``all``); with case globs other than ``*``, those covering a matching case."""
    patterns = [p for p in case_globs.split(",") if p]
    chosen = [t for t in tests if suite in ("all", t.suite)]
    if patterns == ["*"]:
        return chosen
    return [t for t in chosen if any(fnmatch.fnmatchcase(c, p) for c in t.cases for p in patterns)]


def counts(tests: Iterable[PeerTest]) -> dict[str, dict[Status, int]]:
    """Per suite, how many tests have each status (every suite and status present, zeros included)."""
    table = {suite: dict.fromkeys(Status, 0) for suite in SUITES}
    for test in tests:
        table[test.suite][test.status] += 1
    return table


def summary_lines(tests: Iterable[PeerTest]) -> list[str]:
    """The closing lines of ``list --peers``: one per suite shown, and the total when several are."""
    table = {suite: row for suite, row in counts(tests).items() if sum(row.values())}
    lines = [_summary(suite, row) for suite, row in table.items()]
    if len(table) > 1:
        lines.append(_summary("total", {s: sum(row[s] for row in table.values()) for s in Status}))
    return lines


def _summary(name: str, row: Mapping[Status, int]) -> str:
    shown = ", ".join(f"{row[status]} {status.value}" for status in Status)
    return f"{name}: {sum(row.values())} tests: {shown}"


def readme_table(tests: Iterable[PeerTest]) -> str:
    """The Markdown table of the README's Coverage section (tests/test_peers.py checks it is there)."""
    table = counts(tests)
    lines = ["| suite | tests | covered | partly | not covered |", "|---|---|---|---|---|"]
    for suite, row in table.items():
        numbers = " | ".join(str(row[status]) for status in Status)
        lines.append(f"| {SUITE_NAMES[suite]} | {sum(row.values())} | {numbers} |")
    total = {status: sum(row[status] for row in table.values()) for status in Status}
    numbers = " | ".join(str(total[status]) for status in Status)
    lines.append(f"| all | {sum(total.values())} | {numbers} |")
    return "\n".join(lines)
