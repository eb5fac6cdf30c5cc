"""Validate documents against the published JSON Schemas (harness/schemas/*.schema.json) with ``jsonschema``."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from harness.schemas import NAMES, schema_text


@cache
def _registry() -> Registry[Any]:
    """Every schema under its ``$id``: campaign.schema.json refers to finding.schema.json's definitions."""
    resources = [Resource.from_contents(json.loads(schema_text(name))) for name in NAMES]
    return Registry().with_resources((str(r.contents["$id"]), r) for r in resources)


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads(schema_text(name))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


@cache
def _definition_validator(name: str, definition: str) -> Draft202012Validator:
    schema_id = json.loads(schema_text(name))["$id"]
    return Draft202012Validator({"$ref": f"{schema_id}#/$defs/{definition}"}, registry=_registry())


def problems(name: str, document: object, definition: str = "") -> list[str]:
    """Every way ``document`` breaks schema ``name`` (or its ``$defs/definition``), as ``path: message`` lines
    (empty: valid)."""
    check = _definition_validator(name, definition) if definition else validator(name)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in check.iter_errors(document)
    ]


def assert_valid(name: str, document: object, definition: str = "") -> None:
    found = problems(name, document, definition)
    assert not found, "\n".join(found[:20])
