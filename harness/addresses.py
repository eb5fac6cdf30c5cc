"""Address confinement: every msg_name a scenario names resolves inside the harness's own namespace.

A scenario file is untrusted input and the harness runs as root, so ``Send.address`` is never sent
as written: a datagram with forged credentials and fds must not reach /dev/log, journald, systemd's
notify socket or any abstract name another program bound, and a case that needs "nobody listens
here" must not depend on nobody having bound a fixed name.

What the kernel does with an address (measured on 6.18.44, unix_dgram_sendmsg):

* ``msg_namelen == 0`` ("hex:"): no name at all.
* ``unix_validate_addr()`` refuses with EINVAL, before any name lookup, a length
  ``<= offsetof(sun_path)`` (2) or ``> sizeof(struct sockaddr_un)`` (110; longer lengths are first
  clamped to sizeof(struct sockaddr_storage), 128) and a family other than AF_UNIX.
* Otherwise ``sun_path[0] == 0`` names an abstract socket (every byte up to the length is the name)
  and anything else a path (up to the first NUL).  A path that exists and is no socket (``/``,
  ``/etc/passwd``) gives ECONNREFUSED, a missing one ENOENT.

So addresses the kernel refuses before the lookup pass through unchanged (the kernel's own EINVAL is
what a scenario tests there), and every other one is rewritten (:func:`confine`) into

* a path ``<directory>/<token>-<leaf>`` where ``directory`` is the harness's private directory
  (:func:`private_directory`: owned by the user the harness runs as, mode 0711 so that an
  unprivileged child's lookup still ends in ENOENT rather than EACCES; nobody else can create
  anything in it), or
* an abstract name ``\\0scm-harness-<token>-<leaf>``,

with ``token`` 128 random bits drawn per scenario execution (os.urandom) and ``leaf`` a digest of the
kernel's name, so that two spellings of one name stay one name and no component (``..``, NUL, length)
of the scenario's name survives.  Both fit sun_path with room to spare, so confinement never changes
the validation errno.  Nobody can bind a name they cannot predict: an unused abstract name gives
ECONNREFUSED and a path ENOENT by construction.

Every step that names an address goes through :func:`confine` with the scenario's
:class:`AddressSpace` (``Backend.addresses``): sendmsg today, bind and connect when steps name them.
Reproducers (which run without the harness) apply the same rule: they embed :func:`address_target`
of each address as data (kind and leaf, or the unchanged bytes) and render it with a token of their
own (os.urandom) and a directory of their own (mode 0711, for the reason above), exactly as
:meth:`Target.sockaddr` does.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import hashlib
import os
import secrets
import shutil
import stat
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

# What run_info records about how addresses are confined (Platform.as_json).
ADDRESS_CONFINEMENT = "private-dir+random-abstract-prefix"

AF_UNIX = 1
SUN_PATH_OFFSET = 2  # offsetof(struct sockaddr_un, sun_path)
SOCKADDR_UN_SIZE = 110  # sizeof(struct sockaddr_un)
SUN_PATH_SIZE = SOCKADDR_UN_SIZE - SUN_PATH_OFFSET
ABSTRACT_TAG = "scm-harness"
TOKEN_BYTES = 16
LEAF_CHARS = 16
DIRECTORY_PREFIX = "scm-harness-names-"
# "<directory>/<token>-<leaf>" plus its NUL must fit sun_path
MAX_DIRECTORY = SUN_PATH_SIZE - (1 + 2 * TOKEN_BYTES + 1 + LEAF_CHARS) - 1

_FAMILY = struct.pack("=H", AF_UNIX)


class TargetKind(enum.Enum):
    UNCHANGED = "unchanged"  # no name, or one the kernel refuses before any lookup
    ABSTRACT = "abstract"
    PATH = "path"


@dataclass(frozen=True, slots=True)
class AddressSpace:
    """The namespace one scenario execution resolves names in."""

    directory: str  # absolute, at most MAX_DIRECTORY bytes, owned by the harness, mode 0711
    token: str  # 2 * TOKEN_BYTES hex digits

    def __post_init__(self) -> None:
        if len(self.directory.encode()) > MAX_DIRECTORY or not self.directory.startswith("/"):
            raise ValueError(f"address directory {self.directory!r}: not absolute or over {MAX_DIRECTORY} bytes")
        if len(self.token) != 2 * TOKEN_BYTES or not all(c in "0123456789abcdef" for c in self.token):
            raise ValueError(f"address token {self.token!r}: want {2 * TOKEN_BYTES} lowercase hex digits")

    @classmethod
    def fresh(cls) -> AddressSpace:
        """A new token in this process's private directory: one per scenario execution."""
        return cls(private_directory(), secrets.token_hex(TOKEN_BYTES))


