"""The Linux oracle as a pure function: rules checked against hand-worked values (no kernel)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.catalogue.build import FDS_SPACE, FILE, FILE2, SPACE, drain, passcred, recv, rights, scenario, send
from harness.expectation import Expectation, StepExpectation, Unmodelled
from harness.model import (
    Bind,
    Child,
    Close,
    ClosedFd,
    Connect,
    FdKind,
    FdSpec,
    Fill,
    GetSockName,
    GetSockOpt,
    Identity,
    Ioctl,
    Listen,
    Named,
    PairKind,
    Poll,
    RawCmsg,
    RawFd,
    Recv,
    RecvMany,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetSockOpt,
    Shutdown,
    SockType,
)
from harness.native.constants import linux
from harness.observation import Blocked, Failed, Returned
from harness.oracle import expect
from harness.oracle.state import (
    NO_CREDS,
    RECV_FLAGS_IGNORED,
    RECV_FLAGS_MODELLED,
    SEND_FLAGS_IGNORED,
    SEND_FLAGS_MODELLED,
    TRUESIZE_FLOOR,
    TRUESIZE_SLACK,
    End,
    Skb,
    wmem_bounds,
)
from harness.platform import Platform

PLATFORM = Platform(
    system="linux",
    release="6.18.44",
    arch="x86_64",
    sndbuf={"SOCK_STREAM": 212992, "SOCK_DGRAM": 212992, "SOCK_SEQPACKET": 212992},
    limits={"optmem_max": 131072},
)
STREAM, DGRAM, SEQPACKET = (PairKind(t) for t in SockType)
NONBLOCKING_STREAM = PairKind(SockType.STREAM, nonblocking=True)


def steps(s: Scenario, platform: Platform = PLATFORM) -> tuple[StepExpectation, ...]:
    result = expect(s, platform)
    assert isinstance(result, Expectation), result
    return result.steps


def test_stream_fd_barrier_stops_a_read_after_the_fd_skb() -> None:
    s = scenario(
        STREAM, send(b"ab", fds=["f"]), send(b"cd", fds=["g"]), recv(64, control=FDS_SPACE(2)), fds=(FILE, FILE2)
    )
    got = steps(s)[2]
    assert got.outcome == Returned(2)
    assert [f.name for f in got.cmsgs[0].fds] == ["f"]


def test_plain_data_before_the_fd_skb_is_read_together_with_it() -> None:
    got = steps(scenario(STREAM, send(b"abc"), send(b"de", fds=["f"]), recv(64, control=FDS_SPACE(1))))[2]
    assert (got.outcome, got.data, len(got.cmsgs)) == (Returned(5), b"abcde", 1)


def test_a_stream_peek_walks_past_a_full_buffer_to_the_next_fds() -> None:
    got = steps(
        scenario(STREAM, send(b"ab"), send(b"cd", fds=["f"]), recv(2, control=FDS_SPACE(1), flags=["MSG_PEEK"]))
    )[2]
    assert got.data == b"ab"
    assert [f.name for f in got.cmsgs[0].fds] == ["f"]


def test_datagram_trunc_flag_returns_the_real_length() -> None:
    got = steps(scenario(DGRAM, send(b"0123456789"), recv(4, flags=["MSG_TRUNC"]), fds=()))[1]
    assert (got.outcome, got.data, got.msg_flags) == (Returned(10), b"0123", frozenset({"MSG_TRUNC"}))
    assert got.buffers == (b"0123",)


def test_control_truncation_keeps_whole_fds_only() -> None:
    s = scenario(SEQPACKET, send(fds=["f", "f", "f"]), recv(control=SPACE(8)))
    got = steps(s)[1]
    assert got.cmsgs[0].length == 16 + 8
    assert got.controllen == SPACE(8)
    assert "MSG_CTRUNC" in (got.msg_flags or ())


@pytest.mark.parametrize(
    ("control", "length", "ctrunc"), [(16, 16, True), (20, 20, True), (28, 28, False), (32, 28, False)]
)
def test_credentials_are_cut_at_the_control_room(control: int, length: int, ctrunc: bool) -> None:
    got = steps(scenario(DGRAM, passcred(), send(b"x"), recv(control=control), fds=()))[2]
    assert got.cmsgs[0].length == length
    assert ("MSG_CTRUNC" in (got.msg_flags or ())) == ctrunc


def test_the_first_bad_control_message_decides_the_errno() -> None:
    bad_len = RawCmsg(level="SOL_SOCKET", type="SCM_RIGHTS", data=bytes(4), length=1)
    assert steps(scenario(DGRAM, send(cmsgs=[rights(RawFd(-1)), bad_len])))[0].outcome == Failed("EBADF")
    assert steps(scenario(DGRAM, send(cmsgs=[bad_len, rights(RawFd(-1))])))[0].outcome == Failed("EINVAL")


def test_more_than_scm_max_fd_is_einval_before_any_fd_is_looked_at() -> None:
    got = steps(scenario(DGRAM, send(cmsgs=[rights(*[ClosedFd()] * 254)])))[0]
    assert got.outcome == Failed("EINVAL")


def test_a_length_override_that_desynchronises_the_walk_reads_the_header_from_the_bytes() -> None:
    # cmsg_len 20 puts the kernel's next header at 24, inside this message's padding (the SCM_RIGHTS
    # header the sender meant is at 32): the cmsg_len it reads there is zero, so EINVAL
    odd = RawCmsg(level="SOL_IP", type=1, data=bytes(12), length=20)
    assert steps(scenario(DGRAM, send(cmsgs=[odd, rights("f")])))[0].outcome == Failed("EINVAL")
    # a space that cuts a raw cmsg's own header: the next one's cmsg_len (CMSG_LEN(0) = 16) is read as
    # the level, which is not SOL_SOCKET, so the walk goes on at 16, into the zeros past the end: EINVAL
    cut = RawCmsg(level="SOL_SOCKET", type="SCM_RIGHTS", space=8)
    assert steps(scenario(DGRAM, send(cmsgs=[cut, RawCmsg(level="SOL_IP", type=1)], controllen=48)))[0].outcome == (
        Failed("EINVAL")
    )
    # a header read from inside the fd numbers of an SCM_RIGHTS message: those are only known at run time
    inside = ScmRights(fds=(Named("f"),) * 4, length=20)
    result = expect(scenario(DGRAM, send(cmsgs=[inside], controllen=64)), PLATFORM)
    assert isinstance(result, Unmodelled) and "fd numbers" in result.reason


def test_a_zero_length_stream_send_drops_its_fds() -> None:
    got = steps(scenario(NONBLOCKING_STREAM, send(b"", fds=["f"]), recv(control=FDS_SPACE(1))))
    assert got[0].outcome == Returned(0)
    assert got[1].outcome == Failed("EAGAIN")


def test_creds_of_a_message_queued_before_so_passcred_are_the_overflow_ids() -> None:
    got = steps(scenario(DGRAM, send(b"x"), passcred(), recv(control=SPACE(12)), fds=()))[2]
    assert got.cmsgs[0].creds == (0, 65534, 65534)
    got = steps(scenario(DGRAM, passcred(), send(b"x"), recv(control=SPACE(12)), fds=()))[2]
    assert got.cmsgs[0].creds == ("pid", "uid", "gid")


def test_a_failed_stream_recv_with_so_passcred_still_writes_zero_creds() -> None:
    got = steps(scenario(NONBLOCKING_STREAM, passcred(), recv(control=64), fds=()))[1]
    assert got.outcome == Failed("EAGAIN")
    assert got.control_stray == 28
    assert got.controllen == 64


def test_blocking_receive_on_an_empty_queue_blocks() -> None:
    assert steps(scenario(STREAM, recv(4), fds=()))[0].outcome == Blocked()
    assert steps(scenario(STREAM, recv(4, flags=["MSG_DONTWAIT"]), fds=()))[0].outcome == Failed("EAGAIN")


def test_emsgsize_follows_the_platform_send_buffer() -> None:
    small = dataclasses.replace(PLATFORM, sndbuf={**PLATFORM.sndbuf, "SOCK_DGRAM": 1000})
    assert steps(scenario(DGRAM, send(b"x" * 968), fds=()), small)[0].outcome == Returned(968)
    assert steps(scenario(DGRAM, send(b"x" * 969), fds=()), small)[0].outcome == Failed("EMSGSIZE")


def test_the_abi_comes_from_the_platform() -> None:
    ilp32 = dataclasses.replace(PLATFORM, arch="i686", word=4)
    got = steps(scenario(DGRAM, send(fds=["f"]), recv(control=64)), ilp32)[1]
    assert (got.cmsgs[0].length, got.controllen) == (16, 16)


def test_unknown_systems_are_unmodelled_not_guessed() -> None:
    other = dataclasses.replace(PLATFORM, system="freebsd")
    assert isinstance(expect(scenario(DGRAM, drain(), fds=()), other), Unmodelled)


def test_every_msg_flag_name_is_modelled_on_send_and_on_receive() -> None:
    """A flag name added to the table must be given a meaning (or be listed as ignored) by the oracle."""
    names = set(linux("x86_64").msg)
    assert names <= SEND_FLAGS_MODELLED and names <= RECV_FLAGS_MODELLED


def _without_flags(got: tuple[StepExpectation, ...]) -> tuple[StepExpectation, ...]:
    return tuple(dataclasses.replace(step, why="") for step in got)


@pytest.mark.parametrize("kind", [STREAM, DGRAM, SEQPACKET], ids=str)
@pytest.mark.parametrize("flag", sorted(SEND_FLAGS_IGNORED))
def test_a_flag_af_unix_never_reads_changes_no_send(kind: PairKind, flag: str) -> None:
    """The whole expectation of a send with the flag is that of the same send without it: data, fds,
    credentials, and the EPIPE (with SIGPIPE on a stream) into a closed peer."""
    control = SPACE(12) + FDS_SPACE(1)

    def run(flags: list[str]) -> tuple[StepExpectation, ...]:
        return _without_flags(
            steps(
                scenario(
                    kind,
                    passcred(),
                    send(b"abc", fds=["f"], creds=True, flags=flags),
                    recv(64, control=control, flags=["MSG_DONTWAIT"]),
                    Close(target="b"),
                    send(b"x", flags=[*flags, "MSG_DONTWAIT"]),
                )
            )
        )

    assert run([flag]) == run([])


@pytest.mark.parametrize("kind", [STREAM, DGRAM, SEQPACKET], ids=str)
@pytest.mark.parametrize("flag", sorted(RECV_FLAGS_IGNORED))
def test_a_flag_af_unix_never_reads_changes_no_receive(kind: PairKind, flag: str) -> None:
    """Truncating, draining, EAGAIN, and ECONNRESET after the peer closed with unread data."""

    def run(flags: list[str]) -> tuple[StepExpectation, ...]:
        nowait = [*flags, "MSG_DONTWAIT"]
        return _without_flags(
            steps(
                scenario(
                    kind,
                    send(b"abcdef", fds=["f"]),
                    recv(2, control=FDS_SPACE(1), flags=nowait),
                    recv(64, flags=nowait),
                    send(b"xy", on="b"),
                    Close(target="b"),
                    recv(64, on="a", flags=nowait),
                    recv(64, on="a", flags=nowait),
                )
            )
        )

    assert run([flag]) == run([])


@pytest.mark.parametrize("kind", [STREAM, DGRAM, SEQPACKET], ids=str)
def test_a_poll_of_a_closed_end_is_pollnval_and_ready(kind: PairKind) -> None:
    got = steps(
        scenario(kind, Close(target="a"), Poll(on="a", events=frozenset()), Poll(on="a", timeout_ms=50), fds=())
    )
    for poll in got[1:]:
        assert (poll.outcome, poll.events) == (Returned(1), frozenset({"POLLNVAL"}))


def test_failed_receive_leaves_buffers_flags_and_controllen_alone() -> None:
    got = steps(scenario(DGRAM, Recv(on="b", buffers=(3,), control=9, flags=frozenset({"MSG_DONTWAIT"})), fds=()))[0]
    assert (got.buffers, got.controllen, got.msg_flags) == ((b"\xa5\xa5\xa5",), 9, frozenset({"0x800000"}))


def test_an_empty_rights_message_is_no_message() -> None:
    got = steps(scenario(DGRAM, send(cmsgs=[ScmRights(())]), recv(control=64), fds=()))[1]
    assert got.cmsgs == () and got.msg_flags == frozenset()


def test_a_big_stream_send_read_but_for_its_tail_may_be_writable_again() -> None:
    """The kernel splits a big stream send at points the oracle does not know; the skbs read to their
    end are freed.  Measured on 6.18.44 (an atheris finding, corpora/regressions/
    stream-big-send-read-in-part-pollout-unmodelled.json): 65496 bytes are two skbs, and after a read of 61551
    POLLOUT is back.  Counting the whole send as still in flight wrongly said "not writable"."""
    big = b"x" * 65496
    unread = scenario(STREAM, send(big), Poll(on="a"), fds=())
    assert steps(unread)[1].events == frozenset()  # ~66 KB in flight: over a quarter of SO_SNDBUF
    read_in_part = scenario(STREAM, send(big), recv(61551), Poll(on="a"), fds=())
    assert isinstance(expect(read_in_part, PLATFORM), Unmodelled)  # under a quarter, or over: split points decide
    drained = scenario(STREAM, send(big), recv(61551), recv(4096), Poll(on="a"), fds=())
    assert steps(drained)[3].events == frozenset({"POLLOUT"})


def test_recvmmsg_reports_a_pending_socket_error_before_queued_data() -> None:
    """do_recvmmsg() asks sock_error() before its first message (measured on 6.18.44, an atheris finding:
    corpora/regressions/recvmmsg-reports-the-pending-error-first.json); recvmsg returns the data."""
    reset = (send(b"x"), send(b"y", on="b"), Close(target="a"))
    peek = frozenset({"MSG_DONTWAIT", "MSG_PEEK"})
    got = steps(scenario(STREAM, *reset, RecvMany(on="b", count=4, flags=peek), RecvMany(on="b", count=1), fds=()))
    assert got[3].outcome == Failed("ECONNRESET")
    assert (got[4].outcome, got[4].data) == (Returned(1), b"x")  # the error was consumed
    assert steps(scenario(STREAM, *reset, recv(16, flags=["MSG_PEEK"]), fds=()))[3].outcome == Returned(1)


@pytest.mark.parametrize(
    ("timeout", "outcome"),
    [((-1, 0), Failed("EAGAIN")), ((0, 50_000), Returned(0)), (None, Returned(0))],
)
def test_a_zero_receive_timeout_never_waits_so_a_shut_datagram_socket_says_eagain(
    timeout: tuple[int, int] | None, outcome: Failed | Returned
) -> None:
    """A negative tv_sec makes SO_RCVTIMEO 0: __unix_dgram_recvmsg() does not wait, so it never meets the
    RCV_SHUTDOWN that __skb_wait_for_more_packets() turns into end of file (measured on 6.18.44; a
    Hypothesis finding, corpora/regressions/dgram-shut-zero-rcvtimeo-eagain.json).  A short timeout
    waits, and the wait reports the end of file at once."""
    bounded = () if timeout is None else (SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=timeout),)
    got = steps(scenario(DGRAM, Shutdown(on="b", how="SHUT_RDWR"), *bounded, recv(8), fds=()))
    assert got[-1].outcome == outcome


def test_explicit_credentials_equal_to_the_senders_own_merge_with_implicit_ones() -> None:
    """unix_skb_scm_eq() compares values: SCM_CREDENTIALS naming the sender's own gid as a number (0, as
    root) equal the implicit credentials of the next send, so one stream read takes both (measured on
    6.18.44; a Hypothesis finding, corpora/regressions/stream-explicit-own-creds-merge.json)."""
    explicit = Send(on="b", iov=(b"x",), cmsgs=(ScmCredentials(pid="self", uid="self", gid=0),))
    s = scenario(STREAM, SetSockOpt(on="a", option="SO_PASSCRED", value=1), explicit, send(b"y", on="b"), fds=())
    s = dataclasses.replace(s, steps=(*s.steps, Recv(on="a", buffers=(2,))))
    assert steps(s, dataclasses.replace(PLATFORM, egid=0))[3].data == b"xy"
    root = frozenset({"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"})  # may send any gid
    other = steps(s, dataclasses.replace(PLATFORM, egid=1000, capabilities=root))
    assert (other[1].outcome, other[3].data) == (Returned(1), b"x")  # another gid than its own: a boundary


def test_a_peer_whose_last_reference_recvmmsg_drops_is_released_after_the_call() -> None:
    """fput() of a dropped fd is task work run as the system call returns (measured on 6.18.44; a Hypothesis
    finding, corpora/regressions/recvmmsg-drops-its-peer-after-the-call.json)."""
    seqpacket = PairKind(SockType.SEQPACKET)
    itself = send(b"", fds=[Named("a")])
    nowait = frozenset({"MSG_DONTWAIT"})
    many = RecvMany(on="b", count=3, size=0, flags=nowait)
    got = steps(scenario(seqpacket, itself, Close(target="a"), many, recv(8, flags=["MSG_DONTWAIT"]), fds=()))
    assert got[2].outcome == Returned(1)  # the second message finds the peer still there: EAGAIN ends the call
    assert got[3].outcome == Returned(0)  # released when recvmmsg returned: end of file


@pytest.mark.parametrize("zero_length_fix", [True, False])
def test_a_zero_length_stream_peek_past_an_skb_keeps_the_name_it_copied(zero_length_fix: bool) -> None:
    """unix_stream_read_generic() copies msg_name at the first skb it reaches, even copying 0 bytes; a
    read that then finds nothing returns the end of file with it (measured on 6.18.44, without the 2026
    zero-length fix; an atheris finding, corpora/regressions/stream-zero-peek-past-skb-keeps-the-name.json)."""
    changes = PLATFORM.changes if zero_length_fix else PLATFORM.changes - {"oob-zero-length-2026"}
    kind = PairKind.from_name("stream/autobind/accepted")
    oob = send(b"xx", on="b", flags=["MSG_OOB"])
    s = scenario(kind, oob, Shutdown(on="b", how="SHUT_WR"), recv(on="a", buffers=(), flags=["MSG_PEEK"]), fds=())
    got = steps(s, dataclasses.replace(PLATFORM, changes=changes, features=frozenset({"MSG_OOB"})))[2]
    assert (got.outcome, got.address) == (Returned(0), "b")


def test_a_fill_of_datagrams_too_long_still_autobinds_a_sender_asking_for_credentials() -> None:
    """unix_dgram_sendmsg() autobinds before its length check (measured on 6.18.44; a Hypothesis finding,
    corpora/regressions/dgram-fill-too-long-autobinds.json): a later bind() is EINVAL."""
    passcred = SetSockOpt(on="b", option="SO_PASSCRED", value=1)
    too_long = Fill(on="b", chunk=1 << 20, limit=1)
    got = steps(scenario(DGRAM, passcred, too_long, GetSockName(on="b"), Bind(target="b", address="@l1"), fds=()))
    assert got[1].outcome == Returned(0)  # nothing sent: every datagram is EMSGSIZE
    assert (got[2].address, got[3].outcome) == ("autobind", Failed("EINVAL"))


def _counted_afresh(queue: list[Skb]) -> tuple[int, int]:
    """wmem_bounds() without its memo: every skb counted."""
    data = sum(len(skb.data) for skb in queue)
    freed = sum(skb.consumed for skb in queue if skb.big)
    return data - freed + TRUESIZE_FLOOR * len(queue), 2 * data + TRUESIZE_SLACK * len(queue)


QUEUE_CHANGES = ["append", "pop", "clear", "read", "splice", "copy", "ask"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(QUEUE_CHANGES), st.integers(0, 50))))
def test_the_in_flight_tally_follows_every_change_of_a_queue(history: list[tuple[str, int]]) -> None:
    """wmem_bounds() counts only the skbs appended since it last looked (a send loop of 1024 messages asks
    once per message); whatever the queue went through, it answers as a count of the whole queue."""
    end = End("b")
    for action, number in history:
        if action == "append":
            end.queue.append(Skb(b"x" * number, None, NO_CREDS, big=number % 3 == 0))
        elif action == "pop" and end.queue:
            end.queue.pop(number % len(end.queue))
        elif action == "clear":
            end.purge()
        elif action == "read" and end.queue:
            skb = end.queue[number % len(end.queue)]
            skb.consumed = min(len(skb.data), skb.consumed + number)
        elif action == "splice" and end.queue:  # before 6.5 a splice joins the last skb (a new Skb in its place)
            end.queue[-1] = dataclasses.replace(end.queue[-1], data=end.queue[-1].data + b"s" * number)
        elif action == "copy":  # a trial model is a deep copy, memo and all
            end = copy.deepcopy(end)
        elif action == "ask":  # only now and then: the queue changes in several ways between questions
            assert wmem_bounds(end) == _counted_afresh(end.queue)
    assert wmem_bounds(end) == _counted_afresh(end.queue)


def test_a_pair_end_that_dropped_its_dead_peer_takes_a_connect() -> None:
    """unix_may_send(): connect() to a datagram pair end with a peer is EPERM, closed peer or not, until a send
    of that end finds the peer dead and sets unix_peer to NULL (measured on 6.18.44; a Hypothesis finding,
    corpora/regressions/dgram-connect-to-an-end-that-dropped-its-peer.json)."""
    client = FdSpec(name="unix_dgram0", kind=FdKind.UNIX_DGRAM, tracked=False)
    connect = Connect(target="unix_dgram0", name_of="b")
    bind = Bind(target="b", address="/l1")
    before = scenario(DGRAM, bind, Close(target="a"), connect, fds=(client,))
    assert steps(before)[2].outcome == Failed("EPERM")
    after = scenario(DGRAM, bind, Close(target="a"), send(b"", on="b"), connect, fds=(client,))
    assert [step.outcome for step in steps(after)[2:]] == [Failed("ECONNREFUSED"), Returned(0)]


def test_a_name_this_architecture_lacks_is_unmodelled_not_a_crash() -> None:
    """A scenario file may name an option no table has ("SO_RCVTIMEO" for SO_RCVTIMEO_OLD): the oracle says
    so instead of raising (a replay reported only that its process exited early)."""
    got = expect(scenario(STREAM, SetSockOpt(on="a", option="SO_RCVTIMEO", value=5), fds=()), PLATFORM)
    assert isinstance(got, Unmodelled) and "unknown socket option 'SO_RCVTIMEO'" in got.reason


def test_so_rcvlowat_reads_back_as_sk_setsockopt_stores_it() -> None:
    """0 is 1, a negative value INT_MAX (AF_UNIX has no ->set_rcvlowat); the other end keeps 1."""

    def lowat(value: int) -> SetSockOpt:
        return SetSockOpt(on="b", option="SO_RCVLOWAT", value=value)

    read = GetSockOpt(on="b", option="SO_RCVLOWAT")
    s = scenario(DGRAM, read, lowat(0), read, lowat(-5), read, lowat(7), read, GetSockOpt(on="a", option="SO_RCVLOWAT"))
    got = [step.outcome for step in steps(s) if step.op == "getsockopt"]
    assert got == [Returned(1), Returned(1), Returned(0x7FFFFFFF), Returned(7), Returned(1)]


def test_so_keepalive_and_so_priority_read_back_and_priority_past_6_needs_a_capability() -> None:
    """Both only read back on AF_UNIX; SO_PRIORITY outside 0..6 needs CAP_NET_RAW or CAP_NET_ADMIN in the
    initial user namespace: EPERM for a dropped uid, for a new user namespace's root, and without it."""
    keep = [SetSockOpt(on="a", option="SO_KEEPALIVE", value=v) for v in (5, 0)]
    read = GetSockOpt(on="a", option="SO_KEEPALIVE")
    got = steps(scenario(DGRAM, read, keep[0], read, GetSockOpt(on="b", option="SO_KEEPALIVE"), keep[1], read))
    assert [g.outcome for g in got if g.op == "getsockopt"] == [Returned(0), Returned(1), Returned(0), Returned(0)]

    priority = [SetSockOpt(on="a", option="SO_PRIORITY", value=v) for v in (6, -1)]
    prio = GetSockOpt(on="a", option="SO_PRIORITY")
    root = dataclasses.replace(PLATFORM, capabilities=frozenset({"CAP_NET_ADMIN"}))
    got = steps(scenario(STREAM, priority[0], prio, priority[1], prio), root)
    assert [g.outcome for g in got] == [Returned(0), Returned(6), Returned(0), Returned(-1)]
    assert steps(scenario(STREAM, priority[1], prio), PLATFORM)[0].outcome == Failed("EPERM")  # no capability
    for identity in (Identity(user="unprivileged"), Identity(userns=True)):
        child = steps(scenario(STREAM, Child(steps=(priority[0], priority[1]), identity=identity), prio), root)
        assert [g.outcome for g in child[0].nested] == [Returned(0), Failed("EPERM")]
        assert child[1].outcome == Returned(6)


