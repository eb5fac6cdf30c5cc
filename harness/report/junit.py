"""JUnit XML for CI servers, rendered from the canonical report.

Output conforms to the Jenkins xunit-plugin junit-10.xsd (the schema pytest's junitxml targets):
https://github.com/jenkinsci/xunit-plugin/blob/master/src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd

One ``<testsuite>`` per catalogue area; one ``<testcase>`` per result, named
``"{case} [{kind}] {backend}"`` with classname ``"{area}.{case}"`` (so Jenkins shows
area > case > kind).  Verdicts map as follows:

- ``fail`` -> ``<failure>``; ``xpass`` -> ``<failure>`` too, since a listed deviation that no
  longer happens is news a CI gate must see (pytest's strict XPASS);
- ``error`` -> ``<error>`` (the harness broke, not the kernel);
- ``unsupported``, ``unmodelled`` -> ``<skipped>`` with the reason;
- ``known`` -> ``<skipped message="known deviation: REASON">`` (as pytest writes an xfail): it
  deviates, it is listed, and the gate does not stop on it.

``time`` attributes have at most 3 decimals (seconds with millisecond precision).  An interrupted
run is never green: ``<testsuites name="scm-harness (INTERRUPTED)">`` and one more suite, ``run``,
whose test case ``run completed`` is an ``<error>`` saying what ran and what did not; every suite
also carries the outcome line (:func:`harness.report.markdown.outcome`) in its ``<system-out>``.
tests/junit-10.xsd is the schema the tests validate against.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from harness.report.markdown import outcome
from harness.report.schema import Report, Result, Verdict

# XML 1.0 section 2.2 allows #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF; anything else
# makes the whole file unparsable.  Also escaped: CR (XML parsers turn it into LF in text), DEL
# and the C1 controls (legal but "discouraged", and terminals act on them).  Payload bytes reach
# reports as latin-1 text, so any of these can occur.  Like pytest's bin_xml_escape, but in the
# ``\xNN`` spelling readers of byte payloads expect.
_NOT_XML = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry (or would alter) spelled ``\\xNN``."""
    return _NOT_XML.sub(_spell, text)


def _spell(match: re.Match[str]) -> str:
    code = ord(match.group())
    if match.group() == "\r":
        return "\\r"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def render_junit(report: Report) -> str:
    """The JUnit XML document (a ``str`` with an XML declaration for UTF-8)."""
    interrupted = report.run_info.get("interrupted") is True
    name = "scm-harness (INTERRUPTED)" if interrupted else "scm-harness"
    root = ET.Element("testsuites", _attrs(name=name, **_counts(report.results)))
    line = outcome(report)
    for area, results in _by_area(report.results).items():
        suite = ET.SubElement(root, "testsuite", _attrs(name=area, **_counts(results), skipped=_skipped(results)))
        _describe_suite(suite, report)
        for result in results:
            _testcase(suite, result)
        _child(suite, "system-out", line + "\n")
    if interrupted:
        suite = ET.SubElement(root, "testsuite", _attrs(name="run", tests="1", failures="0", errors="1", skipped="0"))
        _describe_suite(suite, report)
        case = ET.SubElement(suite, "testcase", _attrs(classname="scm-harness", name="run completed", time="0"))
        _child(case, "error", line + "\n", message=line, type="interrupted")
        _child(suite, "system-out", line + "\n")
        root.set("tests", str(int(root.get("tests", "0")) + 1))
        root.set("errors", str(int(root.get("errors", "0")) + 1))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _describe_suite(suite: ET.Element, report: Report) -> None:
    if isinstance(started := report.run_info.get("started"), str):
        suite.set("timestamp", xml_safe(started))
    suite.append(_properties(report.run_info))  # on every suite: Jenkins shows them per suite


def _testcase(suite: ET.Element, result: Result) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        _attrs(
            classname=f"{result.area}.{result.case}",
            name=f"{result.case} [{result.kind}] {result.backend}",
            time=_seconds(result.duration_ms),
        ),
    )
    verdict = result.verdict
    if verdict is Verdict.FAIL:
        message = f"expected {result.expected}; observed {result.observed}"
        _child(case, "failure", _details(result), message=message, type="fail")
    elif verdict is Verdict.XPASS:
        # the reason already says "listed as a known deviation (...) but it passed" (harness.runner)
        message = f"XPASS: {result.reason or 'a listed deviation no longer happens'}"
        _child(case, "failure", _details(result), message=message, type="xpass")
    elif verdict is Verdict.ERROR:
        _child(case, "error", _details(result), message=result.reason or "harness error", type="error")
    elif verdict in (Verdict.UNSUPPORTED, Verdict.UNMODELLED):
        _child(case, "skipped", _details(result), message=f"{verdict.value}: {result.reason}", type=verdict.value)
    elif verdict is Verdict.KNOWN:
        _child(case, "skipped", _details(result), message=f"known deviation: {result.reason}", type="known")


def _child(parent: ET.Element, tag: str, text: str, **attrs: str) -> None:
    ET.SubElement(parent, tag, _attrs(**attrs)).text = xml_safe(text)


def _details(result: Result) -> str:
    """The body of a failure/error/skip: every field a reader needs without opening the JSON."""
    lines = [f"{result.case} [{result.kind}] {result.backend}: {result.verdict.value}"]
    labelled = {
        "title": result.title,
        "source": result.source,
        "expected": result.expected,
        "observed": result.observed,
        "reason": result.reason,
    }
    lines.extend(f"{label}: {text}" for label, text in labelled.items() if text)
    lines.extend(f"finding: {f.describe()}" for f in result.findings)
    return "\n".join(lines) + "\n"


def _properties(run_info: dict[str, object]) -> ET.Element:
    properties = ET.Element("properties")
    for name in sorted(run_info):
        value = run_info[name]
        # Scalars as they are; lists and objects as compact JSON, which is unambiguous.
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
        ET.SubElement(properties, "property", _attrs(name=name, value=text))
    return properties


def _by_area(results: Iterable[Result]) -> dict[str, list[Result]]:
    groups: dict[str, list[Result]] = {}
    for result in results:  # dicts keep first-seen order: areas appear in catalogue order
        groups.setdefault(result.area, []).append(result)
    return groups


def _counts(results: Iterable[Result]) -> dict[str, str]:
    results = list(results)
    verdicts = [r.verdict for r in results]
    return {
        "tests": str(len(results)),
        "failures": str(sum(v in (Verdict.FAIL, Verdict.XPASS) for v in verdicts)),
        "errors": str(verdicts.count(Verdict.ERROR)),
        "time": _seconds(sum(r.duration_ms for r in results)),
    }


def _skipped(results: Iterable[Result]) -> str:
    return str(sum(r.verdict in (Verdict.UNSUPPORTED, Verdict.UNMODELLED, Verdict.KNOWN) for r in results))


def _seconds(duration_ms: float) -> str:
    # junit-10.xsd's SUREFIRE_TIME: plain digits with a decimal point (no exponent); at most 3 decimals,
    # as Surefire writes them (readers that parse it as a decimal with millisecond precision refuse more).
    return f"{duration_ms / 1000:.3f}"


def _attrs(**attrs: str) -> dict[str, str]:
    return {key: xml_safe(value) for key, value in attrs.items()}
