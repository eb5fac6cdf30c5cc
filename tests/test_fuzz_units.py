"""The pure parts of harness.fuzz: signatures, minimisation, invariants, isolation, the slot."""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given

from harness.check.registry import check
from harness.evaluate import Evaluation, Status
from harness.execute.lifetime import call_in_child
from harness.execute.run import execute
from harness.expectation import Expectation
from harness.finding import Finding
from harness.fuzz import findings
from harness.fuzz.evaluate import FuzzConfig
from harness.fuzz.evaluate import evaluate as fuzz_evaluate
from harness.fuzz.invariants import invariants
from harness.fuzz.minimise import cost, minimise
from harness.fuzz.signature import counter_index, finding_signature, outcome_signatures, slug
from harness.fuzz.slot import CANNOT_WRITE, FUZZER_BYTES, Slot
from harness.fuzz.triage import store_triaged
from harness.fuzz.worker import WorkerSpec, WorkerState
from harness.generate.strategies import scenarios
from harness.model import (
    Child,
    Close,
    FdKind,
    FdSpec,
    Named,
    PairKind,
    Recv,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetSockOpt,
    Shutdown,
    SockType,
    Step,
)
from harness.observation import Failed, Observation, Returned
from harness.oracle import expect
from harness.platform import Platform

STREAM = PairKind(SockType.STREAM)
DGRAM = PairKind(SockType.DGRAM)
FILES = (FdSpec(name="f", kind=FdKind.REGULAR_FILE), FdSpec(name="g", kind=FdKind.MEMFD))


def test_signatures_are_stable_and_readable() -> None:
    assert counter_index("stream|recv|all||||", 1 << 14) == counter_index("stream|recv|all||||", 1 << 14)
    assert 0 <= counter_index("x", 7) < 7
    finding = Finding(checker="fd-identity", step=1, field="cmsgs[0].fds[12].status_flags", expected="", observed="")
    assert finding_signature(finding, None) == "fd-identity/cmsgs.fds.status_flags/scenario"
    assert slug("fd-identity/cmsgs.fds.status_flags/recv") == "fd-identity__cmsgs.fds.status_flags__recv"
    assert slug("cmsgs/cmsgs credentials/recv") == "cmsgs__cmsgs-credentials__recv"


def test_outcome_signatures_describe_what_the_kernel_did() -> None:
    scenario = Scenario(
        kind=DGRAM,
        fds=FILES,
        steps=(
            Send(on="a", iov=(b"hello",), cmsgs=(ScmRights((Named("f"), Named("g"))),)),
            Recv(on="b", buffers=(2,), control=64, flags=frozenset({"MSG_DONTWAIT"})),
            Recv(on="b", buffers=(2,), flags=frozenset({"MSG_DONTWAIT"})),
        ),
    )
    sigs = outcome_signatures(scenario, execute(scenario, "raw"))
    assert sigs == ("dgram|send|all||||", "dgram|recv|all|MSG_TRUNC|R2||", "dgram|recv|EAGAIN||||")


def _has_rights_send(s: Scenario) -> bool:
    return any(isinstance(st, Send) and any(isinstance(c, ScmRights) for c in st.cmsgs) for st in s.steps)


def test_minimise_keeps_only_what_the_predicate_needs() -> None:
    big = Scenario(
        kind=PairKind(SockType.STREAM, nonblocking=True, reversed=True),
        fds=FILES,
        steps=(
            SetSockOpt(on="b", option="SO_PASSCRED", value=1),
            Send(on="a", iov=(b"ab", b"cd"), cmsgs=(ScmCredentials(), ScmRights((Named("f"), Named("g"))))),
            Recv(on="b", buffers=(8, 8), control=64, flags=frozenset({"MSG_PEEK"})),
            Send(on="b", iov=(b"zz",), flags=frozenset({"MSG_DONTWAIT"})),
        ),
    )
    small = minimise(big, _has_rights_send).scenario
    assert small.steps == (Send(on="a", iov=(), cmsgs=(ScmRights(()),)),)
    assert small.fds == () and not small.kind.nonblocking and not small.kind.reversed


@given(scenarios(max_steps=6))
def test_minimise_is_one_minimal_and_never_costlier(scenario: Scenario) -> None:
    def predicate(s: Scenario) -> bool:
        return len([x for x in s.steps if isinstance(x, Recv)]) >= 1

    if not predicate(scenario):
        return
    small = minimise(scenario, predicate, max_seconds=5).scenario
    assert predicate(small) and cost(small) <= cost(scenario)
    assert len(small.steps) == 1  # no step can be removed without losing the (only) recv


