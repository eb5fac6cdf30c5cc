"""Oracle rules added for issue 10 item 4 (behaviours peers check), against hand-worked values (no kernel)."""

from __future__ import annotations

import dataclasses

from harness.catalogue.build import recv, scenario, send
from harness.expectation import Expectation, StepExpectation, Unmodelled
from harness.model import (
    Accept,
    Bind,
    Connect,
    FdKind,
    FdSpec,
    GetPeerName,
    GetSockName,
    GetSockOpt,
    Listen,
    PairKind,
    Recv,
    Scenario,
    SetSockOpt,
    SockType,
    Step,
)
from harness.observation import Failed, Returned
from harness.oracle import expect
from harness.platform import Platform
from tests.test_oracle import PLATFORM as ORACLE_PLATFORM

PLATFORM = dataclasses.replace(ORACLE_PLATFORM, features=frozenset({"SO_PEEK_OFF"}))
STREAM, DGRAM, SEQPACKET = (PairKind(t) for t in SockType)


def steps(s: Scenario, platform: Platform = PLATFORM) -> tuple[StepExpectation, ...]:
    result = expect(s, platform)
    assert isinstance(result, Expectation), result
    return result.steps


def peek(size: int, *extra: str) -> Recv:
    return Recv(on="b", buffers=(size,), flags=frozenset({"MSG_PEEK", "MSG_DONTWAIT", *extra}))


def test_datagram_peek_offset_walks_into_and_across_messages() -> None:
    for kind in (DGRAM, SEQPACKET, dataclasses.replace(DGRAM, nonblocking=True)):
        got = steps(
            scenario(
                kind,
                SetSockOpt(on="b", option="SO_PEEK_OFF", value=0),
                send(b"abcdef"),
                send(b"gh"),
                send(b""),
                send(b"ij"),
                peek(2),
                peek(2),
                peek(8),
                peek(8),
                peek(0),
                peek(0),
                peek(8),
                peek(8),
                Recv(on="b", buffers=(8,)),
                GetSockOpt(on="b", option="SO_PEEK_OFF"),
                peek(8),
                fds=(),
            )
        )[5:]
        assert [s.data for s in got[:7]] == [b"ab", b"cd", b"ef", b"gh", b"", b"", b"ij"]
        assert [("MSG_TRUNC" in (s.msg_flags or ())) for s in got[:7]] == [True, True, False, False, False, True, False]
        assert got[7].outcome == Failed("EAGAIN")
        assert got[8].data == b"abcdef"
        assert got[9].outcome == Returned(4)  # 10 - len("abcdef")
        assert got[10].outcome == Failed("EAGAIN")  # "gh", "" and "ij" are all behind the offset


def test_datagram_peek_offset_with_msg_trunc_returns_the_rest_of_the_message() -> None:
    got = steps(
        scenario(
            DGRAM,
            SetSockOpt(on="b", option="SO_PEEK_OFF", value=2),
            send(b"abcdef"),
            peek(2, "MSG_TRUNC"),
            GetSockOpt(on="b", option="SO_PEEK_OFF"),
            fds=(),
        )
    )
    assert (got[2].outcome, got[2].data) == (Returned(4), b"cd")
    assert got[3].outcome == Returned(4)


def test_a_blocking_peek_past_the_offset_waits() -> None:
    got = steps(
        scenario(
            SEQPACKET,
            SetSockOpt(on="b", option="SO_PEEK_OFF", value=2),
            send(b"ab"),
            Recv(on="b", buffers=(8,), flags=frozenset({"MSG_PEEK"})),
            fds=(),
        )
    )
    assert got[2].blocks


def test_option_errors() -> None:
    got = steps(
        scenario(
            STREAM,
            SetSockOpt(on="a", option="SO_9999", value=1),
            GetSockOpt(on="a", option="SO_9999"),
            SetSockOpt(on="a", option="SO_ACCEPTCONN", value=1),
            GetSockOpt(on="a", option="SO_ACCEPTCONN"),
            SetSockOpt(on="a", option="SO_LINGER", value=1),
            SetSockOpt(on="a", option="SO_LINGER", value=(1, 0)),
            GetSockOpt(on="a", option="SO_LINGER"),
            SetSockOpt(on="a", option="SO_LINGER", value=(1 << 32, 0)),  # l_onoff is the low half: 0
            GetSockOpt(on="a", option="SO_LINGER"),
            fds=(),
        )
    )
    assert [s.outcome for s in got] == [
        Failed("ENOPROTOOPT"),
        Failed("ENOPROTOOPT"),
        Failed("ENOPROTOOPT"),
        Returned(0),
        Failed("EINVAL"),
        Returned(0),
        Returned(1),
        Returned(0),
        Returned(0),
    ]


def test_an_unnamed_option_a_newer_kernel_may_have_is_unmodelled() -> None:
    assert isinstance(expect(scenario(STREAM, GetSockOpt(on="a", option="SO_90"), fds=()), PLATFORM), Unmodelled)


def test_a_negative_receive_timeout_means_no_wait() -> None:
    got = steps(scenario(DGRAM, SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(-1, 0)), Recv(on="b"), fds=()))
    assert got[1].outcome == Failed("EAGAIN")