def test_so_rcvlowat_is_a_stream_reads_target_and_nothing_to_a_datagram() -> None:
    """A non-blocking stream read returns what it copied short of the mark; a read of fewer bytes than
    the mark has its own size as target; with the peer gone it returns the rest; a blocking read short
    of the mark waits (unmodelled without a party); datagram and seqpacket reads never look."""
    lowat = SetSockOpt(on="b", option="SO_RCVLOWAT", value=4)
    got = steps(scenario(STREAM, lowat, send(b"ab"), recv(8, flags=["MSG_DONTWAIT"]), send(b"cde"), recv(2), fds=()))
    assert [(g.outcome, g.data) for g in got[2::2]] == [(Returned(2), b"ab"), (Returned(2), b"cd")]
    eof = steps(scenario(STREAM, lowat, send(b"ab"), Close(target="a"), recv(8), fds=()))
    assert eof[3].outcome == Returned(2)
    waits = expect(scenario(STREAM, lowat, send(b"ab"), recv(8), fds=()), PLATFORM)
    assert isinstance(waits, Unmodelled) and "SO_RCVLOWAT" in waits.reason
    for kind in (DGRAM, SEQPACKET):
        assert steps(scenario(kind, lowat, send(b"ab"), recv(8), fds=()))[2].outcome == Returned(2)


