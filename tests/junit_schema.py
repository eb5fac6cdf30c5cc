"""Validation of junit.xml against tests/junit-10.xsd (see its header for where it comes from)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema

XSD = Path(__file__).with_name("junit-10.xsd")


@cache
def _schema() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(XSD))


def assert_junit_10(path: Path) -> None:
    """Fail with the schema's own message when ``path`` is not valid junit-10 XML."""
    errors = [str(error.reason) + f" (at {error.path})" for error in _schema().iter_errors(str(path))]
    assert not errors, f"{path} does not validate against {XSD.name}: " + "; ".join(errors[:3])