def test_zero_length_receive_at_end_of_file_per_type() -> None:
    from harness.model import Close

    nowait = frozenset({"MSG_DONTWAIT"})
    outcomes = [
        steps(scenario(kind, Close(target="a"), Recv(on="b", buffers=(0,), flags=nowait), fds=()))[1].outcome
        for kind in (STREAM, DGRAM, SEQPACKET)
    ]
    assert outcomes == [Returned(0), Failed("EAGAIN"), Returned(0)]


def test_a_faulting_data_buffer_drops_a_datagram_but_not_stream_data() -> None:
    bad = Recv(on="b", buffers=(4,), fault="iov_base")
    for kind, left in ((DGRAM, Failed("EAGAIN")), (SEQPACKET, Failed("EAGAIN")), (STREAM, Returned(4))):
        got = steps(
            scenario(kind, send(b"abcd"), bad, Recv(on="b", buffers=(8,), flags=frozenset({"MSG_DONTWAIT"})), fds=())
        )
        assert got[1].outcome == Failed("EFAULT")
        assert got[2].outcome == left


def test_a_faulting_send_buffer_queues_nothing() -> None:
    from harness.model import Send

    for kind in (STREAM, DGRAM, SEQPACKET):
        got = steps(scenario(kind, Send(on="a", iov=(b"ab",), fault="iov_base"), fds=()))
        assert got[0].outcome == Failed("EFAULT")
    # an empty send never touches the buffer
    assert steps(scenario(STREAM, Send(on="a", iov=(b"",), fault="iov_base"), fds=()))[0].outcome == Returned(0)


def test_scm_inq_carries_the_bytes_left_and_the_checker_compares_it() -> None:
    from harness.catalogue.build import SPACE, recv
    from harness.check import check
    from tests.observe import conforming

    platform = dataclasses.replace(PLATFORM, features=frozenset({"SO_INQ"}))
    s = scenario(
        STREAM,
        SetSockOpt(on="b", option="SO_INQ", value=1),
        send(b"hello"),
        send(b"world"),
        recv(3, control=SPACE(4)),
        recv(2, control=SPACE(4), flags=["MSG_PEEK"]),
        recv(10, control=SPACE(4)),
        fds=(),
    )
    result = expect(s, platform)
    assert isinstance(result, Expectation), result
    assert [c.inq for step in result.steps[3:] for c in step.cmsgs] == [7, 7, 0]
    assert [step.controllen for step in result.steps[3:]] == [SPACE(4)] * 3
    observation = conforming(result)
    assert not [f for f in check(s, observation, result) if f.checker == "cmsgs"]
    step = observation.steps[3]
    wrong = dataclasses.replace(step.cmsgs[0], data=b"\x08\x00\x00\x00")
    steps_seen = list(observation.steps)
    steps_seen[3] = dataclasses.replace(step, cmsgs=(wrong,))
    findings = check(s, dataclasses.replace(observation, steps=tuple(steps_seen)), result)
    assert [f.field for f in findings if f.checker == "cmsgs"] == ["cmsgs[0] SCM_INQ"]


def test_an_scm_inq_without_room_is_cut_to_the_room_and_the_checker_compares_what_is_left() -> None:
    """put_cmsg(): under a header's room only MSG_CTRUNC; under CMSG_LEN(4) a message cut to the room
    (cmsg_len the room) and MSG_CTRUNC.  Measured on 6.18.44 with 490 scenarios (rooms 0 to 48 after
    nothing, SCM_CREDENTIALS and SCM_RIGHTS)."""
    from harness.catalogue.build import recv
    from harness.check import check
    from tests.observe import conforming

    platform = dataclasses.replace(PLATFORM, features=frozenset({"SO_INQ"}))
    s = scenario(
        STREAM,
        SetSockOpt(on="b", option="SO_INQ", value=1),
        send(b"hello"),
        recv(2, control=18, flags=["MSG_DONTWAIT"]),
        recv(2, control=15, flags=["MSG_DONTWAIT"]),
        fds=(),
    )
    result = expect(s, platform)
    assert isinstance(result, Expectation), result
    cut, none = result.steps[2:]
    assert [(c.type, c.length, c.inq) for c in cut.cmsgs] == [("SCM_INQ", 18, 3)]
    assert (cut.controllen, none.cmsgs, none.controllen) == (18, (), 0)
    assert cut.msg_flags is not None and "MSG_CTRUNC" in cut.msg_flags
    assert none.msg_flags is not None and "MSG_CTRUNC" in none.msg_flags
    observation = conforming(result)
    assert not [f for f in check(s, observation, result) if f.checker == "cmsgs"]
    step = observation.steps[2]
    assert step.cmsgs[0].data == b"\x03\x00"  # the two bytes of the int that fit
    steps_seen = list(observation.steps)
    steps_seen[2] = dataclasses.replace(step, cmsgs=(dataclasses.replace(step.cmsgs[0], data=b"\x04\x00"),))
    findings = check(s, dataclasses.replace(observation, steps=tuple(steps_seen)), result)
    assert [f.field for f in findings if f.checker == "cmsgs"] == ["cmsgs[0] SCM_INQ"]


