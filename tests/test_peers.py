"""The map to the peer suites (harness/catalogue/peers.json): valid, in step with the registered cases,
with the cases' own peer anchors, and with the README's Coverage table; ``list --peers`` prints it."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.catalogue import CASES
from harness.catalogue.peers import (
    REASONS,
    SUITES,
    PeerMapError,
    PeerTest,
    Status,
    choose,
    counts,
    load,
    map_text,
    parse,
    readme_table,
)

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def tests() -> tuple[PeerTest, ...]:
    return load()


def test_every_case_id_in_the_map_is_registered_and_every_test_has_cases_or_a_reason(
    tests: tuple[PeerTest, ...],
) -> None:
    assert len(tests) > 500
    assert {t.suite for t in tests} == set(SUITES)
    for test in tests:
        assert set(test.cases) <= set(CASES), test
        if test.status is Status.COVERED:
            assert test.cases and test.reason is None, test
        else:
            assert test.reason is not None and REASONS[test.reason].strip(), test
            assert test.detail.strip(), f"{test.suite} {test.test}: say what is missing or what it checks"


def test_an_unknown_case_id_is_an_error_that_names_it() -> None:
    data = json.loads(map_text())
    data["suites"]["gvisor"][0]["cases"] = ["FD-01", "FD-99", "XX-01"]
    with pytest.raises(PeerMapError, match="FD-99, XX-01"):
        parse(data, set(CASES))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "covered", "cases": [], "reason": None}, "a covered test has cases"),
        ({"status": "partly", "reason": None}, "a partly covered test has cases and a reason"),
        ({"status": "not covered", "cases": ["FD-01"], "reason": "no-case"}, "has a reason and no cases"),
        ({"status": "not covered", "cases": [], "reason": "because"}, "reason 'because' is not one of"),
        ({"status": "mostly"}, "status must be"),
        ({"tested": True}, "unknown keys tested"),
        ({"file": ""}, "'file' must be a non-empty string"),
    ],
)
def test_malformed_entries_are_rejected(change: dict[str, object], message: str) -> None:
    data = json.loads(map_text())
    entry = data["suites"]["freebsd"][0]
    entry.update(change)
    for key in [k for k, v in change.items() if v is None]:
        del entry[key]
    with pytest.raises(PeerMapError, match=re.escape(message)):
        parse(data, set(CASES))


def test_a_test_listed_twice_or_a_missing_suite_is_rejected() -> None:
    data = json.loads(map_text())
    twice = copy.deepcopy(data)
    twice["suites"]["ltp"].append(twice["suites"]["ltp"][0])
    with pytest.raises(PeerMapError, match="listed twice"):
        parse(twice, set(CASES))
    del data["suites"]["cpython"]
    with pytest.raises(PeerMapError, match="the suites must be"):
        parse(data, set(CASES))


# Peer anchors in the cases' ``source`` ("GV BasicFDPass; FB simple_send_fd; KS msg_oob oob_drop, ...")
_TAGS = {"GV": "gvisor", "KS": "kselftest", "FB": "freebsd", "PY": "cpython", "LTP": "ltp"}


def _anchors(source: str) -> list[tuple[str, str]]:
    """(suite, name) for each peer test a case's source names."""
    found: list[tuple[str, str]] = []
    for segment in source.split(";"):
        words = segment.strip().split(" ", 1)
        if len(words) != 2 or words[0] not in _TAGS:
            continue
        suite, rest = _TAGS[words[0]], words[1]
        prefix = ""
        if suite == "ltp":  # "LTP sendmsg01 'invalid cmsg length'": the programs; their rows are in the map's names
            found.extend((suite, part.split()[0]) for part in rest.split(",") if part.strip())
            continue
        if suite == "kselftest":  # "KS msg_oob oob_drop, ex_oob_*": the file, then its tests
            prefix, _, rest = rest.partition(" ")
        for name in re.split(r",\s*", re.sub(r"\(.*?\)", "", rest)):
            name = name.strip().strip("'\"")
            if name and re.fullmatch(r"[\w.*/]+", name):
                found.append((suite, f"{prefix} {name}" if prefix else name))
    return found


