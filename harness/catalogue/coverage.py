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

PENDING = "not implemented yet: needs the issue-3 machinery (forked senders, shutdown/close, limits, GC, OOB)"

NOT_COVERED: dict[str, str] = {
    "FD-18": PENDING,
    "FD-20": PENDING,
    "FD-21": PENDING,
    "FD-23": PENDING,
    "CR-19": PENDING,
    "CR-20": PENDING,
    "ER-12": PENDING,
    "ER-14": PENDING,
    "LM-02": PENDING,
    "LM-08": PENDING,
    "GC-03": PENDING,
    "GC-05": PENDING,
    "GC-06": PENDING,
    "OB-01": PENDING,
    "OB-02": PENDING,
    "OB-03": PENDING,
    "OB-04": PENDING,
    "OB-05": PENDING,
    "OB-06": PENDING,
    "OB-07": PENDING,
    "OB-08": PENDING,
    "MS-04": PENDING,
}