def test_sock_diag_from_a_new_user_namespace_sees_the_owner_as_its_root() -> None:
    from harness.model import Child, DiagUid, Identity

    as_user = dataclasses.replace(PLATFORM, euid=1000)
    inside = Child(steps=(DiagUid(on="a"),), identity=Identity(userns=True))
    got = steps(scenario(STREAM, DiagUid(on="a"), inside, fds=()), as_user)
    assert got[0].outcome == Returned(1000)
    assert got[1].nested[0].outcome == Returned(0)


def test_a_missing_feature_is_named_with_why_it_is_missing() -> None:
    from harness.runner import lacking

    assert lacking(["SO_INQ"]) == "the platform lacks SO_INQ"
    assert "securityfs" in lacking(["bpf-lsm", "bpf-lsm-loader"])
    assert "ships neither" in lacking(["bpf-lsm", "bpf-lsm-loader"])


def test_recvmmsg_takes_one_message_per_entry_and_stops_at_an_empty_queue() -> None:
    from harness.model import RecvMany

    nowait = frozenset({"MSG_DONTWAIT"})
    for kind, want in ((DGRAM, (b"ab", b"de")), (SEQPACKET, (b"ab", b"de")), (STREAM, (b"ab", b"cd", b"e"))):
        got = steps(scenario(kind, send(b"abc"), send(b"de"), RecvMany(on="b", count=5, size=2, flags=nowait), fds=()))
        assert (got[2].outcome, got[2].buffers, got[2].data) == (Returned(len(want)), want, b"".join(want))
    empty = steps(scenario(DGRAM, RecvMany(on="b", count=2, flags=nowait), fds=()))[0]
    assert empty.outcome == Failed("EAGAIN")
    blocking = expect(scenario(DGRAM, send(b"x"), RecvMany(on="b", count=2), fds=()), PLATFORM)
    assert isinstance(blocking, Unmodelled)  # it waits for the second message until the socket timeout
    once = steps(scenario(DGRAM, send(b"x"), RecvMany(on="b", count=2, flags=frozenset({"MSG_WAITFORONE"})), fds=()))
    assert once[1].outcome == Returned(1)


def test_recvmany_round_trips_through_the_codec() -> None:
    from harness.codec import decode_scenario, encode_scenario
    from harness.model import RecvMany

    s = scenario(DGRAM, RecvMany(on="b", count=3, size=7, flags=frozenset({"MSG_WAITFORONE"})), fds=())
    assert decode_scenario(encode_scenario(s)) == s


def test_edge_triggered_epoll_is_rearmed_by_every_write() -> None:
    from harness.codec import decode_scenario, encode_scenario
    from harness.model import Close, Connect, EpollWait, Shutdown

    wait = EpollWait(on="b")
    s = scenario(DGRAM, send(b"a"), wait, wait, send(b"b"), wait, fds=())
    assert decode_scenario(encode_scenario(s)) == s
    got = steps(s)
    assert [g.events for g in got if g.op == "epoll_wait"] == [
        frozenset({"EPOLLIN"}),
        frozenset(),
        frozenset({"EPOLLIN"}),
    ]
    level = EpollWait(on="b", edge=False)
    assert [g.outcome for g in steps(scenario(DGRAM, send(b"a"), level, level, fds=()))[1:]] == [Returned(1)] * 2

    # sk_state_change(): a stream peer's release and a shutdown wake the watch; a datagram peer's release
    # does not, though b still has a message to read (measured on 6.18.44, 6.12.118, 6.1.176)
    def reported(*steps_: Step, kind: PairKind = STREAM) -> list[int]:
        return [g.outcome.value for g in steps(scenario(kind, *steps_, fds=())) if isinstance(g.outcome, Returned)]

    assert reported(wait, Close(target="a"), wait)[1:] == [0, 1]
    assert reported(send(b"a"), wait, wait, Close(target="a"), wait, kind=DGRAM)[1:] == [1, 0, 0, 0]
    assert reported(send(b"a"), wait, wait, Shutdown(on="b", how="SHUT_WR"), wait, kind=DGRAM)[1:] == [1, 0, 0, 1]
    assert reported(send(b"a"), wait, wait, Shutdown(on="a", how="SHUT_WR"), wait, kind=DGRAM)[1:] == [1, 0, 0, 0]
    assert reported(send(b"a"), wait, wait, Shutdown(on="a", how=7), wait)[1:] == [1, 0, 0]  # EINVAL
    # a released in the receive that drops the message carrying it (no control buffer), not in its close
    dropped = (wait, send(b"x", fds=["a"]), wait, Close(target="a"), wait, recv(8, flags=["MSG_DONTWAIT"]), wait)
    assert reported(*dropped)[-3:] == [0, 1, 1]  # epoll_wait after the close: 0; recv: 1 byte; epoll_wait: 1
    assert reported(*dropped, kind=DGRAM)[-3:] == [0, 1, 0]
    # a step whose wake-ups the model does not follow: unmodelled, not guessed
    # (a datagram connect() may purge the queue and report ECONNRESET to the old peer: EPOLLERR)
    connect = Connect(target="a", address="@elsewhere")
    assert isinstance(expect(scenario(DGRAM, wait, connect, wait, fds=()), PLATFORM), Unmodelled)