@pytest.mark.parametrize(("kind", "errno"), [(STREAM, "EINVAL"), (SEQPACKET, "ENOTCONN")], ids=str)
@pytest.mark.parametrize("listening", [False, True], ids=["fresh", "listening"])
def test_a_receive_on_a_socket_that_is_not_connected(kind: PairKind, errno: str, listening: bool) -> None:
    """unix_stream_read_generic(): EINVAL before MSG_OOB is looked at; unix_seqpacket_recvmsg():
    ENOTCONN; the msghdr and iovecs are imported first; nothing is copied back."""
    table = FdSpec(name="s", kind=FdKind.UNIX_STREAM if kind is STREAM else FdKind.UNIX_SEQPACKET)
    listen = (Bind(target="s", address="@s"), Listen(on="s")) if listening else ()
    many = Recv(on="s", buffers=(1,) * 1025)
    got = steps(scenario(kind, *listen, recv(4, on="s"), recv(4, on="s", flags=["MSG_OOB"]), many, fds=(table,)))
    assert [g.outcome for g in got[len(listen) :]] == [Failed(errno), Failed(errno), Failed("EMSGSIZE")]
    assert got[len(listen)].buffers == (b"\xa5" * 4,)


def test_a_table_socket_peeks_and_truncates_like_a_pair_end() -> None:
    """Between sockets of the table: a peek leaves the message (fds installed again), MSG_TRUNC gives
    its whole length, and a flag AF_UNIX never reads changes nothing."""
    socks = (FdSpec(name="r", kind=FdKind.UNIX_DGRAM), FdSpec(name="t", kind=FdKind.UNIX_DGRAM), FILE)
    sent = Send(on="t", iov=(b"hello",), address="@r", flags=frozenset({"MSG_ZEROCOPY"}), cmsgs=(rights("f"),))
    nowait = ["MSG_DONTWAIT"]
    reads = (
        recv(2, on="r", control=FDS_SPACE(1), flags=[*nowait, "MSG_PEEK", "MSG_TRUNC"]),
        recv(8, on="r", control=FDS_SPACE(1), flags=[*nowait, "MSG_ERRQUEUE"]),
        recv(8, on="r", flags=nowait),
    )
    platform = dataclasses.replace(PLATFORM, limits={**PLATFORM.limits, "max_dgram_qlen": 512})
    got = steps(scenario(DGRAM, Bind(target="r", address="@r"), sent, *reads, fds=socks), platform)
    assert (got[2].outcome, got[2].data, got[2].msg_flags) == (Returned(5), b"he", frozenset({"MSG_TRUNC"}))
    assert [c.type for c in got[2].cmsgs] == [c.type for c in got[3].cmsgs] == ["SCM_RIGHTS"]
    assert (got[3].outcome, got[3].data, got[4].outcome) == (Returned(5), b"hello", Failed("EAGAIN"))


