"""Comparing runs: matched by (case, kind) across back ends, every difference classified, keys of one report apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.finding import Finding
from harness.oracle import history
from harness.report.compare import COMPARE_SCHEMA, Class, Comparison, compare
from harness.report.schema import Report, Result, Verdict, load_report
from harness.report.write import write_report_bundle

KIND = "stream/blocking/as-created"
LATEST = sorted(history.ALL)
LTS_6_1 = sorted(history.changes_in("6.1.176"))  # lacks oob-2024-06 and peek_off-sleep (history.py)
PROBES = "offset and status-flag probes"


def result(case: str, verdict: Verdict = Verdict.PASS, backend: str = "raw", **kw: Any) -> Result:
    fields: dict[str, Any] = {"area": "oob", "kind": KIND}
    fields.update(kw)
    return Result(case=case, verdict=verdict, backend=backend, **fields)


def finding(observed: str, field: str = "msg_flags") -> Finding:
    return Finding(checker="msg-flags", variant="", step=1, field=field, expected="{MSG_CTRUNC}", observed=observed)


def run(*results: Result, release: str = "6.18.44", **info: Any) -> Report:
    run_info: dict[str, object] = {
        "system": "linux",
        "release": release,
        "arch": "x86_64",
        "label": "native",
        "changes": LATEST,
        "features": ["MSG_OOB", "SO_INQ", "kcmp"],
        "fd_identity": "kcmp",
    }
    run_info.update(info)
    return Report(run_info=run_info, results=results)


def one_difference(comparison: Comparison) -> tuple[Class, str]:
    """The class and cause of the only difference (the second report against the baseline)."""
    (difference,) = comparison.differences
    verdicted = difference.classes[1]
    assert verdicted is not None and difference.classes[0] is None
    return verdicted.cls, verdicted.cause


def pair(a: Result, b: Result, info_b: dict[str, Any] | None = None) -> Comparison:
    return compare([run(a), run(b, **(info_b or {}))], ["base", "other"])


def test_same_results_on_two_platforms_are_no_difference() -> None:
    results = (result("OB-01"), result("TRN-02", Verdict.FAIL, findings=(finding("{}"),)), result("X", Verdict.KNOWN))
    comparison = compare([run(*results), run(*results, release="6.1.176", changes=LTS_6_1)], ["a", "b"])
    assert comparison.differences == () and comparison.only_in == () and comparison.keys == 3
    assert comparison.unexplained == 0
    assert "No differences in 3 compared results." in comparison.render_markdown()


def test_a_fail_the_result_puts_down_to_a_change_is_explained_by_it() -> None:
    failing = result("OB-01", Verdict.FAIL, findings=(finding("0", "SIOCATMARK"),), explained_by="oob-2024-06")
    info = {"release": "6.1.176", "changes": LATEST, "model": "latest"}  # 6.1 judged as upstream (--as-linux latest)
    assert one_difference(pair(result("OB-01"), failing, info)) == (Class.EXPLAINED, "oob-2024-06")


def test_a_difference_in_a_case_a_change_affects_is_explained_when_only_one_platform_has_it() -> None:
    # No explained_by: the change sets differ (6.1.176 lacks oob-2024-06) and OB-01 is one of its cases.
    failing = result("OB-01", Verdict.FAIL, findings=(finding("0", "SIOCATMARK"),))
    comparison = pair(result("OB-01"), failing, {"release": "6.1.176", "changes": LTS_6_1})
    assert one_difference(comparison) == (Class.EXPLAINED, "oob-2024-06")
    (difference,) = comparison.differences
    assert difference.classes[1] is not None and "present on base only" in difference.classes[1].why
    # The same difference in a case no differing change affects is a regression.
    other = result("TRN-01", Verdict.FAIL, findings=(finding("{}"),))
    assert one_difference(pair(result("TRN-01"), other, {"changes": LTS_6_1}))[0] is Class.REGRESSION


def test_a_change_measured_absent_by_the_fingerprint_explains_too() -> None:
    fingerprint = {"release": "6.18.44", "changes": {"peek_off-sleep": {"seen": "absent"}}}
    failing = result("REG-SO_PEEK_OFF-SLEEP", Verdict.FAIL, findings=(finding("x", "data"),))
    comparison = pair(result("REG-SO_PEEK_OFF-SLEEP"), failing, {"fingerprint": fingerprint})
    assert one_difference(comparison) == (Class.EXPLAINED, "peek_off-sleep")


def test_an_unsupported_naming_a_feature_only_one_platform_has_is_feature_presence() -> None:
    lacking = result("REG-CVE-2026-22983", Verdict.UNSUPPORTED, reason="the platform lacks SO_INQ")
    info = {"features": ["MSG_OOB", "kcmp"], "changes": LATEST}
    assert one_difference(pair(result("REG-CVE-2026-22983"), lacking, info)) == (Class.FEATURE, "SO_INQ")


def test_an_unsupported_for_a_reason_of_the_platform_is_feature_presence() -> None:
    # Debian's UML 6.1.176 has no unix_diag; MS-04 asks sock_diag for the peer's inode.
    missing = result(
        "MS-04", Verdict.UNSUPPORTED, reason="sock_diag: No such file or directory (is unix_diag available?)"
    )
    comparison = pair(result("MS-04"), missing)
    assert one_difference(comparison) == (Class.FEATURE, "sock_diag")
    assert comparison.unexplained == 0


def test_an_fd_case_differing_where_fd_identity_is_decided_differently_is_feature_presence() -> None:
    failing = result("FD-01", Verdict.FAIL, area="fd-passing", findings=(finding("other file", "fd"),))
    info = {"fd_identity": PROBES, "features": ["MSG_OOB", "SO_INQ"]}
    assert one_difference(pair(result("FD-01", area="fd-passing"), failing, info)) == (Class.FEATURE, "fd_identity")
    # Outside fd passing the identity method says nothing: a regression.
    other = result("TRN-01", Verdict.FAIL, area="truncation", findings=(finding("{}"),))
    assert one_difference(pair(result("TRN-01", area="truncation"), other, info))[0] is Class.REGRESSION


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (result("TRN-01"), result("TRN-01", Verdict.FAIL, findings=(finding("{}"),)), Class.REGRESSION),
        (result("TRN-01", Verdict.FAIL, findings=(finding("{}"),)), result("TRN-01"), Class.FIX),
        (result("TRN-01", Verdict.KNOWN), result("TRN-01", Verdict.XPASS), Class.FIX),
        (result("TRN-01"), result("TRN-01", Verdict.UNSUPPORTED, reason="raw: cannot say that"), Class.REGRESSION),
        (
            result("TRN-01", Verdict.FAIL, findings=(finding("{}"),)),
            result("TRN-01", Verdict.FAIL, findings=(finding("{MSG_EOR}"),)),
            Class.CHANGED,
        ),
        (result("TRN-01"), result("TRN-01", Verdict.ERROR, reason="timeout: step 2"), Class.HARNESS_ERROR),
        (
            result("OB-01", Verdict.ERROR, reason="boom"),
            result("OB-01", explained_by="oob-2024-06"),
            Class.HARNESS_ERROR,
        ),
        (result("TRN-01"), result("TRN-01", Verdict.UNMODELLED, reason="not modelled"), Class.UNMODELLED),
    ],
)
def test_unexplained_differences_are_regression_fix_changed_error_or_unmodelled(
    before: Result, after: Result, expected: Class
) -> None:
    comparison = pair(before, after)
    assert one_difference(comparison)[0] is expected
    assert comparison.unexplained == (1 if expected.unexplained else 0)
    assert comparison.counts()[expected.value] == 1


def test_results_only_in_one_report_are_listed_apart_not_counted() -> None:
    a = run(result("TRN-01"), result("TRN-09", kind="dgram/blocking/as-created"))
    b = run(result("TRN-01"), result("TRN-10", Verdict.FAIL))
    comparison = compare([a, b], ["a", "b"])
    assert comparison.differences == () and comparison.unexplained == 0 and comparison.keys == 1
    assert [(o.case, o.kind, o.labels) for o in comparison.only_in] == [
        ("TRN-09", "dgram/blocking/as-created", ("a",)),
        ("TRN-10", KIND, ("b",)),
    ]
    text = comparison.render_markdown()
    assert "## Only in some reports (2, not counted as differences)" in text
    assert "left out: 2 only in some reports" in text


def test_back_ends_both_reports_have_are_lined_up_and_the_others_ignored() -> None:
    # The baseline's pysock result fails; the other report has raw only: raw is compared with raw.
    base = run(result("TRN-01"), result("TRN-01", Verdict.FAIL, backend="pysock", findings=(finding("{}"),)))
    assert compare([base, run(result("TRN-01"))], ["both", "raw"]).differences == ()
    # With both back ends on both sides, the worse class of the two wins.
    other = run(result("TRN-01", Verdict.ERROR, reason="x"), result("TRN-01", backend="pysock"))
    assert one_difference(compare([base, other], ["a", "b"]))[0] is Class.HARNESS_ERROR


def test_a_raw_only_and_a_pysock_only_run_of_a_conforming_kernel_do_not_differ() -> None:
    cannot = "pysock: socket.sendmsg derives cmsg_len and padding itself [cmsg_len 0]"
    raw = run(result("TRN-01"), result("BND-05"), result("REG-CVE-2026-22983", Verdict.UNSUPPORTED, reason="lacks"))
    pysock = run(
        result("TRN-01", backend="pysock"),
        result("BND-05", Verdict.UNSUPPORTED, backend="pysock", reason=cannot),
        result("REG-CVE-2026-22983", Verdict.UNSUPPORTED, backend="pysock", reason="lacks"),
    )
    comparison = compare([raw, pysock], ["raw", "pysock"])
    assert comparison.differences == () and comparison.only_in == ()
    assert (comparison.keys, comparison.backend_limited) == (3, 1)
    # Keyed by back end, nothing lines up: everything is only in one report.
    by_backend = compare([raw, pysock], ["raw", "pysock"], by_backend=True)
    assert by_backend.differences == () and by_backend.keys == 0 and len(by_backend.only_in) == 6


def test_the_real_host_report_split_by_back_end_does_not_differ(tmp_path: Path) -> None:
    """issue 11: `compare` of a raw-only and a pysock-only run of a conforming kernel: no difference.

    ER-01 is one of the cases pysock cannot express (socket.sendmsg derives cmsg_len itself).
    """
    small = ["--ids", "ER-01,FD-01,TRN-08", "--kinds", "stream/*"]
    for name, backend in (("r", "raw"), ("p", "pysock")):
        assert main(["run", *small, "--backend", backend, "--out", str(tmp_path / name)]) == 0
    reports = [str(tmp_path / name / "report.json") for name in ("r", "p")]
    assert main(["compare", *reports, "--out", str(tmp_path / "c")]) == 0
    data = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert data["differences"] == [] and data["only_in"] == []
    assert data["keys"] == len(load_report(reports[0]).results) and data["backend_limited"] > 0


def test_three_reports_are_each_compared_with_the_first() -> None:
    base = run(result("TRN-01"), result("OB-01"))
    same = run(result("TRN-01"), result("OB-01"))
    lts = run(
        result("TRN-01", Verdict.FAIL, findings=(finding("{}"),)),
        result("OB-01", Verdict.FAIL, explained_by="oob-2024-06"),
        release="6.1.176",
    )
    comparison = compare([base, same, lts], ["host", "host#2", "uml"])
    classes = {d.case: [None if v is None else v.cls for v in d.classes] for d in comparison.differences}
    assert classes == {"TRN-01": [None, None, Class.REGRESSION], "OB-01": [None, None, Class.EXPLAINED]}
    assert comparison.unexplained == 1


def test_json_is_canonical_and_markdown_and_html_render_it(tmp_path: Path) -> None:
    long_value = "A" * 600
    before = result("TRN-01", Verdict.FAIL, findings=(finding(long_value),))
    after = result("TRN-01", Verdict.FAIL, findings=(finding("<b>\x1b"),))
    comparison = pair(before, after)
    text = comparison.canonical_json()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n" and text.isascii()
    data = json.loads(text)
    assert data["schema"] == COMPARE_SCHEMA and data["baseline"] == "base" and data["unexplained"] == 1
    assert data["differences"][0]["classes"] == {
        "other": {"class": "changed", "cause": "", "why": "fail on base, fail on other"}
    }
    assert data["differences"][0]["cells"]["other"]["findings"] == [{"field": "msg_flags", "observed": "<b>\x1b"}]
    markdown = comparison.render_markdown()
    assert "| case | kind | base | other | classified |" in markdown and "\x1b" not in markdown
    assert "UNEXPLAINED differences: 1 changed (1 unexplained)" in markdown
    html = comparison.render_html()
    assert "overflow-wrap:anywhere" in html and "&lt;b&gt;" in html and "<b>\x1b" not in html
    # filters by class, area and kind: every difference row carries what they select by
    assert "<form id='filters' hidden>" in html and "<script>" in html
    assert "<select name='class'><option value=''>any</option><option>changed</option></select>" in html
    assert "<tr class='f' data-class='changed' data-area='TRN'" in html


def test_reports_read_back_from_files_compare_the_same(tmp_path: Path) -> None:
    a = run(result("TRN-01"), result("OB-01", explained_by=""))
    b = run(result("TRN-01", Verdict.FAIL, findings=(finding("{}"),)), result("OB-01"))
    write_report_bundle(tmp_path / "a", a)
    write_report_bundle(tmp_path / "b", b)
    loaded = [load_report(tmp_path / name / "report.json") for name in ("a", "b")]
    assert compare(loaded, ["a", "b"]).to_json() == compare([a, b], ["a", "b"]).to_json()


@pytest.mark.parametrize(
    ("reports", "labels", "message"),
    [
        ([run()], ["a"], "at least two"),
        ([run(), run()], ["a"], "2 reports but 1 labels"),
        ([run(), run()], ["x", "x"], "distinct"),
        ([run(result("X"), result("X")), run()], ["a", "b"], "a: X \\[stream/blocking/as-created\\] raw appears twice"),
    ],
)
def test_unusable_input_is_refused(reports: list[Report], labels: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare(reports, labels)


def test_compare_command_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """0: no unexplained difference; 1: one is left; 2: bad input, one line."""
    paths = {}
    for name, report in (
        ("base", run(result("OB-01"))),
        ("explained", run(result("OB-01", Verdict.FAIL, explained_by="oob-2024-06"))),
        ("regressed", run(result("OB-01", Verdict.FAIL))),
    ):
        write_report_bundle(tmp_path / name, report)
        paths[name] = str(tmp_path / name / "report.json")
    assert main(["compare", paths["base"], paths["explained"], "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "comparison.html", "comparison.json", "comparison.md"
    ]  # fmt: skip
    assert main(["compare", paths["base"], paths["regressed"], "--labels", "6.18,6.1"]) == 1
    assert "| OB-01 |" in capsys.readouterr().out
    bad = {"schema": "scm-harness/report/1", "run_info": {}, "results": 3, "summary": {}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert main(["compare", paths["base"], str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.json" in err and "results" in err
    assert main(["compare", paths["base"], paths["base"], "--labels", "a,a"]) == 2
    assert "distinct" in capsys.readouterr().err