def test_splice_into_a_socket_is_one_send() -> None:
    from harness.codec import decode_scenario, encode_scenario
    from harness.model import Close, SpliceIn

    s = scenario(DGRAM, SpliceIn(on="a", data=b"hello"), SpliceIn(on="a", data=b""), Recv(on="b"), fds=())
    assert decode_scenario(encode_scenario(s)) == s
    got = steps(s)
    assert [g.outcome for g in got] == [Returned(5), Failed("EAGAIN"), Returned(5)]
    closed = steps(scenario(STREAM, Close(target="b"), SpliceIn(on="a", data=b"hi"), fds=()))[1]
    assert (closed.outcome, closed.signals) == (Failed("EPIPE"), ("SIGPIPE",))


def test_epoll_reports_hangup_whatever_it_watches() -> None:
    from harness.model import Close, EpollWait

    got = steps(scenario(STREAM, Close(target="a"), EpollWait(on="b"), fds=()))[1]
    assert got.events == frozenset({"EPOLLIN", "EPOLLHUP"})


def test_sendmmsg_shows_each_messages_msg_len_as_its_bytes() -> None:
    from harness.model import SendMany

    got = steps(scenario(DGRAM, SendMany(on="a", count=3, data=b"ab"), fds=()))[0]
    assert (got.outcome, got.data) == (Returned(3), b"ababab")


def test_a_fill_that_cannot_queue_fails_as_its_first_send_does() -> None:
    """Measured on 6.18.44, 6.12.118 and 6.1.176 (924 scenarios: every pair kind, each way a queue
    cannot take data): the first MSG_DONTWAIT send fails, with its signal and its effects, and the
    Fill returns 0."""
    from harness.model import Close, Fill, Shutdown

    fill = Fill(on="a", chunk=1024)
    stream_closed = steps(scenario(STREAM, Close(target="b"), fill, fds=()))[1]
    assert (stream_closed.outcome, stream_closed.signals) == (Returned(0), ("SIGPIPE",))
    shut = steps(scenario(DGRAM, Shutdown(on="a", how="SHUT_WR"), fill, fds=()))[1]
    assert (shut.outcome, shut.signals) == (Returned(0), ())  # a datagram EPIPE raises no SIGPIPE
    closed = steps(scenario(SEQPACKET, Close(target="a"), fill, fds=()))[1]
    assert (closed.outcome, closed.signals) == (Returned(0), ())  # EBADF
    # a dead datagram peer: the first Fill's send drops it (ECONNREFUSED) and purges a's own queue
    dead = steps(
        scenario(
            DGRAM, send(b"to-a", on="b"), Close(target="b"), fill, fill, recv(8, on="a", flags=["MSG_DONTWAIT"]), fds=()
        )
    )
    assert [s.outcome for s in dead[2:]] == [Returned(0), Returned(0), Failed("EAGAIN")]


def test_a_receive_reads_what_a_fill_certainly_queued_and_no_further() -> None:
    """A Fill that stops at SO_SNDBUF certainly sent ceil((SO_SNDBUF - in flight) / truesize_ceiling(chunk))
    chunks: receives take the messages before it, then those; past them, and the sender's room after a
    receive, the oracle does not know.  Measured on 6.18.44, 6.12.118 and 6.1.176 (every pair kind)."""
    from harness.model import Fill, Ioctl, Poll

    def dontwait(size: int, *flags: str) -> Recv:
        return Recv(on="b", buffers=(size,), flags=frozenset({"MSG_DONTWAIT", *flags}))

    got = steps(scenario(DGRAM, send(b"pre"), Fill(on="a", chunk=1024), dontwait(8), dontwait(4, "MSG_PEEK"), fds=()))
    assert [g.data for g in got[2:]] == [b"pre", b"FFFF"]
    assert steps(scenario(DGRAM, send(b"pre"), Fill(on="a", chunk=1024), Ioctl(on="b", request="SIOCINQ"), fds=()))[
        2
    ].outcome == Returned(3)
    got = steps(scenario(STREAM, Fill(on="a", chunk=1024), dontwait(100), dontwait(5000), fds=()))
    assert [g.data for g in got[1:]] == [b"F" * 100, b"F" * 5000]
    unknown = [
        scenario(STREAM, Fill(on="a", chunk=1024), dontwait(1 << 20), fds=()),  # past what is certain
        scenario(DGRAM, Fill(on="a", chunk=1024), dontwait(8), Poll(on="a", events=frozenset({"POLLOUT"})), fds=()),
        scenario(STREAM, Fill(on="a", chunk=1024), Ioctl(on="b", request="SIOCINQ"), fds=()),
    ]
    for s in unknown:
        assert isinstance(expect(s, PLATFORM), Unmodelled), s


