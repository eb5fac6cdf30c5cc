"""Wake-ups: a blocking call of the scenario's process that a second party ends.

The second party is a background Child (a forked process or a thread that acts once the
scenario's thread sleeps in its next step's call, ``delay_ms`` at the latest:
harness.execute.asleep), and the oracle runs the child's steps first and the waiting step after
them ("the child wins").  Every wait is bounded by the executor's SO_RCVTIMEO/SO_SNDTIMEO
or a Poll timeout: a wake-up that never comes is a ``blocked`` observation where the oracle
predicts a result, i.e. a fail, never a hang.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, SPACE, drain, passcred, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import Child, Fill, GetSockOpt, Interrupt, PairKind, Poll, ScmCredentials, SetSockOpt, Step

CREDS = SPACE(12)

DELAY_MS = 100  # the longest the background party waits for the waiting step to fall asleep


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


def thread(*steps: Step, background: bool = False) -> Child:
    """The steps on a second thread of the scenario's process (Child(thread=True))."""
    return Child(steps=steps, thread=True, background=background, delay_ms=DELAY_MS)


@case(
    "FD-23",
    "a second thread of the process receives an fd (and a receive waiting on one thread gets the fd another "
    "thread sends); the fd is the file sent",
    area="fd-passing",
    source="GV ConcurrentBasicFDPass",
)
def fd_23(kind: PairKind) -> Iterator[Variant]:
    received = thread(recv(64, control=FDS_SPACE(1)))
    yield Variant("received by a second thread", scenario(kind, send(b"fd", fds=["f"]), received, drain()))
    if not kind.nonblocking:
        sent = thread(send(b"fd", fds=["f"]), background=True)
        yield Variant("sent by a second thread while the receive waits", scenario(kind, sent, recv(64, control=64)))


@case(
    "CR-30",
    "credentials from a thread other than the main one name the process: SCM_CREDENTIALS pid, SCM_PIDFD's Pid "
    "and SO_PEERCRED are the process id, not the thread id (no spec row: issue 10)",
    area="credentials",
    source="GV BasicCredPass (sent from a std::thread); KS scm_pidfd",
    types="SD",
)
def cr_30(kind: PairKind) -> Iterator[Variant]:
    implicit = thread(send(b"x"))
    yield Variant("implicit", scenario(kind, passcred(), implicit, recv(64, control=CREDS), fds=()))
    explicit = thread(send(b"x", creds=True))
    yield Variant("explicit pid self", scenario(kind, passcred(), explicit, recv(64, control=CREDS), fds=()))
    yield Variant("SO_PEERCRED", scenario(kind, thread(GetSockOpt(on="a", option="SO_PEERCRED")), fds=()))


@case(
    "CR-31",
    "the pidfd of an SCM_PIDFD sent from a thread other than the main one is the process's (no spec row: issue 10)",
    area="credentials",
    source="KS scm_pidfd (pidfd of the thread-group leader)",
    types="SD",
    needs=("SO_PASSPIDFD",),
)
def cr_31(kind: PairKind) -> Iterator[Variant]:
    pidfd = SetSockOpt(on="b", option="SO_PASSPIDFD", value=1)
    steps = (pidfd, passcred(), thread(send(b"x")), recv(64, control=CREDS + SPACE(4)))
    yield Variant("pidfd from a thread", scenario(kind, *steps, fds=()))


@case(
    "CR-32",
    "explicit SCM_CREDENTIALS naming the sending thread's id (gettid, not getpid): a sender with CAP_SYS_ADMIN "
    "may, and the receiver sees the thread id (no spec row: issue 10)",
    area="credentials",
    source="GV CredPassDifferentPID (with the tid); SRC scm_check_creds (task_tgid_vnr)",
    types="SD",
)
def cr_32(kind: PairKind) -> Iterator[Variant]:
    # measured on 6.18.44: root sending its thread's tid: accepted, the receiver gets the tid;
    # an unprivileged sender gets EPERM (its tid is no task_tgid_vnr()); implicit credentials
    # from the same thread carry the process id
    tid = send(b"x", cmsgs=[ScmCredentials(pid="thread")])
    yield Variant("from a second thread", scenario(kind, passcred(), thread(tid), recv(64, control=CREDS), fds=()))
    yield Variant("from the main thread", scenario(kind, passcred(), tid, recv(64, control=CREDS), fds=()))


@case(
    "FL-30",
    "a signal with a handler ends a blocking receive or send with EINTR; under SO_RCVTIMEO/SO_SNDTIMEO (which "
    "the harness always sets) SA_RESTART does not restart it (no spec row: issue 10; FL-02 names the signal)",
    area="flags",
    source="OpenBSD regress/lib/libpthread/restart/recvmsg (SA_RESTART restarts, without it EINTR); "
    "man 7 signal (socket calls with a timeout are never restarted)",
)
def fl_30(kind: PairKind) -> Iterator[Variant]:
    if kind.nonblocking:
        return  # nothing waits
    # measured on 6.18.44: without SO_RCVTIMEO, SA_RESTART restarts the recv and it returns the data
    # sent after the signal; with SO_RCVTIMEO (the executor's bound) the kernel returns EINTR either way
    for restart in (False, True):
        label = "SA_RESTART" if restart else "no SA_RESTART"
        for how, party in (("a forked child", False), ("a second thread", True)):
            # the party's poll (nothing to see on its end: 200 ms) lets the interrupted receive return
            # before the late send: a datagram receive woken with data queued takes the data first
            gap = Poll(on="a", events=frozenset({"POLLIN"}), timeout_ms=200)
            signal = Child(
                steps=(Interrupt(restart=restart), gap, send(b"late")), thread=party, background=True, delay_ms=DELAY_MS
            )
            steps = (signal, recv(16), recv(16))
            yield Variant(f"recv, {label}, signal from {how}", scenario(kind, *steps, fds=()))
        writer = Child(steps=(Interrupt(restart=restart),), thread=True, background=True, delay_ms=DELAY_MS)
        yield Variant(f"send on a full queue, {label}", scenario(kind, Fill(on="a"), writer, send(b"w" * 4096), fds=()))
