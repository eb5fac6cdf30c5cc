"""What the kernel did: the frozen result of executing a scenario.  Never holds a live fd.

Fields that a back end cannot see (Python's ``socket.recvmsg`` does not show ``msg_flags`` on
failure, nor the bytes past the returned length) are ``None``; the raw back end sees them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Returned:
    value: int

    def describe(self) -> str:
        return f"returned {self.value}"


@dataclass(frozen=True, slots=True)
class Failed:
    errno: str  # by name: "EINVAL"

    def describe(self) -> str:
        return f"failed with {self.errno}"


@dataclass(frozen=True, slots=True)
class Blocked:
    """The call had not completed when the step timeout expired."""

    seconds: float = field(compare=False, default=0.0)

    def describe(self) -> str:
        return f"blocked (no completion within {self.seconds:g} s)"


Outcome: TypeAlias = Returned | Failed | Blocked


# How a received fd was told apart from the other open file descriptions of its inode
# (ReceivedFd.identity): kcmp(KCMP_FILE) where the kernel offers it, else the probes of
# harness.execute.inspect (a seek, an F_SETFL toggle seen through the other descriptor), and
# for an O_PATH fd, which has neither, fcntl(F_DUPFD_QUERY) where the kernel has it (6.10+).
IDENTITY_KCMP = "kcmp"
IDENTITY_OFFSET_AND_FLAGS = "offset+flags probe"
IDENTITY_FLAGS = "flags probe"
IDENTITY_OFFSET = "offset probe"
IDENTITY_DUPFD_QUERY = "F_DUPFD_QUERY"  # an O_PATH fd without kcmp, on Linux 6.10 and later
UNDECIDED = "undecided"

# Why an entry of the same inode could not be compared (ReceivedFd.identity_note): the two
# limits every platform has.  Any other note (a probe that failed) is a finding of fd-identity.
NO_DESCRIPTOR = "no live descriptor to compare with (untracked or closed)"
NO_METHOD_FOR_O_PATH = "O_PATH without kcmp or F_DUPFD_QUERY (lseek, F_SETFL: EBADF)"
KNOWN_LIMITS = frozenset({NO_DESCRIPTOR, NO_METHOD_FOR_O_PATH})


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedFd:
    """A descriptor the kernel installed through SCM_RIGHTS, described by what it refers to.

    ``same_inode_as`` names every fd of the scenario (table name, or pair end ``"a"``/``"b"``)
    with the same ``(st_dev, st_ino)``; ``same_file_as`` names the one that refers to the same
    open file description, as ``identity`` decided it: ``"kcmp"`` (kcmp(KCMP_FILE)), or where
    kcmp is missing or refused ``"offset+flags probe"`` / ``"flags probe"`` / ``"offset probe"``
    (a seek or an F_SETFL toggle on this fd seen on the other), ``"F_DUPFD_QUERY"`` (an O_PATH fd,
    Linux 6.10 and later), or ``"undecided"`` when no entry
    of the inode could be compared.  ``undecided_as`` lists the entries of the inode that were
    not compared (it may be any of them) and ``identity_note`` says why.  ``offset_shared`` and
    ``flags_shared`` say whether a seek or an ``F_SETFL`` on one was seen on the one it is
    (``None`` where that cannot be tried: not seekable, O_PATH, or nothing identified).
    """

    number: int = field(compare=False)
    valid: bool
    same_inode_as: tuple[str, ...]
    same_file_as: str | None
    identity: str
    undecided_as: tuple[str, ...] = ()
    identity_note: str = ""
    file_type: str
    cloexec: bool
    status_flags: frozenset[str]
    offset_shared: bool | None
    flags_shared: bool | None
    pid: int | None = None  # a pidfd: the "Pid:" line of /proc/self/fdinfo (-1: the process is gone)

    @property
    def description_checked(self) -> bool:
        """Some entry of the inode was compared (by kcmp or a probe)."""
        return self.identity != UNDECIDED


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservedCmsg:
    level: str
    type: str
    length: int  # cmsg_len as the kernel wrote it
    data: bytes = field(compare=False)  # payload bytes within msg_controllen (fd numbers vary per run)
    truncated: bool = False  # cmsg_len points past the returned msg_controllen
    fds: tuple[ReceivedFd, ...] = ()  # SCM_RIGHTS: one per int in data; SCM_PIDFD: the pidfd
    # SCM_PIDFD whose int is negative: the -errno pidfd_prepare() returned (6.5-6.16 for a reaped
    # sender), kept as data: never inspected or closed as an fd
    pidfd_error: int | None = None
    creds: tuple[int, int, int] | None = None  # SCM_CREDENTIALS: (pid, uid, gid) when 12 bytes are there


@dataclass(frozen=True, slots=True, kw_only=True)
class StepObservation:
    index: int
    op: str
    outcome: Outcome
    data: bytes = b""  # the bytes the call reported as received (at most the buffer capacity)
    buffers: tuple[bytes, ...] | None = None  # every receive buffer, whole (None: not visible)
    msg_flags: frozenset[str] | None = None  # after the call (None: not visible)
    controllen: int | None = None  # msg_controllen after the call (None: not visible)
    control_stray: int | None = None  # bytes of the control buffer changed outside reported cmsgs
    cmsgs: tuple[ObservedCmsg, ...] = ()
    unreported_fds: tuple[str, ...] = ()  # fds that appeared in the table but in no cmsg
    signals: tuple[str, ...] = ()  # signals raised by this step (SIGPIPE, SIGURG)
    events: frozenset[str] | None = None  # poll: the revents
    peercred: tuple[int, int, int] | None = None  # getsockopt(SO_PEERCRED): (pid, uid, gid)
    peer_pid: int | None = None  # getsockopt(SO_PEERPIDFD): the pid its pidfd refers to
    # getsockname / getpeername: the address; recv: the sender's (msg_name), as
    # harness.addresses.describe_name says it ("none", "unnamed", "a", "b", "autobind", "abstract", "pathname");
    # None: not visible
    address: str | None = None
    nested: tuple[StepObservation, ...] = ()  # a child's steps, observed in the child
    note: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessContext:
    """Who ran the scenario, so that symbolic credentials can be resolved by the checkers."""

    pid: int
    uid: int
    gid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    backend: str
    kind: str
    steps: tuple[StepObservation, ...]
    leaked_fds: tuple[str, ...] = ()  # open after clean-up that were not open before the scenario
    context: ProcessContext
    children: tuple[ProcessContext, ...] = ()  # each Child step's process, as the parent sees it
