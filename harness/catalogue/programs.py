"""The seed programs this project was designed from, as scenarios replayed by every run.

Each program is one or more scenario files ``corpora/programs/<program>__<variant>.json`` (written by
:func:`sync` from the builders below with :func:`harness.codec.dumps`, each with a note naming what it
reproduces).  The cases ``PROG-…`` read those files through the safe reader
(:func:`harness.scenario_files.read_scenario`) and run them on every pair kind of the file's socket type,
so ``scm-harness run``, ``scm-harness replay corpora/`` and the test suite all replay them.

The third seed program (a pathname receiver that listens and accepts, a sender that connects and
passes 1 then 4 fds) uses AF_UNIX sockets of the fd table with bind/listen/connect/accept steps
(issue 10; harness/catalogue/listener.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

from harness import codec
from harness.catalogue.build import FDS_SPACE, LEN, SPACE, passcred, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import (
    Accept,
    Bind,
    Child,
    Connect,
    FdKind,
    FdSpec,
    Identity,
    Listen,
    PairKind,
    Poll,
    Scenario,
    ScmCredentials,
    SockType,
)

PROGRAMS = "programs"  # the directory under corpora/
DGRAM = PairKind(SockType.DGRAM)
STREAM = PairKind(SockType.STREAM)
CREDS_DAEMON_NOTE = (
    "seed program: a container filesystem daemon's credential check. The receiver of a DGRAM socketpair "
    "sets SO_PASSCRED; a {who} child sends one datagram with an explicit SCM_CREDENTIALS naming another "
    "process's pid (its parent's); the receiver poll()s, then recvmsg(MSG_DONTWAIT) with a control buffer "
    "of CMSG_SPACE(sizeof(struct ucred)) and checks cmsg_len == CMSG_LEN(sizeof(struct ucred)), "
    "cmsg_level == SOL_SOCKET, cmsg_type == SCM_CREDENTIALS. {outcome}"
)
# Measured on 6.18: with a control buffer of CMSG_SPACE(sizeof(int)), recvmsg returns msg_controllen
# = CMSG_SPACE(sizeof(int)) (24 on x86_64: scm_detach_fds advances by the aligned space), not
# CMSG_LEN(sizeof(int)) (20); the oracle expects that value and the check compares it.
SEND_FD_NOTE = (
    "seed program: the two-byte send_fd/recv_fd protocol (APUE) over a STREAM socketpair. send_fd writes "
    "{{0, status 0}} with the fd in SCM_RIGHTS; send_err writes {{0, status 1}} without control data. "
    "recv_fd reads 2 bytes with a control buffer of CMSG_SPACE(sizeof(int)) and checks msg_controllen: "
    "the Linux version rejects msg_controllen < CMSG_LEN(sizeof(int)), the BSD version msg_controllen != "
    "CMSG_LEN(sizeof(int)). Linux 6.18 returns msg_controllen = CMSG_SPACE(sizeof(int)) = {space} (not "
    "CMSG_LEN = {length}) for the fd message, which passes the '<' check and fails the '!=' one, and 0 for "
    "the status-only message; the oracle expects these values, so a platform that returns another value "
    "shows up as a msg_controllen deviation."
)


def creds_daemon(who: str) -> Scenario:
    """``who``: "privileged" (the child stays root: the pid is delivered) or "unprivileged" (EPERM)."""
    identity = Identity() if who == "privileged" else Identity(user="unprivileged")
    outcome = (
        "A root sender has CAP_SYS_ADMIN: the forged pid is delivered as sent."
        if who == "privileged"
        else "Without CAP_SYS_ADMIN the sendmsg fails with EPERM and the receiver finds nothing (EAGAIN)."
    )
    sender = Child(steps=(send(b"x", cmsgs=[ScmCredentials(pid="parent")]),), identity=identity)
    steps = (passcred("b"), sender, Poll(on="b"), recv(64, control=SPACE(12), flags=["MSG_DONTWAIT"]))
    return scenario(DGRAM, *steps, fds=(), note=CREDS_DAEMON_NOTE.format(who=who, outcome=outcome))


def send_fd() -> Scenario:
    steps = (
        send(b"\x00\x00", fds=["f"]),  # send_fd: status 0 and the descriptor
        send(b"\x00\x01"),  # send_err: a non-zero status, no control data
        recv(2, control=FDS_SPACE(1)),
        recv(2, control=FDS_SPACE(1)),
    )
    return scenario(STREAM, *steps, note=SEND_FD_NOTE.format(space=FDS_SPACE(1), length=LEN(4)))


PATHNAME_PASSFD_NOTE = (
    "seed program: a pathname-socket receiver. It binds a path, listen()s and accept()s; the sender "
    "connect()s to the path and passes one fd (a 1-byte message), then four (another 1-byte message). The "
    "receiver reads each message with a control buffer of CMSG_SPACE(n * sizeof(int)) and reads through the "
    "received descriptors: the harness checks that each is the sent file (same open file description by kcmp, "
    "same offset and status flags), in order, with msg_controllen = CMSG_SPACE(n * sizeof(int)) ({one} and "
    "{four} on x86_64). The sockets are the fd table's (unix-stream, accepted), not the pair's."
)


def pathname_passfd() -> Scenario:
    files = tuple(FdSpec(name=f"f{i}", kind=FdKind.REGULAR_FILE) for i in range(5))
    sockets = (
        FdSpec(name="receiver", kind=FdKind.UNIX_STREAM, tracked=False),
        FdSpec(name="sender", kind=FdKind.UNIX_STREAM, tracked=False),
        FdSpec(name="conn", kind=FdKind.ACCEPTED, tracked=False),
    )
    steps = (
        Bind(target="receiver", address="/receiver.sock"),
        Listen(on="receiver", backlog=5),
        Connect(target="sender", address="/receiver.sock"),
        Accept(on="receiver", into="conn"),
        send(b"1", on="sender", fds=["f0"]),
        send(b"4", on="sender", fds=["f1", "f2", "f3", "f4"]),
        recv(1, on="conn", control=FDS_SPACE(1)),
        recv(1, on="conn", control=FDS_SPACE(4)),
    )
    note = PATHNAME_PASSFD_NOTE.format(one=FDS_SPACE(1), four=FDS_SPACE(4))
    return scenario(STREAM, *steps, fds=(*sockets, *files), note=note)


# program -> variant -> builder; the file is corpora/programs/<program>__<variant>.json
BUILDERS: dict[str, dict[str, Callable[[], Scenario]]] = {
    "creds-daemon": {
        "privileged": lambda: creds_daemon("privileged"),
        "unprivileged": lambda: creds_daemon("unprivileged"),
    },
    "send-fd": {"status-and-fd": send_fd},
    "pathname-passfd": {"one-then-four": pathname_passfd},
}


def program_files() -> dict[str, str]:
    """File name -> JSON text of every program scenario, as the builders make it."""
    return {
        f"{program}__{variant}.json": codec.dumps(build())
        for program, variants in BUILDERS.items()
        for variant, build in variants.items()
    }


def directory() -> Path:
    from harness.scenario_files import corpora_directory

    return corpora_directory() / PROGRAMS


def sync(*, check: bool = False) -> list[str]:
    """Write the program files that are missing or differ (with ``check``, only list them)."""
    where = directory()
    changes = []
    for name, text in program_files().items():
        path = where / name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        changes.append(f"{'missing' if not path.exists() else 'stale'} {path}")
        if not check:
            path.write_text(text, encoding="utf-8")
    return changes


def replayed(program: str, kind: PairKind) -> Iterator[Variant]:
    """The program's files read back (the safe reader), each run on ``kind`` (same socket type)."""
    from harness.scenario_files import read_scenario

    for variant in BUILDERS[program]:
        loaded = read_scenario(directory() / f"{program}__{variant}.json")
        if loaded.kind.sock_type is not kind.sock_type:
            raise ValueError(f"{program}__{variant}.json: kind {loaded.kind.name} is not {kind.sock_type.name}")
        yield Variant(variant, dataclasses.replace(loaded, kind=kind))


