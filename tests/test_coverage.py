"""Every catalogue id is a case or is listed as not covered with a reason, and the README says so."""

from __future__ import annotations

from pathlib import Path

from harness.catalogue import CASES
from harness.catalogue.coverage import ALL_IDS, EXTRA_PREFIXES, NOT_COVERED, WAKEUP_IDS

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_id_is_covered_or_explained() -> None:
    assert len(ALL_IDS) == 138 + len(WAKEUP_IDS)
    rows = {case_id for case_id in CASES if not case_id.startswith(EXTRA_PREFIXES)}
    assert rows <= set(ALL_IDS)
    assert not rows & set(NOT_COVERED)
    assert rows | set(NOT_COVERED) == set(ALL_IDS)
    assert all(reason.strip() for reason in NOT_COVERED.values())


def test_readme_lists_every_id_that_is_not_covered() -> None:
    text = README.read_text()
    missing = [case_id for case_id in NOT_COVERED if f"`{case_id}`" not in text]
    assert missing == []


def test_every_regression_target_has_its_case() -> None:
    from harness.catalogue.coverage import REGRESSIONS, REGRESSIONS_NOT_EXPRESSIBLE

    assert all(case_id in CASES for case_id in REGRESSIONS.values())
    assert {c for c in CASES if c.startswith("REG-")} == set(REGRESSIONS.values())
    assert not set(REGRESSIONS) & set(REGRESSIONS_NOT_EXPRESSIBLE)
    text = README.read_text()
    assert all(name in text for name in [*REGRESSIONS, *REGRESSIONS_NOT_EXPRESSIBLE])