@dataclass(frozen=True, slots=True)
class Target:
    """What an address becomes, before the namespace it is resolved in is known."""

    kind: TargetKind
    data: bytes  # UNCHANGED: the whole sockaddr; ABSTRACT / PATH: the leaf (ASCII hex)

    def sockaddr(self, space: AddressSpace) -> bytes:
        if self.kind is TargetKind.UNCHANGED:
            return self.data
        if self.kind is TargetKind.ABSTRACT:
            return _FAMILY + b"\0" + f"{ABSTRACT_TAG}-{space.token}-".encode() + self.data
        return _FAMILY + f"{space.directory}/{space.token}-".encode() + self.data + b"\0"


# -- the names of pair kinds the socket API makes (harness.model.PairOrigin) ------------------------
#
# A pathname or abstract pair binds Target(PATH | ABSTRACT, leaf) with one of these leaves: not hex
# digits, so no Send.address (whose leaf is a digest, address_target) ever names them.  An autobind
# pair binds the family alone (the kernel picks "\0" and 5 hex digits).  Reproducers render the same
# Targets with their own token and directory.
PAIR_ROLES = ("a", "b")  # an accepted pair's listener binds b's name: the accepted end reports it as its own
AUTOBIND_LENGTH = SUN_PATH_OFFSET + 1 + 5  # an autobound name: "\0" and 5 hex digits (unix_autobind)


def pair_target(address: str, role: str) -> Target:
    """What ``role`` ("a", "b") binds for a pair whose addresses are ``address``
    ("pathname", "abstract" or "autobind": harness.model.PairKind.address)."""
    if role not in PAIR_ROLES:
        raise ValueError(f"unknown pair role {role!r}")
    if address == "autobind":
        return Target(TargetKind.UNCHANGED, _FAMILY)
    leaf = f"pair-{role}".encode()
    if address == "pathname":
        return Target(TargetKind.PATH, leaf)
    if address == "abstract":
        return Target(TargetKind.ABSTRACT, leaf)
    raise ValueError(f"unknown pair address {address!r}")


def pair_name_length(address: str, role: str) -> int:
    """:func:`portable_length` of the name ``role`` binds (getsockname's length for it)."""
    if address == "autobind":
        return AUTOBIND_LENGTH
    space = AddressSpace("/", "0" * 2 * TOKEN_BYTES)  # the directory is not counted; the token is fixed-size
    return portable_length(pair_target(address, role).sockaddr(space), space)


def describe_name(raw: bytes, names: dict[str, bytes]) -> str:
    """A socket address as data that means the same in every run (no token, no directory):

    ``"none"`` (length 0), ``"unnamed"`` (the family alone), ``"a"`` / ``"b"`` (the name pair end a / b
    bound, :meth:`Backend.names <harness.execute.backend.Backend>`), else its class: ``"autobind"``,
    ``"abstract"``, ``"pathname"``.
    """
    if not raw:
        return "none"
    if len(raw) <= SUN_PATH_OFFSET:
        return "unnamed"
    for side, name in sorted(names.items()):
        if raw == name:
            return side
    sun_path = raw[SUN_PATH_OFFSET:]
    if sun_path[0] == 0:
        hex_digits = all(c in b"0123456789abcdef" for c in sun_path[1:])
        return "autobind" if len(raw) == AUTOBIND_LENGTH and hex_digits else "abstract"
    return "pathname"


def portable_length(raw: bytes, space: AddressSpace) -> int:
    """``len(raw)``, without the private directory's bytes for a name inside it (they vary with TMPDIR)."""
    directory = space.directory.encode() + b"/"
    if raw[SUN_PATH_OFFSET:].startswith(directory):
        return len(raw) - len(directory)
    return len(raw)