def test_reopening_a_closed_end_through_proc_is_enoent() -> None:
    got = steps(scenario(STREAM, Reopen(on="a"), Close(target="a"), Reopen(on="a", mode="O_RDONLY"), fds=()))
    assert [g.outcome for g in got] == [Failed("ENXIO"), Returned(0), Failed("ENOENT")]


def test_a_socket_timeout_given_as_an_int_is_einval() -> None:
    """sock_copy_user_timeval(): 4 bytes are shorter than a struct timeval; the timeout stays the harness's."""
    short = SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=1)
    got = steps(scenario(STREAM, short, recv(4), fds=()))
    assert (got[0].outcome, got[1].outcome) == (Failed("EINVAL"), Blocked())


def test_siocoutq_lets_the_read_skbs_of_a_split_stream_send_go() -> None:
    """Hypothesis finding (seed 101): a stream send the kernel split (36544 + 1 bytes on 6.18.44) read
    up to its last byte may hold only that byte's skb in flight: the floor is that byte plus the least
    truesize of one skb, not the whole send."""
    got = steps(scenario(STREAM, send(b"x" * 36545), recv(36544), Ioctl(on="a", request="SIOCOUTQ"), fds=()))[2]
    assert got.value_range is not None and got.value_range[0] <= 768 <= got.value_range[1]
    assert got.value_range[0] == 1 + TRUESIZE_FLOOR


