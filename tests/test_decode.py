"""The atheris byte decoder: total, deterministic, strict about truncation, and ending in the
same model constructors; plus the libFuzzer dictionary it ships.  (The byte format itself is the
grammar's choices: tests/test_grammar.py.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.codec import dumps, loads
from harness.generate import grammar
from harness.generate.decode import DICTIONARY, NAMED_TOKENS, decode, write_dictionary
from harness.generate.vocabulary import TIMEVALS
from harness.model import MAX_STEPS, Child, Scenario, SetSockOpt
from tests.choice_bytes import Recorder
from tests.test_grammar import all_steps


def recorded(seed: int) -> tuple[bytes, Scenario]:
    recorder = Recorder(random.Random(seed))
    built = grammar.scenario(recorder)
    return bytes(recorder.out), built


SMALL_SEEDS = [seed for seed in range(200) if len(recorded(seed)[1].steps) >= 2 and len(recorded(seed)[0]) < 400][:5]


@pytest.mark.parametrize("seed", SMALL_SEEDS)
def test_every_truncation_decodes_to_none(seed: int) -> None:
    data, built = recorded(seed)
    assert decode(data) == built
    for end in range(len(data)):
        assert decode(data[:end]) is None, end


def test_max_steps_stops_reading() -> None:
    data, built = next(
        (d, b)
        for d, b in map(recorded, range(100))
        if len(b.steps) >= 3 and not any(isinstance(s, Child) for s in b.steps[:2])
    )
    decoded = decode(data, max_steps=2)
    assert decoded is not None
    assert decoded.steps == built.steps[:2]


@given(st.binary(max_size=1024))
@settings(max_examples=300)
def test_decode_never_raises_and_results_revalidate(data: bytes) -> None:
    decoded = decode(data)
    assert decode(data) == decoded  # deterministic
    if decoded is not None:
        assert isinstance(decoded, Scenario)
        assert len(decoded.steps) <= MAX_STEPS
        assert loads(dumps(decoded)) == decoded
        for step in all_steps(decoded):
            if isinstance(step, SetSockOpt) and isinstance(step.value, tuple):
                assert step.value in TIMEVALS  # never (0, 0) or whole seconds


@given(st.binary(max_size=256), st.integers(0, MAX_STEPS))
@settings(max_examples=100)
def test_max_steps_is_respected(data: bytes, max_steps: int) -> None:
    decoded = decode(data, max_steps=max_steps)
    assert decoded is None or len(decoded.steps) <= max_steps


# -- the dictionary ----------------------------------------------------------------------------


def parse_libfuzzer_entry(line: str) -> bytes:
    """libFuzzer's ParseOneDictionaryEntry (FuzzerUtil.cpp), for one non-comment line."""
    text = line.strip()
    assert len(text) >= 3 and text.endswith('"'), line
    body = text[text.index('"') + 1 : -1]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        assert char.isprintable(), line
        if char != "\\":
            out.append(ord(char))
            i += 1
        elif body[i + 1] in '\\"':
            out.append(ord(body[i + 1]))
            i += 2
        else:
            assert body[i + 1] == "x", line
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
    return bytes(out)


def test_dictionary_holds_the_useful_tokens() -> None:
    for token in (
        b"\x01\x00\x00\x00",  # SOL_SOCKET, SCM_RIGHTS
        b"\x02\x00\x00\x00",  # SCM_CREDENTIALS
        b"\x04\x00\x00\x00",  # SCM_PIDFD
        b"\x10\x00\x00\x00",  # sizeof(struct cmsghdr) on LP64
        b"\x14\x00\x00\x00",  # CMSG_LEN(4)
        b"\x18\x00\x00\x00",  # CMSG_SPACE(4)
        b"\xff\xff\xff\xff",  # -1 as int32, 0xffffffff
    ):
        assert token in DICTIONARY
    assert len(set(DICTIONARY)) == len(DICTIONARY)
    assert all(DICTIONARY)


def test_dictionary_file_is_libfuzzer_syntax(tmp_path: Path) -> None:
    path = write_dictionary(tmp_path / "unix.dict")
    lines = [line for line in path.read_text(encoding="ascii").splitlines() if line and not line.startswith("#")]
    assert lines[0] == 'SOL_SOCKET_SCM_RIGHTS="\\x01\\x00\\x00\\x00"'
    assert tuple(parse_libfuzzer_entry(line) for line in lines) == DICTIONARY
    assert [line.split("=", 1)[0] for line in lines] == [name for name, _ in NAMED_TOKENS]
    assert all(name.replace("_", "").isalnum() for name, _ in NAMED_TOKENS)
