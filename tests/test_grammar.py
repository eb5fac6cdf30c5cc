"""The one scenario grammar and its two adapters: the choice interface on bytes (atheris) and on
Hypothesis' draw; both reach every step type and every pair kind the grammar has."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.codec import dumps, loads
from harness.generate import grammar
from harness.generate.choices import ByteReader, Exhausted, table
from harness.generate.decode import decode
from harness.generate.strategies import DrawChoices, scenarios
from harness.model import (
    ALL_KINDS,
    SIDES,
    Accept,
    Bind,
    Child,
    Close,
    Connect,
    EpollWait,
    Fill,
    GetSockName,
    GetSockOpt,
    Ioctl,
    Listen,
    Poll,
    RawCmsg,
    ReadPartner,
    Recv,
    RecvMany,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetOwner,
    SetSockOpt,
    Shutdown,
    SpliceIn,
    Step,
)
from tests.choice_bytes import Recorder
from tests.test_strategies import assert_reaches

# Every step type the grammar builds (harness/generate/grammar.py STEP_KINDS), by model class.
STEP_TYPES: tuple[type, ...] = (
    Send,
    Recv,
    SetSockOpt,
    GetSockOpt,
    Shutdown,
    Listen,
    Reopen,
    Poll,
    Ioctl,
    SetOwner,
    Fill,
    RecvMany,
    EpollWait,
    SpliceIn,
    Close,
    ReadPartner,
    Child,
    Bind,
    Connect,
    GetSockName,
    Accept,
)


def all_steps(scenario: Scenario) -> list[Step]:
    out: list[Step] = []
    for step in scenario.steps:
        out.append(step)
        if isinstance(step, Child):
            out.extend(step.steps)
    return out


def shapes_of(scenario: Scenario) -> set[str]:
    """Labels for what a scenario holds: its kind, its step types, cmsg variants, a few special shapes."""
    seen = {f"kind {scenario.kind}"}
    for step in all_steps(scenario):
        seen.add(type(step).__name__)
        if isinstance(step, Send):
            seen.update(type(c).__name__ for c in step.cmsgs)
            if step.on not in SIDES:
                seen.add("send on a socket of the table")
        if isinstance(step, Child) and step.thread:
            seen.add("thread")
    return seen


EVERY_SHAPE = {
    *(f"kind {kind}" for kind in ALL_KINDS),
    *(t.__name__ for t in STEP_TYPES),
    *(t.__name__ for t in (ScmRights, ScmCredentials, RawCmsg)),
    "send on a socket of the table",
    "thread",
}


def test_the_grammar_names_every_step_type_it_builds() -> None:
    assert len(grammar.STEP_KINDS) == len({name for name, *_ in grammar.STEP_KINDS})
    assert all(weight > 0 for _, _, weight, _ in grammar.STEP_KINDS)


# -- the choice interface over bytes ----------------------------------------------------------------


def test_byte_reader_takes_whole_little_endian_bytes_modulo_the_range() -> None:
    r = ByteReader(b"\x07\x34\x12\xff\xff\xff\xff\x01\x02\x05\x03abc")
    assert r.integer(0, 4) == 2  # 7 % 5
    assert r.integer(0, 0xFFFF) == 0x1234
    assert r.integer(-(1 << 31), (1 << 31) - 1) == -1  # a signed range reads the bytes as signed
    assert r.integer(5, 5) == 5  # a one-value range reads nothing
    assert r.pick("xyz") == "y"  # 1
    assert r.pick("z") == "z"  # one option reads nothing
    assert not r.chance(1, 2)  # 2 % 2 = 0: below total - hits
    assert r.chance(1, 6)  # 5 % 6 = 5
    assert r.binary(0, 8) == b"abc"  # a length, then that many bytes
    assert r.consumed == 14 and r.remaining == 0
    with pytest.raises(Exhausted):
        r.chance(1, 2)


def test_byte_reader_never_invents_data() -> None:
    r = ByteReader(b"ab")
    with pytest.raises(Exhausted):
        r.bytes(3)
    assert r.bytes(2) == b"ab"
    assert r.bytes(0) == b""
    with pytest.raises(Exhausted):
        r.integer(0, 1 << 20)


def test_pick_tables_weight_by_repetition() -> None:
    assert table(("a", 2), ("b", 1), ("c", 0)) == ("a", "a", "b")


@pytest.mark.parametrize("seed", range(200))
def test_recorded_choices_decode_to_the_same_scenario(seed: int) -> None:
    # the byte format is exactly the choices: what a random Choices built, its bytes decode to
    recorder = Recorder(random.Random(seed))
    built = grammar.scenario(recorder)
    assert decode(bytes(recorder.out)) == built
    assert decode(bytes(recorder.out) + b"\xff" * 5) == built  # trailing bytes are ignored
    assert loads(dumps(built)) == built


# -- the choice interface over Hypothesis' draw ------------------------------------------------------


def test_draw_choices_take_the_fast_path_on_this_hypothesis() -> None:
    # a Hypothesis upgrade that changes ConjectureData's choice calls shows here (the slow path works too)
    @given(st.data())
    @settings(max_examples=1, database=None)
    def check(data: st.DataObject) -> None:
        assert DrawChoices(data.draw).fast

    check()


@given(st.data())
@settings(max_examples=100)
def test_draw_choices_stay_in_their_ranges(data: st.DataObject) -> None:
    for c in (DrawChoices(data.draw), DrawChoices(lambda strategy: data.draw(strategy))):  # fast, then slow
        assert 3 <= c.integer(3, 9) <= 9
        assert -5 <= c.integer(-5, -1) <= -1
        assert c.pick(("x", "y", "z")) in "xyz"
        assert c.pick(("only",)) == "only"
        assert isinstance(c.chance(1, 3), bool)
        assert 2 <= len(c.binary(2, 6)) <= 6


# -- both adapters reach the whole vocabulary --------------------------------------------------------


def test_the_byte_adapter_reaches_every_step_type_pair_kind_and_cmsg() -> None:
    rng = random.Random(13)
    seen: set[str] = set()
    for _ in range(3000):
        recorder = Recorder(rng)
        grammar.scenario(recorder)
        decoded = decode(bytes(recorder.out))
        assert decoded is not None
        seen |= shapes_of(decoded)
        if seen >= EVERY_SHAPE:
            break
    assert not EVERY_SHAPE - seen, f"never decoded: {sorted(EVERY_SHAPE - seen)}"


def test_random_bytes_mostly_decode() -> None:
    rng = random.Random(20260801)
    decoded = [decode(rng.randbytes(rng.choice((64, 256, 1024)))) for _ in range(300)]
    assert sum(s is not None for s in decoded) > 150


# find() builds the repr of the scenario it stops at, which can be a Fill of hundreds of kilobytes
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_the_draw_adapter_reaches_every_step_type_pair_kind_and_cmsg() -> None:
    shapes = {label: (lambda s, label=label: label in shapes_of(s)) for label in EVERY_SHAPE}
    assert_reaches(scenarios(), shapes, max_examples=6000)
