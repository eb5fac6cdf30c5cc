"""corpora/: in sync with the catalogue, decodable, and replayed on every test run (both back ends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.fuzz import corpus
from harness.fuzz.evaluate import FuzzConfig, evaluate
from harness.fuzz.replay import replay
from harness.platform import Platform
from harness.report.schema import Verdict
from harness.runner import RunConfig

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
LOADED, ERRORS = corpus.load([CORPORA])


def test_seeds_are_exactly_the_catalogue_seeds() -> None:
    # `scm-harness corpus --sync` writes them; a catalogue change without a sync fails here
    assert corpus.sync_seeds(CORPORA, check=True) == []


def test_every_corpus_file_is_a_scenario() -> None:
    assert ERRORS == []
    kinds = {item.path.parent.name for item in LOADED}
    assert {corpus.SEEDS, corpus.ATHERIS} <= kinds
    assert (CORPORA / corpus.REGRESSIONS / "README.md").is_file()


@pytest.mark.parametrize("backend", ["raw", "pysock"])
@pytest.mark.parametrize("path", [item.path for item in LOADED], ids=lambda p: f"{p.parent.name}/{p.name[:40]}")
def test_corpus_file_replays_cleanly(path: Path, backend: str, platform: Platform) -> None:
    results, errors = replay([path], (backend,), platform, RunConfig())
    assert not errors
    bad = [r for r in results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
    assert not bad, "\n".join(f"{r.verdict.value}: {r.reason} {[f.describe() for f in r.findings]}" for r in bad)


@pytest.mark.parametrize(
    "path",
    [item.path for item in LOADED if item.path.parent.name == corpus.REGRESSIONS],
    ids=lambda p: p.name[:48],
)
def test_regression_passes_the_fuzz_invariants_too(path: Path, platform: Platform) -> None:
    """A campaign checks the invariants (harness.fuzz.invariants) besides the oracle, so a regression that
    a wrong invariant made (dgram-refused-send-purges-its-own-queue) is kept here as well."""
    (item,) = [item for item in LOADED if item.path == path]
    evaluation = evaluate(item.scenario, platform, FuzzConfig())
    assert [f.describe() for f in evaluation.findings if f.checker == "invariant"] == []