@case(
    "PROG-CREDS-DAEMON",
    "seed program: explicit SCM_CREDENTIALS of another process, received after poll() with MSG_DONTWAIT",
    area="programs",
    source="corpora/programs/creds-daemon__*.json; container filesystem daemons",
    types="D",
)
def prog_creds_daemon(kind: PairKind) -> Iterator[Variant]:
    yield from replayed("creds-daemon", kind)


@case(
    "PROG-SEND-FD",
    "seed program: the two-byte send_fd/recv_fd protocol; Linux returns msg_controllen = CMSG_SPACE(sizeof(int))"
    f" = {FDS_SPACE(1)} for a buffer of that size (the '<' check passes, BSD's '!= CMSG_LEN' would fail)",
    area="programs",
    source="corpora/programs/send-fd__*.json; APUE send_fd/recv_fd",
    types="S",
)
def prog_send_fd(kind: PairKind) -> Iterator[Variant]:
    yield from replayed("send-fd", kind)


@case(
    "PROG-PATHNAME-PASSFD",
    "seed program: a pathname listener accepts a sender that passes 1 then 4 fds; each received fd is the sent "
    "file, in order",
    area="programs",
    source="corpora/programs/pathname-passfd__*.json; issue 10 item 5",
    types="S",
)
def prog_pathname_passfd(kind: PairKind) -> Iterator[Variant]:
    yield from replayed("pathname-passfd", kind)