def _named(test: PeerTest, name: str) -> bool:
    if test.suite == "ltp":
        return test.test.split(" ", 1)[0] == name
    if test.suite == "kselftest":  # fixture.variant.test, named by the file's stem and the test
        prefix, _, name = name.partition(" ")
        return Path(test.file).stem == prefix and fnmatch.fnmatchcase(test.test.rsplit(".", 1)[-1], name)
    own = test.test.removesuffix("_NoRandomSave")  # gVisor's save/restore marker, not part of the name
    own = own.rsplit(":", 1)[-1]  # FreeBSD's program:case
    if "." in name:
        return fnmatch.fnmatchcase(own, name) or own.endswith("." + name)
    return fnmatch.fnmatchcase(own.rsplit(".", 1)[-1], name)


# Anchors that are analogies, not the peer test the map lists: (case, suite, anchor) and why.
ANALOGIES = {
    ("BND-13", "gvisor", "SendmmsgIsLimitedByMAXIOV"): "sendmmsg's vlen limit (LM-08), not msg_iovlen",
    ("BND-13", "ltp", "recvmsg01"): "the INET row 'invalid iovec count'; the map lists only recvmsg01's AF_UNIX rows",
    ("ER-07", "ltp", "sendmsg01"): "the INET rows with bad msghdr/iovec pointers",
    ("ER-07", "ltp", "recvmsg01"): "the INET rows with bad buffers and iovecs",
    ("TRN-01", "cpython", "testRecvmsgTrunc"): "CPython runs it on a stream socket, where it is TRN-04",
    ("REG-EMBRYO-CREDS-6.16", "gvisor", "WriteBeforeSoPassCredRecvEnd"): "the socketpair contrast (CR-05's "
    "{0, 65534, 65534}); a message sent to an embryo carries real credentials",
}


def test_each_peer_test_a_case_names_as_its_anchor_lists_that_case(tests: tuple[PeerTest, ...]) -> None:
    """A case citing "GV FDPassPeek" is covered-by for FDPassPeek in the map (when the map has it)."""
    disagree = []
    for case_id, case in CASES.items():
        for suite, name in _anchors(case.source):
            named = [t for t in tests if t.suite == suite and _named(t, name)]
            if (case_id, suite, name) in ANALOGIES:
                assert named and not any(case_id in t.cases for t in named), f"{case_id} {name}: drop the analogy"
            elif named and not any(case_id in t.cases for t in named):
                disagree.append(f"{case_id}: {suite} {name} -> {[t.test for t in named]}")
    assert disagree == []


def test_the_readme_coverage_section_has_the_counts_of_the_map(tests: tuple[PeerTest, ...]) -> None:
    text = README.read_text()
    table = readme_table(tests)
    assert table in text, "the README's peer table is stale; it should read:\n" + table
    assert "scm-harness list --peers" in text


def test_counts_add_up(tests: tuple[PeerTest, ...]) -> None:
    table = counts(tests)
    assert sum(sum(row.values()) for row in table.values()) == len(tests)
    assert sum(table["gvisor"].values()) == len(choose(tests, "gvisor"))


def test_list_peers_gvisor_answers_whether_basic_fd_pass_is_covered() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "list", "--peers", "gvisor"], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert any(re.fullmatch(r"gvisor +UnixSocketPairCmsgTest\.BasicFDPass +covered +FD-01", line) for line in lines)
    assert re.fullmatch(r"gvisor: \d+ tests: \d+ covered, \d+ partly, \d+ not covered", lines[-1])
    assert not any(line.startswith(("kselftest ", "total:")) for line in lines)


def test_list_peers_with_ids_shows_the_peer_tests_of_those_cases() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "list", "--peers", "all", "--ids", "TRN-13,TRN-0[5]"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert any(line.startswith("freebsd") and "copyout_rights_error" in line for line in lines)
    assert any(line.startswith("cpython") and "testCmsgTruncLen1" in line for line in lines)
    assert lines[-1].startswith("total: ")
    tests = [line for line in lines if not re.match(r"\w+: \d+ tests", line)]
    assert tests and all("TRN-13" in line or "TRN-05" in line for line in tests)


def test_list_peers_rejects_an_unknown_suite() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "list", "--peers", "netbsd"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
