"""Processes of a scenario and what the kernel lets them say about themselves (pure).

The scenario's own process is ``MAIN``; each Child step is ``child<n>``.  Ids are symbolic
("pid", "child0.uid") where only the running system knows the number, and numbers where the model
knows them (the unprivileged uid, 0 inside a new user namespace, the overflow ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.expectation import CredExpect
from harness.model import CredValue, Identity

if TYPE_CHECKING:
    from harness.platform import Platform

OVERFLOW_ID = 65534  # from_kuid_munged() of an id the reader's user namespace cannot map
NONEXISTENT_PID = "nonexistent"
UNKNOWN_PID = "unknown: whether some process has that pid"
# PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h: 4 * 1024 * 1024): kernel.pid_max cannot be
# set above it, so every pid is under it; find_get_pid() of a negative number finds nothing either
PID_MAX_LIMIT = 1 << 22

Creds = tuple[CredExpect, CredExpect, CredExpect]


@dataclass(frozen=True, slots=True)
class Proc:
    prefix: str  # "" for the scenario's process, "child0." for its first child
    identity: Identity | None  # None: the scenario's process itself
    platform: Platform
    # A Child(thread=True) is the scenario's process (prefix "", identity None) on another thread:
    # ``tid`` is the symbol of that thread's id ("child0.pid": the executor records a thread's
    # context with its tid as pid).  None: the process's only (or main) thread, whose tid is its pid.
    tid: str | None = None

    @property
    def is_main(self) -> bool:
        return self.identity is None

    @property
    def symbols(self) -> Creds:
        """This process's (pid, uid, gid) as the scenario's process sees them."""
        return (f"{self.prefix}pid", f"{self.prefix}uid", f"{self.prefix}gid")

    @property
    def nofile_lowered(self) -> bool:
        """A child whose RLIMIT_NOFILE the scenario set (Identity.nofile or fd_headroom): a new
        descriptor may fail with EMFILE, and which slots it has free is mostly not tracked."""
        return self.identity is not None and (self.identity.nofile is not None or self.identity.fd_headroom is not None)

    @property
    def unprivileged(self) -> bool:
        return self.identity is not None and self.identity.user == "unprivileged"

    @property
    def userns(self) -> bool:
        return self.identity is not None and self.identity.userns

    @property
    def pidns(self) -> bool:
        return self.identity is not None and self.identity.pidns

    @property
    def root(self) -> bool:
        """Root with every capability in the initial namespaces (what the harness is, run as root)."""
        return not self.unprivileged and not self.userns and self.platform.privileged

    def own_value(self, field: str) -> int | None:
        """The number this process has for ``field`` in its own namespaces, if the model knows it."""
        if self.userns and field in ("uid", "gid"):
            return 0
        if self.unprivileged and field in ("uid", "gid"):
            return None  # per harness process (see model.UNPRIVILEGED_UID): known only by symbol
        if field == "uid" and self.platform.euid is not None and not self.unprivileged:
            return self.platform.euid
        if field == "gid" and self.platform.egid is not None and not self.unprivileged:
            return self.platform.egid
        return None


def check_credentials(proc: Proc, pid: CredValue, uid: CredValue, gid: CredValue) -> str | None:
    """scm_check_creds() then the pid lookup of __scm_send(): errno text, or None when accepted.

    Measured (host 6.18, UML 6.1, qemu 6.1; shared/spec/kernels.md): an unprivileged sender gets
    EPERM for every forged value, a pid that does not exist included; root gets ESRCH for a pid
    that does not exist or pid 0; inside ``unshare -U -r`` an unmapped uid gives EINVAL and a
    forged pid EPERM.
    """
    for value, what in ((uid, "uid"), (gid, "gid")):
        if isinstance(value, int) and not _maps(proc, value):
            return f"EINVAL: {what} {value} is not mapped in the sender's user namespace"
    pid_ok = (
        pid == "self"
        or (pid == "thread" and proc.tid is None)  # gettid() == task_tgid_vnr() on the main thread
        or _is_self_pid(proc, pid)
        or proc.root
        or (proc.pidns and not proc.userns and proc.platform.privileged)
    )
    uid_ok = uid == "self" or _same_id(proc, uid, "uid") or proc.root or proc.userns
    gid_ok = gid == "self" or _same_id(proc, gid, "gid") or proc.root or proc.userns
    if not (pid_ok and uid_ok and gid_ok):
        return "EPERM: forged credentials without CAP_SYS_ADMIN / CAP_SETUID / CAP_SETGID"
    if pid in (0, NONEXISTENT_PID) or (isinstance(pid, int) and not 0 <= pid < PID_MAX_LIMIT):
        return "ESRCH: no process has that pid"
    if isinstance(pid, int) and pid != 1:
        return UNKNOWN_PID  # find_get_pid() of an arbitrary number: the model cannot know
    return None


def _is_self_pid(proc: Proc, pid: CredValue) -> bool:
    """A child in a new pid namespace is its init: pid 1 is its own pid (task_tgid_vnr() == 1)."""
    return pid == 1 and proc.pidns


def _maps(proc: Proc, value: int) -> bool:
    if value < 0 or value >= 0xFFFFFFFF:
        return False
    return not proc.userns or value == 0


def _same_id(proc: Proc, value: CredValue, field: str) -> bool:
    if value == "parent":
        return proc.is_main or (not proc.unprivileged and not proc.userns)
    known = proc.own_value(field)
    return known is not None and value == known


def sent_credentials(proc: Proc, main: Proc, pid: CredValue, uid: CredValue, gid: CredValue) -> Creds:
    """What explicit SCM_CREDENTIALS carry, in the scenario process's terms (symbols or numbers)."""

    def value(v: CredValue, index: int) -> CredExpect:
        if v == "self" or (index == 0 and _is_self_pid(proc, v)):
            return proc.symbols[index]
        if v == "thread":  # find_get_pid(tid): the receiver sees the thread's id (pid_vnr of its struct pid)
            return proc.symbols[0] if proc.tid is None else proc.tid
        if v == "parent":
            return main.symbols[index]
        if isinstance(v, int) and index > 0 and proc.userns:
            return main.symbols[index] if v == 0 else OVERFLOW_ID  # inside -> outside: 0 is the creator
        assert isinstance(v, int)
        if index > 0 and v == proc.own_value(("pid", "uid", "gid")[index]):
            # the sender's own id given as a number: the same credentials as its implicit ones, so a stream
            # read merges the two messages (unix_skb_scm_eq compares values; a Hypothesis finding: gid 0 as root)
            return proc.symbols[index]
        return v

    return (value(pid, 0), value(uid, 1), value(gid, 2))


def as_seen_by(reader: Proc, creds: Creds, main: Proc) -> Creds:
    """Credentials translated into the reader's namespaces: pid_vnr() and from_kuid_munged()."""
    pid, uid, gid = creds
    if reader.pidns and pid != reader.symbols[0]:
        pid = 0  # a process outside the reader's pid namespace has no number there
    if reader.userns:
        uid = 0 if uid in (main.symbols[1], main.own_value("uid")) else OVERFLOW_ID
        gid = 0 if gid in (main.symbols[2], main.own_value("gid")) else OVERFLOW_ID
    return (pid, uid, gid)
