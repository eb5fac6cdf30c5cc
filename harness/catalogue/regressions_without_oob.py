"""REG cases: AF_UNIX regressions of shared/spec/fuzzing.md table (a) that a userspace oracle sees,
apart from the MSG_OOB ones (harness/catalogue/regressions.py).  Each case runs the trigger and
checks what a fixed kernel does; its source names the fix."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, SPACE, drain, passcred, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.catalogue.listener import kselftest_oob_variants
from harness.model import (
    Child,
    Close,
    FdKind,
    FdSpec,
    GetSockOpt,
    Identity,
    PairKind,
    ReadPartner,
    SetSockOpt,
    Splice,
    Step,
)

PEEK = "MSG_PEEK"


@case(
    "REG-SO_PEEK_OFF-SLEEP",
    "SO_PEEK_OFF read again after sleeping: a blocking peek that wakes on new data returns only the new data",
    area="regression",
    source="7bf3a476ce43 af_unix: Read sk_peek_offset() again after sleeping in unix_stream_read_generic() (6.18-rc7)",
    types="S",
    needs=("SO_PEEK_OFF",),
)
def reg_peek_off_sleep(kind: PairKind) -> Iterator[Variant]:
    if kind.nonblocking:
        return  # the bug needs a receive that sleeps
    # The child must send while the peek sleeps: after the peek went to sleep (100 ms head start) and
    # before its timeout.  The scenario's own 1.5 s SO_RCVTIMEO (instead of the 0.5 s step bound) keeps
    # a loaded one-CPU guest from timing out first: a kernel without 7bf3a476ce43 then starts again at
    # the head and returns "aaaa" (measured on UML 6.1.176 under a load average of 9).
    steps: tuple[Step, ...] = (
        SetSockOpt(on="b", option="SO_PEEK_OFF", value=0),
        SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(1, 500_000)),
        send(b"aaaa"),
        recv(4, flags=[PEEK]),
        Child(steps=(send(b"bbbb"),), background=True, delay_ms=100),
        recv(100, flags=[PEEK]),  # sleeps until the child sends; the buggy kernel returned "aaaabbbb"
        recv(100, flags=[PEEK, "MSG_DONTWAIT"]),
    )
    yield Variant("peek after sleep", scenario(kind, *steps, fds=()))
    # Without the fix a peek that walked past every queued byte reads once more when its timeout ends the
    # wait, from SO_PEEK_OFF minus those bytes: measured on 6.1.176 (UML) "abc" and SO_PEEK_OFF 6; with it
    # (6.12.118, 6.18.44) EAGAIN after the 50 ms SO_RCVTIMEO and SO_PEEK_OFF still 3.
    steps = (
        SetSockOpt(on="b", option="SO_PEEK_OFF", value=3),
        SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(0, 50_000)),
        send(b"abc"),
        recv(4, flags=[PEEK]),
        GetSockOpt(on="b", option="SO_PEEK_OFF"),
    )
    yield Variant("peek past the queued bytes times out", scenario(kind, *steps, fds=()))


@case(
    "REG-CVE-2026-22983",
    "splice() from a unix stream socket with SO_INQ set: no NULL dereference, the data arrives",
    area="regression",
    source="CVE-2026-22983 (after 4d1442979e4a af_unix: don't post cmsg for SO_INQ unless explicitly asked for)",
    types="S",
    needs=("SO_INQ",),
)
def reg_cve_2026_22983(kind: PairKind) -> Iterator[Variant]:
    # The splice runs in a child: on a buggy kernel the oops kills the calling task, which the
    # harness then reports as the child "killed by SIGKILL"/"SIGSEGV" (a fail, not a hang).
    splice = Child(steps=(Splice(on="b", length=16),))
    yield Variant(
        "SO_INQ", scenario(kind, SetSockOpt(on="b", option="SO_INQ", value=1), send(b"spliced"), splice, fds=())
    )
    yield Variant(
        "plain", scenario(kind, send(b"spliced", fds=["f"]), Child(steps=(Splice(on="b", length=3),)), drain())
    )


@case(
    "REG-IO_URING-SCM_RIGHTS",
    "an io_uring fd cannot be sent over a unix socket: EINVAL",
    area="regression",
    source="705318a99a13 io_uring/af_unix: disable sending io_uring over sockets (6.7-rc5, stable to 5.4)",
)
def reg_io_uring(kind: PairKind) -> Iterator[Variant]:
    ring = FdSpec(name="ring", kind=FdKind.IO_URING)
    yield Variant("ring", scenario(kind, send(fds=["ring"]), drain(), fds=(ring,)))


@case(
    "REG-SCM_PIDFD-REAPED",
    "SCM_PIDFD of a sender that exited and was reaped: a pidfd (6.17+), not a negative errno in the data",
    area="regression",
    source="vfs pidfs pull 6.17 (20250725-vfs-pidfs-ef67d98fcc31@brauner); KS scm_pidfd cmsg_check_dead",
    types="SD",
    needs=("SO_PASSPIDFD",),
)
def reg_scm_pidfd_reaped(kind: PairKind) -> Iterator[Variant]:
    pidfd = SetSockOpt(on="b", option="SO_PASSPIDFD", value=1)
    sender = Child(steps=(send(b"bye", fds=["f"]),), identity=Identity(user="unprivileged"))
    yield Variant(
        "reaped", scenario(kind, pidfd, passcred(), sender, recv(64, control=SPACE(12) + FDS_SPACE(1) + SPACE(4)))
    )


@case(
    "REG-GC-OOB-2024-02",
    "a socket in its own queue inside an OOB skb, with a file: the garbage collector frees both and does not hang",
    area="regression",
    source="aa82ac51d633 af_unix: Drop oob_skb ref before purging queue in GC; Fix task hung while purging oob_skb",
    types="S",
    needs=("MSG_OOB",),
)
def reg_gc_oob(kind: PairKind) -> Iterator[Variant]:
    witness = FdSpec(name="w", kind=FdKind.PIPE_WRITE, tracked=False)
    steps = (
        send(b"x", fds=["b", "w"], flags=["MSG_OOB"]),  # b rides in its own queue, on the OOB skb
        Close(target="w"),
        Close(target="b"),
        Close(target="a"),  # a unix socket release: the collector runs
        ReadPartner(target="w", wait_ms=3000),
    )
    yield Variant("self reference in the OOB skb", scenario(kind, *steps, fds=(witness,)))
    # issue 10: larger cycles through OOB skbs (kselftest scm_rights stream_oob, stream_listener_oob)
    yield from kselftest_oob_variants(kind)