def test_a_raw_scm_rights_message_passes_the_numbers_its_bytes_hold() -> None:
    """scm_fp_copy() reads (cmsg_len - header) / 4 ints from the buffer: a number that is never open
    (negative, or 2^20 and up) is EBADF, also after one that may be open; cmsg_len decides how many are
    read.  Measured on 6.18.44, 6.12.118 and 6.1.176 (every socket type, before and after named fds)."""
    from harness.model import FdKind, FdSpec, Named, RawCmsg, ScmRights

    BEFORE_6_7 = dataclasses.replace(PLATFORM, changes=PLATFORM.changes - {"io_uring-scm-refused"})

    def rights(*numbers: int, length: int | None = None) -> RawCmsg:
        data = b"".join(n.to_bytes(4, "little", signed=True) for n in numbers)
        return RawCmsg(level="SOL_SOCKET", type="SCM_RIGHTS", data=data, length=length)

    def first(*cmsgs: RawCmsg | ScmRights, table: FdKind = FdKind.MEMFD, platform: Platform = PLATFORM) -> object:
        result = expect(scenario(STREAM, send(b"x", cmsgs=cmsgs), fds=(FdSpec(name="f", kind=table),)), platform)
        return result.steps[0].outcome if isinstance(result, Expectation) else result

    assert first(rights(-1)) == Failed("EBADF")
    assert first(rights(0, 1 << 20)) == Failed("EBADF")  # fd 0 may be open; 2^20 never is
    assert first(ScmRights((Named("f"),)), rights(2**31 - 1)) == Failed("EBADF")
    assert first(rights(-1, length=16)) == Returned(1)  # a cmsg_len of the header alone: no fds read
    assert isinstance(first(rights(0)), Unmodelled)  # open or not: the oracle cannot say
    # since 6.7 an io_uring is EINVAL: fd 0 could be the table's io_uring, refused before the -1 is reached
    assert "io_uring-scm-refused" in PLATFORM.changes
    assert isinstance(first(rights(0, -1), table=FdKind.IO_URING), Unmodelled)
    assert first(rights(0, -1), table=FdKind.IO_URING, platform=BEFORE_6_7) == Failed("EBADF")


def test_a_raw_scm_credentials_message_sends_the_ids_its_bytes_hold() -> None:
    """scm_check_creds() then find_get_pid() of the struct ucred in the buffer: no pid reaches PID_MAX_LIMIT
    (2^22 on 64-bit kernels) and none is negative, so root gets ESRCH; an unmapped uid is EINVAL and an
    unprivileged sender's forgery EPERM first.  Measured on 6.18.44, 6.12.118 and 6.1.176."""
    import struct

    from harness.model import Child, Identity, RawCmsg

    AS_ROOT = dataclasses.replace(PLATFORM, capabilities=frozenset({"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"}))

    def outcome(pid: int, uid: int = 0, gid: int = 0, identity: Identity | None = None) -> object:
        raw = RawCmsg(level="SOL_SOCKET", type="SCM_CREDENTIALS", data=struct.pack("<iII", pid, uid, gid))
        sent: Step = send(b"x", cmsgs=[raw])
        if identity is not None:
            sent = Child(steps=(sent,), identity=identity)
        result = expect(scenario(STREAM, sent, fds=()), AS_ROOT)
        if not isinstance(result, Expectation):
            return result
        first = result.steps[0]
        return first.nested[0].outcome if identity is not None else first.outcome

    assert outcome(1 << 22) == Failed("ESRCH")
    assert outcome(-1) == Failed("ESRCH")
    assert outcome(0) == Failed("ESRCH")
    assert outcome(1) == Returned(1)  # init is always there
    assert isinstance(outcome((1 << 22) - 1), Unmodelled)  # some process may have it
    assert outcome(1, uid=0xFFFFFFFF) == Failed("EINVAL")
    assert outcome(1 << 22, identity=Identity(user="unprivileged")) == Failed("EPERM")


def test_an_scm_pidfd_without_room_is_msg_ctrunc_and_no_pidfd() -> None:
    """scm_pidfd_recv() checks the room left itself: under CMSG_LEN(sizeof(int)) it sets MSG_CTRUNC and
    makes no pidfd; with no msg_control at all everything is dropped.  Measured on 6.18.44 and 6.12.118
    (every socket type; with SCM_RIGHTS and SCM_CREDENTIALS before it, control lengths 0 to 64)."""
    from harness.model import FdKind, FdSpec, Named, Pointer, ScmRights

    pidfds = dataclasses.replace(PLATFORM, features=PLATFORM.features | {"SO_PASSPIDFD", "pidfd"})

    def received(control: int, pointer: Pointer = "buffer") -> StepExpectation:
        s = scenario(
            DGRAM,
            SetSockOpt(on="b", option="SO_PASSPIDFD", value=1),
            send(b"x", cmsgs=[ScmRights((Named("f"),))]),
            Recv(on="b", buffers=(8,), control=control, control_pointer=pointer),
            fds=(FdSpec(name="f", kind=FdKind.MEMFD),),
        )
        return steps(s, pidfds)[2]

    whole = received(64)
    assert [c.type for c in whole.cmsgs] == ["SCM_RIGHTS", "SCM_PIDFD"] and "MSG_CTRUNC" not in (whole.msg_flags or ())
    for control in (20, 24, 39):  # room for the fd (CMSG_SPACE(4) = 24), not for the pidfd after it
        cut = received(control)
        assert [c.type for c in cut.cmsgs] == ["SCM_RIGHTS"], control
        assert "MSG_CTRUNC" in (cut.msg_flags or ()), control
    none = received(64, "null")
    assert (none.cmsgs, "MSG_CTRUNC" in (none.msg_flags or ())) == ((), True)


