"""Wake-ups: a blocking call of the scenario's process that a second party ends.

The second party is a background Child (a forked process that sleeps ``delay_ms`` and then acts
while the parent's next step waits; the oracle runs the child's steps first and the waiting step
after them, "the child wins").  Every wait is bounded by the executor's SO_RCVTIMEO/SO_SNDTIMEO
or a Poll timeout: a wake-up that never comes is a ``blocked`` observation where the oracle
predicts a result, i.e. a fail, never a hang.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import Child, PairKind

DELAY_MS = 100  # the background party's head start: the waiting step is asleep by then


@case(
    "PK-30",
    "a blocking zero-length MSG_PEEK|MSG_TRUNC receive on an empty queue waits, and a send wakes it "
    "(no spec row: new sub-behaviour of PK-06/PK-07)",
    area="peek",
    source="GV ZeroLengthRecvEmptyQueue / RecvmsgTruncPeekDontwaitZeroLen (their blocking form)",
)
def pk_30(kind: PairKind) -> Iterator[Variant]:
    if kind.nonblocking:
        return  # nothing waits
    woken = Child(steps=(send(b"wake", on="a"),), background=True, delay_ms=DELAY_MS)
    steps = (woken, recv(0, flags=["MSG_PEEK", "MSG_TRUNC"]), recv(16))
    yield Variant("woken by a send", scenario(kind, *steps, fds=()))
