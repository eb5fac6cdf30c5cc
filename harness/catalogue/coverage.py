"""Which behaviour ids of shared/spec/behaviours.md have a case, and why the others have none.

``ALL_IDS`` is the catalogue's id column (138 rows).  Every id is either a registered case or
listed in ``NOT_COVERED`` with the reason; ``tests/test_coverage.py`` keeps this, the registry and
the README's table in step.
"""

from __future__ import annotations

# The regression targets of shared/spec/fuzzing.md table (a) that a userspace oracle can see, and
# their cases (REG-...), or why a socketpair harness cannot express them.
REGRESSIONS: dict[str, str] = {
    "CVE-2025-38236": "REG-CVE-2025-38236",
    "OOB peek, Apr 2024": "REG-OOB-PEEK-2024-04",
    "OOB peek loop": "REG-OOB-PEEK-LOOP",
    "OOB series, Jun 2024": "REG-OOB-SERIES-2024-06",
    "SO_PEEK_OFF after sleep": "REG-SO_PEEK_OFF-SLEEP",
    "GC + OOB fds, Feb 2024": "REG-GC-OOB-2024-02",
    "CVE-2026-22983": "REG-CVE-2026-22983",
    "io_uring over SCM_RIGHTS": "REG-IO_URING-SCM_RIGHTS",
    "SCM_PIDFD reaped sender": "REG-SCM_PIDFD-REAPED",
    "CVE-2025-40214": "REG-CVE-2025-40214",  # sockets of the fd table: an embryo (harness/catalogue/listener.py)
    "6.16 creds regression": "REG-EMBRYO-CREDS-6.16",
}
REGRESSIONS_NOT_EXPRESSIBLE: dict[str, str] = {
    "CVE-2026-23394": "a race between MSG_PEEK, close() and the collector; needs repeated concurrent runs",
    "SO_INQ cmsg leak": "the trigger is io_uring recvmsg (msg_get_inq); plain recvmsg never asks for SCM_INQ",
    "SO_PASSSEC MSG_CTRUNC": "needs an LSM that provides a security context (SELinux, Smack)",
    "SO_PEERPIDFD reaped peer": "the peer of a socketpair is the harness itself, which does not exit",
}

# Ids the spec's table has no row for: behaviours other suites check (gVisor, kselftests, LTP, FreeBSD,
# CPython), added in the matching area after its last row (issue 10 item 4), and the wake-up rows
# (issue 10 item 3), numbered from 30 in their areas.  Each case's source says which peer test it comes from.
ADDED_IDS: tuple[str, ...] = (
    "PK-10",
    "ER-17",
    "BND-14",
    "MS-05",
    "MS-06",
    "PK-30",
    "CR-30",
    "CR-31",
    "CR-32",
    "FL-30",
    "FL-06",
    "FL-07",
)
SPEC_ROWS = 138  # the id column of shared/spec/behaviours.md

ALL_IDS: tuple[str, ...] = ADDED_IDS + tuple(
    [f"FD-{i:02}" for i in range(1, 25)]
    + [f"BND-{i:02}" for i in range(1, 14)]
    + [f"TRN-{i:02}" for i in range(1, 14)]
    + [f"PK-{i:02}" for i in range(1, 10)]
    + [f"CR-{i:02}" for i in range(1, 21)]
    + [f"SC-{i:02}" for i in range(1, 13)]
    + [f"ER-{i:02}" for i in range(1, 17)]
    + [f"LM-{i:02}" for i in range(1, 9)]
    + [f"FL-{i:02}" for i in range(1, 6)]
    + [f"GC-{i:02}" for i in range(1, 7)]
    + [f"OB-{i:02}" for i in range(1, 9)]
    + [f"MS-{i:02}" for i in range(1, 5)]
)

# Cases with these id prefixes are registered too but are no rows of the catalogue: the regressions
# (harness/catalogue/regressions.py), the seed programs (harness/catalogue/programs.py) and the
# listener and address behaviours the spec has no row for (harness/catalogue/listener.py, issue 10).
EXTRA_PREFIXES: tuple[str, ...] = ("REG-", "PROG-", "LS-")

NOT_COVERED: dict[str, str] = {
    "ER-12": "the harness sends on AF_UNIX pairs only; SCM_RIGHTS on another family is outside its scope",
    "GC-06": "a performance property (GC makes senders wait), not an observable result",
}
