"""The published JSON Schemas (draft 2020-12) of the files scm-harness writes and reads.

``report`` (report.json), ``expectations`` (expectations files, /1 and /2), ``campaign``
(campaign.json), ``finding`` (finding.json) and ``comparison`` (comparison.json) live beside this
module as ``NAME.schema.json``: package data in the wheel, and the same files in the repository.
``scm-harness schema NAME`` prints one.  The readers in the code stay the authority (they also
check what a schema cannot, such as a summary that disagrees with its results); the tests validate
real outputs against these.
"""

from __future__ import annotations

from importlib import resources

NAMES = ("report", "expectations", "campaign", "finding", "comparison")


def schema_text(name: str) -> str:
    """The text of ``NAME.schema.json``; ``name`` must be one of :data:`NAMES`."""
    if name not in NAMES:
        raise ValueError(f"no schema {name!r}: one of {', '.join(NAMES)}")
    return resources.files(__package__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