def sockaddr(address: str) -> bytes:
    """The struct sockaddr_un a scenario's address spells, unconfined: "@abstract", "/path", "hex:..."."""
    if address.startswith("hex:"):
        return bytes.fromhex(address[4:])
    if address.startswith("@"):
        return _FAMILY + b"\0" + address[1:].encode()
    return _FAMILY + address.encode() + b"\0"


def rejected_before_lookup(raw: bytes) -> str:
    """unix_validate_addr(): why the kernel refuses ``raw`` with EINVAL ("" when a lookup follows).

    An empty ``raw`` is msg_namelen 0 (no name): nothing to refuse.
    """
    if not raw:
        return ""
    if len(raw) <= SUN_PATH_OFFSET or len(raw) > SOCKADDR_UN_SIZE:
        return "address length <= offsetof(sun_path) or > sizeof(struct sockaddr_un)"
    if raw[:SUN_PATH_OFFSET] != _FAMILY:
        return "sun_family is not AF_UNIX"
    return ""


def address_target(address: str) -> Target:
    """Where ``address`` goes: unchanged when the kernel looks no name up, else a confined leaf."""
    raw = sockaddr(address)
    if not raw or rejected_before_lookup(raw):
        return Target(TargetKind.UNCHANGED, raw)
    sun_path = raw[SUN_PATH_OFFSET:]
    if sun_path[0] == 0:
        return Target(TargetKind.ABSTRACT, _leaf(b"@" + sun_path[1:]))
    return Target(TargetKind.PATH, _leaf(b"/" + sun_path.split(b"\0", 1)[0]))


def confine(address: str, space: AddressSpace) -> bytes:
    """The sockaddr to pass for ``address`` in ``space``: the one function every back end uses."""
    return address_target(address).sockaddr(space)


def _leaf(name: bytes) -> bytes:
    return hashlib.sha256(name).hexdigest()[:LEAF_CHARS].encode()


# -- the private directory (one per user, shared by every harness process of that user) ---------------

_directory: str | None = None


def private_directory() -> str:
    """The directory confined paths live in: ``<tmp>/scm-harness-names-<euid>``, made once, kept.

    One directory for every process of this user (a forked child, a fuzz worker, a concurrent run),
    so that nothing is left behind however a process ends; the per-scenario token keeps their names
    apart.  It is used only while it is a directory (not a link) owned by this user with mode 0711;
    should another user hold that name, this process makes a directory of its own (mkdtemp, removed
    at exit) instead.  Checked on every use.
    """
    global _directory
    if _directory is None or not _is_ours(_directory):
        _directory = _shared_directory() or _own_directory()
    return _directory


def _searchable_by_all(path: str) -> bool:
    """Every directory from the root to ``path`` lets any user through (an unprivileged child's lookup
    of a confined name then ends in ENOENT, as the oracle expects, not EACCES)."""
    try:
        return all(os.stat(p).st_mode & stat.S_IXOTH for p in (path, *map(str, Path(path).parents)))
    except OSError:
        return False


def _base() -> str:
    """$TMPDIR, unless it is too long or private (a 0700 $TMPDIR, as reproducers run with): then /tmp."""
    base = tempfile.gettempdir()
    room = MAX_DIRECTORY - len(DIRECTORY_PREFIX) - 10 - 1  # a uid or mkdtemp's 8 characters, and a "/"
    return base if len(base.encode()) <= room and _searchable_by_all(base) else "/tmp"


def _shared_directory() -> str | None:
    path = os.path.join(_base(), f"{DIRECTORY_PREFIX}{os.geteuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o711)
    try:  # a directory, not a link to one, and ours: checked and set through one descriptor
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            return None
        os.fchmod(fd, 0o711)  # whatever the umask was at mkdir, or the mode became since
    finally:
        os.close(fd)
    return path


def _own_directory() -> str:
    path = tempfile.mkdtemp(prefix=DIRECTORY_PREFIX, dir=_base())
    os.chmod(path, 0o711)
    atexit.register(_remove, os.getpid(), path)
    return path


def _is_ours(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o711


def _remove(creator: int, path: str) -> None:
    if os.getpid() == creator:
        shutil.rmtree(path, ignore_errors=True)
