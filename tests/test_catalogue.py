"""The conformance catalogue under pytest: one test per (case, pair kind, back end), real syscalls.

`pytest -n auto` spreads them over the cores.  A result other than pass must be `unsupported`
for a stated reason (the back end cannot express the scenario, or the platform lacks a feature);
a kernel deviation on this machine would be recorded as an expectation, never skipped here.
"""

from __future__ import annotations

import pytest

from harness.catalogue import CASES, Case
from harness.model import Child, Interrupt, PairKind, SetSockOpt, all_steps
from harness.platform import Platform
from harness.report.schema import Verdict
from harness.runner import NO_SCENARIO_REASON, RunConfig, run_case

PARAMS = [
    pytest.param(case, kind, backend, id=f"{case.id}[{kind.name}]{backend}")
    for case in sorted(CASES.values(), key=lambda c: c.id)
    for kind in case.kinds()
    for backend in ("raw", "pysock")
]

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize(("case", "kind", "backend"), PARAMS)
def test_case(case: Case, kind: PairKind, backend: str, platform: Platform) -> None:
    result = run_case(case, kind, backend, platform, RunConfig())
    details = "\n".join(f.describe() for f in result.findings) or result.reason
    assert result.verdict in (Verdict.PASS, Verdict.UNSUPPORTED), f"{result.verdict.value}: {details}"
    if result.verdict is Verdict.UNSUPPORTED:
        assert result.reason, "an unsupported result must say why"
        explained = backend == "pysock" or case.needs - platform.features or result.reason == NO_SCENARIO_REASON
        assert explained, result.reason


def test_the_raw_back_end_supports_every_case_on_this_machine(platform: Platform) -> None:
    """Only Python's socket API may be unable to express a case; the raw back end expresses all."""
    unsupported = [
        case.id
        for case in CASES.values()
        if not case.needs - platform.features
        and run_case(case, case.kinds()[0], "raw", platform, RunConfig()).verdict is Verdict.UNSUPPORTED
    ]
    assert unsupported == []


def test_catalogue_covers_the_core_areas() -> None:
    areas = {case_id.split("-")[0] for case_id in CASES}
    assert {"FD", "BND", "TRN", "PK", "ER"} <= areas
    assert sum(1 for cid in CASES if cid.split("-")[0] in {"FD", "BND", "TRN", "PK", "ER"}) >= 60


def test_a_kind_a_case_has_no_scenario_for_is_unsupported_never_a_pass(platform: Platform) -> None:
    """REG-SO_PEEK_OFF-SLEEP needs a receive that sleeps: on a non-blocking kind it runs nothing."""
    case = CASES["REG-SO_PEEK_OFF-SLEEP"]
    kind = PairKind.from_name("stream/nonblocking/as-created")
    assert case.variants(kind) == ()
    result = run_case(case, kind, "raw", platform, RunConfig())
    assert result.verdict is Verdict.UNSUPPORTED and result.reason == NO_SCENARIO_REASON


def test_a_variant_about_blocking_waits_only_where_the_oracle_predicts_it() -> None:
    """A variant about blocking runs with the shorter RunConfig.blocking_bound as its step timeout: so it
    has no party to wait for (a Child, an Interrupt) and sets no SO_RCVTIMEO/SO_SNDTIMEO of its own,
    whose EAGAIN must come well before 90 % of the step timeout."""
    about_blocking = [
        (case.id, variant)
        for case in CASES.values()
        for kind in case.kinds()
        for variant in case.variants(kind)
        if variant.blocking_expected
    ]
    assert about_blocking  # PK-10, LS-02, ...
    for case_id, variant in about_blocking:
        for step in all_steps(variant.scenario.steps):
            assert not isinstance(step, Child | Interrupt), (case_id, variant.label, step)
            own_timeout = isinstance(step, SetSockOpt) and "TIMEO" in str(step.option)
            assert not own_timeout, (case_id, variant.label, step)


def test_a_predicted_wait_is_seen_within_the_blocking_bound(platform: Platform) -> None:
    """PK-10's receive on an empty queue blocks: blocked within the blocking bound, as the oracle says."""
    kind = PairKind.from_name("stream/blocking/as-created")
    config = RunConfig()
    assert config.blocking_bound < config.exec.step_timeout
    result = run_case(CASES["PK-10"], kind, "raw", platform, config)
    assert result.verdict is Verdict.PASS, result.reason
    assert f"blocked (no completion within {config.blocking_bound:g} s)" in result.observed
