"""``validate`` and ``test`` results for machines: JSON, JUnit XML, GitHub annotations.

``--format text`` (the default) prints for people; the others are for what reads them:
``json`` for scripts, ``junit`` for CI test reports, ``github`` for GitHub Actions, whose
``::error file=...`` lines become annotations on the flow files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

if TYPE_CHECKING:  # the engine's testing module is not imported by validate
    from ..engine.loader import LoadResult
    from ..engine.testing import TestResult

__all__ = ["FORMATS", "github", "json_report", "junit"]

FORMATS = ("text", "json", "junit", "github")


def _place(problem: Any) -> dict[str, Any]:
    where = problem.location
    return {
        "file": where.file,
        "line": where.line,
        "column": where.column,
        "message": problem.message,
    }


def json_report(result: LoadResult, tests: Sequence[TestResult] | None = None) -> str:
    """Flows loaded, errors and warnings with their places, and the tests' outcomes."""
    report: dict[str, Any] = {
        "files": len(result.files),
        "valid": [flow.name for flow in result.flows],
        "errors": [_place(error) for error in result.errors],
        "warnings": [_place(warning) for warning in result.warnings],
    }
    if tests is not None:
        report["tests"] = [
            {
                "flow": test.flow,
                "name": test.name,
                "file": test.location.file,
                "line": test.location.line,
                "passed": test.passed,
                "problems": test.problems,
                "actions": [record.line() for record in test.actions],
            }
            for test in tests
        ]
        report["passed"] = sum(test.passed for test in tests)
        report["failed"] = sum(not test.passed for test in tests)
    return json.dumps(report, indent=2, default=str)


def junit(result: LoadResult, tests: Sequence[TestResult]) -> str:
    """A JUnit XML report: one test case per flow test, one erroring case per load error."""
    suite = ElementTree.Element("testsuite", name="o2g-flows")
    failures = errors = 0
    for error in result.errors:
        errors += 1
        where = error.location
        case = ElementTree.SubElement(
            suite, "testcase", classname="load", name=f"{where.file}", file=where.file
        )
        ElementTree.SubElement(case, "error", message=error.message).text = str(error)
    for test in tests:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=test.flow,
            name=test.name,
            file=test.location.file,
            line=str(test.location.line),
        )
        if not test.passed:
            failures += 1
            failure = ElementTree.SubElement(case, "failure", message=test.problems[0])
            failure.text = "\n".join(test.problems)
    suite.set("tests", str(len(tests) + len(result.errors)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)


def github(result: LoadResult, tests: Iterable[TestResult] = ()) -> str:
    """GitHub Actions workflow commands: an annotation per error, warning and failed test."""
    lines = [_command("error", error.location, error.message) for error in result.errors]
    lines += [_command("warning", item.location, item.message) for item in result.warnings]
    for test in tests:
        if not test.passed:
            text = f"{test.flow}: {test.name} failed: " + "\n".join(test.problems)
            lines.append(_command("error", test.location, text))
    return "\n".join(lines)


def _command(kind: str, where: Any, message: str) -> str:
    return (
        f"::{kind} file={_property(where.file)},line={where.line},col={where.column}"
        f"::{_data(message)}"
    )


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
