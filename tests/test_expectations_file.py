"""Known-deviation files: matching and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.expectations_file import Deviation, ExpectationsError, load
from harness.platform import Platform

GVISOR = Platform(system="linux", release="4.4.0", arch="x86_64", label="gvisor")


def test_globs_match_case_kind_backend_label_and_release() -> None:
    d = Deviation(case="TRN-0[78]", kind="*/nonblocking/*", label="gvisor", reason="b/1")
    assert d.matches("TRN-08", "dgram/nonblocking/reversed", "raw", GVISOR)
    assert not d.matches("TRN-09", "dgram/nonblocking/reversed", "raw", GVISOR)
    assert not d.matches("TRN-08", "dgram/blocking/reversed", "raw", GVISOR)
    native = Platform(system="linux", release="6.18", arch="x86_64")
    assert not d.matches("TRN-08", "dgram/nonblocking/reversed", "raw", native)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not JSON"),
        ('{"schema": "other"}', "'schema' must be"),
        ('{"schema": "scm-harness/expectations/1"}', "'deviations' must be a list"),
        ('{"schema": "scm-harness/expectations/1", "deviations": [1]}', "deviations[0]: must be an object"),
        (
            '{"schema": "scm-harness/expectations/1", "deviations": [{"case": "X", "reason": "r", "colour": "red"}]}',
            "unknown key",
        ),
        ('{"schema": "scm-harness/expectations/1", "deviations": [{"case": "X", "reason": ""}]}', "non-empty 'reason'"),
        ('{"schema": "scm-harness/expectations/1", "deviations": [{"case": 5, "reason": "r"}]}', "must be a string"),
    ],
)
def test_malformed_files_give_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "known.json"
    path.write_text(text)
    with pytest.raises(ExpectationsError) as info:
        load(path)
    assert fragment in str(info.value) and "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExpectationsError, match="cannot read"):
        load(tmp_path / "nope.json")


def test_a_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "known.json"
    path.write_text(
        json.dumps({"schema": "scm-harness/expectations/1", "deviations": [{"case": "FD-*", "reason": "r"}]})
    )
    assert load(path).find("FD-03", "stream/blocking/as-created", "raw", GVISOR) is not None