def test_a_splice_into_a_socket_shut_down_fails_as_a_send_does() -> None:
    """Measured on 6.18.44, 6.12.118 and 6.1.176: after SHUT_WR of the end or SHUT_RD of its peer, a
    stream splice is EPIPE with SIGPIPE, a datagram or seqpacket one EPIPE without."""
    from harness.model import Shutdown, SpliceIn

    for kind, signals in ((STREAM, ("SIGPIPE",)), (DGRAM, ()), (SEQPACKET, ())):
        for shut in (Shutdown(on="a", how="SHUT_WR"), Shutdown(on="b", how="SHUT_RD")):
            got = steps(scenario(kind, shut, SpliceIn(on="a", data=b"s" * 5000), fds=()))[1]
            assert (got.outcome, got.signals) == (Failed("EPIPE"), signals), (kind, shut)


def test_a_fill_wakes_a_watched_peer_as_its_sends_do() -> None:
    """sk_data_ready() for each skb a Fill queues: the peer's edge-triggered item reports once more, the
    sender's own does not.  Measured on 6.18.44, 6.12.118 and 6.1.176 (every pair kind, both ends)."""
    from harness.model import EpollWait, Fill

    for edge, woken in ((EpollWait(on="b", edge=True), True), (EpollWait(on="a", edge=True), False)):
        got = steps(scenario(DGRAM, send(b"q", on="b"), send(b"q"), edge, edge, Fill(on="a", chunk=1, limit=3), edge))
        assert [g.outcome for g in got[2:]] == [Returned(1), Returned(0), Returned(3), Returned(int(woken))], edge


def test_a_table_socket_receives_a_datagram_as_a_pair_end_does() -> None:
    """__unix_dgram_recvmsg() whatever the socket: MSG_OOB is EOPNOTSUPP, a faulting buffer drops the
    message, a null control pointer drops its fds with MSG_CTRUNC.  Measured on 6.18.44, 6.12.118 and
    6.1.176 (flags, faults and control pointers, with and without fds)."""
    from harness.model import Bind, FdKind, FdSpec, Named, ScmRights, Send

    table = (FdSpec(name="r", kind=FdKind.UNIX_DGRAM), FdSpec(name="s", kind=FdKind.UNIX_DGRAM))

    def received(first: Recv) -> tuple[StepExpectation, StepExpectation]:
        sent = Send(on="s", iov=(b"hello",), cmsgs=(ScmRights((Named("s"),)),), address="@r")
        then = Recv(on="r", buffers=(8,), flags=frozenset({"MSG_DONTWAIT"}))
        s = scenario(DGRAM, Bind(target="r", address="@r"), sent, first, then, fds=table)
        got = steps(s, dataclasses.replace(PLATFORM, limits={**PLATFORM.limits, "max_dgram_qlen": 512}))
        return got[2], got[3]

    oob, after = received(Recv(on="r", buffers=(8,), flags=frozenset({"MSG_OOB", "MSG_DONTWAIT"})))
    assert (oob.outcome, after.outcome) == (Failed("EOPNOTSUPP"), Returned(5))
    fault, after = received(Recv(on="r", buffers=(8,), fault="iov_base", flags=frozenset({"MSG_DONTWAIT"})))
    assert (fault.outcome, after.outcome) == (Failed("EFAULT"), Failed("EAGAIN"))
    null, _ = received(Recv(on="r", buffers=(8,), control=24, control_pointer="null"))
    assert (null.outcome, null.cmsgs, "MSG_CTRUNC" in (null.msg_flags or ())) == (Returned(5), (), True)


def test_a_negative_so_peek_off_reads_back_and_peeks_from_the_start() -> None:
    """unix_set_peek_off() stores any value; below -1 it still reads back as set and peeks from the start,
    and no receive moves it.  Measured on 6.18.44, 6.12.118 and 6.1.176 (every pair kind)."""
    for kind in (STREAM, DGRAM, SEQPACKET):
        got = steps(
            scenario(
                kind,
                send(b"abcdef"),
                SetSockOpt(on="b", option="SO_PEEK_OFF", value=-(2**31)),
                peek(4),
                Recv(on="b", buffers=(2,), flags=frozenset({"MSG_DONTWAIT"})),
                GetSockOpt(on="b", option="SO_PEEK_OFF"),
                fds=(),
            )
        )
        assert [g.outcome for g in got[1:]] == [Returned(0), Returned(4), Returned(2), Returned(-(2**31))], kind
        assert got[2].data == b"abcd"


def test_an_unconnected_table_socket_of_another_type_than_the_pair_fails_as_its_own_type() -> None:
    """A stream socket of the table refuses a receive with EINVAL and a sendto() with EOPNOTSUPP, a
    seqpacket one both with ENOTCONN, whatever the pair's type.  Measured on 6.18.44, 6.12.118 and
    6.1.176: 168 scenarios (fresh, bound and listening sockets in pairs of the other two types)."""
    for kind, table_kind, receive, named_send in (
        (SEQPACKET, FdKind.UNIX_STREAM, "EINVAL", "EOPNOTSUPP"),
        (DGRAM, FdKind.UNIX_STREAM, "EINVAL", "EOPNOTSUPP"),
        (STREAM, FdKind.UNIX_SEQPACKET, "ENOTCONN", "ENOTCONN"),
    ):
        got = steps(
            scenario(
                kind,
                Recv(on="t", buffers=(16,), flags=frozenset({"MSG_DONTWAIT"})),
                dataclasses.replace(send(b"hi", on="t"), address="@nobody"),
                send(b"", on="t", flags=("MSG_OOB",)),
                fds=(FdSpec(name="t", kind=table_kind),),
            )
        )
        oob = "EOPNOTSUPP" if table_kind is FdKind.UNIX_STREAM else "ENOTCONN"
        assert [g.outcome for g in got] == [Failed(receive), Failed(named_send), Failed(oob)], kind


