"""Which behaviour ids of shared/spec/behaviours.md have a case, and why the others have none.

``ALL_IDS`` is the catalogue's id column (138 rows).  Every id is either a registered case or
listed in ``NOT_COVERED`` with the reason; ``tests/test_coverage.py`` keeps this, the registry and
the README's table in step.
"""

from __future__ import annotations

ALL_IDS: tuple[str, ...] = tuple(
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

# Cases with these id prefixes are registered too but are no rows of the catalogue (harness/catalogue/regressions.py).
EXTRA_PREFIXES: tuple[str, ...] = ("REG-",)

NOT_COVERED: dict[str, str] = {
    "FD-20": "needs an LSM that denies file receipt (a BPF LSM program); no such LSM on the test machines",
    "FD-23": "the harness runs the steps of a process one at a time; fd passing to another process is FD-21/CR-15",
    "CR-20": "not applicable to socketpair(): there is no listener whose SO_PASSCRED an accepted socket inherits",
    "ER-12": "the harness sends on AF_UNIX pairs only; SCM_RIGHTS on another family is outside its scope",
    "GC-03": "needs listener-made (accept) sockets; a socketpair has none",
    "GC-05": "needs sending through sockets other than the pair, to nest sockets in flight several levels deep",
    "GC-06": "a performance property (GC makes senders wait), not an observable result",
}
