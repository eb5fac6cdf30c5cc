"""A conformance case: a catalogue id, where it comes from, and the scenario(s) it runs per pair kind."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from harness.model import ALL_KINDS, PairKind, Scenario, SockType


@dataclass(frozen=True, slots=True)
class Variant:
    """One scenario of a case; a case with several variants passes only if all pass."""

    label: str
    scenario: Scenario
    # A step that blocks is a timeout (the case's error) unless the case is about blocking.
    blocking_expected: bool = False


Builder = Callable[[PairKind], Iterable[Variant]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    id: str  # the behaviour id of shared/spec/behaviours.md, e.g. "TRN-05"
    title: str
    area: str
    source: str  # the anchors the row cites
    types: frozenset[SockType]
    build: Builder = field(repr=False, compare=False)
    needs: frozenset[str] = frozenset()  # probed platform features the case requires
    # "any": every kind of its types; "socketpair": the case is about socketpair() itself (its title
    # or source says why), so only the kinds socketpair() makes
    pairs: Literal["any", "socketpair"] = "any"

    def kinds(self) -> tuple[PairKind, ...]:
        return tuple(k for k in ALL_KINDS if k.sock_type in self.types and (self.pairs == "any" or k.by_socketpair))

    def variants(self, kind: PairKind) -> tuple[Variant, ...]:
        return tuple(self.build(kind))


CASES: dict[str, Case] = {}

_TYPE_LETTERS = {"S": SockType.STREAM, "D": SockType.DGRAM, "Q": SockType.SEQPACKET}


def case(
    id: str,
    title: str,
    *,
    area: str,
    source: str,
    types: str = "SDQ",
    needs: Iterable[str] = (),
    pairs: Literal["any", "socketpair"] = "any",
) -> Callable[[Builder], Builder]:
    """Register a case builder: ``types`` uses the catalogue's letters (S, D, Q); ``pairs="socketpair"``
    for a case about socketpair() itself (not run on the kinds the socket API makes)."""

    def register(build: Builder) -> Builder:
        if id in CASES:
            raise ValueError(f"case {id} registered twice")
        CASES[id] = Case(
            id=id,
            title=title,
            area=area,
            source=source,
            types=frozenset(_TYPE_LETTERS[t] for t in types),
            build=build,
            needs=frozenset(needs),
            pairs=pairs,
        )
        return build

    return register


def select(patterns: Iterable[str]) -> list[Case]:
    """Cases whose id matches any of the globs (``FD-*``, ``TRN-0[1-5]``), in catalogue order."""
    wanted = list(patterns)
    return [
        c
        for cid, c in sorted(CASES.items(), key=lambda item: sort_key(item[0]))
        if any(fnmatch.fnmatchcase(cid, p) for p in wanted)
    ]


def sort_key(case_id: str) -> tuple[str, int, str]:
    area, _, number = case_id.partition("-")
    return (area, int(number) if number.isdigit() else 0, number)