def test_getpeername_of_a_pair_end_a_bind_step_named_gives_that_name() -> None:
    """Measured on 6.18.44, 6.12.118 and 6.1.176 (every pair kind, abstract and path names): the peer's
    name as its getsockname() gives it.  The oracle asserted here before (a harness error)."""
    for kind in (STREAM, DGRAM, SEQPACKET):
        got = steps(scenario(kind, Bind(target="b", address="@peer"), GetPeerName(on="a"), GetSockName(on="b"), fds=()))
        assert got[1].outcome == got[2].outcome and got[1].address == "abstract", kind


def test_connect_of_a_datagram_pair_end_fails_or_reconnects_to_its_own_peer() -> None:
    """unix_dgram_connect() of a pair end: a failed lookup or EPERM changes nothing, its own peer again is 0.
    Measured on 6.18.44, 6.12.118 and 6.1.176 (84 scenarios over the datagram pair kinds)."""
    named = Bind(target="b", address="@peer")
    table = (FdSpec(name="t", kind=FdKind.UNIX_DGRAM), FdSpec(name="u", kind=FdKind.UNIX_DGRAM))
    got = steps(scenario(DGRAM, named, Connect(target="a", address="@peer"), send(b"x"), fds=()))
    assert [g.outcome for g in got] == [Returned(0), Returned(0), Returned(1)]
    got = steps(scenario(DGRAM, Connect(target="a", address="@nobody"), fds=()))
    assert got[0].outcome == Failed("ECONNREFUSED")
    taken = (Bind(target="t", address="@t"), Bind(target="u", address="@u"), Connect(target="t", address="@u"))
    got = steps(scenario(DGRAM, *taken, Connect(target="a", address="@t"), fds=table))
    assert got[-1].outcome == Failed("EPERM")
    moved = expect(
        scenario(DGRAM, Bind(target="t", address="@t"), Connect(target="a", address="@t"), fds=table), PLATFORM
    )
    assert isinstance(moved, Unmodelled) and "new peer" in moved.reason


def test_scm_pidfd_of_a_message_sent_before_anyone_asked_for_credentials_is_no_pidfd() -> None:
    """No pid in the skb: scm_pidfd_recv() checks the room (MSG_CTRUNC under CMSG_LEN(4)), then puts
    nothing.  Measured on 6.18.44 and 6.12.118 (336 scenarios)."""
    from harness.catalogue.build import FILE, SPACE, passcred

    platform = dataclasses.replace(PLATFORM, features=frozenset({"SO_PASSPIDFD"}))
    for control, ctrunc in ((SPACE(12) + 16, True), (SPACE(12) + 32, False)):
        got = steps(
            scenario(
                DGRAM,
                send(b"early", fds=["f"]),
                SetSockOpt(on="b", option="SO_PASSPIDFD", value=1),
                passcred(),
                Recv(on="b", buffers=(16,), control=control + SPACE(4), flags=frozenset({"MSG_DONTWAIT"})),
                fds=(FILE,),
            ),
            platform,
        )[-1]
        assert got.outcome == Returned(5)
        assert [c.type for c in got.cmsgs] == ["SCM_CREDENTIALS", "SCM_RIGHTS"]  # no SCM_PIDFD
        assert got.msg_flags is not None and ("MSG_CTRUNC" in got.msg_flags) is ctrunc, control


def test_sigurg_for_an_owner_that_has_exited_goes_nowhere() -> None:
    """F_SETOWN in a child: the child gets SIGURG for what it sends itself; once it has exited, the
    owner is a pid with no task and nobody gets one.  Measured on 6.18.44, 6.12.118 and 6.1.176 (440
    scenarios: every pair kind; root, unprivileged, pid and user namespace children)."""
    from harness.model import Child, SetOwner
    from harness.oracle.oob import FEATURE

    platform = dataclasses.replace(PLATFORM, features=frozenset({FEATURE}))
    oob = send(b"xy", flags=("MSG_OOB",))
    children = (Child(steps=(SetOwner(on="b"), oob)), Child(steps=(SetOwner(on="b"),)))
    got = steps(scenario(STREAM, *children, oob, fds=()), platform)
    assert [(g.outcome, g.signals) for g in got[0].nested] == [(Returned(0), ()), (Returned(2), ("SIGURG",))]
    assert (got[2].outcome, got[2].signals) == (Returned(2), ())


