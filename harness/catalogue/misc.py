"""MS rows that a socketpair shows without another process."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import scenario
from harness.catalogue.case import Variant, case
from harness.model import GetSockOpt, PairKind


@case(
    "MS-03",
    "getsockopt SO_TYPE / SO_DOMAIN / SO_PROTOCOL report the pair's type, AF_UNIX and 0",
    area="misc",
    source="GV GetSockoptType/Domain/Protocol",
)
def ms_03(kind: PairKind) -> Iterator[Variant]:
    steps = tuple(
        GetSockOpt(on=side, option=opt) for side in ("a", "b") for opt in ("SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL")
    )
    yield Variant("type, domain, protocol", scenario(kind, *steps, fds=()))
