"""fd identity where kcmp is missing or refused (issue 9, item 6).

This machine has kcmp; a seccomp filter installed in a forked child makes ``kcmp`` fail there
with ENOSYS (what a kernel without CONFIG_KCMP, user-mode Linux or gVisor answer) or EPERM
(a sandbox's filter), so the real fallback of harness.execute.inspect runs: the offset and
status-flag probes.  The child answers with plain values; every assertion is made here.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from harness.check.registry import check
from harness.describe import observation_words
from harness.execute.fdtable import FdTable, FdUnavailable
from harness.execute.inspect import Identifier
from harness.execute.lifetime import call_in_child
from harness.execute.run import execute
from harness.expectation import Expectation
from harness.fuzz.invariants import invariants
from harness.host import probe
from harness.model import FdKind, FdSpec, Named, PairKind, Recv, Scenario, ScmRights, Send, SockType
from harness.native import constants
from harness.observation import (
    IDENTITY_DUPFD_QUERY,
    IDENTITY_FLAGS,
    IDENTITY_KCMP,
    IDENTITY_OFFSET_AND_FLAGS,
    NO_DESCRIPTOR,
    NO_METHOD_FOR_O_PATH,
    UNDECIDED,
    ReceivedFd,
)
from harness.oracle import expect
from harness.platform import KCMP_AVAILABLE, Platform

T = TypeVar("T")

# -- kcmp made unavailable: a seccomp filter in a forked child ------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "riscv64": 0xC00000F3}  # include/uapi/linux/audit.h
_FCNTL = {"x86_64": 72, "aarch64": 25, "riscv64": 25}  # __NR_fcntl
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_SECCOMP_RET_ERRNO, _SECCOMP_RET_ALLOW = 0x00050000, 0x7FFF0000
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x15, 0x06
_SECCOMP_DATA_NR, _SECCOMP_DATA_ARCH, _SECCOMP_DATA_ARG1 = 0, 4, 24  # struct seccomp_data (arg1: its low half)
_F_DUPFD_QUERY = 1027


class _SockFilter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


@dataclass(frozen=True)
class Kcmp:
    """What this process is made to look like: ``fails_with`` None leaves kcmp alone."""

    fails_with: int | None
    dupfd_query: bool = True  # False: fcntl(F_DUPFD_QUERY) gives EBADF, as on an O_PATH fd before 6.10

    def method(self, kind: FdKind) -> str:
        """The method that decides a received fd of ``kind`` here."""
        if self.fails_with is None:
            return IDENTITY_KCMP
        if kind is FdKind.OPATH_DIR:
            return IDENTITY_DUPFD_QUERY if self.dupfd_query else UNDECIDED
        return FALLBACK[kind]


def deny_kcmp(setting: Kcmp) -> None:
    """From now on, in this process and its children, kcmp fails with ``setting.fails_with``
    (and fcntl(F_DUPFD_QUERY) with EBADF unless ``setting.dupfd_query``); nothing else changes."""
    assert setting.fails_with is not None
    machine = os.uname().machine
    program = [
        (_BPF_LD_W_ABS, 0, 0, _SECCOMP_DATA_ARCH),
        (_BPF_JEQ_K, 0, -1, _AUDIT_ARCH[machine]),  # another ABI: allow
        (_BPF_LD_W_ABS, 0, 0, _SECCOMP_DATA_NR),
        (_BPF_JEQ_K, 0, 1, constants.linux(machine).syscalls["kcmp"]),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | setting.fails_with),
    ]
    if not setting.dupfd_query:
        program += [
            (_BPF_JEQ_K, 0, -1, _FCNTL[machine]),
            (_BPF_LD_W_ABS, 0, 0, _SECCOMP_DATA_ARG1),
            (_BPF_JEQ_K, 0, 1, _F_DUPFD_QUERY),
            (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EBADF),
        ]
    program.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    allow = len(program) - 1  # jf -1: to the final "allow"
    insns = [_SockFilter(code, jt, allow - i - 1 if jf < 0 else jf, k) for i, (code, jt, jf, k) in enumerate(program)]
    filters = (_SockFilter * len(insns))(*insns)
    fprog = _SockFprog(len(insns), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def run_with_kcmp(setting: Kcmp, fn: Callable[[], T]) -> T:
    """``fn()`` in a forked child where kcmp is as ``setting`` says."""

    def child() -> T:
        if setting.fails_with is not None:
            deny_kcmp(setting)
        probe.cache_clear()  # the parent's probe saw kcmp
        return fn()

    ended = call_in_child(child, timeout=120)
    assert ended.ok, ended
    assert ended.value is not None
    return ended.value


WITH_KCMP = Kcmp(None)
SETTINGS = {
    "kcmp": WITH_KCMP,
    "kcmp-ENOSYS": Kcmp(errno.ENOSYS),
    "kcmp-EPERM": Kcmp(errno.EPERM),
    "kcmp-ENOSYS-before-6.10": Kcmp(errno.ENOSYS, dupfd_query=False),  # what user-mode Linux 6.1 is
}
WITH_AND_WITHOUT = pytest.mark.parametrize("kcmp", SETTINGS.values(), ids=SETTINGS.keys())


# -- the platform probe ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kcmp", "words"), [(errno.ENOSYS, "kcmp missing: ENOSYS"), (errno.EPERM, "kcmp refused: EPERM")]
)
def test_the_probe_tells_missing_from_refused(kcmp: int, words: str) -> None:
    platform = run_with_kcmp(Kcmp(kcmp), probe)
    assert "kcmp" not in platform.features
    assert platform.fd_identity == f"offset and status-flag probes ({words})"
    assert Platform.from_json(platform.as_json()).fd_identity == platform.fd_identity
    host = probe()
    assert "kcmp" in host.features and host.fd_identity == KCMP_AVAILABLE == host.as_json()["fd_identity"]


# -- every kind: a dup is its own description, a re-open or a sibling is another --------------------

# What decides without kcmp, per kind (measured on 6.18 with kcmp denied by seccomp; the same on
# Debian's user-mode Linux 6.1.176, whose kcmp gives ENOSYS).
FALLBACK: dict[FdKind, str] = {
    FdKind.REGULAR_FILE: IDENTITY_OFFSET_AND_FLAGS,
    FdKind.MEMFD: IDENTITY_OFFSET_AND_FLAGS,
    FdKind.PIPE_READ: IDENTITY_FLAGS,
    FdKind.PIPE_WRITE: IDENTITY_FLAGS,
    FdKind.SOCKET: IDENTITY_FLAGS,
    FdKind.DEV_NULL: IDENTITY_FLAGS,  # /dev/null's lseek always returns 0: its offset tells nothing
    # opath-dir: lseek and F_SETFL fail with EBADF on O_PATH; F_DUPFD_QUERY (6.10+) or undecided
    FdKind.EVENTFD: IDENTITY_FLAGS,
    FdKind.IO_URING: IDENTITY_FLAGS,
    FdKind.UNIX_STREAM: IDENTITY_FLAGS,  # fresh AF_UNIX sockets of the table (issue 10), like SOCKET
    FdKind.UNIX_DGRAM: IDENTITY_FLAGS,
    FdKind.UNIX_SEQPACKET: IDENTITY_FLAGS,
}
OPENED = [k for k in FdKind if k is not FdKind.ACCEPTED]  # an accepted entry has no fd until an Accept step
# Another open file description of the same inode: open("/proc/self/fd/N") where that works; an
# eventfd shares the anon inode of every eventfd; a socket or an io_uring has one file per inode
# (open of /proc/self/fd/N gives ENXIO), so inode identity is already description identity.
REOPENABLE = frozenset(
    {FdKind.REGULAR_FILE, FdKind.MEMFD, FdKind.PIPE_READ, FdKind.PIPE_WRITE, FdKind.DEV_NULL, FdKind.OPATH_DIR}
)


def reopen(fd: int) -> int:
    """A new open file description of ``fd``'s file, with the same status flags and offset."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    if flags & os.O_PATH:
        return os.open(f"/proc/self/fd/{fd}", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    other = os.open(f"/proc/self/fd/{fd}", flags & os.O_ACCMODE | os.O_NONBLOCK | os.O_CLOEXEC)
    fcntl.fcntl(other, fcntl.F_SETFL, flags)
    with contextlib.suppress(OSError):  # ESPIPE: not seekable
        os.lseek(other, os.lseek(fd, 0, os.SEEK_CUR), os.SEEK_SET)
    return other


def _state(fd: int) -> tuple[int, int | None]:
    """What the probes must leave as they found it: status flags, and the offset."""
    try:
        offset: int | None = os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        offset = None
    return fcntl.fcntl(fd, fcntl.F_GETFL), offset


def _identify_kind(kind: FdKind) -> dict[str, object] | str:
    """In this process: inspect a dup of entry ``x`` and another description of its inode."""
    with contextlib.ExitStack() as stack:
        table = FdTable(stack)
        try:
            fd = table.open(FdSpec(name="x", kind=kind))
        except FdUnavailable as exc:
            return str(exc)
        if kind in REOPENABLE:
            other = table.own(reopen(fd))
        elif kind is FdKind.EVENTFD:
            other = table.open(FdSpec(name="sibling", kind=kind, tracked=False))
        else:
            other = None
        same = table.own(os.dup(fd))
        watched = [fd, same] + ([other] if other is not None else [])
        before = [_state(w) for w in watched]
        identifier = Identifier(constants.linux(os.uname().machine).syscalls.get("kcmp"))
        dup_seen = identifier.inspect(same, table.known)
        other_seen = identifier.inspect(other, table.known) if other is not None else None
        return {"dup": dup_seen, "other": other_seen, "restored": before == [_state(w) for w in watched]}


@WITH_AND_WITHOUT
@pytest.mark.parametrize("kind", OPENED, ids=lambda k: k.value)
def test_each_kind_is_decided_or_says_it_is_not(kcmp: Kcmp, kind: FdKind) -> None:
    outcome = run_with_kcmp(kcmp, lambda: _identify_kind(kind))
    if isinstance(outcome, str):
        pytest.skip(f"this platform cannot open {kind.value}: {outcome}")
    method = kcmp.method(kind)
    dup, other = outcome["dup"], outcome["other"]
    assert isinstance(dup, ReceivedFd)
    assert outcome["restored"] is True  # offsets and status flags of all three as before
    assert dup.identity == method
    if method == UNDECIDED:
        assert dup.same_file_as is None and dup.undecided_as == ("x",)
        assert dup.identity_note == NO_METHOD_FOR_O_PATH
    else:
        assert dup.same_file_as == "x" and "x" not in dup.undecided_as
        assert dup.offset_shared is (True if kind in (FdKind.REGULAR_FILE, FdKind.MEMFD) else None)
        assert dup.flags_shared is (None if kind is FdKind.OPATH_DIR else True)
    if other is None:
        return
    assert isinstance(other, ReceivedFd)
    assert "x" in other.same_inode_as and other.same_file_as is None
    assert other.identity == method
    if kind is FdKind.EVENTFD:  # the untracked sibling has no private descriptor to compare with
        assert "sibling" in other.undecided_as and other.identity_note == NO_DESCRIPTOR
    assert ("x" in other.undecided_as) is (method == UNDECIDED)


# -- through the executor and the checker: a received re-open fails, the sent description passes ---


def _scenario(kind: FdKind) -> Scenario:
    return Scenario(
        kind=PairKind(SockType.STREAM),
        fds=(FdSpec(name="f", kind=kind, append=kind is FdKind.REGULAR_FILE),),
        steps=(Send(on="a", iov=(b"x",), cmsgs=(ScmRights((Named("f"),)),)), Recv(on="b", buffers=(4,), control=64)),
    )


@contextlib.contextmanager
def _kernel_delivers_a_reopen() -> Iterator[None]:
    """What a broken kernel would do: install a re-open of the sent file (same inode, same
    status flags and offset, FD_CLOEXEC as received) where the sent description belongs."""
    real = Identifier.inspect

    def inspect_a_reopen(self: Identifier, fd: int, known: object) -> ReceivedFd:
        cloexec = fcntl.fcntl(fd, fcntl.F_GETFD)
        other = reopen(fd)
        os.dup2(other, fd)
        os.close(other)
        fcntl.fcntl(fd, fcntl.F_SETFD, cloexec)
        return real(self, fd, known)  # type: ignore[arg-type]

    Identifier.inspect = inspect_a_reopen  # type: ignore[method-assign]
    try:
        yield
    finally:
        Identifier.inspect = real  # type: ignore[method-assign]


def _judge(kind: FdKind, reopened: bool) -> tuple[ReceivedFd, list[str], list[str], str]:
    """(received fd, fd-identity findings, invariant violations, observed words), in this process."""
    scenario = _scenario(kind)
    expectation = expect(scenario, probe())
    assert isinstance(expectation, Expectation)
    with _kernel_delivers_a_reopen() if reopened else contextlib.nullcontext():
        observation = execute(scenario, "raw")
    received = observation.steps[1].cmsgs[0].fds[0]
    findings = [f.describe() for f in check(scenario, observation, expectation) if f.checker == "fd-identity"]
    violations = [f.field for f in invariants(scenario, observation)]
    return received, findings, violations, observation_words(observation)


PASSABLE = [k for k in OPENED if k is not FdKind.IO_URING]  # an io_uring fd is refused in SCM_RIGHTS (FD-18)


@WITH_AND_WITHOUT
@pytest.mark.parametrize("kind", PASSABLE, ids=lambda k: k.value)
def test_the_sent_description_passes_under_every_method(kcmp: Kcmp, kind: FdKind) -> None:
    received, findings, violations, _ = run_with_kcmp(kcmp, lambda: _judge(kind, reopened=False))
    assert received.identity == kcmp.method(kind)
    assert findings == [] and violations == []


@WITH_AND_WITHOUT
@pytest.mark.parametrize("kind", [k for k in FdKind if k in REOPENABLE], ids=lambda k: k.value)
def test_a_received_reopen_fails_fd_identity(kcmp: Kcmp, kind: FdKind) -> None:
    received, findings, violations, words = run_with_kcmp(kcmp, lambda: _judge(kind, reopened=True))
    method = kcmp.method(kind)
    assert received.same_inode_as == ("f",) and received.same_file_as is None and received.identity == method
    if method == UNDECIDED:
        # O_PATH without kcmp and F_DUPFD_QUERY: nothing tells the descriptions apart; the result says so
        assert findings == [] and violations == []
        assert received.undecided_as == ("f",) and f"f (identity undecided: {NO_METHOD_FOR_O_PATH})" in words
        return
    assert findings == [
        f"[fd-identity step 1] cmsgs[0].fds[0]: expected the open file description of 'f' ({method}), "
        "observed same inode, other description (none of the scenario)"
    ]
    assert violations == ["fd-is-sent-file", "fd-order"]


def test_a_probe_that_fails_is_a_finding_not_a_pass() -> None:
    """Undecided for a reason other than the two known limits (here: F_SETFL refused) fails."""
    from dataclasses import replace

    scenario = _scenario(FdKind.REGULAR_FILE)
    expectation = expect(scenario, probe())
    assert isinstance(expectation, Expectation)
    observation = execute(scenario, "raw")
    step = observation.steps[1]
    received = step.cmsgs[0].fds[0]
    undecided = replace(
        received, same_file_as=None, identity=UNDECIDED, undecided_as=("f",), identity_note="F_SETFL failed with EINVAL"
    )
    tampered = replace(
        observation, steps=(observation.steps[0], replace(step, cmsgs=(replace(step.cmsgs[0], fds=(undecided,)),)))
    )
    found = [f.describe() for f in check(scenario, tampered, expectation) if f.checker == "fd-identity"]
    assert found == [
        "[fd-identity step 1] cmsgs[0].fds[0].identity: expected the open file description of 'f' decided, "
        "observed undecided: F_SETFL failed with EINVAL"
    ]


# -- the catalogue's FD cases with kcmp refused -----------------------------------------------------


def _run_fd_cases(out: Path) -> tuple[int, list[str]]:
    """``scm-harness run --ids FD-*`` in this process, and the methods that decided fd identity."""
    from harness.cli import main

    methods: list[str] = []
    real = Identifier.inspect

    def recording(self: Identifier, fd: int, known: object) -> ReceivedFd:
        seen = real(self, fd, known)  # type: ignore[arg-type]
        methods.append(seen.identity)
        return seen

    Identifier.inspect = recording  # type: ignore[method-assign]
    try:
        # -j 1: the methods are recorded in this process (workers would record them in theirs)
        status = main(["run", "--ids", "FD-*", "--backend", "both", "--out", str(out), "-j", "1"])
    finally:
        Identifier.inspect = real  # type: ignore[method-assign]
    return status, sorted(set(methods))


def test_the_catalogue_fd_cases_pass_without_kcmp(tmp_path: Path) -> None:
    status, methods = run_with_kcmp(Kcmp(errno.ENOSYS), lambda: _run_fd_cases(tmp_path / "report"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    verdicts = {r["verdict"] for r in report["results"]}
    failed = [f"{r['case']} {r['kind']} {r['backend']}: {r['verdict']} {r['reason']}" for r in report["results"]]
    assert status == 0 and verdicts <= {"pass", "unsupported"}, [f for f in failed if " pass " not in f]
    assert report["run_info"]["fd_identity"] == "offset and status-flag probes (kcmp missing: ENOSYS)"
    assert "kcmp" not in report["run_info"]["features"]
    assert IDENTITY_KCMP not in methods and {IDENTITY_OFFSET_AND_FLAGS, IDENTITY_FLAGS} <= set(methods)