def test_a_close_in_a_child_closes_only_the_childs_copy() -> None:
    """The child's later steps on that descriptor are EBADF; the parent's copy holds the file, so
    the other end still sends to it, and after the child the parent uses it as before.  Measured on
    6.18.44, 6.12.118 and 6.1.176 (175 scenarios: every pair kind, root and unprivileged children,
    pair ends, a file and a socket of the table)."""
    from harness.catalogue.build import FDS_SPACE, FILE
    from harness.model import Child, Close

    inside = (Close(target="b"), send(b"c", on="b"), send(b"to-b"), Close(target="b"))
    got = steps(scenario(DGRAM, Child(steps=inside), recv(16, flags=["MSG_DONTWAIT"]), send(b"p", fds=["f"])))
    assert [g.outcome for g in got[0].nested] == [Returned(0), Failed("EBADF"), Returned(4), Failed("EBADF")]
    assert (got[1].outcome, got[1].data, got[2].outcome) == (Returned(4), b"to-b", Returned(1))
    passing = Child(steps=(Close(target="f"), send(b"x", fds=["f"])))
    got = steps(scenario(STREAM, passing, send(b"y", fds=["f"]), recv(16, control=FDS_SPACE(1)), fds=(FILE,)))
    assert [g.outcome for g in got[0].nested] == [Returned(0), Failed("EBADF")]
    assert [c.type for c in got[2].cmsgs] == ["SCM_RIGHTS"]


def _listener_table(kind: FdKind) -> tuple[FdSpec, ...]:
    return (FdSpec(name="l", kind=kind), FdSpec(name="c", kind=kind), FdSpec(name="n", kind=FdKind.ACCEPTED))


def test_a_client_receives_from_an_accepted_socket_with_the_listeners_name() -> None:
    """unix_copy_addr(): the accepted socket shares its listener's address, so msg_name is that name's
    class; the oracle said none.  Measured on 6.18.44, 6.12.118 and 6.1.176 (abstract and path
    listeners, clients unbound, bound or autobound by SO_PASSCRED, stream and seqpacket)."""
    for kind, table_kind, listener_address, named in (
        (STREAM, FdKind.UNIX_STREAM, "@l", "abstract"),
        (SEQPACKET, FdKind.UNIX_SEQPACKET, "/l", "pathname"),
    ):
        got = steps(
            scenario(
                kind,
                Bind(target="l", address=listener_address),
                Listen(on="l"),
                Connect(target="c", address=listener_address),
                Accept(on="l", into="n"),
                send(b"back", on="n"),
                recv(16, on="c", flags=["MSG_DONTWAIT"]),
                fds=_listener_table(table_kind),
            )
        )
        assert (got[-1].outcome, got[-1].address) == (Returned(4), named), table_kind


def test_a_socket_a_child_accepted_is_closed_when_the_child_exits() -> None:
    """Only the child holds it: its exit releases it and the client sees the end of the stream.
    Measured on 6.18.44, 6.12.118 and 6.1.176 (stream and seqpacket; root and unprivileged children)."""
    from harness.model import Child, Close

    in_child = Child(steps=(Accept(on="l", into="n"), recv(16, on="n", flags=["MSG_DONTWAIT"]), send(b"back", on="n")))
    got = steps(
        scenario(
            STREAM,
            Bind(target="l", address="@l"),
            Listen(on="l"),
            Connect(target="c", address="@l"),
            send(b"hi", on="c"),
            in_child,
            recv(16, on="c", flags=["MSG_DONTWAIT"]),
            recv(16, on="c", flags=["MSG_DONTWAIT"]),
            Close(target="n"),
            fds=_listener_table(FdKind.UNIX_STREAM),
        )
    )
    assert [g.outcome for g in got[4].nested] == [Returned(0), Returned(2), Returned(4)]
    assert [g.outcome for g in got[5:]] == [Returned(4), Returned(0), Failed("EBADF")]


def test_a_name_a_datagram_send_autobound_can_be_connected_to() -> None:
    """unix_dgram_sendmsg() autobinds a sender that asks for credentials: getsockname() shows the
    autobound name, and a socket of the table's connect() to it finds it (EPERM: it has a peer; no
    name would be ECONNREFUSED).  One autobind for
    every path (state.End.autobind).  Measured on 6.18.44, 6.12.118 and 6.1.176 (36 generated
    scenarios, and 200 of the corpus entries with name steps on the UML kernels)."""
    table = (FdSpec(name="t", kind=FdKind.UNIX_DGRAM),)
    got = steps(
        scenario(
            DGRAM,
            SetSockOpt(on="a", option="SO_PASSCRED", value=1),
            send(b"x"),
            GetSockName(on="a"),
            Connect(target="t", name_of="a"),
            fds=table,
        )
    )
    assert (got[2].outcome, got[2].address) == (Returned(8), "autobind")
    assert got[3].outcome == Failed("EPERM")


def test_accept_at_a_lowered_rlimit_nofile_is_unmodelled() -> None:
    """get_unused_fd_flags() runs before the socket is looked at: EMFILE before EINVAL (a Hypothesis
    finding on 6.18.44, corpora/regressions/child-nofile-3-accept-emfile-first.json), and which slots
    a child has free is not tracked."""
    from harness.model import Child, Identity

    s = scenario(
        STREAM,
        Child(steps=(Accept(on="a", into="n"),), identity=Identity(nofile=3)),
        fds=(FdSpec(name="n", kind=FdKind.ACCEPTED),),
    )
    result = expect(s, PLATFORM)
    assert isinstance(result, Unmodelled) and "EMFILE first" in result.reason