def test_a_stopped_minimisation_says_it_was_cut_short() -> None:
    scenario = _stream(Send(on="a", iov=(b"ab",)), Recv(on="b", buffers=(2,)), Recv(on="b", buffers=(1,)))
    stopped = minimise(scenario, lambda s: any(isinstance(x, Recv) for x in s.steps), stop=lambda: True)
    assert stopped.scenario == scenario and not stopped.complete
    finished = minimise(scenario, lambda s: any(isinstance(x, Recv) for x in s.steps))
    assert len(finished.scenario.steps) == 1 and finished.complete


def _stream(*steps: Step) -> Scenario:
    return Scenario(kind=STREAM, fds=FILES, steps=steps)


def test_invariants_hold_on_the_real_kernel_and_catch_tampering() -> None:
    scenario = _stream(
        Send(on="a", iov=(b"abc",), cmsgs=(ScmRights((Named("f"), Named("g"))),)),
        Recv(on="b", buffers=(2,), control=64),
        Recv(on="b", buffers=(8,), flags=frozenset({"MSG_DONTWAIT"})),
    )
    observation = execute(scenario, "raw")
    assert list(invariants(scenario, observation)) == []
    step = observation.steps[1]
    cmsg = step.cmsgs[0]
    swapped = replace(step, cmsgs=(replace(cmsg, fds=(cmsg.fds[1], cmsg.fds[0])),))
    tampered = replace(observation, steps=(observation.steps[0], swapped, observation.steps[2]))
    assert [f.field for f in invariants(scenario, tampered)] == ["fd-order"]
    reordered = replace(observation.steps[2], data=b"x")
    tampered = replace(observation, steps=(*observation.steps[:2], reordered))
    assert [f.field for f in invariants(scenario, tampered)] == ["stream-order"]


def test_invariants_without_kcmp_accept_any_entry_with_the_same_inode() -> None:
    """Untracked entries are identified by inode only: two opens of /dev/null are both candidates."""
    nulls = (
        FdSpec(name="null0", kind=FdKind.DEV_NULL, tracked=False),
        FdSpec(name="null1", kind=FdKind.DEV_NULL, tracked=False),
        FdSpec(name="f", kind=FdKind.REGULAR_FILE, tracked=False),
    )
    scenario = Scenario(
        kind=PairKind(SockType.SEQPACKET),
        fds=nulls,
        steps=(Send(on="a", cmsgs=(ScmRights((Named("null1"),)),)), Recv(on="b", buffers=(4,), control=64)),
    )
    observation = execute(scenario, "raw")
    received = observation.steps[1].cmsgs[0].fds[0]
    assert not received.description_checked and set(received.same_inode_as) == {"null0", "null1"}
    assert list(invariants(scenario, observation)) == []
    step = observation.steps[1]
    other = replace(received, same_inode_as=("f",), undecided_as=("f",))
    tampered = replace(
        observation, steps=(observation.steps[0], replace(step, cmsgs=(replace(step.cmsgs[0], fds=(other,)),)))
    )
    assert [f.field for f in invariants(scenario, tampered)] == ["fd-is-sent-file", "fd-order"]


def test_opath_dir_entries_are_distinct_directories() -> None:
    dirs = (
        FdSpec(name="d0", kind=FdKind.OPATH_DIR, tracked=False),
        FdSpec(name="d1", kind=FdKind.OPATH_DIR, tracked=False),
    )
    scenario = Scenario(
        kind=PairKind(SockType.SEQPACKET),
        fds=dirs,
        steps=(Send(on="a", iov=(), cmsgs=(ScmRights((Named("d1"),)),)), Recv(on="b", buffers=(), control=20)),
    )
    observation = execute(scenario, "raw")
    assert observation.steps[1].cmsgs[0].fds[0].same_inode_as == ("d1",)
    assert list(invariants(scenario, observation)) == []


def _broken_with_last_step(scenario: Scenario, observation: Observation, **changes: Any) -> list[str]:
    """The invariants that break when the observation of the scenario's last step is tampered with."""
    last = replace(observation.steps[-1], **changes)
    return [f.field for f in invariants(scenario, replace(observation, steps=(*observation.steps[:-1], last)))]