@pytest.mark.parametrize(("umask", "allowed"), [(0o022, False), (0o000, True), (None, None)])
def test_a_path_lookup_by_another_user_needs_write_permission_on_the_socket_file(
    umask: int | None, allowed: bool | None
) -> None:
    """atheris finding (seed 97): unix_find_bsd() asks for MAY_WRITE on the socket file, made 0777 & ~umask;
    the unprivileged uid is "other"; root inside a new user namespace is its owner; without the umask
    the oracle does not guess."""
    limits = dict(PLATFORM.limits) | ({} if umask is None else {"umask": umask})
    platform = dataclasses.replace(PLATFORM, limits=limits, capabilities=frozenset({"CAP_SYS_ADMIN"}))
    socks = (FdSpec(name="l", kind=FdKind.UNIX_DGRAM), FdSpec(name="c", kind=FdKind.UNIX_DGRAM))
    lookups = (
        Child(steps=(Connect(target="c", address="/l"),), identity=Identity(user="unprivileged")),
        Child(steps=(Connect(target="c", address="/l"),), identity=Identity(userns=True)),
    )
    got = expect(scenario(DGRAM, Child(steps=(Bind(target="l", address="/l"),)), *lookups, fds=socks), platform)
    if allowed is None:
        assert isinstance(got, Unmodelled) and "umask" in got.reason
        return
    assert isinstance(got, Expectation)
    unprivileged, owner = (step.nested[0].outcome for step in got.steps[1:])
    assert unprivileged == (Returned(0) if allowed else Failed("EACCES"))
    assert owner == Returned(0)


def test_a_nonblocking_pair_end_connecting_to_a_full_listener_gets_eagain() -> None:
    """A socketpair() end's O_NONBLOCK is the pair kind's, not its End's (which only a socket of the table
    sets): unix_stream_connect() with timeo 0 is EAGAIN where a blocking socket waits for room."""
    socks = (FdSpec(name="l", kind=FdKind.UNIX_STREAM), FdSpec(name="c", kind=FdKind.UNIX_STREAM))
    listen = (Bind(target="l", address="@l"), Listen(on="l", backlog=0), Connect(target="c", address="@l"))
    nonblocking = steps(scenario(NONBLOCKING_STREAM, *listen, Connect(target="a", address="@l"), fds=socks))
    blocking = steps(scenario(STREAM, *listen, Connect(target="a", address="@l"), fds=socks))
    assert (nonblocking[3].outcome, blocking[3].outcome) == (Failed("EAGAIN"), Blocked())
