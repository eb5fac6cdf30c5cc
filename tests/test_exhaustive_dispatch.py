"""A new step type nobody handles is a type error, not a silent Unmodelled (issue 13 item 4).

The dispatchers over ``harness.model.Step`` end ``match step`` with ``case _: assert_never(step)``;
mypy --strict (run by the test command before pytest) then names every step type a dispatcher
lacks.  The first test shows mypy doing exactly that on a dispatcher that forgets one type; the
second that the real dispatchers are written so that it applies to them.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import model
from harness.execute import backend
from harness.oracle import linux

STEP_TYPES = [t.__name__ for t in typing.get_args(model.Step)]
DISPATCHERS: dict[str, Callable[..., object]] = {
    "oracle": linux.LinuxModel.one_step,
    "executor": backend.Backend.run_step,
}


def test_mypy_names_the_step_type_a_dispatcher_forgets(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    forgotten = "DiagUid"
    cases = "\n".join(
        f"        case model.{name}():\n            return {name!r}" for name in STEP_TYPES if name != forgotten
    )
    source = textwrap.dedent(
        """\
        from typing import assert_never

        from harness import model


        def dispatch(step: model.Step) -> str:
            match step:
        {cases}
                case _:
                    assert_never(step)
        """
    ).format(cases=cases)
    module = tmp_path / "forgetful.py"
    module.write_text(source)
    out, err, status = api.run(["--strict", "--no-incremental", "--follow-imports=silent", str(module)])
    assert status == 1, out + err
    assert f'incompatible type "{forgotten}"; expected "Never"' in out, out


@pytest.mark.parametrize("where", sorted(DISPATCHERS))
def test_every_step_dispatcher_matches_every_type_and_ends_in_assert_never(where: str) -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(DISPATCHERS[where])))
    matches = [node for node in ast.walk(tree) if isinstance(node, ast.Match)]
    assert len(matches) == 1, f"{where}: one match over the step"
    (match,) = matches
    assert isinstance(match.subject, ast.Name) and match.subject.id == "step"
    handled = [
        c.pattern.cls.id
        for c in match.cases
        if isinstance(c.pattern, ast.MatchClass) and isinstance(c.pattern.cls, ast.Name)
    ]
    assert sorted(handled) == sorted(STEP_TYPES), f"{where}: {set(STEP_TYPES) ^ set(handled)}"
    last = match.cases[-1]
    assert isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None  # case _:
    (call,) = [node for node in ast.walk(last.body[0]) if isinstance(node, ast.Call)]
    assert isinstance(call.func, ast.Name) and call.func.id == "assert_never"
