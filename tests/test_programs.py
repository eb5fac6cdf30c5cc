"""corpora/programs/: the seed programs are generated files with notes, and every run replays them."""

from __future__ import annotations

from pathlib import Path

from harness import codec, scenario_files
from harness.catalogue import CASES, programs
from harness.catalogue.build import FDS_SPACE
from harness.execute.run import execute
from harness.expectation import Expectation
from harness.model import SockType
from harness.oracle import expect
from harness.platform import Platform

PROGRAMS = Path(__file__).resolve().parents[1] / "corpora" / "programs"


def test_program_files_are_what_the_builders_make() -> None:
    assert programs.directory() == PROGRAMS
    assert programs.sync(check=True) == []
    on_disk = {p.name for p in PROGRAMS.glob("*.json")}
    assert on_disk == set(programs.program_files())


def test_every_program_file_has_a_note_naming_what_it_reproduces() -> None:
    for path in sorted(PROGRAMS.glob("*.json")):
        scenario = scenario_files.read_scenario(path)
        assert scenario.note.startswith("seed program: "), path.name
        assert codec.dumps(scenario) == path.read_text(encoding="utf-8")


def test_the_readme_lists_every_program_and_no_todo_is_left() -> None:
    text = (PROGRAMS / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in programs.program_files())
    assert "TODO" not in text and "listens and accepts" in text


def test_the_run_includes_the_programs_on_every_kind_of_their_type() -> None:
    progs = {"PROG-CREDS-DAEMON", "PROG-SEND-FD", "PROG-PATHNAME-PASSFD"}
    assert {c for c in CASES if c.startswith("PROG-")} == progs
    assert CASES["PROG-CREDS-DAEMON"].types == {SockType.DGRAM}
    assert CASES["PROG-SEND-FD"].types == CASES["PROG-PATHNAME-PASSFD"].types == {SockType.STREAM}
    for case in (CASES[name] for name in sorted(progs)):
        for kind in case.kinds():
            labels = [v.label for v in case.variants(kind)]
            assert labels and all(v.scenario.kind == kind for v in case.variants(kind))


def test_send_fd_records_the_msg_controllen_linux_returns(platform: Platform) -> None:
    # measured on 6.18: CMSG_SPACE(sizeof(int)) for the fd message, 0 for the status-only one; the
    # oracle expects the same (the note says so), so another value is a deviation in the report
    scenario = programs.send_fd()
    observed = [s.controllen for s in execute(scenario, "raw").steps if s.op == "recv"]
    expected = expect(scenario, platform)
    assert isinstance(expected, Expectation)
    assert observed == [s.controllen for s in expected.steps if s.op == "recv"] == [FDS_SPACE(1), 0]
    assert str(FDS_SPACE(1)) in scenario.note


def test_the_pathname_program_gets_one_then_four_fds_through_the_accepted_socket(platform: Platform) -> None:
    # the receiver binds a path, listens and accepts; each received fd is the file sent, in order
    scenario = programs.pathname_passfd()
    observed = [s for s in execute(scenario, "raw").steps if s.op == "recv"]
    assert [len(s.cmsgs[0].fds) for s in observed] == [1, 4]
    assert [fd.same_file_as for s in observed for fd in s.cmsgs[0].fds] == ["f0", "f1", "f2", "f3", "f4"]
    expected = expect(scenario, platform)
    assert isinstance(expected, Expectation)
    assert [s.controllen for s in observed] == [s.controllen for s in expected.steps if s.op == "recv"]
    assert [s.controllen for s in observed] == [FDS_SPACE(1), FDS_SPACE(4)]
