"""The expectation codec (repro.py carries the oracle's expectation as its JSON): exact both ways, strict."""

from __future__ import annotations

import json

import pytest

from harness import expectation_codec
from harness.catalogue import CASES
from harness.expectation import Expectation, StepExpectation
from harness.observation import Blocked, Failed, Returned
from harness.oracle import expect
from harness.platform import Platform


def test_every_catalogue_expectation_comes_back_exactly(platform: Platform) -> None:
    count = 0
    for case in CASES.values():
        for variant in case.variants(case.kinds()[0]):
            expectation = expect(variant.scenario, platform)
            if isinstance(expectation, Expectation):
                text = expectation_codec.dumps(expectation)
                assert text.isascii()
                back = expectation_codec.loads(text)
                assert back == expectation and expectation_codec.dumps(back) == text, case.id
                count += 1
    assert count > 300


def test_outcomes_keep_their_type() -> None:
    steps = tuple(StepExpectation(op="x", outcome=o) for o in (Returned(3), Failed("EINVAL"), Blocked(0.5)))
    back = expectation_codec.loads(expectation_codec.dumps(Expectation(steps)))
    assert [type(s.outcome) for s in back.steps] == [Returned, Failed, Blocked]


def _step(**fields: object) -> str:
    step = {"$type": "StepExpectation", "op": "send", "outcome": {"$type": "Returned", "value": 1}, **fields}
    return json.dumps({"$type": "Expectation", "steps": [step]})


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[", "not JSON"),
        ('{"$type": "Observation", "steps": []}', "expected a Expectation"),
        (_step(outcome={"$type": "Returned", "value": "1"}), "steps[0].outcome"),
        (_step(outcome={"$type": "Observation"}), "steps[0].outcome: none of"),
        (_step(surprise=1), "unknown keys ['surprise']"),
        (_step(data="\u0100"), "steps[0].data"),
        (_step(value_range=[1]), "steps[0].value_range: none of"),
        (_step(buffers=["a", 1]), "steps[0].buffers"),
        (_step(cloexec=1), "steps[0].cloexec: expected bool"),
        (_step(op=None), "steps[0].op"),
    ],
)
def test_anything_else_is_refused_naming_where(text: str, where: str) -> None:
    with pytest.raises(expectation_codec.ExpectationCodecError, match=where.replace("[", r"\[").replace("]", r"\]")):
        expectation_codec.loads(text)
