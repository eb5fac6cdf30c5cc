"""Observations and expectations as JSON, for ``observed.json`` and campaign summaries (write-only).

Bytes are written the way the scenario codec writes them (one character per byte, latin-1), flag
sets as sorted lists, outcomes as ``{"returned": 3}`` / ``{"failed": "EINVAL"}`` /
``{"blocked": 0.5}``.  Fields that vary from run to run (fd numbers) are kept: the file records
one run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from harness.codec import encode_bytes
from harness.observation import Blocked, Failed, Returned


def to_json(value: object) -> object:
    if isinstance(value, Returned):
        return {"returned": value.value}
    if isinstance(value, Failed):
        return {"failed": value.errno}
    if isinstance(value, Blocked):
        return {"blocked": value.seconds}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return encode_bytes(value)
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def dumps(value: object) -> str:
    return json.dumps(to_json(value), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
