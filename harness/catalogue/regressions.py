"""REG cases: known kernel bugs that a userspace oracle can see without KASAN.

One case per entry of table (a) of shared/spec/fuzzing.md about MSG_OOB: the trigger as a scenario,
the symptom as the check.  The oracle says what a fixed kernel does, so an affected kernel fails
the case on the step that shows the symptom (wrong bytes, a spurious or missing EAGAIN, a wrong
SIOCATMARK; a kernel that loops on a peek shows as a step timeout).  These ids are not rows of the
behaviour catalogue: :mod:`harness.catalogue.coverage` does not track them.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import Ioctl, PairKind, Poll, Step

OOB = "MSG_OOB"
PEEK = "MSG_PEEK"
NOWAIT = "MSG_DONTWAIT"
NEEDS = ("MSG_OOB",)
MARK = Ioctl(on="b", request="SIOCATMARK")


@case(
    "REG-CVE-2025-38236",
    "consecutive consumed OOB skbs: after two read OOB bytes, a third one is never read in band",
    area="oob",
    source=(
        "fix 32ca245464e1 'af_unix: Don't leave consecutive consumed OOB skbs.' (6.16-rc4), CVE-2025-38236; "
        "LTP cve-2025-38236; KS msg_oob ex_oob_ex_oob_oob"
    ),
    types="S",
    needs=NEEDS,
)
def reg_cve_2025_38236(kind: PairKind) -> Iterator[Variant]:
    # The commit's reproducer: an affected kernel returns b'z' from recv(1), and the recv(MSG_OOB)
    # after it touches the freed skb.  Fixed: EAGAIN, then EINVAL.
    prefix = (
        send(b"x", flags=[OOB]),
        recv(1, flags=[OOB]),
        send(b"y", flags=[OOB]),
        recv(1, flags=[OOB]),
        send(b"z", flags=[OOB]),
    )
    trigger = (*prefix, recv(1, flags=[NOWAIT]), recv(1, flags=[OOB, NOWAIT]))
    yield Variant("trigger", scenario(kind, *trigger, fds=()))
    yield Variant("peek first", scenario(kind, *prefix, recv(1, flags=[PEEK, NOWAIT]), *trigger[5:], fds=()))
    # The selftest the fix came with: SIOCATMARK must still see the mark (it said 0 without the fix).
    yield Variant("SIOCATMARK", scenario(kind, *prefix, MARK, Poll(on="b"), recv(8, flags=[NOWAIT]), MARK, fds=()))


@case(
    "REG-OOB-PEEK-2024-04",
    "MSG_PEEK without MSG_OOB never returns the OOB byte, and a peek stops in front of it",
    area="oob",
    source=(
        "fixes 22dd70eb2c3d 'af_unix: Don't peek OOB data without MSG_OOB.' and 283454c8a123 'af_unix: "
        "Call manage_oob() for every skb in unix_stream_read_generic().' (6.9-rc4; stable 6.1/6.6/6.8, Apr 2024); "
        "no CVE"
    ),
    types="S",
    needs=NEEDS,
)
def reg_oob_peek_2024_04(kind: PairKind) -> Iterator[Variant]:
    # Affected: the first peek returns b'a' (or loops, hogging the CPU); the second b'hello'.
    peek_a = (send(b"a", flags=[OOB]), recv(1, flags=[PEEK, NOWAIT]))
    yield Variant("peek of a lone OOB byte", scenario(kind, *peek_a, recv(1, flags=[OOB]), fds=()))
    peek_hello = (send(b"hello", flags=[OOB]), recv(5, flags=[PEEK, NOWAIT]))
    yield Variant("peek of hello", scenario(kind, *peek_hello, recv(5, flags=[NOWAIT]), fds=()))
    yield Variant("both, in a row", scenario(kind, *peek_a, *peek_hello, recv(8, flags=[NOWAIT]), fds=()))


@case(
    "REG-OOB-PEEK-LOOP",
    "a peek whose first unread byte is the OOB byte returns the data after it",
    area="oob",
    source=(
        "fix a6736a0addd6 'af_unix: Read with MSG_PEEK loops if the first unread byte is OOB' "
        "(Jun 2024; 6.1 stable review 20240619125602.750399109@linuxfoundation.org); no CVE"
    ),
    types="S",
    needs=NEEDS,
)
def reg_oob_peek_loop(kind: PairKind) -> Iterator[Variant]:
    # Affected: the peek loops (a step timeout) or returns nothing; fixed: b'b'.
    steps: tuple[Step, ...] = (
        send(b"a", flags=[OOB]),
        send(b"b"),
        recv(1, flags=[PEEK, NOWAIT]),
        recv(1, flags=[NOWAIT]),
    )
    yield Variant("a then b", scenario(kind, *steps, fds=()))
    steps = (send(b"a", flags=[OOB]), send(b"bc"), recv(8, flags=[PEEK, NOWAIT]), recv(1, flags=[OOB, NOWAIT]))
    yield Variant("a then bc, OOB byte still there", scenario(kind, *steps, fds=()))


@case(
    "REG-OOB-SERIES-2024-06",
    'the June 2024 MSG_OOB fixes: peek stops at a consumed OOB byte, no spurious EAGAIN, "hellowol", SIOCATMARK',
    area="oob",
    source=(
        "fixes b94038d841a9 'af_unix: Stop recv(MSG_PEEK) at consumed OOB skb.', 93c99f21db36 'af_unix: Don't "
        "stop recv(MSG_DONTWAIT) if consumed OOB skb is at the head.', 36893ef0b661 'af_unix: Don't stop recv() at "
        "consumed ex-OOB skb.', e400cfa38bb0 'af_unix: Fix wrong ioctl(SIOCATMARK) when consumed OOB skb is at the "
        "head.' (6.10-rc6; 6.9.8); no CVE; KS msg_oob"
    ),
    types="S",
    needs=NEEDS,
)
def reg_oob_series_2024_06(kind: PairKind) -> Iterator[Variant]:
    hello, world = send(b"hello", flags=[OOB]), send(b"world")
    # b94038d841a9: the peek returned b'hellworld'
    steps: tuple[Step, ...] = (
        hello,
        world,
        recv(1, flags=[OOB]),
        recv(9, flags=[PEEK, NOWAIT]),
        recv(9, flags=[NOWAIT]),
    )
    yield Variant("b94038d841a9 peek at consumed OOB", scenario(kind, *steps, fds=()))
    # 93c99f21db36: EAGAIN although b'world' was queued
    steps = (hello, world, recv(10, flags=[NOWAIT]), recv(1, flags=[OOB]), recv(5, flags=[NOWAIT]))
    yield Variant("93c99f21db36 consumed OOB at the head", scenario(kind, *steps, fds=()))
    # 36893ef0b661: b'hellowo' instead of b'hellowol'
    steps = (
        hello,
        send(b"wor", flags=[OOB]),
        recv(1, flags=[OOB]),
        send(b"ld", flags=[OOB]),
        recv(10, flags=[NOWAIT]),
        recv(1, flags=[OOB]),
    )
    yield Variant("36893ef0b661 consumed ex-OOB", scenario(kind, *steps, fds=()))
    # e400cfa38bb0: SIOCATMARK 0 with the consumed OOB skb at the head
    steps = (send(b"x", flags=[OOB]), recv(1, flags=[OOB]), MARK)
    yield Variant("e400cfa38bb0 SIOCATMARK, consumed x", scenario(kind, *steps, fds=()))
    steps = (hello, world, recv(1, flags=[OOB]), recv(9, flags=[NOWAIT]), MARK, recv(5, flags=[NOWAIT]), MARK)
    yield Variant("e400cfa38bb0 SIOCATMARK, hello world", scenario(kind, *steps, fds=()))