def test_invariants_follow_datagram_boundaries() -> None:
    scenario = Scenario(
        kind=DGRAM,
        steps=(
            Send(on="a", iov=(b"one",)),
            Send(on="a", iov=(b"two!",)),
            Recv(on="b", buffers=(0,)),  # takes "one" whole, shows none of it (MSG_TRUNC)
            Recv(on="b", buffers=(8,)),
        ),
    )
    observation = execute(scenario, "raw")
    assert isinstance(observation.steps[3].outcome, Returned)
    assert list(invariants(scenario, observation)) == []
    assert _broken_with_last_step(scenario, observation, data=b"two") == ["boundaries"]


def test_invariants_follow_a_message_a_faulting_receive_dropped() -> None:
    # found by an atheris campaign: the EFAULT receive took "x" off the queue, so the next one gets the
    # empty message sent after it (unix_dgram_recvmsg frees the skb whose copy faulted)
    scenario = Scenario(
        kind=PairKind(SockType.SEQPACKET),
        steps=(
            Send(on="a", iov=(b"x",)),
            Send(on="a", iov=()),
            Recv(on="b", buffers=(1,), fault="iov_base"),
            Recv(on="b", buffers=(1,)),
        ),
    )
    observation = execute(scenario, "raw")
    assert observation.steps[2].outcome == Failed("EFAULT") and observation.steps[3].outcome == Returned(0)
    assert list(invariants(scenario, observation)) == []
    kept = {"outcome": Returned(1), "data": b"x", "buffers": (b"x",)}
    assert _broken_with_last_step(scenario, observation, **kept) == ["boundaries"]


def test_invariants_follow_a_queue_a_refused_datagram_send_purged() -> None:
    # found by a Hypothesis campaign: a's send finds its peer b closed, so unix_dgram_disconnected()
    # purges a's own queue (the "x" b sent) and the send is ECONNREFUSED; after SHUT_RD a's receive is 0
    scenario = Scenario(
        kind=DGRAM,
        steps=(
            Send(on="b", iov=(b"x",)),
            Close(target="b"),
            Send(on="a", iov=()),
            Shutdown(on="a", how="SHUT_RDWR"),
            Recv(on="a", buffers=(1,)),
        ),
    )
    observation = execute(scenario, "raw")
    assert observation.steps[2].outcome == Failed("ECONNREFUSED") and observation.steps[4].outcome == Returned(0)
    assert list(invariants(scenario, observation)) == []
    kept = {"outcome": Returned(1), "data": b"x", "buffers": (b"x",)}
    assert _broken_with_last_step(scenario, observation, **kept) == ["boundaries"]
    # an unconnected end's sendto() is refused by the name lookup: nothing purged, "x" is still there
    unconnected = replace(scenario, kind=PairKind.from_name("dgram/pathname/unconnected"))
    observation = execute(unconnected, "raw")
    assert observation.steps[2].outcome == Failed("ECONNREFUSED") and observation.steps[4].data == b"x"
    assert list(invariants(unconnected, observation)) == []
    lost = {"outcome": Returned(0), "data": b"", "buffers": (b"\xa5",)}
    assert _broken_with_last_step(unconnected, observation, **lost) == ["boundaries"]
    # a connected end's sendto() of a name nobody has bound is refused by the lookup: nothing purged either
    steps = (Send(on="b", iov=(b"x",)), Send(on="a", iov=(), address="@nobody-has-it"), Recv(on="a", buffers=(1,)))
    elsewhere = Scenario(kind=DGRAM, steps=steps)
    observation = execute(elsewhere, "raw")
    assert observation.steps[1].outcome == Failed("ECONNREFUSED") and observation.steps[2].data == b"x"
    assert list(invariants(elsewhere, observation)) == []


def test_call_in_child_reports_values_hangs_and_deaths() -> None:
    assert call_in_child(lambda: 6 * 7, 5).value == 42
    assert call_in_child(lambda: time.sleep(30), 0.3).hang

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    assert call_in_child(die, 5).signal == "SIGKILL"


def test_slot_keeps_the_last_input_for_the_supervisor() -> None:
    writer = Slot.create()
    reader = Slot(os.dup(writer.fd))  # what a spawned worker maps (its descriptor passed down)
    writer.begin(FUZZER_BYTES, b"\x01\x02")
    seen = reader.read()
    assert (seen.kind, seen.payload) == (FUZZER_BYTES, b"\x01\x02") and seen.busy_since > 0
    writer.end()
    assert reader.read().busy_since == 0 and reader.read().payload == b"\x01\x02"
    full = "cannot write w/stats.json: No space left on device"
    writer.cannot_write(full)
    assert (reader.read().kind, reader.read().payload) == (CANNOT_WRITE, full.encode())
    writer.close()
    reader.close()


@pytest.mark.parametrize("size", [0, 1, 5000])
def test_slot_payload_sizes(size: int) -> None:
    slot = Slot.create()
    slot.begin(FUZZER_BYTES, bytes(range(256)) * (size // 256) + bytes(size % 256))
    assert len(slot.read().payload) == size
    slot.close()


@given(st.binary(max_size=64))
def test_slot_round_trips_any_bytes(data: bytes) -> None:
    slot = Slot.create()
    try:
        slot.begin(FUZZER_BYTES, data)
        assert slot.read().payload == data
    finally:
        slot.close()


def test_the_atheris_target_turns_kernel_outcomes_into_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.fuzz.target import COUNTERS, Deviation, Feedback, Target
    from harness.host import probe

    seeds = sorted((Path(__file__).resolve().parents[1] / "corpora" / "atheris").iterdir())
    hits: list[int] = []
    target = Target(probe(), Feedback(1000, hits.append), None)
    for path in seeds[:20]:
        target.one_input(path.read_bytes())
    target.one_input(b"")  # does not decode: ignored
    assert hits and all(1000 <= index < 1000 + COUNTERS for index in hits)
    first = list(hits)
    hits.clear()
    for path in seeds[:20]:
        target.one_input(path.read_bytes())
    assert hits == first  # the same kernel behaviour gives the same counters, run after run

    monkeypatch.setenv("SCM_HARNESS_FAULT", "wrong-errno")
    faulty = Target(probe(), Feedback.none(), None)

    def run_all() -> None:
        for path in seeds:
            faulty.one_input(path.read_bytes())

    with pytest.raises(Deviation, match="EIO"):  # standalone, a deviation is a libFuzzer crash
        run_all()


def test_a_childs_deviation_names_the_child_step_and_its_own_kind(platform: Platform) -> None:
    scenario = Scenario(
        kind=DGRAM,
        steps=(
            Send(on="a", iov=(b"hi",)),
            Child(steps=(Recv(on="b", buffers=(8,), flags=frozenset({"MSG_DONTWAIT"})),)),
        ),
    )
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    observation = execute(scenario, "raw")
    assert check(scenario, observation, expectation) == []
    child = expectation.steps[1]
    wrong_recv = replace(child.nested[0], msg_flags=frozenset({"MSG_TRUNC"}))
    lying = Expectation((expectation.steps[0], replace(child, nested=(wrong_recv,))))
    found = check(scenario, observation, lying)
    assert [(f.checker, f.step, f.field) for f in found] == [("msg-flags", 1, "child.steps[0].msg_flags")]
    assert finding_signature(found[0], observation) == "msg-flags/child.steps.msg_flags/recv"


def test_a_stored_finding_takes_its_other_signatures_as_aliases(tmp_path: Path, platform: Platform) -> None:
    scenario = Scenario(kind=DGRAM, steps=(Send(on="a", iov=(b"hi",)),))
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    first, other = "outcome/outcome/send", "bytes/data/recv"
    evaluation = Evaluation(
        scenario=scenario,
        status=Status.CHECKED,
        expectation=expectation,
        observation=execute(scenario, "raw"),
        signatures=(other, first),
    )
    assert findings.claim(tmp_path, first)
    stored = findings.store_finding(tmp_path, first, evaluation, platform, meta={}, run_repros=False)
    assert stored is not None and stored.name == slug(first)
    assert findings.read_finding(stored)["also"] == [other]
    assert findings.covered(tmp_path, other) and not findings.claim(tmp_path, other)
    assert findings.finding_dirs(tmp_path) == [stored]  # the alias is no finding of its own
    # a signature handed over before the alias existed is dropped by triage, claim released
    assert findings.claim(tmp_path, "fd-identity/cmsgs.fds/recv")
    assert store_triaged(tmp_path, other, scenario, platform, FuzzConfig(), meta={}, claimed=True) is None
    assert not (tmp_path / findings.CLAIMS / slug(other)).exists()


def test_one_deviation_seen_through_two_fields_is_stored_once(tmp_path: Path, platform: Platform) -> None:
    # swap-fds makes a two-fd receive deviate in fd identity and in the fd-order invariant at once
    scenario = Scenario(
        kind=STREAM,
        fds=FILES,
        steps=(Send(on="a", cmsgs=(ScmRights((Named("f"), Named("g"))),)), Recv(on="b", buffers=(), control=24)),
    )
    spec = WorkerSpec(
        index=0,
        engine="hypothesis",
        out=tmp_path,
        corpus=tmp_path / "corpus",
        config=FuzzConfig(fault="swap-fds"),
        minimise_seconds=5.0,
        run_repros=False,
    )
    first, second = WorkerState(spec, platform), WorkerState(replace(spec, index=1), platform)
    signatures = first.evaluate(scenario).signatures
    assert len(signatures) >= 2
    first.sink(signatures[0], scenario, shrunk_by="none")
    for signature in signatures[1:]:
        second.sink(signature, scenario, shrunk_by="none")  # another worker, the same deviation
    stored = findings.finding_dirs(spec.findings)
    assert [d.name for d in stored] == [slug(signatures[0])]
    assert findings.read_finding(stored[0])["also"] == list(signatures[1:])
    assert not any((spec.findings / findings.CLAIMS).iterdir())  # every claim let go


def test_a_finding_that_does_not_come_back_keeps_what_was_first_seen(tmp_path: Path, platform: Platform) -> None:
    """A flaky finding (here: a descriptor that appeared once, as two 2026-12-07 atheris findings did)
    is stored with the findings of the run that found it, since running it again shows none."""
    scenario = Scenario(kind=STREAM, fds=(), steps=(Send(on="a", iov=(b"x",)), Recv(on="b", buffers=(8,))))
    flake = Finding(checker="fd-leaks", step=None, field="fd table", expected="3 4", observed="3 4 9")
    spec = WorkerSpec(
        index=0, engine="hypothesis", out=tmp_path, corpus=tmp_path / "corpus", minimise_seconds=5.0, run_repros=False
    )
    state = WorkerState(spec, platform)
    seen = replace(state.evaluate(scenario), findings=(flake,))
    state.sink("fd-leaks/fd table/scenario", scenario, shrunk_by="none", seen=seen)
    (stored,) = findings.finding_dirs(spec.findings)
    info = findings.read_finding(stored)
    assert (info["reproducible_in_harness"], info["findings"]) == (False, [])
    assert info["first_seen"] == [flake.describe()]


def test_a_handed_over_finding_carries_what_was_first_seen(tmp_path: Path, platform: Platform) -> None:
    """pending/*.json is untrusted: first_seen must be a short list of short strings."""
    import json

    from harness import codec
    from harness.fuzz.campaign import Campaign, CampaignOptions, HypothesisHandle

    options = CampaignOptions(engine="hypothesis", out=tmp_path, corpus=tmp_path / "corpus", runs=1)
    campaign = Campaign(options, platform)
    handle = HypothesisHandle(campaign.spec(0), options, campaign.lifeline, platform, [])
    pending = handle.spec.directory / "pending"
    pending.mkdir()
    text = codec.dumps(Scenario(kind=STREAM, fds=(), steps=(Send(on="a", iov=(b"x",)),)))
    good = {"signature": "fd-leaks/fd table/recv", "scenario": text, "first_seen": ["[fd-leaks] appeared: 9"]}
    (pending / "good.json").write_text(json.dumps(good))
    (pending / "bad.json").write_text(json.dumps({**good, "first_seen": ["x" * 1001]}))
    campaign.collect_handed_over(handle)
    item = campaign.triage_queue.get_nowait()
    assert item is not None
    signature, _, meta, _, _ = item
    assert (signature, meta["first_seen"]) == ("fd-leaks/fd table/recv", ["[fd-leaks] appeared: 9"])
    assert campaign.triage_queue.empty()
    assert campaign.errors == [
        f"{pending / 'bad.json'}: first_seen: not a list of at most 20 strings of 1000 characters"
    ]
    handle.slot.close()
    campaign.lifeline.cut()


def test_the_supervisor_reads_a_tampered_worker_directory_without_hanging(tmp_path: Path, platform: Platform) -> None:
    """OUT may be shared: a FIFO or bad JSON where a worker's files belong is skipped, one line each at most."""
    from harness.fuzz.campaign import Campaign, CampaignOptions, HypothesisHandle

    options = CampaignOptions(engine="hypothesis", out=tmp_path, corpus=tmp_path / "corpus", runs=1)
    campaign = Campaign(options, platform)
    handle = HypothesisHandle(campaign.spec(0), options, campaign.lifeline, platform, [])
    campaign.handles.append(handle)
    pending = handle.spec.directory / "pending"
    pending.mkdir()
    os.mkfifo(pending / "fifo.json")
    (pending / "list.json").write_text("[1]")
    (pending / "deep.json").write_text("[" * 100_000)
    os.mkfifo(handle.spec.directory / "stats.json")
    os.mkfifo(handle.spec.directory / "signatures.txt")
    campaign.collect_handed_over(handle)
    assert handle.stats() == {} and campaign.counts()["signatures"] == 0
    assert campaign.triage_queue.empty() and not list(pending.iterdir())
    assert sorted(campaign.errors) == [
        f"{pending / 'deep.json'}: not JSON: nested deeper than MAX_JSON_DEPTH=64",
        f"{pending / 'fifo.json'}: a FIFO, not a regular file: not read",
        f"{pending / 'list.json'}: not a handed-over finding (signature, scenario)",
    ]
    handle.slot.close()
    campaign.lifeline.cut()


def test_an_error_raised_while_a_slice_ends_is_the_end_of_the_slice(tmp_path: Path, platform: Platform) -> None:
    """Hypothesis may raise FlakyStrategyDefinition while a SliceEnd leaves a machine's example."""
    from hypothesis.errors import FlakyStrategyDefinition

    from harness.fuzz.hypothesis_engine import HypothesisWorker, SliceEnd

    worker = HypothesisWorker(WorkerSpec(index=0, engine="hypothesis", out=tmp_path, corpus=tmp_path / "c"), platform)

    def interrupted() -> None:
        try:
            raise SliceEnd
        except SliceEnd:
            raise FlakyStrategyDefinition("Inconsistent data generation!") from None  # __context__ stays

    def broken() -> None:
        raise FlakyStrategyDefinition("Inconsistent data generation!")

    worker.run_slice(interrupted)
    assert worker.errors == 0
    worker.run_slice(broken)  # without a SliceEnd it is the engine's error, logged and counted
    assert worker.errors == 1


def test_an_interval_timer_of_the_process_does_not_interrupt_a_fuzzed_scenario(platform: Platform) -> None:
    """Under atheris, libFuzzer's -timeout is a SIGALRM interval timer whose handler has no SA_RESTART.
    A tick during a blocking step made it fail with EINTR (a campaign finding no re-run reproduced);
    with no watchdog of its own (scenario_timeout 0) the evaluation holds SIGALRM back."""
    bounded = SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(0, 100_000))
    waits = Scenario(kind=STREAM, steps=(bounded, Recv(on="b", buffers=(8,)), Recv(on="b", buffers=(8,))))
    ticks: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: ticks.append(signum))  # no SA_RESTART
    signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
    try:
        evaluation = fuzz_evaluate(waits, platform, FuzzConfig(scenario_timeout=0.0))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert evaluation.observation is not None
    assert [step.outcome for step in evaluation.observation.steps[1:]] == [Failed("EAGAIN")] * 2
    assert evaluation.findings == ()
    assert ticks  # the timer did fire: held back during the scenario, handled after it


def test_a_corpus_entry_no_campaign_could_read_back_is_not_written(tmp_path: Path, platform: Platform) -> None:
    """JSON spells a byte above 0x7f in six characters.  Repeated data is written as its unit (so a
    megabyte of one byte, which an atheris input decoded to, is a small file), but two megabytes of
    bytes without a short unit are over MAX_SCENARIO_FILE, which the next campaign and replay refuse."""
    spec = WorkerSpec(index=0, engine="hypothesis", out=tmp_path, corpus=tmp_path / "corpus", run_repros=False)
    state = WorkerState(spec, platform)
    noise = random.Random(0).randbytes(1 << 20)
    state.save_corpus(Scenario(kind=STREAM, fds=(), steps=(Send(on="a", iov=(noise, noise[::-1])),)))
    assert (state.corpus_written, state.corpus_too_large) == (0, 1)
    state.save_corpus(Scenario(kind=STREAM, fds=(), steps=(Send(on="a", iov=(b"\xb3" * (1 << 20),)),)))
    assert (state.corpus_written, state.corpus_too_large) == (1, 1)
    (entry,) = spec.corpus.iterdir()
    assert entry.stat().st_size < 1000
